"""The stored matrices: the network compiled to one sparse ``W`` and ``b`` per layer, and the weight file.

File format ``mlpvm-weights/1`` (docs/machines.md section 4): a numpy ``.npz`` that loads with
``allow_pickle=False``. ``meta`` is a JSON object (configuration, layer names, ``fields`` of the state, the
I/O fields, and each layer's output fields); ``state0`` is the empty machine; ``W{k}`` is dense, or CSR parts
``W{k}_data``, ``W{k}_indices``, ``W{k}_indptr``, ``W{k}_shape``; ``b{k}`` is the bias.
"""

from __future__ import annotations

import json
import os
import stat
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpvm import resources
from mlpvm.craft.layout import Layout
from mlpvm.errors import ConfigError, ImageError, WeightsError, shown
from mlpvm.files import MAX_TEXT, atomic_write, parse_json
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, Network
from mlpvm.network.csr import Csr, narrow_int, positions

FORMAT = "mlpvm-weights/1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz), possibly empty
MAX_WEIGHT = 1 << 24  # |weight|, |bias|: mlpvm's are at most a few hundred; larger ones would defeat exactness
MAX_WIDTH = 8  # a layer's width in states: the widest mlpvm builds (fetch.0) is under 4


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
    """Loads and checks a weight file; every problem is a ``WeightsError`` naming the file. Each member is
    checked by its header (name, type, shape) before it is read, only the members the network needs are
    read, each to exactly the size its header declares, and no member is ever unpickled."""
    name = str(path)
    try:
        with _archive(path) as members:
            _check_headers(members)
            meta = _meta(members)
            cost = resources.check(_config(meta), "sparse")  # before any matrix is read
            return _parse(meta, _Arrays(members, cost.bytes("sparse")), cost)
    except FileNotFoundError:
        raise WeightsError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise WeightsError(f"{name}: is a directory, not a weight file") from None
    except WeightsError as e:
        raise WeightsError(f"{name}: {e}") from None
    except (ConfigError, ImageError) as e:
        raise WeightsError(f"{name}: bad configuration: {e}") from None
    except OSError as e:
        raise WeightsError(f"{name}: cannot read ({e.strerror or e})") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as e:
        raise WeightsError(f"{name}: not a readable .npz archive (truncated or corrupt: {e})") from None


@contextmanager
def _archive(path: str | Path) -> Iterator[dict[str, zipfile.ZipFile]]:
    """The archive's ``.npy`` members by key, from a regular file that starts like a zip archive."""
    # O_NONBLOCK: a FIFO with no writer must not hang the open; it is refused just below
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        raise WeightsError("not a regular file (a device, FIFO or socket)")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        if f.read(4) not in ZIP_MAGIC:  # np.load would try anything else as a pickle
            raise WeightsError("not an .npz archive")
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            yield {info.filename.removesuffix(".npy"): (z, info) for info in z.infolist()}


