"""Engines: ways of evaluating the same 23 layers. All give the same activations, layer by layer.

- ``compiled``: the blocks lowered to flat arrays of units and run by a numba kernel, many passes per call,
  batch-minor; needs the optional ``fast`` extra (numba).
- ``structured``: block by block, exploiting the weights' structure; numpy.
- ``sparse``: the stored CSR matrices, ``ReLU(W x + b)``; runs any weight file.
- ``dense``: the stored matrices materialised; the executable specification, small configurations only.
- ``onnx``: the stored matrices exported to ONNX and run by ONNX Runtime; needs the optional ``onnx`` extra.

``neural`` names the fastest exact engine available, chosen by ``fastest_name`` here and nowhere else:
``compiled`` when numba is installed, else ``structured``; a weight file always runs on ``sparse``.
"""

from __future__ import annotations

import numpy as np

from mlpvm import resources
from mlpvm.engines.base import Engine
from mlpvm.engines.compiled import Compiled, have_numba
from mlpvm.engines.dense import Dense
from mlpvm.engines.sparse import Sparse
from mlpvm.engines.structured import Structured
from mlpvm.machines.config import Config
from mlpvm.network import build, exactness
from mlpvm.network import onnx as onnx_export
from mlpvm.network.weights import Weights, compile_network

ENGINES = ("compiled", "structured", "sparse", "dense", "onnx")
NEURAL = "neural"  # the fastest exact engine available
DEFAULT = NEURAL

__all__ = [
    "DEFAULT",
    "ENGINES",
    "NEURAL",
    "Compiled",
    "Dense",
    "Engine",
    "Sparse",
    "Structured",
    "fastest",
    "fastest_name",
    "have_numba",
    "make",
]


def fastest_name(weights: bool = False) -> str:
    """The engine ``neural`` stands for: the compiled kernel if numba is installed, else the numpy structured
    engine; stored weights (a weight file) run on the sparse engine, which evaluates them as they are."""
    if weights:
        return "sparse"
    return "compiled" if have_numba() else "structured"


def fastest(config: Config | None = None, weights: Weights | None = None, dtype=np.float32) -> Engine:
    """The fastest exact engine for ``config`` (or for loaded ``weights``): what the CLI, the debugger's
    ``continue``/``run`` and verification use. Per-layer views may use any engine's ``run_pass(x, trace)``."""
    return make(fastest_name(weights is not None), config, weights, dtype)


def make(name: str, config: Config | None = None, weights: Weights | None = None, dtype=np.float32) -> Engine:
    """An engine by name (``neural`` = ``fastest``) for ``config`` (built analytically) or for loaded ``weights``."""
    if name == NEURAL:
        name = fastest_name(weights is not None)
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r} (choose from {NEURAL}, {', '.join(ENGINES)})")
    if weights is None:
        assert config is not None
        resources.check(config, name)  # before building anything
    if name in ("structured", "compiled"):
        if weights is not None:
            raise ValueError(f"the {name} engine runs the construction; a weight file runs on sparse or dense")
        if name == "compiled" and not have_numba():
            raise ValueError("the compiled engine needs numba: pip install 'mlpvm[fast]'")
        return (Compiled if name == "compiled" else Structured)(build(config), dtype)
    if weights is None:
        if name == "onnx":
            onnx_export.check_size(config, resources.estimate(config).nonzeros)
        weights = compile_network(build(config))
    exactness.check(weights, dtype)
    if name == "onnx":
        from mlpvm.engines.onnx import Onnx  # imports onnxruntime: only when asked for

        return Onnx(weights, dtype)
    return (Sparse if name == "sparse" else Dense)(weights, dtype)
