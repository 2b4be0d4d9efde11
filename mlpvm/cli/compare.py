"""``mlpvm compare``: the MLP and the looped transformer side by side. ``--exactness`` measures where the
transformer stays exact (mlpvm.transformer.exactness) against the bound that ``run`` enforces."""

from __future__ import annotations

import json
import time

import click

from mlpvm.check.transformer import Cell, measure
from mlpvm.cli.options import INPUT_HELP, MAX_CELLS, bounded, lambda_option, max_steps_option, resolve_config
from mlpvm.engines import make
from mlpvm.errors import ConfigError
from mlpvm.host import transformer as host
from mlpvm.host.batch import run_reference
from mlpvm.host.computer import Computer, Outcome
from mlpvm.machines.config import MAX_BITS, MIN_BITS, MIN_CELLS, Config
from mlpvm.machines.state import encode
from mlpvm.network import build as build_network
from mlpvm.network import weights as weightfile
from mlpvm.network.exactness import exact_range
from mlpvm.program.inputs import EOF_READS, Input, unescape
from mlpvm.program.load import load_image
from mlpvm.transformer import build
from mlpvm.transformer.exactness import largest_sum, min_lambda

ENGINE_CLASSES = ("dense", "sparse")
LAMBDAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 20.0)
BITS = (8, 16, 24, 32)


@click.command()
@click.argument("images", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--bits", type=bounded(MIN_BITS, MAX_BITS), help="Word width N (default: what the programs need).")
@click.option("--cells", type=bounded(MIN_CELLS, MAX_CELLS), help="Memory cells M (default: what they need).")
@lambda_option
@click.option("--input", "input_text", default="", help=f"{INPUT_HELP} (every program gets it).")
@click.option("--exactness", is_flag=True, help="Measure where the transformer is exact (docs/transformer.md).")
@click.option("--programs", type=bounded(1, 10_000), default=10, show_default=True, help="Random programs a size.")
@max_steps_option(100, "Stop each run (and each measured program) after this many instructions")
@click.option("--max-cells", type=bounded(4, 1024), default=64, show_default=True, help="Largest M tried.")
@click.option("--engine-class", "engine", type=click.Choice(ENGINE_CLASSES), default="dense", show_default=True,
              help="The engine class both networks are timed on (see above).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as one JSON object.")
def compare(images, bits, cells, lam, input_text, exactness: bool, programs: int, max_steps: int, max_cells: int,
            engine: str, as_json: bool) -> None:  # fmt: skip
    """Compare the MLP and the looped transformer on the same IMAGES (subleq programs, one configuration):
    layers per pass, state size, parameters and nonzero weights, passes per second on the same engine class
    and whether each ended exactly as the reference interpreter (output, memory, PC, steps, stop), and the
    reference's own steps per second. --max-steps bounds each run (default here 100).

    \b
    --engine-class dense (default): both as dense products in numpy, every
    weight multiplied, zeros included (the MLP's dense engine; the
    transformer's mlpvm/transformer/dense.py). --engine-class sparse: each skips
    its zero weights (the MLP's CSR engine; the transformer's layers on the
    rows and columns their matrices use).

    \b
    --exactness: for float32 and float64 and a range of lambda, the largest
    memory M (8-bit words) at which random programs stay exact in lockstep
    with the reference, beside the proved bound (M e^(-2 lambda) <= 3/5) that
    `run --network transformer` refuses to cross; then the word widths N (16
    cells, lambda 20) at which each float type stays exact.
    """
    max_steps = max_steps or 2**62
    if not exactness:
        if not images:
            raise click.UsageError("give IMAGES to compare the networks on, or --exactness")
        side_by_side(images, bits, cells, lam, unescape(input_text), max_steps, engine, as_json)
        return
    cells = [1 << k for k in range(2, max_cells.bit_length()) if 1 << k <= max_cells]
    by_cells = [_largest(dtype, t, cells, programs, max_steps) for dtype in ("float32", "float64") for t in LAMBDAS]
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


def side_by_side(images, bits, cells, lam, data: bytes, max_steps: int, engine: str, as_json: bool) -> None:
    from mlpvm.cli.transformer import network
    from mlpvm.transformer import dense

    loaded = [load_image(p) for p in images]
    configs = {resolve_config(image, None, "subleq", bits, cells, None) for image in loaded}
    if len(configs) > 1:
        raise ConfigError("the programs need different configurations: give --bits and --cells")
    config = configs.pop()
    net = network(config, lam)
    weights = weightfile.compile_network(build_network(config))
    mlp_engine = make(engine, config)
    timed_net = dense.of(net) if engine == "dense" else net
    sizes = {
        "mlp": {"layers": len(weights.layers), "heads": 0, "state_size": weights.state.size,
                "parameters": weights.dense_params, "nonzeros": weights.nnz},
        "transformer": {k: v for k, v in net.counts().items() if k in ("layers", "heads", "state_size", "parameters",
                                                                       "nonzeros")},
    }  # fmt: skip
    runs = {"mlp": [0, 0.0, True], "transformer": [0, 0.0, True]}  # passes, seconds, exact
    ref_steps, ref_seconds = 0, 0.0
    for image in loaded:
        start = time.perf_counter()
        want = run_reference(image, config, _input(data), max_steps)
        ref_steps, ref_seconds = ref_steps + want.steps, ref_seconds + time.perf_counter() - start
        for name in runs:
            start = time.perf_counter()
            if name == "mlp":
                x = encode(mlp_engine.state, config, image.words, image.slots)
                got = Computer(mlp_engine, x, [_input(data)]).run(max_steps)[0]
            else:
                got = host.run(timed_net, list(image.words), _input(data), max_steps)
            runs[name][0] += got.passes or 0
            runs[name][1] += time.perf_counter() - start
            runs[name][2] &= _same(got, want)
    for name, (passes, seconds, exact) in runs.items():
        sizes[name] |= {"passes": passes, "passes_per_s": passes / max(seconds, 1e-9), "exact": exact}
    reference = {"steps": ref_steps, "steps_per_s": ref_steps / max(ref_seconds, 1e-9)}
    if as_json:
        click.echo(json.dumps({"config": config.to_meta(), "lambda": net.lam, "engine": engine, "dtype": "float32",
                               "programs": list(images), **sizes, "reference": reference}))  # fmt: skip
        return
    click.echo(f"{len(loaded)} program(s) on {config.describe()}; transformer lambda {net.lam:g}; both float32,")
    click.echo(f"timed on the {engine} engine class (mlpvm compare --help)")
    click.echo(f"{'':22} {'mlp':>14} {'transformer':>14}")
    labels = {"layers": "layers per pass", "heads": "attention heads", "state_size": "state size",
              "parameters": "parameters (dense)", "nonzeros": "nonzero weights", "passes": "passes",
              "passes_per_s": f"passes/s ({engine})", "exact": "same as reference"}  # fmt: skip
    for key, label in labels.items():
        a, b = sizes["mlp"][key], sizes["transformer"][key]
        click.echo(f"{label:22} {_fmt(a):>14} {_fmt(b):>14}")
    click.echo(f"(the reference interpreter: {reference['steps_per_s']:,.0f} steps/s in the same run)")


def _input(data: bytes) -> Input:
    return Input(data, eof_reads=EOF_READS)


def _same(got: Outcome, want: Outcome) -> bool:
    return (got.output, got.steps, got.pc, got.reason, list(got.memory)) == (
        want.output, want.steps, want.pc, want.reason, list(want.memory))  # fmt: skip


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


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
