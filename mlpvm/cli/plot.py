"""``mlpvm plot``: pictures of the network computing a program (PNG or SVG), drawn with matplotlib."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from mlpvm.cli.console import STOPS, announce, plural, progress, throttled
from mlpvm.cli.options import (
    INPUT_HELP,
    bounded,
    input_data,
    input_options,
    lambda_option,
    machine_options,
    max_steps_option,
    quiet_option,
    resolve_config,
)
from mlpvm.errors import MlpvmError, shown
from mlpvm.host.computer import EXIT_CODES
from mlpvm.program.load import load_image

RUN_STEPS = 100_000  # --run's default step limit
BOTH_PASSES = 200  # --compare: passes drawn unless --max-steps says otherwise


@click.command()
@click.argument("program", type=click.Path(dir_okay=False))
@machine_options
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="The picture to write: FILE.png or FILE.svg.")  # fmt: skip
@click.option("--pass", "number", type=bounded(1), default=1, show_default=True,
              help="Draw this pass (1-based): its data flow through the 23 layers.")  # fmt: skip
@click.option(
    "--run", "run", is_flag=True, help="Draw the whole run instead: PC against pass, reads and writes per cell."
)
@click.option(
    "--flow", is_flag=True, help="Draw the data-flow matrix instead: where each field is computed, carried, read."
)
@click.option("--compare", is_flag=True,
              help="Draw the MLP and the looped transformer side by side, pass by pass (see above).")  # fmt: skip
@lambda_option
@input_options(f"{INPUT_HELP}; queued at the start.")
@max_steps_option(RUN_STEPS, "With --run: stop after this many instructions")
@quiet_option
def plot(
    program, machine, bits, cells, slots, out, number, run, flow, compare, lam, input_text, input_file, max_steps,
    quiet,
) -> None:  # fmt: skip
    """Draw PROGRAM on the network as a picture (needs the extra: pip install 'mlpvm[plot]').

    \b
    By default one pass as its data flow: a column per layer, a row per
    field; each value in a box where a layer computes it, a thin line where
    it is carried; the instruction in the title. --run: the run
    over time (Ctrl-C ends it early and draws what ran, exit 130);
    --flow: the construction's data-flow matrix.

    \b
    --compare: the MLP and the looped transformer on the same program
    (subleq only), --max-steps passes at most (default here 200): for each
    network, its passes by its layers, shaded by the share of each layer's
    output that is nonzero; below, both networks' PC against the pass.
    """
    from mlpvm.debug import picture

    image = load_image(program)
    config = resolve_config(image, None, machine, bits, cells, slots)
    data, path = input_data(input_text, input_file), Path(out)
    picture.check_target(path)  # refused (an input, not .png/.svg) before the run, not after it
    if run and flow:
        raise MlpvmError("choose one of --run and --flow")
    if compare:
        _compare(image, config, data, path, max_steps, lam, run or flow)
        return
    if flow:
        picture.flow_picture(config, path)
    elif run:
        records, reason = _records(image, config, data, max_steps or None, quiet)
        picture.run_picture(config, records, path, image.source_map)
        click.echo(f"mlpvm: wrote {shown(out)} ({plural(len(records), 'pass', 'passes')}, {STOPS[reason]})", err=True)
        if reason == "interrupted":
            sys.exit(EXIT_CODES[reason])
        return
    else:
        try:
            trace = _pass(image, config, data, number)
        except KeyboardInterrupt:
            click.echo(f"mlpvm: interrupted before pass {number}; nothing drawn", err=True)
            sys.exit(EXIT_CODES["interrupted"])
        picture.pass_picture(config, trace, path, image.source_map)
    click.echo(f"mlpvm: wrote {shown(out)}", err=True)


def _pass(image, config, data: bytes, number: int):
    from mlpvm.debug import netviews
    from mlpvm.debug.session import Session
    from mlpvm.engines import DEFAULT

    session = Session(image, config, data, DEFAULT, check=False)
    announce(session.engine)
    session.step(number)
    if session.passes < number:
        raise MlpvmError(f"{image.path}: the machine stopped after {session.passes} passes, before pass {number}")
    return netviews.pass_trace(session, number)


def _records(image, config, data: bytes, max_steps: int | None, quiet: bool) -> tuple[list[dict], str]:
    """The run's passes as ``mlpvm trace`` writes them, and why it ended; a progress bar on a terminal's stderr
    while it runs, as ``trace`` has."""
    from mlpvm.debug import trace as tracing
    from mlpvm.engines import DEFAULT, make

    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "run.jsonl"
        engine = make(DEFAULT, config)
        announce(engine, quiet)
        label = "running: pass {task.completed:,.0f}" + (f" of at most {max_steps:,}" if max_steps else "")
        with progress(label, counts=False, bar=bool(max_steps), quiet=quiet) as bar:
            task = bar.add_task("run", total=max_steps)
            tick = throttled(lambda c: bar.update(task, completed=c.passes))
            summary = tracing.trace(image, config, jsonl, data, max_steps, engine=engine, progress=tick)
        return [json.loads(line) for line in jsonl.read_text().splitlines()], summary.reason


def _compare(image, config, data: bytes, path: Path, max_steps: int | None, lam: float | None, other: bool) -> None:
    from mlpvm.cli import twin
    from mlpvm.cli.transformer import network
    from mlpvm.transformer.faults import NotExact

    if other:
        raise MlpvmError("--compare draws its own picture: drop --run and --flow")
    if image.slots is not None:
        raise MlpvmError(f"{shown(image.path)}: --compare runs subleq programs only")
    network(config, lam)  # refused (one line) outside the transformer's proved exact region
    passes = max_steps if max_steps and max_steps != RUN_STEPS else BOTH_PASSES
    try:
        mlp = twin.mlp_passes(image, config, data, passes)
        transformer = twin.transformer_passes(image, config, data, passes, lam)
    except NotExact as e:  # outside what the bound covers: a network fault, as run says
        raise MlpvmError(f"network fault: {e}") from None
    except KeyboardInterrupt:
        click.echo("mlpvm: interrupted; nothing drawn", err=True)
        sys.exit(EXIT_CODES["interrupted"])
    title = f"{shown(image.path)} on {config.describe()}: {len(mlp['pc'])} passes"
    twin.picture(title, mlp, transformer, path)
    same = "the same PC after every pass" if mlp["pc"] == transformer["pc"] else "DIFFERENT PCs"
    click.echo(f"mlpvm: wrote {shown(path)} ({plural(len(mlp['pc']), 'pass', 'passes')}; {same})", err=True)
