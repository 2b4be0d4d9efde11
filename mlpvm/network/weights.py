"""The stored matrices: the network compiled to one sparse ``W`` and ``b`` per layer, and the weight file.

File format ``mlpvm-weights/1`` (docs/machines.md section 4): a numpy ``.npz`` that loads with
``allow_pickle=False``. ``meta`` is a JSON object (configuration, layer names, ``fields`` of the state, the
I/O fields, and each layer's output fields); ``state0`` is the empty machine; ``W{k}`` is dense, or CSR parts
``W{k}_data``, ``W{k}_indices``, ``W{k}_indptr``, ``W{k}_shape``; ``b{k}`` is the bias.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.errors import ConfigError, WeightsError
from mlpvm.files import atomic_write
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, Network
from mlpvm.network.csr import Csr, narrow_int, positions

FORMAT = "mlpvm-weights/1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz), possibly empty


@dataclass(frozen=True, eq=False)
class WeightLayer:
    name: str
    stage: str
    W: Csr
    b: np.ndarray
    outputs: Layout


@dataclass(frozen=True, eq=False)
class Weights:
    config: Config
    layers: tuple[WeightLayer, ...]
    io_fields: dict[str, str]

    @property
    def state(self) -> Layout:
        return self.layers[-1].outputs

    @property
    def nnz(self) -> int:
        return sum(layer.W.nnz for layer in self.layers)

    @property
    def dense_params(self) -> int:
        return sum(layer.W.shape[0] * layer.W.shape[1] + layer.W.shape[0] for layer in self.layers)

    def meta(self) -> dict:
        return {
            "format": FORMAT,
            **self.config.to_meta(),
            "layers": [layer.name for layer in self.layers],
            "stages": [layer.stage for layer in self.layers],
            "state_size": self.state.size,
            "fields": self.state.to_meta(),
            "io": self.io_fields,
            "layer_outputs": [[[f.name, list(f.shape)] for f in layer.outputs] for layer in self.layers],
        }


def compile_network(net: Network) -> Weights:
    layers = []
    for layer in net.layers:
        W = Csr.vstack([Csr.from_parts(block.parts(layer.inputs), layer.inputs.size) for block in layer.ordered()])
        layers.append(WeightLayer(layer.name, layer.stage, W, narrow_int(layer.biases()), layer.outputs))
    return Weights(net.config, tuple(layers), dict(net.io_fields))


def save(weights: Weights, path: str | Path, dense: bool = False) -> None:
    """Writes to a temporary name and renames, so an interrupted write never leaves a truncated file."""
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps(weights.meta())),
        "state0": np.zeros(weights.state.size, np.float32),
    }
    for k, layer in enumerate(weights.layers):
        if dense:
            arrays[f"W{k}"] = layer.W.to_dense(np.int8)
        else:
            arrays[f"W{k}_data"] = layer.W.data.astype(np.int8)
            arrays[f"W{k}_indices"] = layer.W.indices
            arrays[f"W{k}_indptr"] = layer.W.indptr
            arrays[f"W{k}_shape"] = np.array(layer.W.shape, np.int64)
        arrays[f"b{k}"] = layer.b.astype(np.int32)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def load(path: str | Path) -> Weights:
    """Loads and checks a weight file; every problem is a ``WeightsError`` naming the file."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic not in ZIP_MAGIC:  # np.load would try anything else as a pickle
            raise WeightsError(f"{name}: not an .npz archive")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise WeightsError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise WeightsError(f"{name}: is a directory, not a weight file") from None
    except ValueError as e:
        if "pickle" in str(e):
            raise WeightsError(f"{name}: holds pickled objects, which are never loaded") from None
        raise WeightsError(f"{name}: not a weight file ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise WeightsError(f"{name}: not a readable .npz archive (truncated or corrupt: {e})") from None
    try:
        return _parse(arrays)
    except WeightsError as e:
        raise WeightsError(f"{name}: {e}") from None
    except ConfigError as e:
        raise WeightsError(f"{name}: bad configuration: {e}") from None


def _parse(arrays: dict[str, np.ndarray]) -> Weights:
    if "meta" not in arrays:
        raise WeightsError("no 'meta' entry: not an mlpvm weight file")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as e:
        raise WeightsError(f"'meta' is not JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise WeightsError(f"format {got!r} is not {FORMAT!r}")
    try:
        config = Config(meta["machine"], int(meta["bits"]), int(meta["cells"]), int(meta.get("slots", 0)))
        names, stages = list(meta["layers"]), list(meta["stages"])
        outputs = [Layout((f, tuple(shape)) for f, shape in spec) for spec in meta["layer_outputs"]]
        state_size = int(meta["state_size"])
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"incomplete meta ({e})") from None
    if tuple(names) != LAYER_NAMES or len(stages) != len(names) or len(outputs) != len(names):
        raise WeightsError(f"expected the 23 layers {LAYER_NAMES[0]} .. {LAYER_NAMES[-1]}")
    if outputs[-1].size != state_size:
        raise WeightsError("the last layer does not return the state")
    if outputs[-1] != Layout(config.spec.state_fields(config)):
        raise WeightsError(f"its state is not that of {config.describe()}: the matrices are of another configuration")
    layers, width = [], state_size
    for k, (name, stage, out) in enumerate(zip(names, stages, outputs)):
        W = _matrix(arrays, k, (out.size, width))
        b = _integral(arrays, f"b{k}", (out.size,))
        layers.append(WeightLayer(name, stage, W, b.astype(np.int64), out))
        width = out.size
    return Weights(config, tuple(layers), dict(meta.get("io", {})))


def _integral(arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in arrays:
        raise WeightsError(f"missing array {key!r}")
    a = arrays[key]
    if a.dtype.kind not in "iuf" or a.shape != shape:
        raise WeightsError(f"{key} has shape {a.shape} and type {a.dtype}, expected {shape} numbers")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise WeightsError(f"{key} contains NaN or infinity")
        if (a != np.rint(a)).any():
            raise WeightsError(f"{key} contains non-integer weights")
    return a


def _matrix(arrays: dict[str, np.ndarray], k: int, shape: tuple[int, int]) -> Csr:
    if f"W{k}" in arrays:
        dense = _integral(arrays, f"W{k}", shape)
        rows, cols = np.nonzero(dense)
        return Csr.from_coo(rows, cols, dense[rows, cols].astype(np.int64), shape)
    got = tuple(int(v) for v in arrays.get(f"W{k}_shape", np.zeros(0)))
    if got != shape:
        raise WeightsError(f"W{k} has shape {got or 'missing'}, expected {shape}")
    indptr = _integral(arrays, f"W{k}_indptr", (shape[0] + 1,)).astype(np.int64)
    nnz = int(indptr[-1]) if len(indptr) else 0
    data = _integral(arrays, f"W{k}_data", (nnz,)).astype(np.int64)
    indices = _integral(arrays, f"W{k}_indices", (nnz,)).astype(np.int64)
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or (nnz and (indices.min() < 0 or indices.max() >= shape[1])):
        raise WeightsError(f"W{k} is not a consistent CSR matrix")
    return Csr(narrow_int(data), indices.astype(np.int32), positions(indptr), shape)
