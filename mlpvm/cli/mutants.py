"""``mlpvm verify --mutants``: the mutation table, one row per layer, for each small configuration."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from mlpvm import resources
from mlpvm.check import mutate
from mlpvm.cli import console as views
from mlpvm.errors import ConfigError
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network


def mutation_table(machine, bits, cells, slots, seed: int, as_json: bool, quiet: bool = False) -> None:
    """Plants the mutants of each configuration, runs the battery on them and prints the table; exits 1 if any
    mutant survives."""
    configs = [c for c in mutate.CONFIGS if machine in (None, c.machine)]
    if bits or cells or slots:  # the small configuration of that machine, with what was asked for changed
        base = configs[0]
        configs = [Config(base.machine, bits or base.bits, cells or base.cells, slots or base.slots)]
    docs, survivors = [], 0
    for config in configs:
        resources.check_mutants(config)
        weights = compile_network(build(config))
        try:
            battery = mutate.battery(weights, seed)
        except ValueError:  # the sweep finds no cells for an instruction's operands besides its own words
            raise ConfigError(
                f"{config.describe()}: too small for the mutation battery; use --cells 8 or more"
            ) from None
        mutants = mutate.choose(weights, seed)
        with views.progress(f"mutants of {config.describe()}", quiet=as_json or quiet) as bar:
            task = bar.add_task("mutants", total=len(mutants))
            results = []
            for result in mutate.run(battery, mutants):
                results.append(result)
                bar.advance(task)
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
    if as_json:
        click.echo(json.dumps(docs))
    sys.exit(1 if survivors else 0)


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
    share = 100 * doc["caught"] / doc["mutants"]
    verdict = "[bold green]all caught[/]" if not doc["survivors"] else "[bold red]SURVIVORS[/]"
    out.print(f"{verdict}: {doc['caught']:,} of {doc['mutants']:,} mutants caught ({share:.1f}%), seed {doc['seed']}")
    for line in doc["survivors"]:
        out.print(f"  survived: {line}")
