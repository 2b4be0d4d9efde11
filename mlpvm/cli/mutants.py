"""``mlpvm verify --mutants``: the mutation table, one row per layer, for each small configuration."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from mlpvm import resources
from mlpvm.check import campaign, mutate
from mlpvm.check.campaign import MutantCampaign, meta
from mlpvm.cli import console as views
from mlpvm.cli.campaign import SHARD_SIZES, Where
from mlpvm.cli.campaign import run as run_campaign
from mlpvm.errors import ConfigError
from mlpvm.host.computer import EXIT_CODES
from mlpvm.machines.config import Config


def mutation_table(
    machine,
    bits,
    cells,
    slots,
    seed: int,
    as_json: bool,
    quiet: bool = False,
    where: Where | None = None,
    shard_size: int | None = None,
) -> None:
    """Plants the mutants of each configuration, runs the battery on them (a campaign: sharded, stored, on a
    cluster if ``where`` says so) and prints the table; exits 1 if any mutant survives, 130 if interrupted."""
    configs = [c for c in mutate.CONFIGS if machine in (None, c.machine)]
    if bits or cells or slots:  # the small configuration of that machine, with what was asked for changed
        base = configs[0]
        configs = [Config(base.machine, bits or base.bits, cells or base.cells, slots or base.slots)]
    for config in configs:
        resources.check_mutants(config)
        try:
            campaign.battery(meta(config), seed)  # here first: its checks name the table's columns
        except ValueError:  # the sweep finds no cells for an instruction's operands besides its own words
            raise ConfigError(
                f"{config.describe()}: too small for the mutation battery; use --cells 8 or more"
            ) from None
    plan = MutantCampaign(tuple(meta(c) for c in configs), seed, shard_size or SHARD_SIZES["mutants"])
    total = sum(len(plan.mutants(k)) for k in range(len(configs)))
    outcome = run_campaign(plan, where or Where(), "mutants", total, lambda r: 0, lambda r: len(r["results"]),
                           as_json or quiet)  # fmt: skip
    docs, survivors = [], 0
    for k, results in enumerate(campaign.mutant_results(plan, outcome.results)):
        config, m = configs[k], plan.configs[k]
        weights, battery = campaign.network(m), campaign.battery(m, seed)
        rows = mutate.summary(weights, results, battery.checks)
        lost = [r.mutant.describe(weights) for r in results if not r.caught]
        survivors += len(lost)
        doc = {
            "config": config.to_meta(),
            "seed": seed,
            "mutants": len(results),
            "caught": len(results) - len(lost),
            "checks": {c.name: c.description for c in battery.checks},
            "layers": rows,
            "survivors": lost,
        }
        docs.append(doc)
        if not as_json:
            _print(config, doc, battery.checks)
    interrupted = len(outcome.results) < plan.shards
    if as_json:
        click.echo(json.dumps(docs))
    elif interrupted:
        views.stdout().print(f"[yellow]interrupted[/]: {sum(d['mutants'] for d in docs):,} of {total:,} mutants run")
    sys.exit(EXIT_CODES["interrupted"] if interrupted else 1 if survivors else 0)


def _print(config, doc: dict, checks: list[mutate.Check]) -> None:
    out = views.stdout()
    table = Table(title=f"mutation table: {config.describe()}", title_justify="left")
    names = [c.name for c in checks]
    for col in ("layer", "mutants", *names, "survived", "guard", "located"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    total = {"mutants": 0, "survived": 0, "guard": 0, "located": 0, **dict.fromkeys(names, 0)}
    for r in doc["layers"]:
        caught = [r["caught_by"][n] for n in names]
        for n, v in zip(names, caught):
            total[n] += v
        for key in ("mutants", "survived", "guard", "located"):
            total[key] += r[key]
        table.add_row(r["layer"], str(r["mutants"]), *map(str, caught), str(r["survived"]), str(r["guard"]),
                      str(r["located"]))  # fmt: skip
    table.add_row(*(f"[bold]{v}[/]" for v in ("total", *(f"{total[k]:,}" for k in ("mutants", *names)))),
                  *(f"[bold]{total[k]:,}[/]" for k in ("survived", "guard", "located")))  # fmt: skip
    out.print(table)
    for c in checks:
        out.print(f"  {c.name}: {c.description}")
    out.print("  guard: of those, stopped by the engine's guard (an activation left {0,1}: network fault)")
    out.print("  located: the check named the planted layer as the first that disagrees with the reference")
    share = 100 * doc["caught"] / max(1, doc["mutants"])
    verdict = "[bold green]all caught[/]" if not doc["survivors"] else "[bold red]SURVIVORS[/]"
    out.print(f"{verdict}: {doc['caught']:,} of {doc['mutants']:,} mutants caught ({share:.1f}%), seed {doc['seed']}")
    for line in doc["survivors"]:
        out.print(f"  survived: {line}")
