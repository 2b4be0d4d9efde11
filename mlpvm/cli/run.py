"""``mlpvm run``: a program executing on the network (or on the reference interpreter, for comparison)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from mlpvm.cli import console
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
from mlpvm.engines import NEURAL, Engine, make
from mlpvm.errors import ConfigError, shown
from mlpvm.host import batch, terminal
from mlpvm.host.computer import EXIT_CODES, NORMAL_ENDS, Computer, Outcome
from mlpvm.machines.config import Config
from mlpvm.machines.state import decode, encode
from mlpvm.program.inputs import EOF_READS, Input
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import SourceMap

RUN_MAX_STEPS = 100_000_000  # --max-steps when nobody is at a terminal to press Ctrl-C


def program_input(text: str | None, path: str | None, before_wait=None, eof_reads: int | None = EOF_READS) -> Input:
    """``--input TEXT`` (escapes decoded) or ``--input-file FILE`` (bytes as they are), ending there; else
    stdin, read only when the program asks (a terminal key by key). The end-of-input rule applies to all."""
    if text is None and path is None:
        return terminal.stdin_input(before_wait, eof_reads)
    return Input(input_data(text, path), eof_reads=eof_reads)


def _interactive(input_text: str | None, input_file: str | None) -> bool:
    return input_text is None and input_file is None and sys.stdin is not None and sys.stdin.isatty()


def _renamed_batch(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``run --batch FILE``, the old name: still works, and says the new one (``--batch`` is debug's flag)."""
    if value is not None:
        click.echo("mlpvm: run --batch FILE is now --batch-file FILE (--batch is debug's gdb-style flag)", err=True)
    return value


@click.command()
@click.argument("image", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--batch-file",
    type=click.Path(dir_okay=False),
    help="Run the programs listed in FILE, one 'IMAGE [--input TEXT]' per line (paths relative to FILE).",
)
@click.option("--batch", "old_batch_file", type=click.Path(dir_okay=False), hidden=True, callback=_renamed_batch)
@machine_options
@network_options
@engine_option("reference", more="; reference = the reference interpreter (plain passes on numba), not the network")
@providers_option
@max_steps_option(None, shown=f"none when stdin is a terminal, else {RUN_MAX_STEPS:,}")
@eof_reads_option
@input_options(f"{INPUT_HELP} (default: stdin, read as the program asks).")
@click.option("--echo", is_flag=True, help="On a terminal, echo what you type (for programs that do not echo it).")
@click.option(
    "--json", "as_json", is_flag=True,
    help="Print one JSON object: the output (as UTF-8 text; output_base64: the exact bytes), steps, final memory.",
)  # fmt: skip
@click.option("--weights", type=click.Path(dir_okay=False), help="Run this weight file (from `mlpvm build`) instead.")
@quiet_option
@click.option(
    "-v", "--verbose", is_flag=True, help="Print a summary line on stderr even after a halt or the end of input."
)
def run(
    image, batch_file, old_batch_file, machine, bits, cells, slots, network, lam, engine, max_steps, eof_reads,
    input_text, input_file, echo, as_json, weights, quiet, verbose,
) -> None:  # fmt: skip
    """Run IMAGE on the looped ReLU network.

    IMAGE is a .dec/.sq/.txt file of signed decimal words (subleq), an .asq source (assembled on the
    fly; stops then name the source line and label), or a paper program: .json
    ({"slots": [[a, b, c], ...], "data": [...]}) or .pasq source. Program output goes to stdout as it
    is produced.

    With several IMAGEs, or --batch-file FILE, the programs run together: those that need the same
    configuration as one batch, one pass of the network for all of them. Each gets --input TEXT (or its
    batch-file input; never stdin), its output is printed under a header when it stops (--json: a
    list), and the exit code is that of the worst outcome (halt < eof < limit < wait < fault < interrupted).

    \b
    Input: on a terminal each key goes to the program as typed, and the program
    echoes it (eForth does; --echo otherwise); Ctrl-D at the start of a line
    (or twice in a row) ends the input. A program that keeps reading after its
    input ended may read the end (-1) 8 times (--eof-reads N); the next read
    stops it, exit code 0 as for python or bc at the end of a pipe ("input
    ended" with -v). Ctrl-C stops it: exit code 130.
    """
    batch_file = batch_file or old_batch_file
    if network == "transformer" and (batch_file or len(image) > 1 or weights or engine != NEURAL):
        raise click.UsageError("--network transformer runs one IMAGE (no --batch-file, --weights, --engine)")
    if not image and not batch_file:
        raise click.UsageError("give an IMAGE, several, or --batch-file FILE")
    if max_steps is None:
        max_steps = 0 if _interactive(input_text, input_file) and not batch_file and len(image) == 1 else RUN_MAX_STEPS
    limit = max_steps or None
    if batch_file or len(image) > 1:
        data = input_data(input_text, input_file)
        jobs = [batch.Job(load_image(path), data) for path in image]
        jobs += batch.read_batch_file(batch_file) if batch_file else []
        loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
        _run_many(jobs, loaded, machine, bits, cells, slots, engine, limit, as_json, quiet, eof_reads)
        return
    program = load_image(image[0])
    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    config = resolve_config(program, loaded, machine, bits, cells, slots)
    status = Status(config, program.source_map, quiet or as_json)
    inp = program_input(input_text, input_file, status.hide, eof_reads)
    stream = None if as_json else status.around(_stream)
    with terminal.keys(echo):
        if network == "transformer":
            from mlpvm.cli.transformer import run_program

            outcome = run_program(program, config, lam, inp, limit, stream)
            engine = "transformer"
        elif engine == "reference":
            outcome = _reference(program, config, inp, limit, stream)
        else:
            eng = _engine(engine, config, loaded, quiet or as_json)
            engine = eng.name  # the one that runs: a weight file may fall back (said on stderr)
            x = encode(eng.state, config, program.words, program.slots)
            computer = Computer(eng, x, [inp], (lambda _i, b: stream(b)) if stream else None)
            try:
                outcome = computer.run(limit, status.update)[0]
            except KeyboardInterrupt:  # Ctrl-C while the program waited for input: the state is whole
                computer.stop(computer.ids, "interrupted")
                outcome = computer.done[0]
            finally:
                status.hide()
    _report(outcome, config, engine, as_json, verbose, program.source_map)
    sys.exit(EXIT_CODES[outcome.reason])


