"""``mlpvm debug`` (the step-through debugger) and ``mlpvm trace`` (one JSON line per pass)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlpvm import resources
from mlpvm.cli import console as views
from mlpvm.cli.options import (
    INPUT_HELP,
    engine_option,
    eof_reads_option,
    input_data,
    input_options,
    load_weights,
    machine_options,
    max_steps_option,
    network_options,
    providers_option,
    quiet_option,
    resolve_config,
)
from mlpvm.debug import trace as tracing
from mlpvm.debug.commands import Debugger, script_lines
from mlpvm.debug.dump import parse_range
from mlpvm.debug.repl import ask, interact, run_lines
from mlpvm.debug.session import Session
from mlpvm.engines import DEFAULT, make
from mlpvm.errors import ConfigError, shown
from mlpvm.host.computer import EXIT_CODES
from mlpvm.program.load import load_image


def _program(path: str, machine, bits, cells, slots):  # for trace
    program = load_image(path)
    return program, resolve_config(program, None, machine, bits, cells, slots)


@click.command()
@click.argument("program", type=click.Path(dir_okay=False))
@machine_options
@input_options(f"{INPUT_HELP}; queued at the start.")
@click.option(
    "-x",
    "scripts",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Run the commands in FILE first (repeatable).",
)
@click.option("--ex", "commands", multiple=True, metavar="CMD", help="Run CMD (repeatable; after -x files).")
@click.option("--batch", is_flag=True, help="Exit after the -x and --ex commands instead of prompting.")
@max_steps_option(0, "Each continue or run stops after this many more instructions")
@eof_reads_option
@click.option("--no-check", is_flag=True, help="Do not run the reference interpreter in lockstep.")
@engine_option(weights="bits, sparse, dense or onnx for --weights")
@click.option(
    "--weights", type=click.Path(dir_okay=False),
    help="Run this weight file (from `mlpvm build`, or `mlpvm build --plant` for a planted fault).",
)  # fmt: skip
@providers_option
@network_options
def debug(
    program, machine, bits, cells, slots, input_text, input_file, scripts, commands, batch, max_steps, eof_reads,
    no_check, engine, weights, network, lam,
) -> None:  # fmt: skip
    """Step through PROGRAM (an image or .asq source) on the network, gdb style.

    After every loop pass the state vector is decoded back into memory, registers and PC, and compared
    with the reference interpreter. Try: break LABEL, run, next, step, finish, bt, info registers,
    x/8d ADDR, print LABEL, watch LABEL, disassemble, layers, reverse-step, help.

    --network transformer runs the looped transformer instead (subleq): `layers` and `layer NAME` then show
    the column each attention head attended to, with its softmax weight.

    Batch mode (-x FILE, --ex CMD, --batch, or commands on a pipe) works as gdb's: a -x script stops at its
    first failing line. The exit status, as gdb's: N after quit N, 0 after quit, else 2 if the last command
    failed (else 0).
    """
    _one_network(network, engine, weights)
    image = load_image(program)
    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    config = resolve_config(image, loaded, machine, bits, cells, slots)
    if network == "transformer":
        eng = _transformer(image, config, lam)
    else:
        eng = _make(engine, config, loaded) if loaded is not None or engine != DEFAULT else DEFAULT
    session = Session(image, config, input_data(input_text, input_file), eng, check=not no_check, eof_reads=eof_reads)
    views.announce(session.engine)  # the first pass compiles the network's code: say so, on a terminal
    tty = sys.stdout.isatty()
    debugger = Debugger(
        session, views.stdout(markup=False), max_steps or None, confirm=ask if tty else None, status=True
    )
    for path in scripts:
        if not run_lines(debugger, script_lines(path), echo=not tty, stop_on_error=True):
            sys.exit(debugger.exit_status)
    if not run_lines(debugger, commands, echo=not tty) or batch:
        sys.exit(debugger.exit_status)
    if sys.stdin.isatty():
        interact(debugger)
    else:
        run_lines(debugger, sys.stdin, echo=True)
    sys.exit(debugger.exit_status)


@click.command()
@click.argument("program", type=click.Path(dir_okay=False))
@machine_options
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="The .jsonl file to write.")
@input_options()
@max_steps_option(1_000_000)
@eof_reads_option
@engine_option(weights=None)
@providers_option
@click.option("--layers", type=click.Path(dir_okay=False), help="Also save per-layer activations to this .npz.")
@click.option(
    "--passes", default="1", show_default=True, help="Which passes --layers saves: N or A:B (1-based, inclusive)."
)
@quiet_option
@network_options
def trace(
    program, machine, bits, cells, slots, out, input_text, input_file, max_steps, eof_reads, engine, layers, passes,
    quiet, network, lam,
) -> None:  # fmt: skip
    """Run PROGRAM and write one JSON line per pass: pass, step, pc, a, b, c, mem_a, mem_b, result, branch,
    fallthrough (PC + 3, the adder's output; PC + 1 on paper), out (the byte output, or null). pc is where
    execution goes next. Files are written to a temporary name and renamed at the end. --network transformer
    traces the looped transformer; its --layers file holds each layer's punchcard and each head's attended
    columns (docs/transformer.md)."""
    _one_network(network, engine, None)
    image, config = _program(program, machine, bits, cells, slots)
    wanted = parse_range(passes) if layers else None
    eng = _transformer(image, config, lam) if network == "transformer" else _make(engine, config, None)
    if wanted is not None:
        count = len(range(max(wanted.start, 1), min(wanted.stop, (max_steps or 2**62) + 1)))
        resources.check_trace(config, count, eng if network == "transformer" else None)
    views.announce(eng, quiet)
    label = "tracing: pass {task.completed:,.0f}" + (f" of at most {max_steps:,}" if max_steps else "")
    with views.progress(label, counts=False, bar=bool(max_steps), quiet=quiet) as bar:
        task = bar.add_task("trace", total=max_steps or None)
        tick = views.throttled(lambda c: bar.update(task, completed=c.passes))
        summary = tracing.trace(image, config, Path(out), input_data(input_text, input_file), max_steps or None,
                                Path(layers) if layers else None, wanted, eng, tick, eof_reads)  # fmt: skip
    wrote = shown(f"{out} and {layers}" if layers else out)
    steps, passes_run = views.plural(summary.steps, "step"), views.plural(summary.passes, "pass", "passes")
    click.echo(f"mlpvm: {views.STOPS[summary.reason]} after {steps} ({passes_run}); wrote {wrote}", err=True)
    sys.exit(EXIT_CODES[summary.reason])


def _one_network(network: str, engine: str, weights: str | None) -> None:
    """The transformer is its own network: no --engine or --weights beside it."""
    if network == "transformer" and (weights or engine != DEFAULT):
        raise click.UsageError("--network transformer runs its own layers (no --engine, --weights)")


def _transformer(image, config, lam):
    """The transformer as an engine of the machine's state, refused outside its proved exact region."""
    from mlpvm.cli.transformer import network
    from mlpvm.transformer.engine import TransformerEngine

    if image.slots is not None:
        raise ConfigError(f"{shown(image.path)}: --network transformer runs subleq programs only")
    return TransformerEngine(network(config, lam))


def _make(engine: str, config, loaded):
    """The engine by name; one that cannot run this configuration is bad usage, in one line."""
    try:
        return make(engine, config, loaded)
    except ValueError as e:
        raise ConfigError(str(e)) from None
