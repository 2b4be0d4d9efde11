"""The bits engine computes exactly what the stored matrices compute: layer by layer on random {0,1} states
(one machine and batches that fill no word exactly), over many passes, on weight files with a planted fault
(the same fault as the sparse engine, or the same wrong states), and it refuses weights that are not small
integers in one line. Both evaluators are checked: the numba kernel and the numpy one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlpvm.check import mutate
from mlpvm.engines import NEURAL, Bits, Sparse, fastest_name, make
from mlpvm.engines import bits as bits_engine
from mlpvm.engines.bitprog import NotBits, lower_bits
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.network import build
from mlpvm.network.csr import Csr
from mlpvm.network.weights import compile_network, load, save
from tests.conftest import needs_numba
from tests.test_engines import CONFIGS, random_states, traces

BATCHES = (1, 63, 65, 130)
KERNELS = [pytest.param(True, marks=needs_numba, id="numba"), pytest.param(False, id="numpy")]


def bits(weights, numba: bool) -> Bits:
    engine = Bits(weights)
    engine.use_numba = numba
    return engine


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda c: f"{c.machine}-{c.bits}x{c.cells}")
def weights(request):
    return compile_network(build(request.param))


@pytest.mark.parametrize("numba", KERNELS)
def test_every_layer_equals_the_stored_matrices(weights, numba):
    """Each layer's activations and the state after the pass, against ``ReLU(W x + b)`` of the stored CSR."""
    plain, engine = Sparse(weights), bits(weights, numba)
    for batch in BATCHES:
        x = random_states(batch, weights.state.size, seed=batch)
        want, got = traces(plain, x), traces(engine, x)
        assert len(got) == 23
        for layer, w, g in zip(weights.layers, want, got):
            assert g.shape == w.shape and np.array_equal(w, g), (batch, layer.name)
        y, z = x.copy(), x.copy()
        plain.run_pass(y)
        engine.run_pass(z)
        assert np.array_equal(y, z), batch


def random_programs(cfg: Config, n: int, seed: int) -> np.ndarray:
    net = build(cfg)
    rng = np.random.default_rng(seed)
    states = []
    for _ in range(n):
        words = rng.integers(0, cfg.cells - 3, cfg.cells).tolist()
        slots = [tuple(rng.integers(0, [cfg.cells, cfg.cells, cfg.slots])) for _ in range(cfg.slots)] or None
        states.append(encode(net.state, cfg, words, slots))
    return np.array(states, np.float32)


def same_runs(a, b, states: np.ndarray, calls: int = 5, passes: int = 30) -> int:
    """Runs both engines ``calls`` times ``passes`` passes from ``states``: the same passes, states, steps, and
    the same fault (layer) where one stops; returns the passes run."""
    xa, xb = a.new_batch(states), b.new_batch(states)
    total = 0
    for _ in range(calls):
        sa, sb = np.zeros(len(xa), np.int64), np.zeros(len(xb), np.int64)
        fa = fb = None
        try:
            na = a.run_until_event(xa, passes, sa)
        except NetworkFault as e:
            fa = e.layer
        try:
            nb = b.run_until_event(xb, passes, sb)
        except NetworkFault as e:
            fb = e.layer
        assert fa == fb
        if fa is not None:
            return total
        assert na == nb and np.array_equal(xa, xb) and np.array_equal(sa, sb)
        total += na
    return total


@pytest.mark.parametrize("tile", [1, bits_engine.TILE_WORDS])
@pytest.mark.parametrize("numba", KERNELS)
@pytest.mark.parametrize("cfg", [Config("subleq", 8, 32), Config("paper", 8, 16, 8)], ids=str)
def test_many_passes_like_the_stored_matrices(cfg, numba, tile, monkeypatch):
    """``run_until_event`` (passes carried in the kernel, tiles committed together, events, step counts)
    against the sparse engine, one machine and batches of one and several tiles (tiles of one word: 64
    machines)."""
    monkeypatch.setattr(bits_engine, "TILE_WORDS", tile)
    weights = compile_network(build(cfg))
    for batch in (1, 65, 300):
        states = random_programs(cfg, batch, seed=batch)
        assert same_runs(bits(weights, numba), Sparse(weights), states) > 5


def doubled(weights, states: np.ndarray):
    """``weights`` with a weight of 2 in the first layer, on a copy of a state bit that is 1 in ``states``:
    that unit's sum reaches 2 in the first pass."""
    W, b = weights.layers[0].W, weights.layers[0].b
    starts, lengths = W.indptr[:-1], np.diff(W.indptr)
    copies = np.flatnonzero((lengths == 1) & (W.data[np.minimum(starts, W.nnz - 1)] == 1) & (b == 0))
    unit = next(int(u) for u in copies if states[:, W.indices[starts[u]]].any())
    return planted(weights, 0, unit, 2)


def planted(weights, layer: int, unit: int, weight: int):
    """``weights`` with unit ``unit`` of layer ``layer`` given ``weight`` on its first input."""
    L = weights.layers[layer]
    data = L.W.data.astype(np.int32)
    data[L.W.indptr[unit]] = weight
    changed = replace(L, W=Csr(data, L.W.indices, L.W.indptr, L.W.shape))
    return replace(weights, layers=(*weights.layers[:layer], changed, *weights.layers[layer + 1 :]))


