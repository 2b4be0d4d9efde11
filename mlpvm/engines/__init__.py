"""Engines: ways of evaluating the same 23 layers. All give the same activations, layer by layer.

- ``structured`` (default): block by block, exploiting the weights' structure; numpy.
- ``sparse``: the stored CSR matrices, ``ReLU(W x + b)``; runs any weight file.
- ``dense``: the stored matrices materialised; the executable specification, small configurations only.
"""

from __future__ import annotations

import numpy as np

from mlpvm import exactness, resources
from mlpvm.engines.base import Engine
from mlpvm.engines.dense import Dense
from mlpvm.engines.sparse import Sparse
from mlpvm.engines.structured import Structured
from mlpvm.machine import Config
from mlpvm.network import build
from mlpvm.weights import Weights, compile_network

ENGINES = ("structured", "sparse", "dense")
DEFAULT = "structured"

__all__ = ["DEFAULT", "ENGINES", "Dense", "Engine", "Sparse", "Structured", "make"]


def make(name: str, config: Config | None = None, weights: Weights | None = None, dtype=np.float32) -> Engine:
    """An engine for ``config`` (built analytically) or for loaded ``weights``."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")
    if weights is None:
        assert config is not None
        resources.check(config, name)  # before building anything
        net = build(config)
        if name == "structured":
            return Structured(net, dtype)
        weights = compile_network(net)
    elif name == "structured":
        raise ValueError("the structured engine runs the construction; a weight file runs on sparse or dense")
    exactness.check(weights, dtype)
    return (Sparse if name == "sparse" else Dense)(weights, dtype)
