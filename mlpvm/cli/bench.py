"""``mlpvm bench``: measures every engine on this machine and prints the tables (or JSON)."""

from __future__ import annotations

import json
import textwrap

import click
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from mlpvm import bench as measure
from mlpvm.check import cluster
from mlpvm.cli import console as views
from mlpvm.cli.options import NETWORKS, providers_option, quiet_option
from mlpvm.engines import ENGINES


@click.command()
@click.option("--quick", is_flag=True, help="Short timing budgets: well under a minute (default: a few minutes).")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as one JSON object.")
@click.option(
    "--eforth",
    "eforth_image",
    type=click.Path(dir_okay=False, exists=True),
    help="Also boot this eForth image (e.g. eforth-8k.dec) on the network at M = 8192, timed.",
)
@click.option("--eforth-line", metavar="TEXT", help="After the boot, type this line (e.g. '2 2 + . cr') and run it.")
@click.option("--eforth-only", is_flag=True, help="Only the eForth run (with --eforth).")
@click.option(
    "--campaign",
    "only_campaign",
    is_flag=True,
    help="Only a verify --random campaign's aggregate passes/s: in this process, and on local clusters of 1 "
    "and 2 workers (the cluster extra).",
)
@click.option("--network", type=click.Choice(NETWORKS), default="mlp", show_default=True,
              help="The looped 23-layer ReLU MLP, or the looped transformer: then only its passes/s against "
              "the MLP's on the same engine classes and the reference's (8 bits x 16 cells).",
              )  # fmt: skip
@providers_option
@quiet_option
def bench(quick, as_json, eforth_image, eforth_line, eforth_only, only_campaign, network, quiet) -> None:
    """Measure the engines: passes per second on one program and on a batch of 256 (and of 4,096 for the
    unrolled, compiled and bits engines, against issue 21's targets), the reference interpreter's steps per
    second in the same run, a scaling table over M = 64 ... 8192 cells (N = 16),
    weight build time and memory, and the work a pass must do (multiply-adds; the bits engine's word
    operations) against what each engine achieves.

    Rates are medians of three timed runs (best in brackets); the machine may be shared, so compare
    figures from one run. Nothing is asserted: speed is measured, not tested.
    """
    if eforth_only and not eforth_image:
        raise click.UsageError("--eforth-only needs --eforth IMAGE")
    if only_campaign and (eforth_image or eforth_only):
        raise click.UsageError("--campaign measures the campaign alone: drop --eforth")
    if network == "transformer":
        if eforth_image or only_campaign:
            raise click.UsageError("--network transformer measures the transformer alone: drop --eforth/--campaign")
        _transformer(quick, as_json, quiet)
        return
    if only_campaign:
        cluster.distributed("--campaign")
    if eforth_image:
        measure.eforth_image(eforth_image)  # before minutes of other measurements
    with views.progress("{task.description:<36}", counts=False, quiet=quiet or as_json) as bar:
        task = bar.add_task("benchmark", total=1.0)
        doc = measure.run(
            quick,
            eforth_image,
            eforth_line,
            lambda what, done: bar.update(task, description=what, completed=done),
            only_eforth=eforth_only,
            only_campaign=only_campaign,
        )
    if as_json:
        click.echo(json.dumps(doc))
        return
    out = views.stdout()
    if "engines" in doc:
        out.print(_engines(doc))
        if "targets" in doc["engines"]:
            out.print(_targets(doc["engines"]["targets"], doc["engines"]["big_batch"]))
        out.print(_arithmetic(doc["arithmetic"]))
        out.print(_scaling(doc["scaling"]))
        if "debug_history" in doc:
            out.print(_history(doc["debug_history"]))
    if "eforth" in doc:
        out.print(_eforth(doc["eforth"]))
    if "campaign" in doc:
        out.print(_campaign(doc["campaign"]))
    for note in doc.get("notes", []):
        out.print(textwrap.fill(f"note: {note}", 79), markup=False)
    out.print(
        f"neural = {doc['neural']}; numba {'installed' if doc['numba'] else 'not installed'}; "
        f"measured in {doc['seconds']:.0f} s"
    )


def _rate(r: dict | None) -> str:
    return f"{r['median']:,.0f} [{r['best']:,.0f}]" if r else "-"


