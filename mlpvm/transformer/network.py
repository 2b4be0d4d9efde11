"""The looped transformer: the construction's layers for a configuration, a temperature lambda and a float
type, applied in order (each with its residual connection) once per pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpvm.machines.config import Config
from mlpvm.transformer import subleq
from mlpvm.transformer.attention import Attention
from mlpvm.transformer.layout import Rows

DEFAULT_LAMBDA = 20.0  # softmax temperature: exact at the default sizes in float32 and float64 (docs/transformer.md)
DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass
class Transformer:
    config: Config
    lam: float
    dtype: type
    rows: Rows
    layers: list

    @property
    def columns(self) -> int:
        return self.config.cells + 1

    def run_pass(self, x: np.ndarray, trace: list | None = None, hard: bool = False) -> np.ndarray:
        """One loop iteration; ``trace`` (a list) receives (layer name, X after it). ``hard``: attention in
        its hard-max limit (lambda infinite), the construction's intent, to find where softmax departs from it."""
        lam = self.dtype(np.inf if hard else self.lam)
        for layer in self.layers:
            x = layer(x, lam)
            if trace is not None:
                trace.append((layer.name, x.copy()))
        return x

    def counts(self) -> dict[str, int]:
        """Layers, heads, widths, parameters and nonzero weights."""
        params = [layer.params() for layer in self.layers]
        heads = sum(len(layer.heads) for layer in self.layers if isinstance(layer, Attention))
        attention = sum(isinstance(layer, Attention) for layer in self.layers)
        return {
            "layers": len(self.layers), "attention_layers": attention, "ffn_layers": len(self.layers) - attention,
            "heads": heads, "width": self.rows.size, "columns": self.columns,
            "state_size": self.rows.size * self.columns,
            "parameters": sum(p for p, _ in params), "nonzeros": sum(z for _, z in params),
        }  # fmt: skip


def build(config: Config, lam: float = DEFAULT_LAMBDA, dtype: str = "float32") -> Transformer:
    """The transformer for ``config`` (the ``subleq`` machine only, for now)."""
    from mlpvm.errors import ConfigError

    if config.spec.harvard:  # its instructions are memory words, read by three heads
        raise ConfigError(f"--network transformer runs the subleq machine only, not {config.machine}")
    if dtype not in DTYPES:
        raise ConfigError(f"--network transformer computes in float32 or float64, not {dtype}")
    rows = subleq.rows(config)
    layers = subleq.Construction(config, rows).layers(DTYPES[dtype])
    return Transformer(config, float(lam), DTYPES[dtype], rows, layers)
