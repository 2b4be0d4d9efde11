"""Every engine computes exactly what the stored matrices compute, layer by layer, on random states; and
every activation of every layer stays on {0,1} for any {0,1} state. The compiled engine is checked on both
of its code paths (a single machine, and batch-minor tiles) and over many passes at once."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mlpvm.engines import Compiled, Dense, Sparse, Structured, Unrolled, make
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.network import LAYER_NAMES, build
from mlpvm.network.weights import compile_network
from tests.conftest import needs_llvm, needs_numba, needs_onnx

CONFIGS = [
    Config("subleq", 4, 16),
    Config("subleq", 8, 64),
    Config("subleq", 16, 256),
    Config("subleq", 32, 64),
    Config("paper", 4, 16, 4),
    Config("paper", 8, 32, 64),
    Config("paper", 16, 128, 16),
]


def random_states(n: int, size: int, seed: int) -> np.ndarray:
    """Every field random, not only states a program could reach: flags, I/O fields, registers."""
    return np.random.default_rng(seed).integers(0, 2, (n, size)).astype(np.float32)


def traces(engine, x: np.ndarray) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    engine.run_pass(x.copy(), out)
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.machine}-{c.bits}x{c.cells}")
def test_structured_equals_stored_matrices_per_layer(cfg):
    net = build(cfg)
    weights = compile_network(net)
    x = random_states(64, net.state.size, cfg.bits)
    want = traces(Sparse(weights), x)
    got = traces(Structured(net), x)
    assert len(want) == len(got) == 23
    for name, w, g in zip(net.layers, want, got):
        assert np.array_equal(w, g), name.name
        assert set(np.unique(w)) <= {0.0, 1.0}, name.name


@needs_numba
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.machine}-{c.bits}x{c.cells}")
def test_compiled_equals_stored_matrices_per_layer(cfg):
    net = build(cfg)
    weights = compile_network(net)
    x = random_states(200, net.state.size, cfg.bits + 1)  # two tiles: the batch-minor path
    want = traces(Sparse(weights), x)
    engine = Compiled(net)
    got = traces(engine, x)
    assert len(got) == 23
    for layer, w, g in zip(net.layers, want, got):
        assert np.array_equal(w, g), layer.name
    for row in range(0, 200, 25):  # one machine: the scalar path
        for layer, w, g in zip(net.layers, want, traces(engine, x[row : row + 1])):
            assert np.array_equal(w[row : row + 1], g), (layer.name, row)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", [Config("subleq", 8, 32), Config("paper", 8, 16, 8)], ids=str)
def test_compiled_runs_many_passes_like_the_structured_engine(cfg, dtype):
    """``run_until_event`` inside the kernel (state carried in the scratch from pass to pass, events, step
    counts) against one pass at a time, for one machine and for batches of one and several tiles."""
    assert longest_run_like_structured(Compiled, cfg, dtype, seed=5, batches=(1, 100, 300)) > 1  # carried in the kernel


def longest_run_like_structured(engine: type, cfg: Config, dtype, seed: int, batches: tuple[int, ...]) -> int:
    """Runs random programs (long runs, some halt) on ``engine`` many passes per call and on the structured
    engine, comparing the states, step counts and passes after every call; returns the longest call."""
    net = build(cfg)
    rng = np.random.default_rng(seed)
    words = [rng.integers(0, cfg.cells - 3, cfg.cells).tolist() for _ in range(max(batches))]
    slots = [
        [tuple(rng.integers(0, [cfg.cells, cfg.cells, max(cfg.slots, 1)])) for _ in range(cfg.slots)] for _ in words
    ]
    states = np.array([encode(net.state, cfg, w, s if cfg.slots else None) for w, s in zip(words, slots)])
    longest = 0
    for batch in batches:
        fast, slow = engine(net, dtype), Structured(net, dtype)
        xf, xs = fast.new_batch(states[:batch]), slow.new_batch(states[:batch])
        for _ in range(6):
            sf, ss = np.zeros(batch, np.int64), np.zeros(batch, np.int64)
            passes = fast.run_until_event(xf, 40, sf)
            assert passes == slow.run_until_event(xs, 40, ss)
            assert np.array_equal(xf, xs) and np.array_equal(sf, ss)
            longest = max(longest, passes)
    return longest


@needs_numba
def test_compiled_guard_names_the_layer():
    cfg = Config("subleq", 8, 32)
    engine = Compiled(build(cfg))
    x = engine.new_batch(encode(engine.state, cfg, [3, 4, 0, 1, 1]))
    x[0, engine.state["mem"].offset + 3 * 8] = 0.5  # mem[3], which the first instruction reads
    with pytest.raises(NetworkFault) as e:
        engine.run_until_event(x.copy(), 5, np.zeros(1, np.int64))
    assert e.value.layer in LAYER_NAMES and "machine 0" in str(e.value)
    with pytest.raises(NetworkFault):
        engine.run_pass(np.repeat(x, 3, axis=0))
    engine.guard = False
    engine.run_pass(x)  # unchecked: nothing raised


# Without numba (sys.modules["numba"] = None makes "import numba" fail): ``neural`` falls back to the numpy
# structured engine, ``compiled`` is refused by name, and the kernel still runs, as plain Python, exactly.
WITHOUT_NUMBA = r"""
import sys
sys.modules["numba"] = None
import numpy as np
from mlpvm.engines import Compiled, Sparse, fastest, fastest_name, have_numba, make
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network

