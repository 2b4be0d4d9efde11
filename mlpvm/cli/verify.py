"""``mlpvm verify``: the network against the reference interpreter, every field after every pass; and
``--mutants``, the mutation table that shows those checks catch a fault planted in any of the 23 layers."""

from __future__ import annotations

import json
import sys
from itertools import chain

import click
import numpy as np
from rich.progress import TextColumn

from mlpvm import resources
from mlpvm.check import verify as verifying
from mlpvm.cli import console as views
from mlpvm.cli.mutants import mutation_table
from mlpvm.cli.options import (
    INPUT_HELP,
    MAX_COUNT,
    bounded,
    engine_option,
    input_data,
    input_options,
    load_weights,
    machine_options,
    max_steps_option,
    providers_option,
    quiet_option,
    resolve_config,
)
from mlpvm.engines import NEURAL, fastest_name
from mlpvm.errors import ConfigError
from mlpvm.host.computer import EXIT_CODES

DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


@click.command()
@click.argument("images", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--named", is_flag=True, help="The public programs in programs/external and every program in programs/.")
@click.option("--random", "count", type=bounded(), default=0, metavar="N", help="Check N random programs.")
@click.option(
    "--seed", type=bounded(-MAX_COUNT), default=0, show_default=True, help="Random program i has seed SEED + i."
)
@max_steps_option(1000, "Check each program for at most this many steps")
@machine_options
@input_options(f"{INPUT_HELP}, for the IMAGES given (default: none).")
@engine_option()
@providers_option
@click.option(
    "--dtype", type=click.Choice(tuple(DTYPES)), default="float32", show_default=True, help="The engine's float type."
)
@click.option("--weights", type=click.Path(dir_okay=False), help="Check this weight file (on the bits engine).")
@click.option(
    "--batch-size", "batch", type=bounded(1, 1 << 16), default=512, show_default=True, help="Programs run together."
)
@click.option("--mutants", is_flag=True, help="Print the mutation table instead (see above).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@quiet_option
def verify(
    images, named, count, seed, max_steps, machine, bits, cells, slots, input_text, input_file, engine, dtype, weights,
    batch, mutants, as_json, quiet,
) -> None:  # fmt: skip
    """Run programs on the network and on the reference interpreter in lockstep, comparing the whole state
    (every memory cell, PC, flags, I/O fields, output, decoded registers) after every pass.

    \b
    Programs: IMAGES, --named, and/or --random N (self-modifying code, I/O,
    halts and faults; seeded, so `--random 1 --seed S` checks one again).
    --machine/--bits/--cells/--slots set the configuration of random programs
    (default subleq, 16 bits, 256 cells) and of IMAGES (default: what each needs).

    \b
    On a divergence it names the program, the step, the first differing field
    and the first layer that disagrees with the reference, and exits 1; a
    network fault (an activation off {0,1}) exits 4; Ctrl-C stops cleanly (130).

    \b
    --mutants plants faults in every layer of the stored matrices of a small
    network (a weight negated, a bias shifted, a unit dropped) and shows which
    check of a fixed battery catches each one (default: subleq 8-bit x 32 cells
    and paper 8-bit x 16 cells x 8 slots; --seed picks the units).
    """
    if mutants:
        mutation_table(machine, bits, cells, slots, seed, as_json, quiet)
        return
    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    if engine == NEURAL:
        engine = fastest_name(weights=loaded is not None, batch=len(images) + count)
    cases, data = [], input_data(input_text, input_file)
    for path in images:
        if loaded is not None:
            cfg = loaded.config
            case = verifying.image_case(path, cfg.bits, cfg.cells, cfg.slots or None, data)
        else:
            case = verifying.image_case(path, bits, cells, slots, data)
        if machine and case.config.machine != machine:
            raise ConfigError(f"{path} is a {case.config.machine} program, not {machine}")
        cases.append(case)
    if named:
        if loaded is not None:
            raise ConfigError("--named programs each need their own configuration; drop --weights")
        cases += verifying.named_cases()
    randoms = verifying.random_cases(_random_config(loaded, machine, bits, cells, slots), count, seed) if count else []
    if not cases and not randoms:
        raise click.UsageError("nothing to verify: give IMAGES, --named or --random N")
    report = _run(cases, randoms, engine, dtype, loaded, max_steps or None, batch, as_json or quiet)
    if as_json:
        click.echo(json.dumps(_doc(report, engine, dtype, max_steps)))
    else:
        _print(report, engine, dtype, max_steps)
    sys.exit(_exit_code(report))


def _random_config(loaded, machine, bits, cells, slots):
    config = loaded.config if loaded is not None else resolve_config(None, None, machine, bits, cells, slots)
    resources.check(config, "reference")  # each random program is a full memory image
    return config


def _run(cases, randoms, engine, dtype, loaded, steps, batch, quiet) -> verifying.Report:
    """The cases, then the random programs, drawn as they are reached."""
    total = len(cases) + len(randoms)
    with views.progress("verifying", TextColumn("programs; steps: {task.fields[steps]:,}"), quiet=quiet) as bar:
        task = bar.add_task("verify", total=total, steps=0)
        progress = views.throttled(lambda r: bar.update(task, completed=r.checked, steps=r.steps))
        every = chain(cases, randoms)
        return verifying.verify(every, engine, DTYPES[dtype], loaded, steps, batch, progress, total,
                                lambda eng: views.announce(eng, quiet))  # fmt: skip


def _exit_code(r: verifying.Report) -> int:
    if r.failure is not None:
        return EXIT_CODES["fault"] if r.failure[1].fault else 1
    return EXIT_CODES["interrupted"] if r.interrupted else 0


def _what(r: verifying.Report) -> str:
    configs = "; ".join(c.describe() for c in r.configs)
    return f"{views.plural(r.programs, 'program')} ({configs})"


def _print(r: verifying.Report, engine: str, dtype: str, steps: int) -> None:
    out = views.stdout()
    rate = f"{r.steps / r.seconds:,.0f} steps/s" if r.seconds else ""
    stops = ", ".join(f"{n:,} {'step limit' if k == 'limit' else k}" for k, n in sorted(r.stops.items()))
    line = f"{views.plural(r.steps, 'step')} checked in {r.seconds:.1f} s ({rate}) on the {engine} engine, {dtype}"
    if r.failure is not None:
        case, div = r.failure
        if div.fault:
            out.print(f"[bold red]NETWORK FAULT[/] in {case.name} ({case.config.describe()}) at step {div.step:,}:")
            out.print(f"  network fault after layer {div.layer}")
        else:
            out.print(f"[bold red]DIVERGED[/] in {case.name} ({case.config.describe()}) at step {div.step:,}:")
            out.print(f"  {div.field} is {div.network!r} on the network, {div.reference!r} in the reference")
            out.print(f"  first layer that disagrees with the reference: {div.layer or 'none found'}")
        out.print(f"  check it alone: {case.command()}")
        out.print(f"  before it: {line}")
        return
    if r.interrupted:
        out.print(f"[yellow]interrupted[/]: {r.checked:,} of {_what(r)} checked; {line}; no divergence so far")
        return
    out.print(f"[bold green]OK[/]: {_what(r)} verified, no divergence")
    out.print(f"  {line}")
    out.print(f"  every field of every state after every pass matched the reference; stops: {stops}")
    if r.stops.get("limit"):
        first = views.plural(steps, "step")
        out.print(f"  (a step limit is not a failure: those programs were checked for their first {first})")


def _doc(r: verifying.Report, engine: str, dtype: str, steps: int) -> dict:
    doc = {
        "ok": r.ok,
        "programs": r.programs,
        "checked": r.checked,
        "steps": r.steps,
        "passes": r.passes,
        "stops": dict(r.stops),
        "interrupted": r.interrupted,
        "seconds": round(r.seconds, 3),
        "engine": engine,
        "dtype": dtype,
        "step_limit": steps or None,
        "configs": [c.to_meta() for c in r.configs],
        "failure": None,
    }
    if r.failure is not None:
        case, div = r.failure
        doc["failure"] = {
            "program": case.name,
            "seed": case.seed,
            "config": case.config.to_meta(),
            "step": div.step,
            "field": div.field,
            "network": _plain(div.network),
            "reference": _plain(div.reference),
            "layer": div.layer,
            "network_fault": div.fault,
            "reproduce": case.command(),
        }
    return doc


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return value
