"""The executable specification: ``x <- ReLU(W x + b)`` with dense matrices, 23 times a pass.

Only for small configurations (the matrices are materialised in full)."""

from __future__ import annotations

import numpy as np

from mlpvm.engines.base import Engine
from mlpvm.network.weights import Weights

MAX_DENSE = 60_000_000  # entries over all layers; above this use the sparse engine


class Dense(Engine):
    name = "dense"

    def __init__(self, weights: Weights, dtype=np.float32):
        super().__init__(weights.config, [(layer.name, layer.outputs) for layer in weights.layers])
        if weights.dense_params > MAX_DENSE:
            raise ValueError(f"the dense engine would hold {weights.dense_params:,} weights; use the sparse engine")
        self.dtype = np.dtype(dtype)
        self.mats = [(layer.W.to_dense(self.dtype), layer.b.astype(self.dtype)) for layer in weights.layers]

    def _layers(self, h: np.ndarray):
        for W, b in self.mats:
            h = np.maximum(h @ W.T + b, 0)
            yield h
