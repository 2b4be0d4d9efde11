"""Measurements for ``mlpvm bench``: speed of every engine, the reference interpreter in the same run,
scaling with memory size, weight build time and memory, and the arithmetic a pass must do. No UI here.

Every rate is timed on this machine in this run: each measurement runs for a time budget, a few times,
and reports the median and the best of those runs. Nothing here is asserted; speed is measured.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import platform
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from mlpvm.craft.blocks import Select, Term
from mlpvm.engines import ENGINES, Engine, fastest_name, have_llvm, have_numba, make
from mlpvm.engines.dense import MAX_DENSE
from mlpvm.engines.lowered import UPDATE, KernelArrays, lower
from mlpvm.host.computer import PACE, Computer
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.network import build
from mlpvm.network.weights import compile_network
from mlpvm.program import image as images
from mlpvm.program.image import Image
from mlpvm.program.inputs import Input, unescape
from mlpvm.program.load import load_image

SCALING_CELLS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
BATCH = 256  # machines in the batched measurements
BIG_BATCH = 4096  # issue 21's batch, for the engines fast enough to time it in a short run
BIG_ENGINES = ("unrolled", "compiled", "bits")
TARGETS = {  # issue 21: (aggregate passes/s, times the reference interpreter in the same run)
    "single": (5_000_000, 10),
    "big": (50_000_000, 100),
}
EFORTH_TARGET_S = 3.0  # issue 21: `echo "2 2 + . cr" | mlpvm run eforth-8k.dec` answers within 3 s in all
EFORTH_LINE_STEPS = 13_870_636  # eforth-8k: steps until "2 2 + . cr" has printed " 4" and " ok"
EFORTH = "external/howerj-subleq-vhdl/eforth-8k.dec"  # in the package's programs
EFORTH_INPUT = b"2 2 + . cr\n"
HISTORY_BACK = {False: 1_000_000, True: 100_000}  # by --quick: passes the debugger goes back on eForth
EXTRA = 10_000  # passes run beyond that

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


Chunk = Callable[[int], int]  # does about n units of work (passes, steps) and returns how many it did


def _sized(chunk: Chunk, seconds: float) -> int:
    """After a first call (which may load the compiled kernel), grows n until a chunk takes a tenth of the
    budget, and at least as long as ``mlpvm run``'s calls to an engine (``PACE``: a large batch runs as it
    runs there, not in calls too short for its tiles), then runs untimed for half the budget: warm caches, a
    settled n."""
    chunk(1)
    n = 1
    while True:
        start = time.perf_counter()
        chunk(n)
        if time.perf_counter() - start >= max(seconds / 10, PACE) or n >= 1 << 24:
            break
        n *= 4
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 2:
        chunk(n)
    return n


def timed(chunks: dict, seconds: float, repeats: int, progress: Progress | None = None) -> dict:
    """Rates of several chunks of work, ``repeats`` timed runs of ``seconds`` each. The runs go round the
    chunks in turn, so a change in the machine's load (it may be shared) touches every one alike and their
    ratios hold."""
    say = progress or (lambda what, done: None)
    sized = {}
    for i, (key, chunk) in enumerate(chunks.items()):
        say(f"warming up {_name(key)}", i / len(chunks) / 3)
        sized[key] = (chunk, _sized(chunk, seconds))
    runs: dict = {key: [] for key in chunks}
    for r in range(repeats):
        for key, (chunk, n) in sized.items():
            say(f"timing {_name(key)}", 1 / 3 + (r + 0.5) / repeats * 2 / 3)
            done, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                done += chunk(n)
            runs[key].append(done / elapsed)
    return {key: Rate.of(r) for key, r in runs.items()}


def span(progress: Progress, lo: float, hi: float) -> Progress:
    """Progress of a part of the run that covers ``lo`` .. ``hi`` of the whole."""
    return lambda what, done: progress(what, lo + (hi - lo) * done)


def _name(key) -> str:
    return ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def engine_chunk(engine: Engine, batch: int) -> Chunk:
    """Passes of ``batch`` machines (different counters) run by the host loop; counts machine-passes."""
    config = engine.config
    states = [encode(engine.state, config, counter_loop(1000 + 7 * i)) for i in range(batch)]
    computer = Computer(engine, states)

    def chunk(n: int) -> int:
        before = computer.passes
        computer.advance(n)
        return (computer.passes - before) * batch

    return chunk


def reference_chunk(config: Config) -> Chunk:
    ref = reference.load(config, counter_loop(1000))
    inp = Input()

    def chunk(n: int) -> int:
        before = ref.steps
        reference.run(ref, inp, ref.steps + n)
        return ref.steps - before

    return chunk


def debug_session(config: Config, image: Image | None = None, data: bytes = b""):
    """A debugging session of ``image`` (default: the benchmark program) with a breakpoint that never stops
    it (instructions start at multiples of 3: not at 1), so that the per-pass tests run too."""
    from mlpvm.debug.session import Session  # the debugger is not needed by the other measurements

    session = Session(image or Image(config.machine, counter_loop(1000)), config, data=data)
    session.add_breakpoint("1", address=1)
    return session


def eforth_session():
    """The debugger on the shipped eForth (M = 8192), typing ``2 2 + . cr``: millions of passes to run."""
    with as_file(files("mlpvm") / "programs" / EFORTH) as path:
        return debug_session(EFORTH_CONFIG, eforth_image(path), EFORTH_INPUT)


def debug_chunk(session) -> Chunk:
    """``continue`` in the debugger, the reference checked after every pass; counts passes."""

    def chunk(n: int) -> int:
        before = session.passes
        session.cont(n)
        return session.passes - before

    return chunk


def history_depth(back: int, progress: Progress) -> dict:
    """How far back the debugger's reverse execution reaches on eForth, in what memory and time: runs ``back``
    passes and a few more, goes back ``back`` passes (``reverse-step``), runs forward again, then
    ``reverse-continue`` with a breakpoint that never hits: every pass replayed and tested back to the start.
    Memory: the states kept for going back, and the most memory allocated at once (beyond the session's
    setup) while running forward again, traced (which slows that run: it is not timed)."""
    session = eforth_session()
    progress("debugger history: continue", 0.0)
    doc: dict = {"passes": back + EXTRA, "back": back, "continue_s": _timed(lambda: session.cont(back + EXTRA))}
    progress("debugger history: reverse-step", 0.25)
    doc["reverse_step_s"] = _timed(lambda: session.reverse_step(back))
    doc["reached_pass"] = session.passes
    progress("debugger history: continue (memory traced)", 0.5)
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()
    session.cont(back)
    doc["peak_bytes"] = tracemalloc.get_traced_memory()[1]
    if not tracing:
        tracemalloc.stop()
    doc["history_bytes"] = session.history_bytes()
    progress("debugger history: reverse-continue", 0.75)
    stops = []
    doc["reverse_continue_s"] = _timed(lambda: stops.append(session.reverse_continue()))
    doc["reverse_continue_stop"] = f"{stops[0].reason} at pass {session.passes}"
    return doc


def _timed(act: Callable[[], object]) -> float:
    start = time.perf_counter()
    act()
    return time.perf_counter() - start


def available(config: Config) -> dict[str, str | None]:
    """Each engine, and why it cannot run this configuration (None if it can)."""
    why: dict[str, str | None] = {name: None for name in ENGINES}
    if not have_numba():
        why["compiled"] = "numba is not installed (pip install 'mlpvm[fast]')"
    if importlib.util.find_spec("onnxruntime") is None:
        why["onnx"] = "onnxruntime is not installed (pip install 'mlpvm[onnx]')"
    if not have_llvm():
        why["unrolled"] = "llvmlite is not installed (pip install 'mlpvm[fast]')"
    dense = compile_network(build(config)).dense_params
    if dense > MAX_DENSE:
        why["dense"] = f"{dense:,} dense weights"
    return why


def engines_table(
    config: Config, batch: int, seconds: float, repeats: int, progress: Progress, with_eforth: bool = True
) -> dict:
    """Every engine on one program and on ``batch`` programs, and the reference interpreter; the debugger's
    continue, also on eForth (M = 8192) ``with_eforth``."""
    why = available(config)
    chunks: dict = {"reference": reference_chunk(config), "debug continue": debug_chunk(debug_session(config))}
    if with_eforth:
        chunks["debug continue eforth"] = debug_chunk(eforth_session())
    for name in ENGINES:
        if why[name] is None:
            big = (("big", BIG_BATCH),) if name in BIG_ENGINES and _compiled(name) else ()
            for key, b in (("single", 1), ("batched", batch), *big):
                chunks[name, key] = engine_chunk(make(name, config), b)
    rates = timed(chunks, seconds, repeats, progress)
    rows = {}
    for name in ENGINES:
        rows[name] = {"skipped": why[name]}
        if why[name] is None:
            rows[name].update({key: asdict(rates[k]) for k in rates if k[0] == name for key in k[1:]})
    ref = rates["reference"]
    doc = {"config": config.to_meta(), "batch": batch, "big_batch": BIG_BATCH, "engines": rows,
           "reference": asdict(ref), "targets": targets(rows, ref.median),
           "debug_continue": asdict(rates["debug continue"])}  # fmt: skip
    if with_eforth:
        doc["debug_continue_eforth"] = asdict(rates["debug continue eforth"])
    return doc


def _compiled(name: str) -> bool:
    """Whether an engine runs compiled here, to be timed on a batch of ``BIG_BATCH`` and across memory sizes:
    the bits engine without numba is its numpy evaluator, which those keep busy for most of a quick run and
    which tells nothing of the targets or of scaling (one program on it is still timed)."""
    return name != "bits" or have_numba()


def targets(rows: dict, reference: float) -> dict:
    """Issue 21's targets against each engine's median in this run: the rate and the ratio to the reference
    interpreter it reached, and the factor each is short by (below 1: met)."""
    out: dict = {}
    for key, (rate, ratio) in TARGETS.items():
        out[key] = {"target_passes_per_s": rate, "target_x_reference": ratio, "engines": {}}
        for name, row in rows.items():
            if key in row:
                got = row[key]["median"]
                out[key]["engines"][name] = {
                    "passes_per_s": got,
                    "x_reference": got / reference,
                    "short_of_rate": rate / got,
                    "short_of_ratio": ratio / (got / reference),
                }
    return out


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
    lowered = lower(net)
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
        "program_bytes": lowered.nbytes,
        "dense_float32_bytes": weights.dense_params * 4,
        "touched_per_pass": lowered.entries,
        "units_per_pass": lowered.units,
    }


def scaling_table(cells: tuple[int, ...], seconds: float, repeats: int, sparse_upto: int, progress: Progress) -> list:
    """Per memory size: build, memory, the nonzeros a pass touches, and the cost of a pass per engine (each
    engine timed across all sizes in turn)."""
    rows = []
    for i, m in enumerate(cells):
        progress(f"M = {m}: building the weights", i / len(cells) / 4)
        rows.append(weights_row(m) | {"us_per_pass": {}})
    for j, name in enumerate(ENGINES):
        sizes = [m for m in cells if available(Config("subleq", 16, m))[name] is None]
        sizes = [m for m in sizes if name not in ("sparse", "onnx", "bits") or m <= sparse_upto]
        sizes = sizes if _compiled(name) else []
        chunks = {(name, f"M = {m}"): engine_chunk(make(name, Config("subleq", 16, m)), 1) for m in sizes}
        share = span(progress, 1 / 4 + 3 / 4 * j / len(ENGINES), 1 / 4 + 3 / 4 * (j + 1) / len(ENGINES))
        rates = timed(chunks, seconds, repeats, share)
        for row in rows:
            key = (name, f"M = {row['cells']}")
            if key in rates:
                row["us_per_pass"][name] = 1e6 / rates[key].median
    return rows


def arithmetic(config: Config, seconds: float, repeats: int, progress: Progress) -> dict:
    """The multiply-adds a pass must do (the nonzeros the compiled engine touches, against all stored
    ones) and how close the kernel and the unrolled code get to a bare loop over exactly those weights on
    this machine, timed in turn with it."""
    net = build(config)
    lowered = lower(net)
    doc: dict = {
        "stored_nonzeros": compile_network(net).nnz,
        "touched_per_pass": lowered.entries,
        "units_per_pass": lowered.units,
    }
    if not have_numba():
        return doc
    from mlpvm.engines import kernel

    args = lowered.kernel_args(np.dtype(np.float32))
    scratch = np.zeros(lowered.scratch, np.float32)
    x = np.zeros(net.state.size, np.float32)
    out = np.zeros(lowered.units, np.float32)

    def bare(n: int) -> int:
        kernel.bare_units(scratch, x, out, n, args)
        return n

    chunks = {"bare loop": bare, "compiled": engine_chunk(make("compiled", config), 1)}
    if have_llvm():
        chunks["unrolled"] = engine_chunk(make("unrolled", config), 1)
    rates = timed(chunks, seconds, repeats, progress)
    floor, engine = rates["bare loop"], rates["compiled"]
    doc.update(
        bare_passes_per_s=asdict(floor),
        compiled_passes_per_s=asdict(engine),
        bare_entries_per_s=floor.median * lowered.entries,
        compiled_entries_per_s=engine.median * lowered.entries,
        efficiency=engine.median / floor.median,
    )
    if "unrolled" in rates:
        unrolled = rates["unrolled"]
        doc.update(
            unrolled_passes_per_s=asdict(unrolled),
            unrolled_entries_per_s=unrolled.median * lowered.entries,
            unrolled_efficiency=unrolled.median / floor.median,
        )
    doc["bits"] = bits_bound(config, seconds, repeats, progress)
    if have_llvm():
        doc["bound"] = bound(config)
    return doc


def bits_bound(config: Config, seconds: float, repeats: int, progress: Progress) -> dict:
    """What a pass of the bits engine must do, computed from the weights (its ops and the literals they read,
    each one 64-bit word operation for 64 machines; the state in bits), and the bound that sets on this
    machine: a bare loop over exactly those reads (``bitkernel.bare_reads``), one word (one program: 63 of
    64 lanes idle) and a tile of words (a batch), timed in turn with the engine on one program and on
    ``BIG_BATCH`` machines."""
    from mlpvm.engines import bitkernel
    from mlpvm.engines.bits import TILE_WORDS

    engine = make("bits", config)
    p = engine.program
    doc: dict = {
        "ops": p.ops,
        "literal_reads": p.literal_reads,
        "state_bits": p.state_size,
        "state_bytes_bits": -(-p.state_size // 8),
        "state_bytes_float32": 4 * p.state_size,
        "scratch_bytes_per_word": 8 * p.slots,
    }
    chunks: dict = {"bits, one program": engine_chunk(engine, 1), "bits, batch": engine_chunk(engine, BIG_BATCH)}
    for words in (1, TILE_WORDS):
        X = np.zeros((p.slots, words), np.uint64)

        def bare(n: int, X=X, words=words) -> int:
            bitkernel.bare_reads(X, p.lits, n)
            return n * 64 * words if words > 1 else n

        chunks[f"bare reads, {words} word(s)"] = bare
    rates = timed(chunks, seconds, repeats, progress)
    one, batch = rates["bits, one program"], rates["bits, batch"]
    floor_one, floor_batch = rates["bare reads, 1 word(s)"], rates[f"bare reads, {TILE_WORDS} word(s)"]
    doc.update(
        bare_one_passes_per_s=asdict(floor_one),
        bare_batch_passes_per_s=asdict(floor_batch),
        one_passes_per_s=asdict(one),
        batch_passes_per_s=asdict(batch),
        one_efficiency=one.median / floor_one.median,
        batch_efficiency=batch.median / floor_batch.median,
        word_ops_per_s=batch.median / 64 * p.literal_reads,
    )
    return doc


IPC_PEAK = 4  # instructions a cycle that a core of this class sustains at best on such code (an assumption)
LINE = 64  # bytes in a cache line


def bound(config: Config) -> dict:
    """The work of one pass of the unrolled engine, computed from its code and arrays, and the rates it
    bounds on this machine: machine instructions a pass (its layers are straight-line code, so each runs
    once a pass: exact), for one machine and per machine of a group of 8, at ``IPC_PEAK`` a cycle at this
    processor's clock; and the memory a pass touches, with the cache lines of state a machine's pass reads
    from its own memory rows, against this machine's copy bandwidth (measured here: for a batch whose states
    do not fit the caches)."""
    from mlpvm.engines.unrolled import WIDTH

    engine = make("unrolled", config)
    one, group = engine.instructions(1), engine.instructions(WIDTH)
    clock = clock_hz()
    doc: dict = {
        "clock_hz": clock,
        "ipc_peak": IPC_PEAK,
        "instructions_one": one,
        "instructions_per_machine_batch": group / WIDTH,
        "state_bytes_float32": 4 * engine.state.size,
        **traffic(engine.arrays, engine.dtype.itemsize),
        "copy_bytes_per_s": copy_bandwidth(),
    }
    if clock:
        doc["one_bound"] = clock * IPC_PEAK / one
        doc["batch_bound"] = clock * IPC_PEAK / doc["instructions_per_machine_batch"]
    doc["memory_bound"] = doc["copy_bytes_per_s"] / (LINE * doc["state_lines"])
    return doc


def traffic(p: KernelArrays, element: int) -> dict:
    """Bytes a pass of one machine reads and writes in its scratch and in its state (memory rows: the units
    of a selected row, the row updates), and the distinct cache lines of state it reads (each selected row's
    span once; fields read directly, once each)."""
    kinds = np.repeat(p.op_kind, np.diff(p.op_units))
    lines, rows = 0, set()
    for op in range(len(p.op_kind)):
        units = range(int(p.op_units[op]), int(p.op_units[op + 1]))
        cols = np.concatenate([p.x_col[p.unit_x[u] : p.unit_x[u + 1]] for u in units] or [np.zeros(0, np.int64)])
        if not len(cols):
            continue
        if p.op_reg[op] >= 0:  # a selected row: where it lies differs by machine; count its span once per row
            key = (int(p.op_reg[op]), int(cols.min()), int(cols.max()))
            if key not in rows:
                rows.add(key)
                lines += -(-(int(cols.max()) - int(cols.min()) + 1) * element // LINE)
        else:
            lines += len(np.unique(cols * element // LINE))
    return {
        "scratch_bytes_read": (len(p.s_col) + len(p.addr_slot)) * element,
        "scratch_bytes_written": int((kinds != UPDATE).sum()) * element,
        "state_bytes_read": len(p.x_col) * element,
        "state_bytes_written": int((kinds == UPDATE).sum()) * element,
        "state_lines": lines,
    }


def clock_hz() -> float | None:
    """The processor's clock as the kernel reports it (Linux), else None."""
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    except OSError:
        return None
    return max(mhz) * 1e6 if mhz else None


