"""The transformer's pass as plain dense matrix products (every weight multiplied, zeros included), the same
engine class as the MLP's ``dense`` engine, so that ``mlpvm compare`` and ``mlpvm bench --network
transformer`` time the two networks alike. The layers' own ``__call__`` skip the rows and columns a matrix
never uses; the sums are the same, in the same order (``ffn.mul``), so every layer's activations agree to the
bit (tests/test_transformer.py)."""

from __future__ import annotations

import numpy as np

from mlpvm.transformer.attention import Attention
from mlpvm.transformer.ffn import mul
from mlpvm.transformer.network import Transformer


def run_pass(net: Transformer, x: np.ndarray, trace: list | None = None) -> np.ndarray:
    """One loop iteration; ``trace`` (a list) receives (layer name, X after it)."""
    lam = net.dtype(net.lam)
    for layer in net.layers:
        if isinstance(layer, Attention):
            out = x.copy()
            for head in layer.heads:
                out += mul(mul(head.wv, x), head.weights(x, lam).T)
            x = out
        else:
            x = x + mul(layer.w2, np.maximum(mul(layer.w1, x) + layer.b1[:, None], 0))
        if trace is not None:
            trace.append((layer.name, x.copy()))
    return x


class Dense(Transformer):
    """The transformer whose passes run as dense products (``run_pass`` above); the hard-max pass that
    diagnoses a divergence stays the layers' own."""

    def run_pass(self, x: np.ndarray, trace: list | None = None, hard: bool = False) -> np.ndarray:
        return super().run_pass(x, trace, hard) if hard else run_pass(self, x, trace)


def of(net: Transformer) -> Dense:
    return Dense(net.config, net.lam, net.dtype, net.rows, net.layers)
