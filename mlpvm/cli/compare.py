"""``mlpvm compare``: the MLP and the looped transformer side by side. ``--exactness`` measures where the
transformer stays exact (mlpvm.transformer.exactness) against the bound that ``run`` enforces."""

from __future__ import annotations

import json

import click

from mlpvm.cli.options import bounded
from mlpvm.machines.config import Config
from mlpvm.network.exactness import exact_range
from mlpvm.transformer import build
from mlpvm.transformer.exactness import Cell, largest_sum, measure, min_lambda

LAMBDAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 20.0)
BITS = (8, 16, 24, 32)


@click.command()
@click.option("--exactness", is_flag=True, help="Measure where the transformer is exact (the README's table).")
@click.option("--programs", type=bounded(1, 10_000), default=10, show_default=True, help="Random programs a size.")
@click.option("--max-steps", type=bounded(1), default=100, show_default=True, help="Steps checked a program.")
@click.option("--max-cells", type=bounded(4, 1024), default=64, show_default=True, help="Largest M tried.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as one JSON object.")
def compare(exactness: bool, programs: int, max_steps: int, max_cells: int, as_json: bool) -> None:
    """Compare the MLP and the looped transformer (for now: --exactness only).

    \b
    --exactness: for float32 and float64 and a range of lambda, the largest
    memory M (8-bit words) at which random programs stay exact in lockstep
    with the reference, beside the proved bound (M e^(-2 lambda) <= 3/5) that
    `run --network transformer` refuses to cross; then the word widths N (16
    cells, lambda 20) at which each float type stays exact.
    """
    if not exactness:
        raise click.UsageError("only --exactness is implemented yet (the side-by-side table is not)")
    cells = [1 << k for k in range(2, max_cells.bit_length()) if 1 << k <= max_cells]
    by_cells = [_largest(dtype, lam, cells, programs, max_steps) for dtype in ("float32", "float64") for lam in LAMBDAS]
    by_bits = [measure(Config("subleq", n, 16), 20.0, dtype, programs, max_steps)
               for dtype in ("float32", "float64") for n in BITS]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"cells": [_doc(c) for c in by_cells], "bits": [vars(c) for c in by_bits]}))
        return
    click.echo(f"{'dtype':8} {'lambda':>6} {'proved M':>9} {'measured M':>11}  first divergence")
    notes = []
    for proved, exact, fail, cell in by_cells:
        if fail:
            notes.append(f"[{len(notes) + 1}] {cell.dtype}, lambda {cell.lam:g}, {fail}")
        where = f"at M = {fail.split(':')[0][2:]} [{len(notes)}]" if fail else f"none up to {cells[-1]}"
        click.echo(f"{cell.dtype:8} {cell.lam:>6g} {proved:>9} {exact or '-':>11}  {where}")
    for note in notes:
        click.echo(note)
    click.echo(f"\n{'dtype':8} {'N':>3} {'largest sum':>15} {'proved':>7} {'measured':>9}")
    for c in by_bits:
        net_sum = largest_sum(build(Config("subleq", c.bits, 16), 20.0, c.dtype))
        proved = "exact" if net_sum <= exact_range(c.dtype) else "no"
        click.echo(f"{c.dtype:8} {c.bits:>3} {net_sum:>15,} {proved:>7} {'exact' if c.exact else 'DIVERGED':>9}")
    click.echo(f"\n({programs} random programs a size, {max_steps} steps each; mlpvm compare --exactness)")


def _largest(dtype: str, lam: float, cells: list[int], programs: int, max_steps: int) -> tuple:
    """(largest proved M, largest measured M before the first failure, the failure, the last cell)."""
    proved = max((m for m in cells if min_lambda(m) <= lam), default=0)
    exact, failure, cell = 0, "", None
    for m in cells:
        cell = measure(Config("subleq", 8, m), lam, dtype, programs, max_steps)
        if not cell.exact:
            failure = f"M={m}: {cell.failure}"
            break
        exact = m
    return proved, exact, failure, cell


def _doc(row: tuple) -> dict:
    proved, exact, failure, cell = row
    return {"dtype": cell.dtype, "lambda": cell.lam, "proved_cells": proved, "measured_cells": exact,
            "failure": failure}  # fmt: skip


__all__ = ["Cell", "compare"]
