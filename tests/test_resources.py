"""The size estimate that lets mlpvm refuse an impossible configuration before building it is close to the
real network, and the ceiling refuses what it should and nothing the project runs."""

from __future__ import annotations

import pytest

from mlpvm import resources
from mlpvm.errors import ConfigError
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network

CONFIGS = [
    Config("subleq", 4, 16),
    Config("subleq", 8, 32),
    Config("subleq", 16, 256),
    Config("subleq", 16, 1024),
    Config("subleq", 32, 128),
    Config("paper", 4, 16, 16),
    Config("paper", 8, 256, 16),
    Config("paper", 16, 16, 256),
    Config("paper", 16, 128, 64),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_estimate_is_within_15_percent_of_the_real_network(cfg):
    weights = compile_network(build(cfg))
    cost = resources.estimate(cfg)
    assert cost.state == weights.state.size
    assert 0.85 <= cost.nonzeros / weights.nnz <= 1.15


def test_the_ceiling():
    for cfg in (Config("subleq", 16, 8192), Config("subleq", 16, 65536), Config("subleq", 32, 2048)):
        resources.check(cfg, "structured")  # the named programs' configurations run
    resources.check(Config("subleq", 16, 65536), "sparse")
    with pytest.raises(ConfigError, match=r"about 14\.6 GiB of memory to build \(355,344,182 nonzero weights"):
        resources.check(Config("subleq", 17, 1 << 17), "sparse")
    with pytest.raises(ConfigError, match=r"reference interpreter would need about 256\.0 GiB"):
        resources.check(Config("subleq", 32, 1 << 32), "reference")


def test_the_reference_fits_its_estimate():
    """Its cells are Python ints: the widest words (not cached small ints) are the worst case."""
    import random
    import tracemalloc

    from mlpvm.machines import reference

    cfg = Config("subleq", 32, 1 << 14)
    words = [random.Random(0).randrange(-(1 << 31), 1 << 31) for _ in range(cfg.cells)]
    tracemalloc.start()
    try:
        reference.load(cfg, words, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= resources.estimate(cfg).bytes("reference")


def test_dense_builds_and_mutants_are_counted():
    """Dense matrices grow with the square of the state: refused long before the sparse ones would be."""
    cfg = Config("subleq", 16, 4096)
    resources.check(cfg, "build")
    with pytest.raises(ConfigError, match=r"GiB of memory to build"):
        resources.check(cfg, "build-dense")
    with pytest.raises(ConfigError, match=r"mutation testing would need about [\d.,]+ GiB"):
        resources.check_mutants(Config("subleq", 16, 1024))
    resources.check_mutants(Config("subleq", 8, 32))
