"""``mlpvm verify``: the network against the reference interpreter, every field after every pass; and
``--mutants``, the mutation table that shows those checks catch a fault planted in any of the 23 layers."""

from __future__ import annotations

import json
import os
import sys
from functools import partial

import click
from rich.markup import escape

from mlpvm import resources
from mlpvm.check import verify as verifying
from mlpvm.check.campaign import DTYPES, VerifyCampaign, absolute, meta, verify_summary
from mlpvm.cli import console as views
from mlpvm.cli.campaign import SHARD_SIZES, Where, campaign_options
from mlpvm.cli.campaign import run as run_campaign
from mlpvm.cli.mutants import mutation_table
from mlpvm.cli.options import (
    INPUT_HELP,
    MAX_COUNT,
    bounded,
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
from mlpvm.engines import NEURAL, fastest_name
from mlpvm.errors import ConfigError, shown
from mlpvm.host.computer import EXIT_CODES
from mlpvm.program.inputs import EOF_READS
from mlpvm.program.inputs import escape as escape_bytes

DEFAULT_STEPS = 1000


@click.command()
@click.argument("images", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--named", is_flag=True, help="The public programs in programs/external and every program in programs/.")
@click.option("--random", "count", type=bounded(), default=0, metavar="N", help="Check N random programs.")
@click.option(
    "--seed", type=bounded(-MAX_COUNT), default=0, show_default=True, help="Random program i has seed SEED + i."
)
@max_steps_option(DEFAULT_STEPS, "Check each program for at most this many steps")
@eof_reads_option
@machine_options
@network_options
@input_options(f"{INPUT_HELP}, for the IMAGES given (default: none).")
@engine_option()
@providers_option
@click.option(
    "--dtype", type=click.Choice(tuple(DTYPES)), default="float32", show_default=True, help="The engine's float type."
)
@click.option("--weights", type=click.Path(dir_okay=False), help="Check this weight file.")
@click.option(
    "--batch-size", "batch", type=bounded(1, 1 << 16), default=512, show_default=True, help="Programs run together."
)
@click.option("--mutants", is_flag=True, help="Print the mutation table instead (see above).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@campaign_options
@quiet_option
def verify(
    images, named, count, seed, max_steps, eof_reads, machine, bits, cells, slots, network, lam, input_text,
    input_file, engine, dtype, weights, batch, mutants, as_json, workers, address, store, resume, shard_size, quiet,
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
    Each run is a campaign of shards (--shard-size programs each, seeded, so
    any process computes the same): here one after another, or on a Dask
    cluster (--workers N starts one, --address joins one). --store FILE keeps
    each finished shard; --resume continues an interrupted campaign there.

    \b
    --mutants plants faults in every layer of the stored matrices of a small
    network (a weight negated, a bias shifted, a unit dropped) and shows which
    check of a fixed battery catches each one (default: subleq 8-bit x 32 cells
    and paper 8-bit x 16 cells x 8 slots; --seed picks the units).

    \b
    --network transformer: the looped transformer in place of the MLP
    (subleq only; docs/transformer.md). --named checks the programs its
    machine can express and says in one line why it skips the others;
    --mutants plants faults in its feed-forward units and attention heads
    (default subleq 8-bit x 16 cells).
    """
    if network == "transformer":
        from mlpvm.cli.transformer import verify_programs

        given = {"--weights": weights, "--workers": workers, "--address": address,
                 "--store": store, "--resume": resume, "--engine": engine != NEURAL}  # fmt: skip
        if any(given.values()):
            raise click.UsageError(f"{next(k for k, v in given.items() if v)} is not for --network transformer yet")
        if mutants:
            from mlpvm.cli.transformer import mutation_table as transformer_mutants

            given_config = machine or bits or cells or slots  # else the campaign's own (mutate_transformer.CONFIG)
            # a machine the transformer cannot run is refused by its builder, in one line
            config = resolve_config(None, None, machine, bits or 8, cells or 16, slots) if given_config else None
            transformer_mutants(config, lam, seed, as_json, quiet)
            return

        options = {"machine": machine, "bits": bits, "cells": cells, "slots": slots}
        data = input_data(input_text, input_file)
        verify_programs(images, named, count, seed, max_steps, options, data, dtype, lam, as_json)
        return
    where = Where(workers, address, store, resume)
    where.check()
    if mutants:
        mutation_table(machine, bits, cells, slots, seed, as_json, quiet, where, shard_size)
        return
    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    asked_engine = engine
    if engine == NEURAL:
        engine = fastest_name(weights=loaded is not None, batch=len(images) + count)
    data = input_data(input_text, input_file).decode("latin-1")
    if loaded is not None:
        cfg = loaded.config
        images = [(p, cfg.bits, cfg.cells, cfg.slots or None, data) for p in images]
    else:
        images = [(p, bits, cells, slots, data) for p in images]
    if named and loaded is not None:
        raise ConfigError("--named programs each need their own configuration; drop --weights")
    if not images and not named and not count:
        raise click.UsageError("nothing to verify: give IMAGES, --named or --random N")
    random = meta(_random_config(loaded, machine, bits, cells, slots)) if count else None
    campaign = VerifyCampaign(
        tuple(images), os.getcwd() if images else "", named, random, count, seed, max_steps or None, engine, dtype,
        batch, absolute(weights) if weights else None, shard_size or SHARD_SIZES["verify"], eof_reads,
    )  # fmt: skip
    cases = _cases(campaign, machine)
    if where.workers is None and where.address is None and cases:  # compiled here: say so if it takes long
        views.announce(campaign.engine(cases[0].config), as_json or quiet)
    outcome = run_campaign(campaign, where, "verifying", len(cases), lambda r: r["steps"], lambda r: r["checked"],
                           as_json or quiet)  # fmt: skip
    report = verify_summary(campaign, outcome.results, outcome.seconds)
    again = _options(weights, asked_engine, dtype, max_steps, eof_reads)
    engine = ", ".join(report.engines) or engine  # what ran: a weight file may fall back (said on stderr)
    if as_json:
        click.echo(json.dumps(_doc(report, engine, dtype, max_steps, again)))
    else:
        _print(report, engine, dtype, max_steps, again)
    sys.exit(_exit_code(report))


def _cases(campaign: VerifyCampaign, machine: str | None):
    """The campaign's programs, made here first: a bad image is one line before any shard runs."""
    cases = campaign.cases()
    for case in cases.given[: len(campaign.images)]:
        if machine and case.config.machine != machine:
            raise ConfigError(f"{case.path} is a {case.config.machine} program, not {machine}")
    return cases


def _options(weights: str | None, engine: str, dtype: str, max_steps: int, eof_reads: int | None) -> list[str]:
    """The options of this run that a program checked alone needs to give the same result."""
    options = ["--weights", weights] if weights else []
    options += ["--engine", engine] if engine != NEURAL else []
    options += ["--dtype", dtype] if dtype != "float32" else []
    options += ["--eof-reads", str(eof_reads or 0)] if eof_reads != EOF_READS else []
    return options + (["--max-steps", str(max_steps)] if max_steps != DEFAULT_STEPS else [])


def _random_config(loaded, machine, bits, cells, slots):
    config = loaded.config if loaded is not None else resolve_config(None, None, machine, bits, cells, slots)
    resources.check(config, "reference")  # each random program is a full memory image
    return config


def _exit_code(r: verifying.Report) -> int:
    if r.failure is not None:
        return EXIT_CODES["fault"] if r.failure[1].fault else 1
    return EXIT_CODES["interrupted"] if r.interrupted else 0


def _what(r: verifying.Report) -> str:
    configs = "; ".join(c.describe() for c in r.configs)
    return f"{views.plural(r.programs, 'program')} ({configs})"


def _print(r: verifying.Report, engine: str, dtype: str, steps: int, again: list[str]) -> None:
    out = views.stdout()
    say = partial(out.print, soft_wrap=False)  # wrapped between words to the terminal's width, not mid-word
    rate = f"{r.steps / r.seconds:,.0f} steps/s" if r.seconds else ""
    stops = ", ".join(f"{n:,} {'step limit' if k == 'limit' else k}" for k, n in sorted(r.stops.items()))
    line = f"{views.plural(r.steps, 'step')} checked in {r.seconds:.1f} s ({rate}) on the {engine} engine, {dtype}"
    if r.failure is not None:
        case, div = r.failure
        if div.fault:
            say(f"[bold red]NETWORK FAULT[/] in {case.name} ({case.config.describe()}) at step {div.step:,}:")
            say(f"  network fault after layer {div.layer}")
        else:
            say(f"[bold red]DIVERGED[/] in {case.name} ({case.config.describe()}) at step {div.step:,}:")
            say(f"  {div.field} is {div.network!r} on the network, {div.reference!r} in the reference")
            say(f"  first layer that disagrees with the reference: {div.layer or 'none found'}")
        say(f"  in shard {r.shard} of the campaign, with programs {_span(r.shard_span)}")
        out.print(f"  check it alone: {escape(shown(case.command(again)))}")
        say(f"  before it: {line}")
        return
    if r.interrupted:
        say(f"[yellow]interrupted[/]: {r.checked:,} of {_what(r)} checked; {line}; no divergence so far")
        return
    say(f"[bold green]OK[/]: {_what(r)} verified, no divergence")
    say(f"  {line}")
    say(f"  every field of every state after every pass matched the reference; stops: {stops}")
    if r.stops.get("limit"):
        first = views.plural(steps, "step")
        say(f"  (a step limit is not a failure: those programs were checked for their first {first})")


def _span(span: range) -> str:
    return f"{span.start:,} to {span.stop - 1:,}" if len(span) > 1 else f"{span.start:,} only"


def _doc(r: verifying.Report, engine: str, dtype: str, steps: int, again: list[str]) -> dict:
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
            "shard": r.shard,
            "reproduce": case.command(again),
        }
    return doc


def _plain(value):
    if isinstance(value, (bytes, bytearray)):  # output: exact, in --input's escapes
        return escape_bytes(bytes(value))
    return value