@pytest.mark.parametrize("numba", KERNELS)
def test_a_planted_fault_in_a_weight_file_does_what_it_does_on_sparse(tmp_path, numba):
    """Mutants of every kind in every layer (a negated weight, a bias off by one, a dropped unit) and a
    doubled weight, written to a weight file and loaded: the bits engine stops with the same network fault
    (layer) as the sparse engine, or runs to the same wrong states."""
    cfg = Config("subleq", 8, 32)
    weights = compile_network(build(cfg))
    states = random_programs(cfg, 70, seed=3)
    rng = np.random.default_rng(0)
    mutants = mutate.choose(weights, seed=1)
    faults = wrong = 0
    for m in [mutants[i] for i in rng.choice(len(mutants), 40, replace=False)]:
        path = tmp_path / "mutant.npz"
        save(mutate.plant(weights, m), path)
        bad = load(path)
        a, b = bits(bad, numba), Sparse(bad)
        try:
            same_runs(a, b, states, calls=2)
        except AssertionError:
            pytest.fail(f"{m.describe(weights)}: the bits engine differs from the sparse engine")
        x = a.new_batch(states)
        try:
            b.run_until_event(x, 60, np.zeros(len(x), np.int64))
            ok = b.new_batch(states)
            Sparse(weights).run_until_event(ok, 60, np.zeros(len(x), np.int64))
            wrong += not np.array_equal(x, ok)
        except NetworkFault:
            faults += 1
    assert faults and wrong  # both kinds of wrong behaviour were compared
    two = doubled(weights, states)
    with pytest.raises(NetworkFault) as want:
        Sparse(two).run_until_event(Sparse(two).new_batch(states), 60, np.zeros(70, np.int64))
    x = states.copy()
    with pytest.raises(NetworkFault) as got:
        bits(two, numba).run_until_event(x, 60, np.zeros(70, np.int64))
    assert got.value.layer == want.value.layer == weights.layers[0].name and "machine " in str(got.value)


@pytest.mark.parametrize("numba", KERNELS)
def test_with_the_guard_off_activations_off_binary_run_on_the_stored_matrices(numba, monkeypatch):
    """The bits cannot hold a 2 or a 0.5: with the guard off such a pass is the sparse engine's, exactly; a
    fault in a later tile leaves every tile at the last whole pass (tiles of 64 machines here)."""
    monkeypatch.setattr(bits_engine, "TILE_WORDS", 1)
    cfg = Config("subleq", 8, 32)
    states = random_programs(cfg, 130, seed=4)
    two = doubled(compile_network(build(cfg)), states[120:])  # a machine of the last tile faults
    a, b = bits(two, numba), Sparse(two)
    a.guard = b.guard = False
    xa, xb = a.new_batch(states), b.new_batch(states)
    sa, sb = np.zeros(130, np.int64), np.zeros(130, np.int64)
    assert a.run_until_event(xa, 20, sa) == b.run_until_event(xb, 20, sb)
    assert np.array_equal(xa, xb) and np.array_equal(sa, sb)
    half = random_programs(cfg, 3, seed=5)
    half[:, 0] = 0.5
    assert np.array_equal(traces(a, half)[-1], traces(b, half)[-1])
    a.guard = True
    with pytest.raises(NetworkFault):
        a.run_pass(half.copy())


def test_weights_that_are_not_small_integers_are_refused_in_one_line():
    weights = compile_network(build(Config("subleq", 4, 16)))
    for value, words in ((0.5, "not an integer"), (1000, "too large")):
        L = weights.layers[3]
        data = L.W.data.astype(np.float64)
        data[0] = value
        bad = replace(weights, layers=(*weights.layers[:3], replace(L, W=replace(L.W, data=data)), *weights.layers[4:]))
        with pytest.raises(NotBits) as e:
            lower_bits(bad)
        assert words in str(e.value) and L.name in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(ValueError):
            make("bits", weights=bad)


def test_copies_cost_nothing_and_ands_are_shared():
    """What the lowering saves, read off the weights alone: far fewer ops than units, and far fewer literal
    reads than stored nonzeros (the AND chains share their prefixes)."""
    p = lower_bits(compile_network(build(Config("subleq", 16, 256))))
    assert p.ops < p.units / 2 and p.literal_reads < p.nnz / 2


@needs_numba
def test_neural_runs_a_weight_file_on_bits_unless_it_refuses():
    """With numba the bits engine is ahead of sparse on one machine and on batches (``mlpvm bench``); weights
    it cannot take (here a weight of 100) run on sparse, exactly as they are."""
    weights = compile_network(build(Config("subleq", 4, 16)))
    assert fastest_name(weights=True) == fastest_name(weights=True, batch=300) == "bits"
    assert isinstance(make(NEURAL, weights=weights), Bits)
    big = planted(weights, 2, 0, 100)
    assert isinstance(make(NEURAL, weights=big), Sparse)
    with pytest.raises(NotBits):
        make("bits", weights=big)


@needs_numba
def test_a_fault_names_the_machine():
    cfg = Config("subleq", 8, 32)
    states = random_programs(cfg, 200, seed=6)
    states[:150, :] = 0  # the first 150 machines cannot fault in the first layer
    two = doubled(compile_network(build(cfg)), states)
    engine = Bits(two)
    trace: list[np.ndarray] = []
    plain = Sparse(two)
    plain.guard = False
    plain.run_pass(states.copy(), trace)
    first = int(np.flatnonzero(((trace[0] != 0) & (trace[0] != 1)).any(axis=1))[0])
    assert first >= 150
    with pytest.raises(NetworkFault, match=f"machine {first} "):
        engine.run_pass(states.copy())
