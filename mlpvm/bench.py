"""Measurements for ``mlpvm bench``: speed of every engine, the reference interpreter in the same run,
scaling with memory size, weight build time and memory, and the arithmetic a pass must do. No UI here.

Every rate is timed on this machine in this run: each measurement runs for a time budget, a few times,
and reports the median and the best of those runs. Nothing here is asserted; speed is measured.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mlpvm import reference
from mlpvm.engines import ENGINES, Engine, fastest_name, have_numba, make
from mlpvm.engines.dense import MAX_DENSE
from mlpvm.engines.lowered import lower
from mlpvm.host import Computer
from mlpvm.image import load as load_image
from mlpvm.inputs import Input
from mlpvm.machine import Config
from mlpvm.network import build
from mlpvm.network.blocks import Select, Term
from mlpvm.state import encode
from mlpvm.weights import compile_network

SCALING_CELLS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
BATCH = 256  # machines in the batched measurements
EFORTH_LINE_STEPS = 13_870_636  # eforth-8k: steps until "2 2 + . cr" has printed " 4" and " ok"

Progress = Callable[[str, float], None]  # (what is being measured, fraction of the whole run done)


def counter_loop(start: int) -> list[int]:
    """The benchmark program: counts a cell down from ``start`` and back up, forever, without I/O.
    Every pass does the same network work whatever the program, so any non-stopping program would do."""
    # 0: ONE CNT 6 (CNT -= 1; if <= 0 go to 6)  3: Z Z 0  6: NEG CNT 9 (CNT += start)  9: Z Z 0
    return [12, 13, 6, 14, 14, 0, 15, 13, 9, 14, 14, 0, 1, start, 0, -start]


@dataclass
class Rate:
    """Passes (or steps) per second: the median and the best of several timed runs."""

    median: float
    best: float
    runs: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, runs: list[float]) -> Rate:
        return cls(statistics.median(runs), max(runs), runs)


def timed(chunk: Callable[[int], int], seconds: float, repeats: int) -> Rate:
    """``chunk(n)`` does about n units of work and returns how many it did. After a first call (which may
    load the compiled kernel), grows n until a chunk takes a tenth of the budget, runs untimed for half
    the budget, then times ``repeats`` runs of ``seconds`` each."""
    chunk(1)
    n = 1
    while True:
        start = time.perf_counter()
        chunk(n)
        if time.perf_counter() - start >= seconds / 10 or n >= 1 << 24:
            break
        n *= 4
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 2:
        chunk(n)
    runs = []
    for _ in range(repeats):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            done += chunk(n)
        runs.append(done / elapsed)
    return Rate.of(runs)


def engine_rate(engine: Engine, batch: int, seconds: float, repeats: int) -> Rate:
    """Aggregate passes per second of ``batch`` machines (different counters) run by the host loop."""
    config = engine.config
    states = [encode(engine.state, config, counter_loop(1000 + 7 * i)) for i in range(batch)]
    computer = Computer(engine, states)

    def chunk(n: int) -> int:
        before = computer.passes
        computer.advance(n)
        return (computer.passes - before) * batch

    return timed(chunk, seconds, repeats)


def reference_rate(config: Config, seconds: float, repeats: int) -> Rate:
    ref = reference.load(config, counter_loop(1000))
    inp = Input()

    def chunk(n: int) -> int:
        before = ref.steps
        reference.run(ref, inp, ref.steps + n)
        return ref.steps - before

    return timed(chunk, seconds, repeats)


def available(config: Config) -> dict[str, str | None]:
    """Each engine, and why it cannot run this configuration (None if it can)."""
    why: dict[str, str | None] = {name: None for name in ENGINES}
    if not have_numba():
        why["compiled"] = "numba is not installed (pip install 'mlpvm[fast]')"
    dense = compile_network(build(config)).dense_params
    if dense > MAX_DENSE:
        why["dense"] = f"{dense:,} dense weights"
    return why


def engines_table(config: Config, batch: int, seconds: float, repeats: int, progress: Progress) -> dict:
    """Every engine on one program and on ``batch`` programs, and the reference interpreter."""
    rows = {}
    why = available(config)
    for i, name in enumerate(ENGINES):
        row: dict = {"skipped": why[name]}
        if why[name] is None:
            for key, b in (("single", 1), ("batched", batch)):
                progress(f"{name}, {key}", i / len(ENGINES))
                row[key] = asdict(engine_rate(make(name, config), b, seconds, repeats))
        rows[name] = row
    progress("reference interpreter", 1.0)
    ref = reference_rate(config, seconds, repeats)
    return {"config": config.to_meta(), "batch": batch, "engines": rows, "reference": asdict(ref)}


def blocks_bytes(config: Config) -> int:
    """Memory of the construction itself: every block's index arrays and biases."""
    total = 0
    for layer in build(config).layers:
        for block in layer.blocks:
            terms: tuple[Term, ...] = getattr(block, "terms", ())
            total += sum(t.index.nbytes for t in terms) + getattr(block, "bias", np.zeros(0)).nbytes
            if isinstance(block, Select):
                total += block.addr_index.nbytes
    return total


