"""The stored matrices: the network compiled to one sparse ``W`` and ``b`` per layer, and the weight file.

File format ``mlpvm-weights/1`` (docs/machines.md section 4): a numpy ``.npz`` that loads with
``allow_pickle=False``. ``meta`` is a JSON object (configuration, layer names, ``fields`` of the state, the
I/O fields, and each layer's output fields); ``state0`` is the empty machine; ``W{k}`` is dense, or CSR parts
``W{k}_data``, ``W{k}_indices``, ``W{k}_indptr``, ``W{k}_shape``; ``b{k}`` is the bias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpvm import npz, resources
from mlpvm.craft.layout import Layout
from mlpvm.errors import ConfigError, ImageError, WeightsError, shown
from mlpvm.files import MAX_TEXT, atomic_write, parse_json
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, Network
from mlpvm.network.csr import Csr, narrow_int, positions

FORMAT = "mlpvm-weights/1"
Invalid = npz.ArchiveError  # what the checks below raise; ``load`` makes it a WeightsError naming the file
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
        with npz.reading(path, "a weight file", WeightsError), npz.archive(path) as members:
            types = npz.types(members)
            meta = _meta(members)
            cost = resources.check(_config(meta), "sparse")  # before any matrix is read
            return _parse(meta, _Arrays(members, types, cost.bytes("sparse")), cost)
    except (ConfigError, ImageError) as e:
        raise WeightsError(f"{name}: bad configuration: {e}") from None


def _meta(members: dict) -> dict:
    a = npz.member(members, "meta", 4 * MAX_TEXT)
    if a.shape != () or a.dtype.kind != "U":
        raise Invalid("'meta' is not a JSON string")
    try:
        meta = parse_json(str(a[()]), "meta")
    except ImageError as e:
        raise Invalid(f"'meta' is not JSON ({e.message})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise Invalid(f"format {shown(got)!r} is not {FORMAT!r}")
    return meta


def _config(meta: dict) -> Config:
    machine = meta.get("machine")
    if not isinstance(machine, str):
        raise Invalid(f"meta field 'machine' must be a machine's name, not {_json(machine)}")
    slots = _meta_int(meta, "slots") if "slots" in meta else 0
    return Config(machine, _meta_int(meta, "bits"), _meta_int(meta, "cells"), slots)


def _meta_int(meta: dict, key: str) -> int:
    """An integer field of meta: a JSON integer, not a float (1e400 is infinity), a boolean or a string."""
    value = meta.get(key)
    if key not in meta:
        raise Invalid(f"meta field {key!r} is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"meta field {key!r} must be an integer, not {_json(value)}")
    return value


def _json(value: object) -> str:
    """A meta value as it was written (within reason): ``1e400`` reads back as ``Infinity``."""
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return shown(text if len(text) <= 40 else text[:37] + "...")


def _layouts(meta: dict, state_size: int) -> list[Layout]:
    """Each layer's output fields, from ``layer_outputs``: ``[name, shape]`` pairs, names text, dimensions
    positive integers, no layer wider than ``MAX_WIDTH`` states."""
    spec = meta.get("layer_outputs")
    if not isinstance(spec, list):
        raise Invalid(f"meta field 'layer_outputs' must be a list of layers, not {_json(spec)}")
    layouts = []
    for k, fields in enumerate(spec):
        if not isinstance(fields, list) or not all(_is_field(f) for f in fields):
            raise Invalid(f"meta field 'layer_outputs' [{k}] is not a list of [name, [dimensions]] pairs")
        if sum(np.prod(shape, dtype=object) for _, shape in fields) > MAX_WIDTH * state_size:
            raise Invalid(f"a layer wider than {MAX_WIDTH} times the state: not a network mlpvm builds")
        try:
            layouts.append(Layout((name, tuple(shape)) for name, shape in fields))
        except ValueError as e:  # a field named twice
            raise Invalid(f"meta field 'layer_outputs' [{k}]: {shown(e)}") from None
    return layouts


def _is_field(field: object) -> bool:
    if not (isinstance(field, list) and len(field) == 2 and isinstance(field[0], str)):
        return False
    shape = field[1]
    return isinstance(shape, list) and all(type(d) is int and d >= 1 for d in shape)  # (the width check bounds them)


def _strings(meta: dict, key: str) -> list[str]:
    value = meta.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"meta field {key!r} must be a list of names, not {_json(value)}")
    return value


def _io(meta: dict) -> dict[str, str]:
    """The host fields' descriptions: an object of strings (absent: none)."""
    io = meta.get("io", {})
    if not isinstance(io, dict) or not all(isinstance(v, str) for v in io.values()):
        raise Invalid(f"meta field 'io' must be an object of descriptions, not {_json(io)}")
    return dict(io)


