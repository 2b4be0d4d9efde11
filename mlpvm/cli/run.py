"""``mlpvm run``: a program executing on the network (or on the reference interpreter, for comparison)."""

from __future__ import annotations

import json
import sys

import click

from mlpvm import image as images
from mlpvm import reference, resources
from mlpvm.cli import cli
from mlpvm.cli.options import load_weights, machine_options
from mlpvm.engines import ENGINES, make
from mlpvm.errors import ConfigError
from mlpvm.host import EXIT_CODES, Computer, Outcome
from mlpvm.inputs import Input
from mlpvm.machine import Config
from mlpvm.state import encode

ENGINE_CHOICES = ("neural", *ENGINES, "reference")


def program_input(text: str | None) -> Input:
    """``--input`` as given; else stdin, read only when the program asks (a terminal line by line)."""
    if text is not None:
        return Input(text.encode("utf-8"))
    if sys.stdin is None:
        return Input()

    def more() -> bytes:
        sys.stdout.flush()
        return sys.stdin.buffer.read1(4096)

    return Input(closed=False, more=more)


@cli.command()
@click.argument("image", type=click.Path(dir_okay=False))
@machine_options
@click.option(
    "--engine",
    type=click.Choice(ENGINE_CHOICES),
    default="neural",
    show_default=True,
    help="neural = the fastest exact network engine; reference = the plain interpreter.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=0),
    default=10_000_000,
    show_default=True,
    help="Stop after this many instructions (0 = no limit).",
)
@click.option("--input", "input_text", metavar="TEXT", help="Program input (default: stdin, read as the program asks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the output, steps and final memory.")
@click.option("--weights", type=click.Path(dir_okay=False), help="Run this weight file (from `mlpvm build`) instead.")
@click.option("-v", "--verbose", is_flag=True, help="Print a summary line on stderr even when the program halts.")
def run(image, machine, bits, cells, slots, engine, max_steps, input_text, as_json, weights, verbose) -> None:
    """Run IMAGE on the looped ReLU network.

    IMAGE is a .dec/.sq/.txt file of signed decimal words (subleq), or a .json paper program
    ({"slots": [[a, b, c], ...], "data": [...]}). Program output goes to stdout as it is produced.
    """
    program = images.load(image)
    loaded = None
    if weights:
        loaded = load_weights(weights, machine, bits, cells, slots)
        config = loaded.config
    else:
        if machine and machine != program.machine:
            raise ConfigError(f"{image} is a {program.machine} program, not {machine}")
        config = images.config_for(program, bits, cells, slots)
    images.check_fits(program, config)
    limit = max_steps or None
    inp = program_input(input_text)
    stream = None if as_json else _stream
    if engine == "reference":
        resources.check(config, "reference")
        ref = reference.load(config, program.words, program.slots)
        reason = reference.run(ref, inp, limit, stream)
        outcome = Outcome(reason, ref.steps, bytes(ref.output), ref.pc, ref.mem)
    else:
        name = "sparse" if weights and engine == "neural" else ("structured" if engine == "neural" else engine)
        try:
            eng = make(name, config, loaded)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        x = encode(eng.state, config, program.words, program.slots)
        outcome = Computer(eng, x, [inp], (lambda _i, b: stream(b)) if stream else None).run(limit)[0]
    _report(outcome, config, engine, as_json, verbose)
    sys.exit(EXIT_CODES[outcome.reason])


def _stream(data: bytes) -> None:
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


def _report(o: Outcome, config: Config, engine: str, as_json: bool, verbose: bool) -> None:
    if as_json:
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
        click.echo(json.dumps(doc))
        return
    if verbose or o.reason != "halt":
        what = {
            "halt": "halted",
            "limit": "step limit reached",
            "fault": "fault",
            "wait": "waiting for input",
            "interrupted": "interrupted",
        }[o.reason]
        if o.output and not o.output.endswith(b"\n") and sys.stdout.isatty():
            click.echo(err=True)  # keep the summary off the program's last line
        click.echo(f"mlpvm: {what} after {o.steps} steps, pc={o.pc}", err=True)