class Status:
    """The run's status line (mlpvm.cli.console.StatusLine): passes, passes/s and the time since the program
    last wrote or read (time spent waiting for a person to type is not the network's), PC and its label. It is
    taken off the screen before the program writes or waits for input, and comes back after a second of quiet."""

    def __init__(self, config: Config, smap: SourceMap | None, quiet: bool):
        self.config, self.smap = config, smap
        self.line = console.StatusLine(quiet)
        self.since: tuple[float, int] | None = None  # (time, passes) when this stretch of computing began

    def hide(self) -> None:
        self.line.hide()
        self.since = None

    def update(self, computer: Computer) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = (now, computer.passes)
        if not self.line.due() or not len(computer.ids):
            return
        pc = decode(computer.state, self.config, computer.state_of(int(computer.ids[0]))).pc
        where = self.smap.where(pc, slots=self.config.spec.harvard) if self.smap else None
        took = now - self.since[0]
        rate = (computer.passes - self.since[1]) / max(took, 1e-9)
        self.line.show(console.running(computer.passes, rate, pc, where, took))

    def around(self, write: Callable[[bytes], None]) -> Callable[[bytes], None]:
        def hidden_first(data: bytes) -> None:
            self.hide()
            write(data)

        return hidden_first


def _reference(program, config: Config, inp: Input, limit: int | None, stream) -> Outcome:
    try:
        return batch.run_reference(program, config, inp, limit, stream)
    except KeyboardInterrupt:
        click.echo("\nmlpvm: interrupted", err=True)
        sys.exit(EXIT_CODES["interrupted"])


def _engine(name: str, config: Config, loaded, quiet: bool, batch: int = 1) -> Engine:
    try:
        eng = make(name, config, loaded, batch=batch)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    console.announce(eng, quiet)
    return eng