def weights_row(cells: int) -> dict:
    """Build time and memory of the network for M = ``cells`` (N = 16), fresh (not cached)."""
    config = Config("subleq", 16, cells)
    build.cache_clear()
    start = time.perf_counter()
    net = build(config)
    blocks = time.perf_counter() - start
    weights = compile_network(net)
    csr = time.perf_counter() - start - blocks
    start = time.perf_counter()
    program = lower(net)
    lowering = time.perf_counter() - start
    csr_bytes = sum(layer.W.nbytes + layer.b.nbytes for layer in weights.layers)
    return {
        "cells": cells,
        "state_size": net.state.size,
        "stored_nonzeros": weights.nnz,
        "dense_parameters": weights.dense_params,
        "build_blocks_s": blocks,
        "build_csr_s": csr,
        "build_s": blocks + csr,
        "lower_s": lowering,
        "csr_bytes": csr_bytes,
        "blocks_bytes": blocks_bytes(config),
        "program_bytes": program.nbytes,
        "dense_float32_bytes": weights.dense_params * 4,
        "touched_per_pass": program.entries,
        "units_per_pass": program.units,
    }


def scaling_table(cells: tuple[int, ...], seconds: float, repeats: int, sparse_upto: int, progress: Progress) -> list:
    """Per memory size: build, memory, the nonzeros a pass touches, and the cost of a pass per engine."""
    rows = []
    for i, m in enumerate(cells):
        progress(f"M = {m}: weights", i / len(cells))
        row = weights_row(m)
        config = Config("subleq", 16, m)
        why = available(config)
        row["us_per_pass"] = {}
        for name in ENGINES:
            if why[name] is None and (name != "sparse" or m <= sparse_upto):
                progress(f"M = {m}: {name}", (i + 0.5) / len(cells))
                rate = engine_rate(make(name, config), 1, seconds, repeats)
                row["us_per_pass"][name] = 1e6 / rate.median
        rows.append(row)
    return rows


def arithmetic(config: Config, compiled: Rate | None, seconds: float, repeats: int) -> dict:
    """The multiply-adds a pass must do (the nonzeros the compiled engine touches, against all stored
    ones) and how close the kernel (at ``compiled`` passes/s) gets to a bare loop over exactly those
    weights on this machine."""
    net = build(config)
    program = lower(net)
    doc: dict = {
        "stored_nonzeros": compile_network(net).nnz,
        "touched_per_pass": program.entries,
        "units_per_pass": program.units,
    }
    if compiled is None:
        return doc
    from mlpvm.engines import kernel

    args = program.kernel_args(np.dtype(np.float32))
    scratch = np.zeros(program.scratch, np.float32)
    x = np.zeros(net.state.size, np.float32)
    out = np.zeros(program.units, np.float32)

    def bare(n: int) -> int:
        kernel.bare_units(scratch, x, out, n, args)
        return n

    floor = timed(bare, seconds, repeats)
    doc.update(
        bare_passes_per_s=asdict(floor),
        bare_entries_per_s=floor.median * program.entries,
        compiled_entries_per_s=compiled.median * program.entries,
        efficiency=compiled.median / floor.median,
    )
    return doc


