"""Every engine computes exactly what the stored matrices compute, layer by layer, on random states; and
every activation of every layer stays on {0,1} for any {0,1} state."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.engines import Dense, Sparse, Structured
from mlpvm.machine import Config
from mlpvm.network import build
from mlpvm.weights import compile_network

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