def _times(ratio: float) -> str:
    """A rate against the reference's with three significant digits: 0.00123, 0.45, 12.3, 1,234."""
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"


def _engines(doc: dict) -> Table:
    e = doc["engines"]
    m = e["config"]
    ref = e["reference"]["median"]
    t = Table(
        title=f"Engines: subleq, N = {m['bits']}, M = {m['cells']} (passes/s, median {escape('[best]')})",
        title_justify="left",
    )
    for col in ("engine", "one program", "x reference", f"batch of {e['batch']} (aggregate)", "x reference"):
        t.add_column(col, justify="left" if col == "engine" else "right")
    for name in ENGINES:
        row = e["engines"][name]
        if row["skipped"]:
            t.add_row(name, escape(f"n/a: {row['skipped']}"), "", "", "")  # [fast] is not markup
            continue
        single, batched = row["single"], row["batched"]
        t.add_row(name, _rate(single), _times(single["median"] / ref), _rate(batched), _times(batched["median"] / ref))
    t.add_row("reference (steps/s)", _rate(e["reference"]), "1", "", "")
    new, old = e["engines"].get("unrolled", {}), e["engines"].get("compiled", {})
    if new.get("single") and old.get("single"):
        t.caption = (
            f"unrolled against compiled, same run: {new['single']['median'] / old['single']['median']:.1f}x on one "
            f"program, {new['batched']['median'] / old['batched']['median']:.1f}x on the batch"
        )
    if "debug_continue" in e:  # the debugger's continue: the default engine, the reference checked every pass
        d = e["debug_continue"]
        t.add_row("debug continue (checked)", _rate(d), _times(d["median"] / ref), "", "")
    if "debug_continue_eforth" in e:  # the same on eForth, M = 8192, typing a line
        d = e["debug_continue_eforth"]
        t.add_row("debug continue, eForth M = 8192", _rate(d), _times(d["median"] / ref), "", "")
    return t


def _targets(targets: dict, big: int) -> Table:
    """Issue 21's targets: each engine's rate and ratio to the reference in this run, and what it is short by."""
    t = Table(title=f"Targets (issue 21): one program, and a batch of {big:,}", title_justify="left")
    for col in ("engine", "one program", "x ref", f"batch of {big:,}", "x ref"):
        t.add_column(col, justify="left" if col == "engine" else "right")
    single, batch = targets["single"]["engines"], targets["big"]["engines"]
    for name in ENGINES:
        if name in single:
            s, b = single[name], batch.get(name)
            t.add_row(
                name,
                f"{s['passes_per_s']:,.0f}",
                _times(s["x_reference"]),
                f"{b['passes_per_s']:,.0f}" if b else "-",
                _times(b["x_reference"]) if b else "",
            )
    lines = []
    for key, what in (("single", "one program"), ("big", f"{big:,} machines")):
        target = targets[key]
        rows = target["engines"]
        if rows:
            best = min(rows, key=lambda n: rows[n]["short_of_rate"])
            r = rows[best]
            lines.append(
                f"{what}: target {target['target_passes_per_s']:,} passes/s and {target['target_x_reference']}x "
                f"the reference; best {best}, short by {r['short_of_rate']:.1f}x in rate and "
                f"{r['short_of_ratio']:.1f}x in ratio (below 1: met)."
            )
    t.caption = "\n".join(textwrap.fill(line, 78) for line in lines)
    return t


def _history(h: dict) -> Table:
    t = Table(title=f"Debugger history: eForth (M = 8192), {h['passes']:,} passes run", title_justify="left")
    t.add_column("what")
    t.add_column("measured", justify="right")
    t.add_row(f"reverse-step {h['back']:,}", f"{h['reverse_step_s']:.1f} s, to pass {h['reached_pass']:,}")
    t.add_row(f"continue {h['passes']:,} (first run)", f"{h['continue_s']:.1f} s")
    t.add_row(f"reverse-continue (no hit): {h['reverse_continue_stop']}", f"{h['reverse_continue_s']:.1f} s")
    t.add_row("states kept for going back", f"{h['history_bytes'] / 1e6:.1f} MB")
    t.add_row("most memory allocated at once (beyond the setup)", f"{h['peak_bytes'] / 1e6:.1f} MB")
    return t


