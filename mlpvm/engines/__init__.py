"""Engines: ways of evaluating the same 23 layers. All give the same activations, layer by layer.

- ``unrolled``: the lowered units written out as straight-line LLVM IR, one machine per call or 8 machines
  per vector instruction, compiled once per configuration and cached; needs the ``fast`` extra (llvmlite).
- ``compiled``: the blocks lowered to flat arrays of units and run by a numba kernel, many passes per call,
  batch-minor; needs the optional ``fast`` extra (numba).
- ``bits``: the stored matrices lowered to threshold operations on bits, 64 machines to a word; runs any
  weight file of small integer weights; numba with the ``fast`` extra, else numpy.
- ``structured``: block by block, exploiting the weights' structure; numpy.
- ``sparse``: the stored CSR matrices, ``ReLU(W x + b)``; runs any weight file.
- ``dense``: the stored matrices materialised; the executable specification, small configurations only.
- ``onnx``: the stored matrices exported to ONNX and run by ONNX Runtime; needs the optional ``onnx`` extra.

``neural`` names the fastest exact engine available, chosen by ``fastest_name`` here and nowhere else:
``unrolled`` when the ``fast`` extra is installed, else ``structured``; a weight file always runs on ``sparse``.
"""

from __future__ import annotations

import numpy as np

from mlpvm import resources
from mlpvm.engines.base import Engine
from mlpvm.engines.bits import Bits
from mlpvm.engines.compiled import Compiled, have_numba
from mlpvm.engines.dense import Dense
from mlpvm.engines.sparse import Sparse
from mlpvm.engines.structured import Structured
from mlpvm.engines.unrolled import Unrolled, have_llvm
from mlpvm.machines.config import Config
from mlpvm.network import build, exactness
from mlpvm.network import onnx as onnx_export
from mlpvm.network.weights import Weights, compile_network

ENGINES = ("unrolled", "compiled", "bits", "structured", "sparse", "dense", "onnx")
NEURAL = "neural"  # the fastest exact engine available
DEFAULT = NEURAL

__all__ = [
    "DEFAULT",
    "ENGINES",
    "NEURAL",
    "Bits",
    "Compiled",
    "Dense",
    "Engine",
    "Sparse",
    "Structured",
    "Unrolled",
    "fastest",
    "fastest_name",
    "have_numba",
    "make",
]


def fastest_name(weights: bool = False) -> str:
    """The engine ``neural`` stands for: the unrolled code if the ``fast`` extra is installed (``mlpvm bench``
    measures it ahead of the compiled kernel on one machine and on batches), else the numpy structured engine;
    stored weights (a weight file) run on the sparse engine, which evaluates them as they are."""
    if weights:
        return "sparse"
    if have_numba() and have_llvm():
        return "unrolled"
    return "structured"


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
    if name in ("structured", "compiled", "unrolled"):
        if weights is not None:
            raise ValueError(f"the {name} engine runs the construction; a weight file runs on sparse or dense")
        if name == "compiled" and not have_numba():
            raise ValueError("the compiled engine needs numba: pip install 'mlpvm[fast]'")
        if name == "unrolled" and not have_llvm():
            raise ValueError("the unrolled engine needs llvmlite: pip install 'mlpvm[fast]'")
        return {"compiled": Compiled, "structured": Structured, "unrolled": Unrolled}[name](build(config), dtype)
    if weights is None:
        if name == "onnx":
            onnx_export.check_size(config, resources.estimate(config).nonzeros)
        weights = compile_network(build(config))
    exactness.check(weights, dtype)
    if name == "bits":
        return Bits(weights, dtype)
    if name == "onnx":
        from mlpvm.engines.onnx import Onnx  # imports onnxruntime: only when asked for

        return Onnx(weights, dtype)
    return (Sparse if name == "sparse" else Dense)(weights, dtype)