class _Arrays:
    """The members, read on demand, each no larger than its expected shape in float64 and all together no
    more than ``budget`` bytes (what the configuration's network can need)."""

    def __init__(self, members: dict, types: dict[str, np.dtype], budget: int):
        self.members, self.types, self.budget = members, types, budget

    def __contains__(self, key: str) -> bool:
        return key in self.members

    def get(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        limit = min(8 * int(np.prod(shape, dtype=object)), self.budget)
        a = npz.member(self.members, key, limit)
        self.budget -= a.nbytes
        return a


def _parse(meta: dict, arrays: _Arrays, cost: resources.Cost) -> Weights:
    config = _config(meta)
    names, stages = _strings(meta, "layers"), _strings(meta, "stages")
    state_size = _meta_int(meta, "state_size")
    io = _io(meta)
    outputs = _layouts(meta, state_size)
    if tuple(names) != LAYER_NAMES or len(stages) != len(names) or len(outputs) != len(names):
        raise Invalid(f"expected the 23 layers {LAYER_NAMES[0]} .. {LAYER_NAMES[-1]}")
    if outputs[-1].size != state_size:
        raise Invalid("the last layer does not return the state")
    if outputs[-1] != Layout(config.spec.state_fields(config)):
        raise Invalid(f"its state is not that of {config.describe()}: the matrices are of another configuration")
    _allow_dense(arrays, outputs, cost)
    layers, width, nonzeros = [], state_size, 0
    for k, (name, stage, out) in enumerate(zip(names, stages, outputs)):
        W = _matrix(arrays, k, (out.size, width), 2 * cost.nonzeros - nonzeros)
        nonzeros += W.nnz
        b = _integral(arrays, f"b{k}", (out.size,))
        layers.append(WeightLayer(name, stage, W, b.astype(np.int64), out))
        width = out.size
    return Weights(config, tuple(layers), io)


def _allow_dense(arrays: _Arrays, outputs: list[Layout], cost: resources.Cost) -> None:
    """Widens the budget by the matrices stored dense (``build --dense``): each has exactly its layer's
    out x in elements, of the type its header declares; refused if they take the load past the ceiling."""
    widths = [cost.state] + [out.size for out in outputs[:-1]]
    dense = sum(
        out.size * width * arrays.types[f"W{k}"].itemsize
        for k, (out, width) in enumerate(zip(outputs, widths))
        if f"W{k}" in arrays
    )
    need = cost.bytes("sparse") + dense
    if dense and need > resources.CEILING:
        raise Invalid(
            f"its dense matrices need {dense:,} bytes, {need:,} with the rest of the network; mlpvm refuses "
            f"anything above {resources.CEILING:,} bytes so that a file cannot exhaust the machine"
        )
    arrays.budget += dense


def _integral(arrays: _Arrays, key: str, shape: tuple[int, ...], bound: int | None = MAX_WEIGHT) -> np.ndarray:
    """An array of integers (stored as integers or as integral floats), each at most ``bound`` in magnitude."""
    a = arrays.get(key, shape)
    if a.dtype.kind not in "iuf" or a.shape != shape:
        raise Invalid(f"{key} has shape {a.shape} and type {a.dtype}, expected {shape} numbers")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise Invalid(f"{key} contains NaN or infinity")
        if (a != np.rint(a)).any():
            raise Invalid(f"{key} contains non-integer weights")
    if bound is not None and a.size and np.abs(a.astype(np.float64)).max() > bound:
        raise Invalid(f"{key} holds values beyond +-{bound:,}: not weights of a network mlpvm builds")
    return a


def _matrix(arrays: _Arrays, k: int, shape: tuple[int, int], most: int) -> Csr:
    """Layer k's matrix, dense or CSR, with at most ``most`` nonzeros."""
    if f"W{k}" in arrays:
        dense = _integral(arrays, f"W{k}", shape)
        rows, cols = np.nonzero(dense)
        return Csr.from_coo(rows, cols, dense[rows, cols].astype(np.int64), shape)
    got = tuple(int(v) for v in _integral(arrays, f"W{k}_shape", (2,), None)) if f"W{k}_shape" in arrays else ()
    if got != shape:
        raise Invalid(f"W{k} has shape {got or 'missing'}, expected {shape}")
    indptr = _integral(arrays, f"W{k}_indptr", (shape[0] + 1,), None).astype(np.int64)
    nnz = int(indptr[-1]) if len(indptr) else 0
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or nnz > min(most, shape[0] * shape[1]):
        raise Invalid(f"W{k} is not a consistent CSR matrix of a network mlpvm builds")
    data = _integral(arrays, f"W{k}_data", (nnz,)).astype(np.int64)
    indices = _integral(arrays, f"W{k}_indices", (nnz,), None).astype(np.int64)
    if nnz and (indices.min() < 0 or indices.max() >= shape[1]):
        raise Invalid(f"W{k} is not a consistent CSR matrix: a column index outside 0..{shape[1] - 1}")
    starts = np.zeros(nnz, bool)
    starts[indptr[:-1][indptr[:-1] < nnz]] = True
    if nnz > 1 and not ((indices[1:] > indices[:-1]) | starts[1:]).all():  # the engines differ on a repeat
        raise Invalid(f"W{k} is not a consistent CSR matrix: a row's column indices are not increasing")
    return Csr(narrow_int(data), indices.astype(np.int32), positions(indptr), shape)
