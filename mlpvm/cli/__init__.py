"""The command line: a thin layer over the package. Each command lives in its own module."""

from __future__ import annotations

import click

from mlpvm import __version__
from mlpvm.errors import MlpvmError


class _Cli(click.Group):
    """Turns every ``MlpvmError`` into one line on stderr and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MlpvmError as e:
            click.echo(e.report(), err=True)
            ctx.exit(e.exit_code)


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


from mlpvm.cli import asm, bench, build, debug, run, verify  # noqa: E402, F401  (each module registers its commands)
