"""The ONNX engine: the stored matrices exported as ONNX models (``mlpvm.network.onnx``) and run by ONNX
Runtime, batched, on the execution providers asked for (CPU by default; ``CUDAExecutionProvider`` with
onnxruntime-gpu and a GPU).

Two sessions: the one-pass model (``run_pass``; with a trace, the variant that outputs every layer) and a
loop model that stops after the first pass with a host event, which is ``run_until_event`` in one call.
Tests compare every layer with the stored CSR matrices on random states of both machines.
"""

from __future__ import annotations

import numpy as np

from mlpvm.engines.base import Engine, off_binary
from mlpvm.errors import ConfigError, MlpvmError, NetworkFault
from mlpvm.network import onnx as export
from mlpvm.network.weights import Weights
from mlpvm.protocol import EVENTS, EXECUTED

MISSING = "the onnx engine needs onnxruntime: pip install 'mlpvm[onnx]'"

# The execution providers sessions use; None: ONNX Runtime's CPU provider. Set once by ``--providers``.
PROVIDERS: list[str] | None = None


def runtime():
    """The onnxruntime module, or a one-line error naming the extra."""
    try:
        import onnxruntime
    except ImportError:
        raise MlpvmError(MISSING) from None
    return onnxruntime


def set_providers(names: list[str] | None) -> None:
    """Checks ``names`` against the providers this onnxruntime has, and uses them for every later session."""
    global PROVIDERS
    if names:
        have = runtime().get_available_providers()
        unknown = [name for name in names if name not in have]
        if unknown:
            raise ConfigError(f"onnxruntime has no provider {unknown[0]} here (available: {', '.join(have)})")
    PROVIDERS = list(names) if names else None


def session(model, providers: list[str] | None = None):
    """An inference session for ``model`` (a ModelProto), single-threaded on CPU unless told otherwise: the
    operators are small, and threads cost more than they give on them."""
    ort = runtime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3  # no warnings about lenient shape merges on stderr
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=providers or PROVIDERS or ["CPUExecutionProvider"]
    )


class Onnx(Engine):
    name = "onnx"

    def __init__(self, weights: Weights, dtype=np.float32, providers: list[str] | None = None):
        super().__init__(weights.config, [(layer.name, layer.outputs) for layer in weights.layers])
        if np.dtype(dtype) != np.float32:
            raise ValueError(f"the onnx engine runs float32, not {np.dtype(dtype).name}")
        runtime()  # the missing extra is named before anything is built
        self.weights, self.providers = weights, providers
        self.one = session(export.export(weights), providers)
        events = tuple(name for name in EVENTS if name in self.state)
        self.loop = session(export.export(weights, loop=True, stop_on=events, idle=False), providers)
        self._traced = None

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        if trace is None:
            (x[...],) = self.one.run(["next_state"], {"state": x})
            self._check(x)
            return
        if self._traced is None:
            self._traced = session(export.export(self.weights, layer_outputs=True), self.providers)
        layers = self._traced.run(self.layer_names, {"state": x})
        for name, h in zip(self.layer_names, layers):
            if self.guard and off_binary(h):
                raise NetworkFault(name, "an activation left {0,1}")
            trace.append(h)
        x[...] = layers[-1]

    def _run_until_event(
        self, x: np.ndarray, max_passes: int, steps: np.ndarray, record: np.ndarray | None = None
    ) -> int:
        """One call of the loop model, which stops after the first pass with a host event (with ``record``:
        a pass per call, as the base engine does)."""
        if record is not None:
            return super()._run_until_event(x, max_passes, steps, record)
        final, *per_pass = self.loop.run(None, {"state": x, "passes": np.array(max_passes, np.int64)})
        executed = per_pass[[f for f in export.PER_PASS if f in self.state].index(EXECUTED)]
        x[...] = final
        steps += (executed > 0.5).sum(axis=0)
        self._check(x)
        return len(executed)

    def _check(self, x: np.ndarray) -> None:
        """The guard on what ONNX Runtime returns: the state after the pass (a traced pass checks every layer)."""
        if self.guard and off_binary(x):
            raise NetworkFault(self.layer_names[-1], "an activation left {0,1}")