def _member(members: dict, key: str, limit: int) -> np.ndarray:
    """One member, read to the size its header declares (at most ``limit`` bytes) and no further."""
    if key not in members:
        raise WeightsError(f"missing array {key!r}")
    z, info = members[key]
    with z.open(info) as f:
        shape, fortran, dtype = _header(f, key)
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if size > limit or any(d > limit for d in shape):  # (a huge dimension beside a 0 is no array either)
            raise WeightsError(f"{key} declares {size:,} bytes {shape}, more than the {limit:,} it can need")
        data = f.read(size)
    if len(data) != size:
        raise WeightsError(f"{key} is truncated")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _header(f, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """A member's shape, order and type, from its header alone; refuses anything but plain numbers and text."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as e:  # numpy parses the header's dict
        raise WeightsError(f"{key} is not a numpy array ({shown(e)})") from None
    if dtype.hasobject:
        raise WeightsError("holds pickled objects, which are never loaded")
    if dtype.kind not in "iufU" or dtype.fields is not None or dtype.subdtype is not None:
        raise WeightsError(f"{key} holds {dtype} values, not numbers")
    return shape, fortran, dtype


def _check_headers(members: dict) -> None:
    """Every member is a plain array: its header is read (a few hundred bytes), nothing more."""
    for key, (z, info) in members.items():
        with z.open(info) as f:
            _header(f, key)


def _meta(members: dict) -> dict:
    a = _member(members, "meta", 4 * MAX_TEXT)
    if a.shape != () or a.dtype.kind != "U":
        raise WeightsError("'meta' is not a JSON string")
    try:
        meta = parse_json(str(a[()]), "meta")
    except ImageError as e:
        raise WeightsError(f"'meta' is not JSON ({e.message})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise WeightsError(f"format {shown(got)!r} is not {FORMAT!r}")
    return meta


def _config(meta: dict) -> Config:
    try:
        return Config(meta["machine"], int(meta["bits"]), int(meta["cells"]), int(meta.get("slots", 0)))
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"incomplete meta ({shown(e)})") from None


class _Arrays:
    """The members, read on demand, each no larger than its expected shape in float64 and all together no
    more than ``budget`` bytes (what the configuration's network can need)."""

    def __init__(self, members: dict, budget: int):
        self.members, self.budget = members, budget

    def __contains__(self, key: str) -> bool:
        return key in self.members

    def get(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        limit = min(8 * int(np.prod(shape, dtype=object)), self.budget)
        a = _member(self.members, key, limit)
        self.budget -= a.nbytes
        return a


def _parse(meta: dict, arrays: _Arrays, cost: resources.Cost) -> Weights:
    config = _config(meta)
    try:
        names, stages = list(meta["layers"]), list(meta["stages"])
        outputs = [Layout((f, tuple(shape)) for f, shape in spec) for spec in meta["layer_outputs"]]
        state_size = int(meta["state_size"])
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"incomplete meta ({shown(e)})") from None
    if any(out.size > MAX_WIDTH * state_size for out in outputs):
        raise WeightsError(f"a layer wider than {MAX_WIDTH} times the state: not a network mlpvm builds")
    if tuple(names) != LAYER_NAMES or len(stages) != len(names) or len(outputs) != len(names):
        raise WeightsError(f"expected the 23 layers {LAYER_NAMES[0]} .. {LAYER_NAMES[-1]}")
    if outputs[-1].size != state_size:
        raise WeightsError("the last layer does not return the state")
    if outputs[-1] != Layout(config.spec.state_fields(config)):
        raise WeightsError(f"its state is not that of {config.describe()}: the matrices are of another configuration")
    layers, width, nonzeros = [], state_size, 0
    for k, (name, stage, out) in enumerate(zip(names, stages, outputs)):
        W = _matrix(arrays, k, (out.size, width), 2 * cost.nonzeros - nonzeros)
        nonzeros += W.nnz
        b = _integral(arrays, f"b{k}", (out.size,))
        layers.append(WeightLayer(name, stage, W, b.astype(np.int64), out))
        width = out.size
    return Weights(config, tuple(layers), dict(meta.get("io", {})))


def _integral(arrays: _Arrays, key: str, shape: tuple[int, ...], bound: int | None = MAX_WEIGHT) -> np.ndarray:
    """An array of integers (stored as integers or as integral floats), each at most ``bound`` in magnitude."""
    a = arrays.get(key, shape)
    if a.dtype.kind not in "iuf" or a.shape != shape:
        raise WeightsError(f"{key} has shape {a.shape} and type {a.dtype}, expected {shape} numbers")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise WeightsError(f"{key} contains NaN or infinity")
        if (a != np.rint(a)).any():
            raise WeightsError(f"{key} contains non-integer weights")
    if bound is not None and a.size and np.abs(a.astype(np.float64)).max() > bound:
        raise WeightsError(f"{key} holds values beyond +-{bound:,}: not weights of a network mlpvm builds")
    return a


def _matrix(arrays: _Arrays, k: int, shape: tuple[int, int], most: int) -> Csr:
    """Layer k's matrix, dense or CSR, with at most ``most`` nonzeros."""
    if f"W{k}" in arrays:
        dense = _integral(arrays, f"W{k}", shape)
        rows, cols = np.nonzero(dense)
        return Csr.from_coo(rows, cols, dense[rows, cols].astype(np.int64), shape)
    got = tuple(int(v) for v in _integral(arrays, f"W{k}_shape", (2,), None)) if f"W{k}_shape" in arrays else ()
    if got != shape:
        raise WeightsError(f"W{k} has shape {got or 'missing'}, expected {shape}")
    indptr = _integral(arrays, f"W{k}_indptr", (shape[0] + 1,), None).astype(np.int64)
    nnz = int(indptr[-1]) if len(indptr) else 0
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or nnz > min(most, shape[0] * shape[1]):
        raise WeightsError(f"W{k} is not a consistent CSR matrix of a network mlpvm builds")
    data = _integral(arrays, f"W{k}_data", (nnz,)).astype(np.int64)
    indices = _integral(arrays, f"W{k}_indices", (nnz,), None).astype(np.int64)
    if nnz and (indices.min() < 0 or indices.max() >= shape[1]):
        raise WeightsError(f"W{k} is not a consistent CSR matrix")
    return Csr(narrow_int(data), indices.astype(np.int32), positions(indptr), shape)