def _arithmetic(a: dict) -> Table:
    t = Table(title="Arithmetic of one pass (M = 256)", title_justify="left", show_header=False)
    t.add_column(justify="left")
    t.add_column(justify="right")
    t.add_row("stored nonzero weights (what ReLU(W x + b) multiplies)", f"{a['stored_nonzeros']:,}")
    t.add_row("weights a pass must apply (the compiled engine's multiply-adds)", f"{a['touched_per_pass']:,}")
    t.add_row("units it computes (the rest are copies or provably 0)", f"{a['units_per_pass']:,}")
    if "efficiency" in a:
        t.add_row("bare loop over those weights (passes/s)", _rate(a["bare_passes_per_s"]))
        t.add_row("compiled engine, timed in turn with it (passes/s)", _rate(a["compiled_passes_per_s"]))
        t.add_row("compiled engine, multiply-adds per second", f"{a['compiled_entries_per_s'] / 1e6:,.0f} M")
        t.add_row("compiled engine against the bare loop", f"{a['efficiency']:.0%}")
    if "unrolled_efficiency" in a:
        t.add_row("unrolled engine, timed in turn with them (passes/s)", _rate(a["unrolled_passes_per_s"]))
        t.add_row("unrolled engine, multiply-adds per second", f"{a['unrolled_entries_per_s'] / 1e6:,.0f} M")
        t.add_row("unrolled engine against the bare loop", f"{a['unrolled_efficiency']:.0%}")
    if "bound" in a:  # the unrolled engine's work and what it bounds (mlpvm.bench.bound)
        c = a["bound"]
        t.add_row("unrolled: machine instructions a pass, one machine", f"{c['instructions_one']:,}")
        t.add_row("unrolled: instructions per machine-pass, groups of 8", f"{c['instructions_per_machine_batch']:,.0f}")
        t.add_row("cache lines of memory rows a pass reads", f"{c['state_lines']:,}")
        if "one_bound" in c:
            t.add_row(f"bound at {c['ipc_peak']} instructions a cycle: one program", f"{c['one_bound']:,.0f}")
            t.add_row("the same: a batch, one core (aggregate)", f"{c['batch_bound']:,.0f}")
        t.add_row("bound out of the caches: copy bandwidth / lines", f"{c['memory_bound']:,.0f}")
    if "bits" in a:
        b = a["bits"]
        t.add_row("bits engine: ops (the rest are copies or constants)", f"{b['ops']:,}")
        t.add_row("bits engine: literal reads (word ops, 64 machines each)", f"{b['literal_reads']:,}")
        t.add_row("state per machine: bits engine, float32 engines (bytes)",
                  f"{b['state_bytes_bits']:,}, {b['state_bytes_float32']:,}")  # fmt: skip
        t.add_row("bare loop over those reads, one word (passes/s)", _rate(b["bare_one_passes_per_s"]))
        t.add_row("bits engine, one program, timed in turn (passes/s)", _rate(b["one_passes_per_s"]))
        t.add_row("bits engine, one program, against the bare loop", f"{b['one_efficiency']:.0%}")
        t.add_row("bare loop over those reads, a tile (aggregate)", _rate(b["bare_batch_passes_per_s"]))
        t.add_row("bits engine, batch (aggregate passes/s)", _rate(b["batch_passes_per_s"]))
        t.add_row("bits engine, batch, against the bare loop", f"{b['batch_efficiency']:.0%}")
    return t


def _scaling(rows: list[dict]) -> Group:
    """Two tables, so that each fits 80 columns: what the network takes at each M, and what a pass costs."""
    sizes = Table(title="Scaling: subleq, N = 16 (what the network takes)", title_justify="left")
    for col in ("M", "state", "stored\nnonzeros", "CSR\nMB", "blocks\nMB", "kernel\nKB", "build\ns", "touched"):
        sizes.add_column(col, justify="right", no_wrap=True)
    costs = Table(title="Scaling: microseconds per pass, one program", title_justify="left")
    names = [name for name in ENGINES if any(name in r["us_per_pass"] for r in rows)]
    for col in ("M", *names):
        costs.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        us = r["us_per_pass"]
        sizes.add_row(
            f"{r['cells']:,}",
            f"{r['state_size']:,}",
            f"{r['stored_nonzeros']:,}",
            f"{r['csr_bytes'] / 1e6:.1f}",
            f"{r['blocks_bytes'] / 1e6:.1f}",
            f"{r['program_bytes'] / 1e3:.0f}",
            f"{r['build_s']:.2f}",
            f"{r['touched_per_pass']:,}",
        )
        costs.add_row(f"{r['cells']:,}", *(_us(us[name]) if name in us else "-" for name in names))
    base = next((r for r in rows if r["cells"] >= 256), rows[0])  # the yardstick: M = 256 to the largest
    last = rows[-1]
    growth = [
        f"{name} {last['us_per_pass'][name] / base['us_per_pass'][name]:.1f}x"
        for name in ENGINES
        if name in base["us_per_pass"] and name in last["us_per_pass"] and base is not last
    ]
    if growth:
        costs.caption = textwrap.fill(  # lines of their own: the console does not wrap (soft_wrap)
            f"Cost of a pass from M = {base['cells']:,} to {last['cells']:,} ({last['cells'] // base['cells']}x the "
            f"memory): {', '.join(growth)}.",
            78,
        )
    return Group(sizes, costs)