def _run_many(
    jobs: list[batch.Job], loaded, machine, bits, cells, slots, engine, limit, as_json, quiet, eof_reads
) -> None:
    configs = [resolve_config(job.image, loaded, machine, bits, cells, slots) for job in jobs]
    quiet = quiet or as_json
    make_engine = None if engine == "reference" else (lambda config: _engine(engine, config, loaded, quiet, len(jobs)))
    with _progress(len(jobs), quiet) as progress:
        results = batch.run_jobs(jobs, configs, make_engine, limit, progress, eof_reads)
    if as_json:
        click.echo(json.dumps([{"image": r.job.image.path, **_doc(r.outcome, r.config, r.engine)} for r in results]))
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
def _progress(total: int, quiet: bool) -> Iterator[Callable[[Computer], None] | None]:
    """A progress bar on a terminal's stderr: programs finished, steps run."""
    bar = console.progress("{task.description}", quiet=quiet)
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
    text = console.output_fields(o.output)
    doc = {
        "output": text["output"],
        "steps": o.steps,
        "reason": o.reason,
        "pc": o.pc,
        "memory": [int(v) for v in o.memory],
        "engine": engine,
        "config": config.to_meta(),
    }
    if o.passes is not None:
        doc["passes"] = o.passes
    doc["output_base64"] = text["output_base64"]
    return doc


def _summary(o: Outcome, config: Config, smap: SourceMap | None) -> str:
    what = console.STOPS[o.reason]
    # the label and source line of an assembled program
    where = smap.where(o.pc, slots=config.spec.harvard) if smap else None
    text = f"{what} after {console.plural(o.steps, 'step')}, pc={o.pc}{f' ({where})' if where else ''}"
    return text + _advice(o, config)


def _advice(o: Outcome, config: Config) -> str:
    """What the stop means and the option that would help."""
    if o.reason == "limit":
        return "; --max-steps N raises the limit (0: none)"
    if o.reason == "eof":
        return "; the program kept reading after its input ended (--eof-reads N lets it read the end more; 0: no limit)"
    if o.reason == "fault":
        return "; " + fault_detail(o, config)
    return ""


def fault_detail(o: Outcome, config: Config) -> str:
    """Which operand of the instruction at PC is outside memory, and the --cells that would hold it. Only a
    machine with addresses in words faults (docs/machines.md 1.3): A = -1 reads input into B, B = -1 outputs A."""
    if config.spec.harvard or not 0 <= o.pc <= config.cells - config.spec.stride:
        return f"memory has {config.cells:,} cells"
    a, b = (int(v) for v in o.memory[o.pc : o.pc + 2])
    inside = range(config.cells)
    named = [("B", b)] if a == -1 else [("A", a)] if b == -1 else [("A", a), ("B", b)]
    bad = [(name, v) for name, v in named if v not in inside]
    text = " and ".join(f"operand {name} = {v}" for name, v in bad) or "an operand"
    text += f" {'are' if len(bad) > 1 else 'is'} outside memory (0..{config.cells - 1}, {config.cells:,} cells)"
    far = max((v for _, v in bad), default=-1)
    need = 1 << far.bit_length() if far >= 0 else 0
    if need > config.cells and far < 1 << (config.bits - 1):
        text += f"; --cells {need} would hold {'them' if len(bad) > 1 else 'it'}"
    return text


def memory_summary(o: Outcome, smap: SourceMap | None) -> str:
    """The result of a program that cannot print: the cells its own source labels (not a library's, such as
    <std>), else memory up to the last nonzero cell."""
    own = {name: at for name, at in (smap.labels if smap else {}).items() if not str(smap.origin(at)).startswith("<")}
    if own:
        return "  ".join(f"{name} = {int(o.memory[at])}" for name, at in sorted(own.items(), key=lambda x: x[1]))
    words = [int(v) for v in o.memory]
    while words and not words[-1]:
        words.pop()
    return "memory: " + (" ".join(map(str, words)) or "all zero")


def _report(o: Outcome, config: Config, engine: str, as_json: bool, verbose: bool, smap: SourceMap | None) -> None:
    if as_json:
        click.echo(json.dumps(_doc(o, config, engine)))
        return
    if "out_valid" not in config.spec.io_fields:  # a machine without output: its result is its memory
        click.echo(shown(memory_summary(o, smap), lines=True))
    if verbose or o.reason not in NORMAL_ENDS:
        if o.output and not o.output.endswith(b"\n") and console.same_place(sys.stdout, sys.stderr):
            click.echo(err=True)  # keep the summary off the program's last line
        ran = f"; {engine} engine" if verbose else ""  # the one that ran (a weight file may fall back)
        click.echo(f"mlpvm: {shown(_summary(o, config, smap))}{ran}", err=True)