assert not have_numba() and fastest_name() == "structured"
cfg = Config("subleq", 4, 16)
assert type(fastest(cfg)).__name__ == "Structured"
try:
    make("compiled", cfg)
    raise SystemExit("make('compiled') worked without numba")
except ValueError as e:
    assert "numba" in str(e)
net = build(cfg)
x = np.random.default_rng(0).integers(0, 2, (3, net.state.size)).astype(np.float32)
for batch in (x, x[:1]):
    want, got = [], []
    Sparse(compile_network(net)).run_pass(batch.copy(), want)
    Compiled(net).run_pass(batch.copy(), got)
    assert all(np.array_equal(w, g) for w, g in zip(want, got))
# A weight file: one machine on sparse, a batch on the bits engine's numpy evaluator (exact).
weights = compile_network(net)
assert fastest_name(weights=True) == "sparse" and fastest_name(weights=True, batch=64) == "bits"
assert type(fastest(weights=weights)).__name__ == "Sparse"
engine = fastest(weights=weights, batch=64)
assert type(engine).__name__ == "Bits" and not engine.use_numba
want, got = [], []
Sparse(weights).run_pass(x.copy(), want)
engine.run_pass(x.copy(), got)
assert all(np.array_equal(w, g) for w, g in zip(want, got))
print("ok")
"""


def test_without_numba_the_numpy_engine_is_the_fastest():
    done = subprocess.run([sys.executable, "-c", WITHOUT_NUMBA], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.cells <= 64 and c.bits <= 8], ids=str)
def test_dense_equals_sparse(cfg):
    weights = compile_network(build(cfg))
    x = random_states(32, weights.state.size, 1)
    for w, g in zip(traces(Sparse(weights), x), traces(Dense(weights), x)):
        assert np.array_equal(w, g)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_exact_in_every_float_dtype(dtype):
    cfg = Config("subleq", 8, 32)
    weights = compile_network(build(cfg))
    x = random_states(16, weights.state.size, 3)
    ref = traces(Sparse(weights, np.float64), x)
    for w, g in zip(ref, traces(Sparse(weights, dtype), x.astype(dtype))):
        assert np.array_equal(w, g.astype(np.float64))


def test_weights_are_small_integers():
    weights = compile_network(build(Config()))
    for layer in weights.layers:
        assert set(np.unique(layer.W.data)) <= {-1, 1}
        assert np.abs(layer.b).max() <= 16


# The unrolled engine: straight-line code per configuration (compiled once, then cached), scalar for one
# machine and 8 machines per vector for batches. A few configurations: each costs a compilation when cold.
UNROLLED_CONFIGS = [
    Config("subleq", 4, 16),
    Config("subleq", 16, 256),
    Config("subleq", 32, 64),
    Config("paper", 8, 32, 64),
]


@needs_numba
@pytest.mark.parametrize("cfg", UNROLLED_CONFIGS, ids=lambda c: f"{c.machine}-{c.bits}x{c.cells}")
def test_unrolled_equals_stored_matrices_per_layer(cfg):
    net = build(cfg)
    x = random_states(203, net.state.size, cfg.bits + 2)  # 26 groups of 8, the last one padded
    want = traces(Sparse(compile_network(net)), x)
    engine = Unrolled(net)
    got = traces(engine, x)
    assert len(got) == 23
    for layer, w, g in zip(net.layers, want, got):
        assert np.array_equal(w, g), layer.name
    for row in range(0, 203, 29):  # one machine: the scalar code
        for layer, w, g in zip(net.layers, want, traces(engine, x[row : row + 1])):
            assert np.array_equal(w[row : row + 1], g), (layer.name, row)
    for batch in (x, x[:1]):  # a whole pass through ``run`` (not the per-layer functions), in place
        y = batch.copy()
        engine.run_pass(y)
        assert np.array_equal(y, want[-1][: len(batch)])


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", [Config("subleq", 16, 256), Config("paper", 8, 32, 64)], ids=str)
def test_unrolled_runs_many_passes_like_the_structured_engine(cfg, dtype):
    """``run_until_event`` in the generated code (state carried in the scratch, events, step counts) against
    one pass at a time, for one machine and for batches of one group, several, and a padded last group."""
    if dtype == np.float64 and cfg.machine == "paper":
        pytest.skip("float64 is covered on subleq: one compilation fewer")
    assert longest_run_like_structured(Unrolled, cfg, dtype, seed=7, batches=(1, 8, 100)) > 1  # carried in the code


@needs_numba
def test_unrolled_guard_names_the_layer_and_the_machine():
    cfg = Config("subleq", 4, 16)
    engine = Unrolled(build(cfg))
    x = engine.new_batch(encode(engine.state, cfg, [3, 4, 0, 1, 1]))
    x[0, engine.state["mem"].offset + 3 * 4] = 0.5  # mem[3], which the first instruction reads
    with pytest.raises(NetworkFault) as e:
        engine.run_until_event(x.copy(), 5, np.zeros(1, np.int64))
    assert e.value.layer in LAYER_NAMES and "machine 0" in str(e.value)
    batch = np.repeat(engine.new_batch(encode(engine.state, cfg, [3, 4, 0, 1, 1])), 11, axis=0)
    batch[9] = x[0]
    for run in (
        lambda b: engine.run_pass(b),
        lambda b: engine.run_pass(b, []),
        lambda b: engine.run_until_event(b, 5, np.zeros(11, np.int64)),
    ):
        with pytest.raises(NetworkFault) as e:
            run(batch.copy())
        assert e.value.layer in LAYER_NAMES and "machine 9 " in str(e.value)
    engine.guard = False
    engine.run_pass(x)  # unchecked: nothing raised


@needs_numba
@pytest.mark.parametrize("cfg", [Config("subleq", 8, 64), Config("paper", 8, 32, 16)], ids=str)
@pytest.mark.parametrize(
    "name",
    [
        "structured",
        "compiled",
        pytest.param("unrolled", marks=needs_llvm),
        "bits",
        pytest.param("onnx", marks=needs_onnx),
    ],
)
def test_records_are_the_states_each_pass_leaves(cfg, name):
    """``run_until_event(..., record=)`` on random programs: row i is the narrow state after pass i + 1,
    as one ``run_pass`` at a time leaves it (the base class's loop for the structured and onnx engines, the
    kernel, the generated code); with a record or without, the passes and states are the same."""
    net = build(cfg)
    rng = np.random.default_rng(11)
    fast, slow = make(name, cfg), Sparse(compile_network(net))
    cols = fast.record_columns
    assert np.array_equal(cols, slow.record_columns)
    memory = {int(i) for f in fast.state if f.name in ("mem", "ins") for i in f.indices().ravel()}
    assert not memory & set(cols.tolist()) and len(cols) + len(memory) == fast.state.size
    for _ in range(4):
        words = rng.integers(0, cfg.cells - 3, cfg.cells).tolist()
        slots = [tuple(rng.integers(0, [cfg.cells, cfg.cells, cfg.slots])) for _ in range(cfg.slots)] or None
        x = fast.new_batch(encode(net.state, cfg, words, slots))
        plain = x.copy()
        record = np.full((30, len(cols)), 7, fast.dtype)
        done = fast.run_until_event(x, 30, np.zeros(1, np.int64), record)
        assert fast.run_until_event(plain.copy(), 30, np.zeros(1, np.int64)) == done
        y = slow.new_batch(plain)
        for i in range(done):
            slow.run_pass(y)
            assert np.array_equal(record[i], y[0, cols]), i
        assert np.array_equal(x, y) and (record[done:] == 7).all()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("unrolled", marks=needs_llvm),
        pytest.param("compiled", marks=needs_numba),
        "bits",
        "structured",
        "sparse",
        "dense",
        pytest.param("onnx", marks=needs_onnx),
    ],
)
def test_an_empty_batch_runs_no_pass(name):
    """No machine, no pass: the kernels assume a machine (the compiled one spun forever on an empty batch)."""
    engine = make(name, Config("subleq", 4, 16))
    x = np.zeros((0, engine.state.size), engine.dtype)
    steps = np.zeros(0, np.int64)
    engine.run_pass(x)
    assert engine.run_until_event(x, 5, steps) == 0 and x.shape == (0, engine.state.size)
