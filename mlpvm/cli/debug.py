"""``mlpvm debug`` (the step-through debugger) and ``mlpvm trace`` (one JSON line per pass)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlpvm import resources
from mlpvm.cli import console as views
from mlpvm.cli.options import machine_options, max_steps_option, resolve_config
from mlpvm.debug import trace as tracing
from mlpvm.debug.commands import Debugger
from mlpvm.debug.dump import parse_range
from mlpvm.debug.repl import interact, run_lines
from mlpvm.debug.session import Session
from mlpvm.engines import DEFAULT
from mlpvm.files import arg_bytes, read_text
from mlpvm.host.computer import EXIT_CODES
from mlpvm.program.load import load_image


def _program(path: str, machine, bits, cells, slots):
    program = load_image(path)
    return program, resolve_config(program, None, machine, bits, cells, slots)


@click.command()
@click.argument("program", type=click.Path(dir_okay=False))
@machine_options
@click.option("--input", "input_text", metavar="TEXT", default="", help="Program input queued at the start.")
@click.option(
    "-x",
    "scripts",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Run the commands in FILE first (repeatable).",
)
@click.option("--ex", "commands", multiple=True, metavar="CMD", help="Run CMD (repeatable; after -x files).")
@click.option("--batch", is_flag=True, help="Exit after the -x and --ex commands instead of prompting.")
@max_steps_option(0, "Stop continue/run after this many instructions")
@click.option("--no-check", is_flag=True, help="Do not run the reference interpreter in lockstep.")
def debug(program, machine, bits, cells, slots, input_text, scripts, commands, batch, max_steps, no_check) -> None:
    """Step through PROGRAM (an image or .asq source) on the network, gdb style.

    After every loop pass the state vector is decoded back into memory, registers and PC, and compared
    with the reference interpreter. Try: break LABEL, continue, step, regs, x/8d ADDR, disassemble,
    layers, layer read.1, history, reverse-step, watch ADDR, dump FILE.npz, help.
    """
    image, config = _program(program, machine, bits, cells, slots)
    session = Session(image, config, arg_bytes(input_text), DEFAULT, check=not no_check)
    tty = sys.stdout.isatty()
    debugger = Debugger(session, views.stdout(markup=False), max_steps or None)
    lines = [line for path in scripts for line in read_text(path, "a debugger script").splitlines()] + list(commands)
    if not run_lines(debugger, lines, echo=not tty):
        return
    if batch:
        return
    if sys.stdin.isatty():
        interact(debugger)
    else:
        run_lines(debugger, sys.stdin, echo=True)


@click.command()
@click.argument("program", type=click.Path(dir_okay=False))
@machine_options
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="The .jsonl file to write.")
@click.option("--input", "input_text", metavar="TEXT", default="", help="Program input.")
@max_steps_option(1_000_000)
@click.option("--layers", type=click.Path(dir_okay=False), help="Also save per-layer activations to this .npz.")
@click.option(
    "--passes", default="1", show_default=True, help="Which passes --layers saves: N or A:B (1-based, inclusive)."
)
def trace(program, machine, bits, cells, slots, out, input_text, max_steps, layers, passes) -> None:
    """Run PROGRAM and write one JSON line per pass: pass, step, pc, a, b, c, mem_a, mem_b, result, branch,
    next_pc, out (the byte output, or null). Files are written to a temporary name and renamed at the end."""
    image, config = _program(program, machine, bits, cells, slots)
    wanted = parse_range(passes) if layers else None
    if wanted is not None:
        resources.check_trace(config, len(range(max(wanted.start, 1), min(wanted.stop, (max_steps or 2**62) + 1))))
    summary = tracing.trace(image, config, Path(out), arg_bytes(input_text), max_steps or None,
                            Path(layers) if layers else None, wanted)  # fmt: skip
    click.echo(f"mlpvm: {summary.reason} after {summary.steps} steps ({summary.passes} passes); wrote {out}"
               + (f" and {layers}" if layers else ""), err=True)  # fmt: skip
    sys.exit(EXIT_CODES[summary.reason])