def copy_bandwidth(size: int = 64 << 20) -> float:
    """Bytes a second one core moves copying an array far larger than the caches (read and write): the best
    of a few copies."""
    src, dst = np.ones(size // 8), np.empty(size // 8)
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = max(best, 2 * size / (time.perf_counter() - start))
    return best


def version() -> str:
    """The package's version, and the git commit of a checkout (with ``+`` when it has changes), if any."""
    from mlpvm import __version__

    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # installed, not a checkout
        return __version__
    try:
        commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty=+"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__} ({commit})"


def machine() -> dict:
    """What the figures were measured on: processor, cores, clock, load averages (1, 5, 15 minutes) and the
    date; ``mlpvm.benchdoc`` calls a run quiet when the load stayed under one core's worth."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "clock_hz": clock_hz(),
        "load": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "mlpvm": version(),
    }


EFORTH_CONFIG = Config("subleq", 16, 8192)


def eforth_image(path: str | Path) -> Image:
    """The image ``--eforth`` boots, refused (one line) unless it fits 16-bit words and 8,192 cells."""
    program = load_image(path)
    images.check_fits(program, EFORTH_CONFIG)
    return program


def eforth(path: str | Path, line: str | None, progress: Progress) -> dict:
    """Boots an eForth image on the network (M = 8192) to its first request for input, optionally types
    ``line`` and runs until it asks for more. Output and time of each part."""
    program = eforth_image(path)
    config = EFORTH_CONFIG
    start = time.perf_counter()
    engine = make("neural", config)
    engine.run_pass(engine.new_batch(encode(engine.state, config, program.words)))  # loads the kernel: setup
    inp = Input(closed=False)
    computer = Computer(engine, encode(engine.state, config, program.words), [inp])
    setup = time.perf_counter() - start
    parts = []
    for text in [None, line] if line else [None]:
        if text is not None:
            inp.feed(unescape(text) + b"\n")
            computer = Computer(engine, computer.done[0].state, [inp])
        progress("eForth: " + ("boot" if text is None else f"typing {text!r}"), 0.0)
        start = time.perf_counter()
        outcome = computer.run(20_000_000)[0]
        seconds = time.perf_counter() - start
        parts.append(
            {
                "input": text,
                "output": outcome.output.decode("utf-8", "replace"),
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
        "engine": engine.name,  # the one that ran
        "setup_s": setup,
        "parts": parts,
        "line_steps": EFORTH_LINE_STEPS,
        "estimate_line_s": EFORTH_LINE_STEPS / boot["passes_per_s"],
    }


CAMPAIGN = {False: (2048, 128), True: (256, 32)}  # by --quick: random programs, and programs per shard


def campaign(quick: bool, progress: Progress) -> dict:
    """Aggregate passes/s (each step of each machine is one pass of it through the network) of one ``verify
    --random`` campaign: in this process, and on local clusters of 1 and 2 workers. Each cluster first runs a
    shard per worker of another campaign, so that the timing leaves out the start and the compilations."""
    from mlpvm.check import cluster
    from mlpvm.check.campaign import VerifyCampaign, meta

    count, shard = CAMPAIGN[quick]
    c = VerifyCampaign((), "", False, meta(Config()), count, 0, 1000, fastest_name(), "float32", 512, None, shard)
    rows = []
    for k, workers in enumerate((None, 1, 2)):
        progress(f"campaign, {workers or 'no'} cluster workers", k / 3)
        with cluster.pool(workers) as runner:
            warm = replace(c, count=runner.workers * 8, seed=count, shard_size=8)
            runner.run(warm, list(range(warm.shards)), lambda shard, result: None)
            results: dict[int, dict] = {}
            start = time.perf_counter()
            runner.run(c, list(range(c.shards)), results.__setitem__)
            seconds = time.perf_counter() - start
        steps = sum(r["steps"] for r in results.values())
        rows.append({"workers": workers, "programs": count, "steps": steps, "seconds": seconds,
                     "passes_per_s": steps / seconds})  # fmt: skip
    return {"engine": c.engine_name, "config": Config().to_meta(), "shard_size": shard, "rows": rows}


BUDGETS = {False: (1.0, 3), True: (0.15, 3)}  # by --quick: seconds per timed run, runs per measurement
# --quick on numpy alone (no fast extra): eForth's 8,192 cells run at hundreds of passes/s, so the sizes stop here
# and the eForth measurements (millions of passes) are left out, saying so.
SLOW_QUICK_CELLS = 1024
WITHOUT_FAST = (
    f"without the fast extra (pip install 'mlpvm[fast]') --quick measures M up to {SLOW_QUICK_CELLS:,} and leaves "
    "out eForth (M = 8,192): the debugger's continue on it and its history"
)


TRANSFORMER_CONFIG = Config("subleq", 8, 16)  # the transformer's (M + 1)^2 attention makes 256 cells slow


def transformer_chunk(net) -> Chunk:
    """Passes of the transformer (``net``: its layers, or ``mlpvm.transformer.dense.Dense``) over the
    benchmark program; the host's duties are nil, the program has no I/O and never stops."""
    from mlpvm.transformer.state import encode as encode_punchcard

    box = [encode_punchcard(net, counter_loop(100))]

    def chunk(n: int) -> int:
        for _ in range(n):
            box[0] = net.run_pass(box[0])
        return n

    return chunk


def networks(config: Config, seconds: float, repeats: int, progress: Progress | None = None) -> dict:
    """``bench --network transformer``: the transformer's passes/s and the MLP's on the same engine classes
    (dense: every weight multiplied; sparse: zero weights skipped), one program each, float32, and the
    reference interpreter's steps/s, all in the same run (``timed`` goes round them in turn)."""
    from mlpvm.transformer import build as build_transformer
    from mlpvm.transformer import dense

    net = build_transformer(config)
    chunks = {("transformer", "dense"): transformer_chunk(dense.of(net)),
              ("transformer", "sparse"): transformer_chunk(net),
              ("mlp", "dense"): engine_chunk(make("dense", config), 1),
              ("mlp", "sparse"): engine_chunk(make("sparse", config), 1),
              "reference": reference_chunk(config)}  # fmt: skip
    rates = timed(chunks, seconds, repeats, progress)
    ref = rates["reference"].median
    rows: dict = {}  # engine class -> network -> its rate and its ratio to the reference
    for key, rate in rates.items():
        if key != "reference":
            rows.setdefault(key[1], {})[key[0]] = asdict(rate) | {"x_reference": rate.median / ref}
    return {"config": config.to_meta(), "lambda": net.lam, "dtype": "float32", "engines": rows,
            "reference_steps_per_s": asdict(rates["reference"]), "counts": net.counts()}  # fmt: skip


def run(
    quick: bool = False,
    eforth_image: str | None = None,
    eforth_line: str | None = None,
    progress: Progress | None = None,
    budget: tuple[float, int] | None = None,
    only_eforth: bool = False,
    only_campaign: bool = False,
) -> dict:
    """The whole benchmark: a few minutes, or well under one when ``quick`` (the sparse engine is then left
    out of the scaling table above M = 1024). ``budget``: (seconds, repeats) instead of ``BUDGETS``."""
    say: Progress = progress or (lambda what, done: None)
    seconds, repeats = budget or BUDGETS[quick]
    config = Config("subleq", 16, 256)
    started = time.perf_counter()

    doc: dict = {"quick": quick, "numba": have_numba(), "neural": fastest_name(), "budget": [seconds, repeats],
                 "machine": machine()}  # fmt: skip
    slow = quick and not (have_numba() and have_llvm())  # numpy alone: keep --quick well under a minute
    doc["notes"] = [WITHOUT_FAST] if slow and not only_eforth and not only_campaign else []
    if only_campaign:
        doc["campaign"] = campaign(quick, say)
    elif not only_eforth:
        doc["engines"] = engines_table(config, BATCH, seconds, repeats, span(say, 0.0, 0.35), with_eforth=not slow)
        doc["arithmetic"] = arithmetic(config, seconds, repeats, span(say, 0.35, 0.45))
        cells = tuple(m for m in SCALING_CELLS if m <= SLOW_QUICK_CELLS) if slow else SCALING_CELLS
        doc["scaling"] = scaling_table(cells, seconds, repeats, 1024 if quick else max(cells), span(say, 0.45, 0.9))
        if not slow:
            doc["debug_history"] = history_depth(HISTORY_BACK[quick], span(say, 0.9, 0.95))
    if eforth_image:
        doc["eforth"] = eforth(eforth_image, eforth_line, span(say, 0.0 if only_eforth else 0.95, 1.0))
    doc["seconds"] = time.perf_counter() - started
    doc["machine"]["load_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    say("done", 1.0)
    return doc
