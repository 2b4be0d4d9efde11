"""``mlpvm build`` writes the weight file; ``mlpvm info`` shows the 23 layers."""

from __future__ import annotations

import json
import time

import click
from rich.table import Table

from mlpvm import resources
from mlpvm.check import mutate
from mlpvm.cli import console as views
from mlpvm.cli.options import machine_options, quiet_option, resolve_config
from mlpvm.errors import shown
from mlpvm.files import is_stdout, writable
from mlpvm.network import LAYER_NAMES, exactness
from mlpvm.network import build as build_network
from mlpvm.network import weights as weightfile


@click.command()
@machine_options(program=False)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .npz file to write.")
@click.option("--dense", is_flag=True, help="Store each W dense instead of CSR (small configurations).")
@click.option(
    "--plant", metavar="LAYER:UNIT:KIND",
    help="Plant one fault, to try the debugger's divergence stop (mlpvm debug --weights): LAYER a name (read.1) "
    "or 0..22, UNIT a row of its W, KIND weight (its first weight negated), bias+1, bias-1 or drop.",
)  # fmt: skip
@quiet_option
def build(machine, bits, cells, slots, output, dense, plant, quiet) -> None:
    """Build the network for a configuration and write its weight file (format mlpvm-weights/1)."""
    config = resolve_config(None, None, machine, bits, cells, slots)
    resources.check(config, "build-dense" if dense else "build")
    writable(output)  # refused before the build, not after it
    start = time.perf_counter()
    w = _built(config, quiet)
    seconds = time.perf_counter() - start
    fault = ""
    if plant:
        mutant = _mutant(w, plant)
        w = mutate.plant(w, mutant)
        fault = f", planted fault: {mutant.describe(w)}"
    weightfile.save(w, output, dense=dense)
    click.echo(
        f"wrote {shown(output)}: {config.describe()}, 23 layers, {w.nnz:,} nonzero weights, "
        f"state {w.state.size:,} (built in {seconds:.2f}s){fault}",
        err=is_stdout(output),  # not into the weight file on stdout
    )


def _built(config, quiet: bool) -> weightfile.Weights:
    """The weights of ``config``, with a status line on a terminal's stderr while they are built (seconds for
    large configurations)."""
    with views.progress(f"building {config.describe()}", counts=False, bar=False, quiet=quiet) as bar:
        bar.add_task("build", total=None)
        return weightfile.compile_network(build_network(config))


def _mutant(w: weightfile.Weights, spec: str) -> mutate.Mutant:
    """``LAYER:UNIT:KIND`` as one of mutate's mutants."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise click.BadParameter(f"{spec!r} is not LAYER:UNIT:KIND", param_hint="--plant")
    layer, unit, kind = parts
    k = int(layer) if layer.isdigit() else (LAYER_NAMES.index(layer) if layer in LAYER_NAMES else -1)
    if not 0 <= k < len(w.layers):
        raise click.BadParameter(f"no layer {layer!r}: 0..22 or a name like read.1", param_hint="--plant")
    W = w.layers[k].W
    if not unit.isdigit() or not int(unit) < W.shape[0]:
        bad = f"unit {unit!r} is not a row 0..{W.shape[0] - 1} of {LAYER_NAMES[k]}"
        raise click.BadParameter(bad, param_hint="--plant")
    if kind not in mutate.KINDS:
        raise click.BadParameter(f"kind {kind!r} is not one of {', '.join(mutate.KINDS)}", param_hint="--plant")
    row = int(unit)
    cols = W.indices[W.indptr[row] : W.indptr[row + 1]]
    if kind == "weight" and not len(cols):
        raise click.BadParameter(f"unit {row} of {LAYER_NAMES[k]} has no weight to negate", param_hint="--plant")
    column = int(cols[0]) if kind == "weight" else None
    return mutate.Mutant(k, row, mutate.unit_name(w.layers[k].outputs, row), kind, column)


@click.command()
@machine_options(program=False)
@click.option("--weights", type=click.Path(dir_okay=False), help="Describe this weight file instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@quiet_option
def info(machine, bits, cells, slots, weights, as_json, quiet) -> None:
    """Show the 23 layers: name, stage, widths and nonzero weights, with totals.

    "max |sum|" is the largest sum |w| + |b| of a unit: every partial sum of its pre-activation is an
    integer no larger than that, so a float type that holds it exactly (float16 up to 2,048, float32 up to
    2^24) computes the layer exactly."""
    if weights:
        w = weightfile.load(weights)
    else:
        config = resolve_config(None, None, machine, bits, cells, slots)
        resources.check(config, "info")
        w = _built(config, quiet or as_json)
    bounds = exactness.bounds(w)
    rows = [
        {
            "k": k,
            "name": layer.name,
            "stage": layer.stage,
            "in": layer.W.shape[1],
            "out": layer.W.shape[0],
            "nonzero": layer.W.nnz,
            "max_abs_weight": int(abs(layer.W.data).max(initial=0)),
            "max_abs_bias": int(abs(layer.b).max(initial=0)),
            "max_abs_sum": bounds[k],
        }
        for k, layer in enumerate(w.layers)
    ]
    exact = {name: max(bounds) <= exactness.exact_range(name) for name in ("float16", "float32", "float64")}
    totals = {
        "layers": len(rows),
        "dense_parameters": w.dense_params,
        "nonzero": w.nnz,
        "state_size": w.state.size,
        "stages": _stage_counts(rows),
        "max_abs_sum": max(bounds),
        "exact": exact,
    }
    if as_json:
        click.echo(json.dumps({"config": w.config.to_meta(), "layers": rows, "totals": totals}))
        return
    table = Table(title=f"mlpvm network: {w.config.describe()}", title_justify="left")
    for col, justify in (
        ("#", "right"),
        ("layer", "left"),
        ("stage", "left"),
        ("in", "right"),
        ("out", "right"),
        ("nonzero W", "right"),
        ("max |w|", "right"),
        ("max |b|", "right"),
        ("max |sum|", "right"),
    ):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(
            str(r["k"]),
            r["name"],
            r["stage"],
            f"{r['in']:,}",
            f"{r['out']:,}",
            f"{r['nonzero']:,}",
            str(r["max_abs_weight"]),
            str(r["max_abs_bias"]),
            f"{r['max_abs_sum']:,}",
        )
    console = views.stdout()
    console.print(table)
    split = "/".join(str(n) for n in totals["stages"].values())
    console.print(
        f"{len(rows)} layers ({split}); dense parameters {w.dense_params:,}; "
        f"stored nonzeros {w.nnz:,}; state size {w.state.size:,}"
    )
    verdicts = ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in exact.items())
    console.print(
        f"exact for every {{0,1}} input (every sum at most {max(bounds):,} = max sum|w| + |b| of a unit): {verdicts}"
    )


def _stage_counts(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["stage"]] = counts.get(r["stage"], 0) + 1
    return counts
