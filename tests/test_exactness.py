"""Exactness in each float type, read off the stored weights: the bound on every sum, and what it allows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlpvm.engines import make
from mlpvm.errors import WeightsError
from mlpvm.machines.config import Config
from mlpvm.network import build, exactness
from mlpvm.network.weights import compile_network


def test_ranges():
    assert [exactness.exact_range(t) for t in (np.float16, np.float32, np.float64)] == [2**11, 2**24, 2**53]


@pytest.mark.parametrize(
    ("cfg", "bound"),
    [
        (Config("subleq", 8, 32), 32),  # the read-out of a memory row sums one weight per row: M
        (Config("subleq", 32, 16), 63),  # else the widest unit: A = -1 detector, N weights and bias N - 1
        (Config("paper", 8, 16, 64), 64),  # the read-out of a slot: K
    ],
    ids=str,
)
def test_the_bound_is_the_largest_unit_sum(cfg, bound):
    weights = compile_network(build(cfg))
    assert max(exactness.bounds(weights)) == bound
    # and no pre-activation on any {0,1} input can exceed it: all-ones input reaches every positive weight
    for layer, b in zip(weights.layers, exactness.bounds(weights)):
        x = np.ones((1, layer.W.shape[1]))
        assert np.abs(layer.W.matmul(x) + layer.b).max() <= b


def test_float16_is_refused_where_a_sum_could_round():
    weights = compile_network(build(Config("subleq", 12, 2048)))
    assert max(exactness.bounds(weights)) == 2048  # exactly representable: allowed
    make("sparse", weights=weights, dtype=np.float16)
    small = compile_network(build(Config("subleq", 8, 32)))
    layer = small.layers[5]
    bias = layer.b.astype(np.int64)  # stored as int8; a hand-made file may hold wider integers
    bias[0] = -2047  # with its weights, a unit that can sum to more than 2,048
    bent = replace(small, layers=(*small.layers[:5], replace(layer, b=bias), *small.layers[6:]))
    with pytest.raises(WeightsError, match=r"float16 is not exact for these weights: a unit of layer subtract\.1"):
        make("sparse", weights=bent, dtype=np.float16)
    make("sparse", weights=bent, dtype=np.float32)
