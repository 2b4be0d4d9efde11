"""``mlpvm run``: a program executing on the network (or on the reference interpreter, for comparison)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from mlpvm.cli import console
from mlpvm.cli.options import load_weights, machine_options, max_steps_option, resolve_config
from mlpvm.engines import ENGINES, NEURAL, Engine, make
from mlpvm.engines.compiled import announce_compile
from mlpvm.errors import ConfigError, shown
from mlpvm.files import arg_bytes
from mlpvm.host import batch
from mlpvm.host.computer import EXIT_CODES, Computer, Outcome
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import SourceMap

ENGINE_CHOICES = (NEURAL, *ENGINES, "reference")


def program_input(text: str | None) -> Input:
    """``--input`` as given; else stdin, read only when the program asks (a terminal line by line)."""
    if text is not None:
        return Input(arg_bytes(text))
    if sys.stdin is None:
        return Input()

    def more() -> bytes:
        sys.stdout.flush()
        return sys.stdin.buffer.read1(4096)

    return Input(closed=False, more=more)


@click.command()
@click.argument("image", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--batch",
    "batch_file",
    type=click.Path(dir_okay=False),
    help="Run the programs listed in FILE, one 'IMAGE [--input TEXT]' per line (paths relative to FILE).",
)
@machine_options
@click.option(
    "--engine",
    type=click.Choice(ENGINE_CHOICES),
    default="neural",
    show_default=True,
    help="neural = the fastest exact network engine (compiled with numba, else structured; sparse for "
    "--weights); reference = the plain interpreter, not the network.",
)
@max_steps_option(10_000_000)
@click.option("--input", "input_text", metavar="TEXT", help="Program input (default: stdin, read as the program asks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the output, steps and final memory.")
@click.option("--weights", type=click.Path(dir_okay=False), help="Run this weight file (from `mlpvm build`) instead.")
@click.option("-v", "--verbose", is_flag=True, help="Print a summary line on stderr even when the program halts.")
def run(
    image, batch_file, machine, bits, cells, slots, engine, max_steps, input_text, as_json, weights, verbose
) -> None:
    """Run IMAGE on the looped ReLU network.

    IMAGE is a .dec/.sq/.txt file of signed decimal words (subleq), an .asq source (assembled on the
    fly; stops then name the source line and label), or a paper program: .json
    ({"slots": [[a, b, c], ...], "data": [...]}) or .pasq source. Program output goes to stdout as it
    is produced.

    With several IMAGEs, or --batch FILE, the programs run together: those that need the same
    configuration as one batch, one pass of the network for all of them. Each gets --input TEXT (or its
    batch-file input; never stdin), its output is printed under a header when it stops (--json: a
    list), and the exit code is that of the worst outcome (halt < limit < wait < fault < interrupted).
    """
    if not image and not batch_file:
        raise click.UsageError("give an IMAGE, several, or --batch FILE")
    limit = max_steps or None
    if batch_file or len(image) > 1:
        jobs = [batch.Job(load_image(path), arg_bytes(input_text or "")) for path in image]
        jobs += batch.read_batch_file(batch_file) if batch_file else []
        loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
        _run_many(jobs, loaded, machine, bits, cells, slots, engine, limit, as_json)
        return
    program = load_image(image[0])
    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    config = resolve_config(program, loaded, machine, bits, cells, slots)
    inp = program_input(input_text)
    stream = None if as_json else _stream
    if engine == "reference":
        outcome = batch.run_reference(program, config, inp, limit, stream)
    else:
        eng = _engine(engine, config, loaded)
        x = encode(eng.state, config, program.words, program.slots)
        outcome = Computer(eng, x, [inp], (lambda _i, b: stream(b)) if stream else None).run(limit)[0]
    _report(outcome, config, engine, as_json, verbose, program.source_map)
    sys.exit(EXIT_CODES[outcome.reason])


def _engine(name: str, config: Config, loaded) -> Engine:
    try:
        eng = make(name, config, loaded)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    announce_compile(eng, lambda text: click.echo(f"mlpvm: {text}", err=True) if sys.stderr.isatty() else None)
    return eng


def _run_many(jobs: list[batch.Job], loaded, machine, bits, cells, slots, engine, limit, as_json) -> None:
    configs = [resolve_config(job.image, loaded, machine, bits, cells, slots) for job in jobs]
    make_engine = None if engine == "reference" else (lambda config: _engine(engine, config, loaded))
    with _progress(len(jobs)) as progress:
        results = batch.run_jobs(jobs, configs, make_engine, limit, progress)
    if as_json:
        click.echo(json.dumps([{"image": r.job.image.path, **_doc(r.outcome, r.config, engine)} for r in results]))
    else:
        out = sys.stdout.buffer
        for r in results:
            summary = _summary(r.outcome, r.config, r.job.image.source_map)
            out.write(f"==> {shown(r.job.image.path)} ({shown(summary)}) <==\n".encode())
            out.write(r.outcome.output)
            if r.outcome.output and not r.outcome.output.endswith(b"\n"):
                out.write(b"\n")
        out.flush()
    sys.exit(EXIT_CODES[batch.worst(results)])


def _stream(data: bytes) -> None:
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


@contextmanager
def _progress(total: int) -> Iterator[Callable[[Computer], None] | None]:
    """A progress bar on a terminal's stderr: programs finished, steps run."""
    bar = console.progress("{task.description}")
    if bar.disable:
        yield None
        return
    with bar:
        task = bar.add_task("running", total=total)
        finished = 0

        def update(computer: Computer) -> None:
            nonlocal finished
            done = finished + len(computer.done)
            bar.update(task, completed=done, description=f"{int(computer.steps.sum()):,} steps")
            if not len(computer.ids):  # this batch is over; the next configuration's starts from here
                finished = done

        yield update


def _doc(o: Outcome, config: Config, engine: str) -> dict:
    doc = {
        "output": o.output.decode("latin-1"),
        "steps": o.steps,
        "reason": o.reason,
        "pc": o.pc,
        "memory": [int(v) for v in o.memory],
        "engine": engine,
        "config": config.to_meta(),
    }
    if o.passes is not None:
        doc["passes"] = o.passes
    return doc


def _summary(o: Outcome, config: Config, smap: SourceMap | None) -> str:
    what = {
        "halt": "halted",
        "limit": "step limit reached",
        "fault": "fault",
        "wait": "waiting for input",
        "interrupted": "interrupted",
    }[o.reason]
    # the label and source line of an assembled program
    where = smap.where(o.pc, slots=config.spec.harvard) if smap else None
    return f"{what} after {o.steps} steps, pc={o.pc}{f' ({where})' if where else ''}"


def _report(o: Outcome, config: Config, engine: str, as_json: bool, verbose: bool, smap: SourceMap | None) -> None:
    if as_json:
        click.echo(json.dumps(_doc(o, config, engine)))
        return
    if verbose or o.reason != "halt":
        if o.output and not o.output.endswith(b"\n") and sys.stdout.isatty():
            click.echo(err=True)  # keep the summary off the program's last line
        click.echo(f"mlpvm: {_summary(o, config, smap)}", err=True)
