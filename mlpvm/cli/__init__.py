"""The command line: a thin layer over the package. Each command lives in its own module, imported only when
that command runs, so that ``mlpvm run`` pays for nothing the debugger or the benchmarks need."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import sys

import click

from mlpvm import __version__, files
from mlpvm.errors import MlpvmError, shown

# Each command, in the order ``--help`` lists them, and the module that defines it.
COMMANDS = {
    "run": "run",
    "debug": "debug",
    "trace": "debug",
    "dap": "dap",
    "asm": "asm",
    "disasm": "asm",
    "build": "build",
    "info": "build",
    "export": "export",
    "verify": "verify",
    "compare": "compare",
    "bench": "bench",
    "prove": "prove",
    "plot": "plot",
}


class _Cli(click.Group):
    """Loads a command's module on first use, and turns every ``MlpvmError`` into one line on stderr and its
    exit code, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"mlpvm.cli.{COMMANDS[name]}")
        return getattr(module, name)

    def make_context(self, *args, **kwargs) -> click.Context:
        try:  # `mlpvm --help | head -1`: the help is written here, before ``invoke``
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:  # (click's own handling would exit 1)
            _quiet_stdout()
            raise click.exceptions.Exit(BROKEN_PIPE) from None

    def invoke(self, ctx: click.Context):
        try:
            with files.reading():  # no output of the command may replace a file it read
                return super().invoke(ctx)
        except MlpvmError as e:
            click.echo(e.report(), err=True)
            ctx.exit(e.exit_code)
        except (KeyboardInterrupt, click.Abort):  # Ctrl-C outside a run loop: 130, not click's "Aborted!" (1)
            click.echo("\nmlpvm: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # the reader went away (`| head`): end quietly, before click calls it an error
            _quiet_stdout()
            ctx.exit(BROKEN_PIPE)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mlpvm")
def cli() -> None:
    """A looped 23-layer ReLU MLP that runs SUBLEQ programs, one instruction per pass.

    \b
    Exit codes: 0 halted, or the input is done (a program that read all of
    its input and asks again ends, as python or bc at the end of a pipe);
    1 verification failed, 2 bad usage or input, 3 step limit, 4 fault (or
    a network fault), 5 waiting for input that cannot come, 130
    interrupted. A batch: its worst outcome's. debug: gdb's (quit N: N).

    \b
    --max-steps N stops a program after N instructions (0 = no limit). Its
    default: none where you can watch and press Ctrl-C (run with stdin a
    terminal, debug), 100,000,000 for run otherwise, and a bound where every
    pass is recorded or compared (trace 1,000,000, plot 100,000, verify 1,000
    per program, compare 100). -q/--quiet silences the live progress shown
    on a terminal.
    """


BROKEN_PIPE = 141  # what a shell reports for a process that SIGPIPE ended (128 + 13)
INTERRUPTED = 130
_WRITE_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO, errno.EFBIG, errno.EDQUOT}
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


def main(args: list[str] | None = None) -> None:
    """The ``mlpvm`` command: exits with the command's code. Outside the commands' own handling, Ctrl-C is 130
    (not click's "Aborted!" and 1), a reader that closed the pipe ends it quietly (141), and a failed write to
    stdout (a full disk, /dev/full) is one line and 2, never a traceback."""
    if sys.stdout is None:  # started with stdout closed: nothing could be shown
        _fail("standard output is closed")
        sys.exit(2)
    try:
        code = _run(args)
    except KeyboardInterrupt:  # a Ctrl-C after the command's own summary, while it was ending
        code = INTERRUPTED
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the outcome is decided: a late Ctrl-C must not change it
    sys.exit(code)


def _run(args: list[str] | None) -> int:
    """The command's exit code, with every way it can end outside the command's own handling mapped to one."""
    try:
        try:
            code = cli.main(args, standalone_mode=False)
        finally:
            sys.stdout.flush()
    except click.Abort:
        _fail("interrupted")
        code = INTERRUPTED
    except _NO_ARGS as e:  # `mlpvm` alone: the help
        e.show()
        code = e.exit_code
    except click.UsageError as e:  # one line, like every other error, with where to look
        where = f"; see '{e.ctx.command_path} --help'" if e.ctx is not None else ""
        _fail(f"error: {shown(e.format_message())}{where}")
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except OSError as e:
        if e.filename is not None or e.errno not in _WRITE_ERRORS:
            raise  # not the output's failure: a bug, to be seen
        _quiet_stdout()
        if e.errno != errno.EPIPE:
            _fail(f"cannot write to standard output ({e.strerror or e})")
        code = BROKEN_PIPE if e.errno == errno.EPIPE else 2
    except SystemExit as e:
        code = _flushed(e.code)
    return code


def _flushed(code):
    """The exit code, once stdout is flushed: a write that fails now is still reported."""
    try:
        sys.stdout.flush()
    except OSError as e:
        if e.filename is not None or e.errno not in _WRITE_ERRORS:
            raise  # not the output's failure: a bug, to be seen
        _quiet_stdout()
        if e.errno == errno.EPIPE:
            return BROKEN_PIPE
        _fail(f"cannot write to standard output ({e.strerror or e})")
        return 2
    return code


def _quiet_stdout() -> None:
    """Points stdout at /dev/null so that Python's final flush cannot fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _fail(message: str) -> None:
    if sys.stderr is not None:
        with contextlib.suppress(OSError):
            click.echo(f"mlpvm: {message}", err=True)
