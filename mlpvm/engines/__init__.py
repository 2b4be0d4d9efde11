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

``neural`` names the fastest exact engine available for the work, chosen by ``fastest_name`` here and nowhere
else: ``unrolled`` when the ``fast`` extra is installed, else ``structured``; a weight file runs on ``bits``
(with numba; without it, only a batch of 4 or more: one machine runs on ``sparse``), and on ``sparse`` where
its weights are not small integers.
"""

from __future__ import annotations

import numpy as np

from mlpvm import resources
from mlpvm.engines.base import Engine
from mlpvm.engines.bitprog import NotBits
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


BITS_BATCH_NUMPY = 4  # without numba, the numpy bits evaluator overtakes the sparse engine from this batch


def fastest_name(weights: bool = False, batch: int = 1) -> str:
    """The engine ``neural`` stands for, for ``batch`` machines (``mlpvm bench`` measures each choice; issue
    21 has the figures): the unrolled code if the ``fast`` extra is installed (ahead of the compiled kernel
    and the bits engine on one machine and on batches of 256 and 4,096), else the numpy structured engine.
    Stored weights (a weight file) run on the bits engine, which lowers them as they are: with numba it is
    ahead of the sparse engine on one machine (4x) and far ahead on a batch; its numpy evaluator only from a
    batch of ``BITS_BATCH_NUMPY``."""
    if weights:
        return "bits" if have_numba() or batch >= BITS_BATCH_NUMPY else "sparse"
    if have_numba() and have_llvm():
        return "unrolled"
    return "structured"


def fastest(config: Config | None = None, weights: Weights | None = None, dtype=np.float32, batch: int = 1) -> Engine:
    """The fastest exact engine for ``config`` (or for loaded ``weights``) and ``batch`` machines: what the CLI,
    the debugger's ``continue``/``run`` and verification use. Per-layer views may use any engine's
    ``run_pass(x, trace)``."""
    return make(NEURAL, config, weights, dtype, batch)


def make(
    name: str, config: Config | None = None, weights: Weights | None = None, dtype=np.float32, batch: int = 1
) -> Engine:
    """An engine by name (``neural`` = ``fastest``, for ``batch`` machines) for ``config`` (built analytically)
    or for loaded ``weights``. ``neural`` on weights the bits engine refuses (not small integers) is ``sparse``."""
    if name == NEURAL:
        name = fastest_name(weights is not None, batch)
        if name == "bits" and weights is not None:
            try:
                return make(name, config, weights, dtype)
            except NotBits:
                name = "sparse"
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r} (choose from {NEURAL}, {', '.join(ENGINES)})")
    if weights is None:
        assert config is not None
        resources.check(config, name)  # before building anything
    if name in ("structured", "compiled", "unrolled"):
        if weights is not None:
            raise ValueError(f"the {name} engine runs the construction; a weight file runs on bits, sparse or dense")
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
