"""The options and the run of a campaign (``mlpvm verify`` and ``verify --mutants``): where its shards run
(this process, ``--workers N`` local processes, or the Dask cluster at ``--address``), the store that keeps
each finished shard (``--store``, ``--resume``), and the live progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import click
from rich.progress import TextColumn

from mlpvm.check import cluster
from mlpvm.check.campaign import Campaign, ends
from mlpvm.check.store import Store
from mlpvm.cli import console as views
from mlpvm.cli.options import bounded

SHARD_SIZES = {"verify": 512, "mutants": 32}  # programs, mutants: seconds of work, against ms of a task
COLUMNS = {
    "verify": "programs; steps: {task.fields[steps]:,}; {task.fields[rate]:,.0f} passes/s",
    "mutants": "mutants",
}


def campaign_options(f):
    """--workers, --address, --store, --resume, --shard-size."""
    for option in reversed([
        click.option("--workers", type=bounded(1, 256), metavar="N",
                     help="Run the shards on a local Dask cluster of N processes (the cluster extra)."),
        click.option("--address", metavar="HOST:PORT",
                     help="Run the shards on the Dask cluster whose scheduler listens there (docs/verification.md)."),
        click.option("--store", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Keep each finished shard in this SQLite file (default: in memory only)."),
        click.option("--resume", is_flag=True, help="Continue the campaign in --store FILE: run only the shards "
                     "it lacks (refused if FILE holds other options)."),
        click.option("--shard-size", type=bounded(1), metavar="N", help="Programs per shard (default "
                     f"{SHARD_SIZES['verify']}), or mutants with --mutants (default {SHARD_SIZES['mutants']})."),
    ]):  # fmt: skip
        f = option(f)
    return f


@dataclass
class Where:
    """Where a campaign runs and keeps its results (the campaign options as given)."""

    workers: int | None = None
    address: str | None = None
    store: str | None = None
    resume: bool = False

    def check(self) -> None:
        if self.workers and self.address:
            raise click.UsageError("--workers starts a cluster, --address joins one: give one of them")
        if self.resume and not self.store:
            raise click.UsageError("--resume needs --store FILE: the campaign to continue")
        if self.workers or self.address:
            cluster.distributed("--workers" if self.workers else "--address")


@dataclass
class Outcome:
    """Every finished shard's result (the stored ones too), and the campaign's time over all its runs."""

    results: dict[int, dict]
    seconds: float


class Tally:
    """What the progress bar shows: units (programs or mutants) done, and steps checked, with the rate of
    this run over every worker (each step is one pass of one machine through the network)."""

    def __init__(self, bar, task, steps_of: Callable[[dict], int], units_of: Callable[[dict], int]):
        self.bar, self.task, self.steps_of, self.units_of = bar, task, steps_of, units_of
        self.units = self.steps = self.session = 0
        self.start = time.perf_counter()

    def add(self, result: dict, stored: bool = False) -> None:
        self.units += self.units_of(result)
        self.steps += self.steps_of(result)
        self.session += 0 if stored else self.steps_of(result)
        self.show()

    def show(self, units: int = 0, steps: int = 0) -> None:
        elapsed = time.perf_counter() - self.start
        rate = (self.session + steps) / elapsed if elapsed else 0.0
        self.bar.update(self.task, completed=self.units + units, steps=self.steps + steps, rate=rate)


def run(
    campaign: Campaign,
    where: Where,
    label: str,
    total: int,
    steps_of: Callable[[dict], int],
    units_of: Callable[[dict], int],
    quiet: bool,
) -> Outcome:
    """Runs the shards ``where`` says, storing each as it finishes, with a progress bar of ``total`` units."""
    store = Store(campaign, where.store, where.resume)
    results = store.results()
    start, before = time.perf_counter(), store.seconds
    with views.progress(label, TextColumn(COLUMNS[campaign.kind]), quiet=quiet) as bar:
        tally = Tally(bar, bar.add_task(label, total=total, steps=0, rate=0.0), steps_of, units_of)
        for result in results.values():
            tally.add(result, stored=True)
        first = min((s for s, r in results.items() if ends(r)), default=campaign.shards)
        todo = [s for s in range(first) if s not in results]

        def done(shard: int, result: dict) -> None:
            results[shard] = result
            if not result["interrupted"]:  # a shard cut short is run again by --resume
                store.add(shard, result, before + time.perf_counter() - start)
            tally.add(result)

        live = views.throttled(lambda r: tally.show(r.checked, r.steps))
        try:
            cluster.run(campaign, todo, done, live, where.workers, where.address)
        finally:
            store.close()
    return Outcome(results, before + time.perf_counter() - start)