def eforth(path: str | Path, line: str | None, progress: Progress) -> dict:
    """Boots an eForth image on the network (M = 8192) to its first request for input, optionally types
    ``line`` and runs until it asks for more. Output and time of each part."""
    program = load_image(path)
    config = Config("subleq", 16, 8192)
    start = time.perf_counter()
    engine = make("neural", config)
    engine.run_pass(engine.new_batch(encode(engine.state, config, program.words)))  # loads the kernel: setup
    inp = Input(closed=False)
    computer = Computer(engine, encode(engine.state, config, program.words), [inp])
    setup = time.perf_counter() - start
    parts = []
    for text in [None, line] if line else [None]:
        if text is not None:
            inp.feed(text.encode() + b"\n")
            computer = Computer(engine, computer.done[0].state, [inp])
        progress("eForth: " + ("boot" if text is None else f"typing {text!r}"), 0.0)
        start = time.perf_counter()
        outcome = computer.run(20_000_000)[0]
        seconds = time.perf_counter() - start
        parts.append(
            {
                "input": text,
                "output": outcome.output.decode("latin-1"),
                "reason": outcome.reason,
                "steps": outcome.steps,
                "passes": outcome.passes,
                "seconds": seconds,
                "passes_per_s": (outcome.passes or 0) / seconds,
            }
        )
    boot = parts[0]
    return {
        "image": str(path),
        "engine": fastest_name(),
        "setup_s": setup,
        "parts": parts,
        "line_steps": EFORTH_LINE_STEPS,
        "estimate_line_s": EFORTH_LINE_STEPS / boot["passes_per_s"],
    }


BUDGETS = {False: (1.0, 3), True: (0.15, 3)}  # by --quick: seconds per timed run, runs per measurement


def run(
    quick: bool = False,
    eforth_image: str | None = None,
    eforth_line: str | None = None,
    progress: Progress | None = None,
    budget: tuple[float, int] | None = None,
    only_eforth: bool = False,
) -> dict:
    """The whole benchmark: a few minutes, or well under one when ``quick`` (the sparse engine is then left
    out of the scaling table above M = 1024). ``budget``: (seconds, repeats) instead of ``BUDGETS``."""
    say: Progress = progress or (lambda what, done: None)
    seconds, repeats = budget or BUDGETS[quick]
    config = Config("subleq", 16, 256)
    started = time.perf_counter()

    def part(lo: float, hi: float) -> Progress:
        return lambda what, done: say(what, lo + (hi - lo) * done)

    doc: dict = {"quick": quick, "numba": have_numba(), "neural": fastest_name(), "budget": [seconds, repeats]}
    if not only_eforth:
        doc["engines"] = engines_table(config, BATCH, seconds, repeats, part(0.0, 0.4))
        single = doc["engines"]["engines"]["compiled"].get("single")
        doc["arithmetic"] = arithmetic(config, Rate(**single) if single else None, seconds, repeats)
        cells = SCALING_CELLS
        doc["scaling"] = scaling_table(cells, seconds, repeats, 1024 if quick else max(cells), part(0.45, 0.95))
    if eforth_image:
        doc["eforth"] = eforth(eforth_image, eforth_line, part(0.0 if only_eforth else 0.95, 1.0))
    doc["seconds"] = time.perf_counter() - started
    say("done", 1.0)
    return doc