def _us(us: float) -> str:
    """Microseconds: a decimal only where it says something (a column each engine must fit in 80)."""
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def _eforth(e: dict) -> Table:
    t = Table(title=f"eForth on the network ({e['engine']}, M = 8192): {e['image']}", title_justify="left")
    for col in ("part", "output", "stop", "steps", "seconds", "passes/s"):
        t.add_column(col, justify="left" if col in ("part", "output") else "right")
    for p in e["parts"]:
        t.add_row(
            "boot" if p["input"] is None else repr(p["input"]),
            repr(p["output"]),
            p["reason"],
            f"{p['steps']:,}",
            f"{p['seconds']:.1f}",
            f"{p['passes_per_s']:,.0f}",
        )
    t.caption = f"'2 2 + . cr' takes {e['line_steps']:,} steps: about {e['estimate_line_s']:.0f} s at the boot's rate"
    return t


def _campaign(c: dict) -> Table:
    m = c["config"]
    first = c["rows"][0]
    t = Table(
        title=f"Campaign: verify --random {first['programs']:,} ({m['machine']}, N = {m['bits']}, M = {m['cells']})",
        title_justify="left",
        caption_justify="left",
    )
    for col in ("where", "steps", "seconds", "passes/s", "x this process"):
        t.add_column(col, justify="left" if col == "where" else "right")
    for r in c["rows"]:
        where = "this process" if r["workers"] is None else f"local cluster, {views.plural(r['workers'], 'worker')}"
        speedup = f"{r['passes_per_s'] / first['passes_per_s']:.2f}"
        t.add_row(where, f"{r['steps']:,}", f"{r['seconds']:.1f}", f"{r['passes_per_s']:,.0f}", speedup)
    t.caption = (
        f"{c['engine']} engine, {c['shard_size']} programs a shard; passes/s over all workers (a pass: one step of "
        "one machine, checked against the reference)"
    )
    return t


def _transformer(quick: bool, as_json: bool, quiet: bool) -> None:
    seconds, repeats = measure.BUDGETS[quick]
    with views.progress("{task.description:<36}", counts=False, quiet=quiet or as_json) as bar:
        task = bar.add_task("benchmark", total=1.0)
        doc = measure.networks(measure.TRANSFORMER_CONFIG, seconds, repeats,
                               lambda what, done: bar.update(task, description=what, completed=done))  # fmt: skip
    if as_json:
        click.echo(json.dumps(doc))
        return
    table = Table(title=f"passes/s, {measure.TRANSFORMER_CONFIG.describe()}, float32 (median \\[best])",
                  title_justify="left")  # fmt: skip
    for col in ("engine class", "MLP", "x ref", "transformer", "x ref"):
        table.add_column(col, justify="left" if col == "engine class" else "right")
    for cls, row in doc["engines"].items():
        mlp, tr = row["mlp"], row["transformer"]
        table.add_row(cls, _rate(mlp), _times(mlp["x_reference"]), _rate(tr), _times(tr["x_reference"]))
    out = views.stdout()
    out.print(table)
    out.print(f"reference interpreter: {_rate(doc['reference_steps_per_s'])} steps/s in the same run")
    out.print("dense: every weight multiplied, zeros included; sparse: zero weights")
    out.print("skipped (the MLP's CSR engine; the transformer's layers on the rows and")
    out.print("columns their matrices use)")
