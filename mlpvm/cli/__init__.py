"""The command line: a thin layer over the package. Each command lives in its own module, imported only when
that command runs, so that ``mlpvm run`` pays for nothing the debugger or the benchmarks need."""

from __future__ import annotations

import importlib

import click

from mlpvm import __version__
from mlpvm.errors import MlpvmError

# Each command, in the order ``--help`` lists them, and the module that defines it.
COMMANDS = {
    "run": "run",
    "debug": "debug",
    "trace": "debug",
    "asm": "asm",
    "disasm": "asm",
    "build": "build",
    "info": "build",
    "export": "export",
    "verify": "verify",
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

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MlpvmError as e:
            click.echo(e.report(), err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:  # Ctrl-C before or after the pass loop, which handles its own: still 130
            click.echo("mlpvm: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mlpvm")
def cli() -> None:
    """A looped 23-layer ReLU MLP that runs SUBLEQ programs, one instruction per pass.

    \b
    Exit codes: 0 halted, 1 verification failed, 2 bad usage or input,
    3 step limit, 4 fault (or a network fault), 5 waiting for input that
    cannot come, 130 interrupted.
    """


def main() -> None:
    cli()
