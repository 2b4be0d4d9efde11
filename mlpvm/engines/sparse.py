"""The stored matrices evaluated as they are: ``x <- ReLU(W x + b)`` with CSR ``W``, in numpy alone.

Any configuration, any weight file (including ones edited by hand or by the mutation tests)."""

from __future__ import annotations

import numpy as np

from mlpvm.engines.base import Engine
from mlpvm.network.csr import Csr
from mlpvm.network.weights import Weights


class Sparse(Engine):
    name = "sparse"

    def __init__(self, weights: Weights, dtype=np.float32):
        super().__init__(weights.config, [(layer.name, layer.outputs) for layer in weights.layers])
        self.dtype = np.dtype(dtype)
        # The weights in the engine's float type once, not at every product.
        self.mats = [(_as(layer.W, self.dtype), layer.b.astype(self.dtype)) for layer in weights.layers]

    def _layers(self, h: np.ndarray):
        for W, b in self.mats:
            h = np.maximum(W.matmul(h) + b, 0)
            yield h


def _as(W: Csr, dtype: np.dtype) -> Csr:
    return Csr(W.data.astype(dtype), W.indices, W.indptr, W.shape)
