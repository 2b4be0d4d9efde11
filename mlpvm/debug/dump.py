"""Per-layer activations saved for analysis: ``dump`` in the debugger and ``mlpvm trace --layers``.

An ``.npz`` (loads with ``allow_pickle=False``) holding, for every pass N saved and every layer:

- ``passN.LAYER`` (``pass12.read.1``): the layer's output activations, uint8, one per unit in its layout;
- ``passN.decoded``: a JSON string: PC, the registers and flags after the pass (``DECODED``);
- ``meta``: JSON: ``config`` (machine, bits, cells, slots), ``layers`` (the 23 names in order) and ``fields``
  (for each layer, each output field as [name, offset, shape]), so a vector can be cut into named fields.

On the looped transformer (``--network transformer``) every layer's output is the whole punchcard in the
network's float type, its fields the row fields, each (width, columns); ``meta`` adds ``network``, ``dtype``,
``lambda`` and ``heads``, and ``passN.attended`` (int64) and ``passN.attention`` hold each head's two columns
of most weight for every column (``mlpvm.debug.transformer``), returned as ``["passN"]["heads"][HEAD]``.

``load_dump(path)`` does that cutting: ``load_dump(p)["pass40"]["read.0"]["read_a"]`` is the (M, N) array of
that field, ``load_dump(p)["pass40"]["decoded"]["pc"]`` a number, ``load_dump(p)["meta"]`` the meta.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mlpvm import npz, resources
from mlpvm.craft.layout import Layout
from mlpvm.engines import Engine
from mlpvm.errors import ImageError, MlpvmError
from mlpvm.files import MAX_TEXT, atomic_write, parse_json
from mlpvm.machines.config import Config
from mlpvm.machines.state import REGISTERS, SHOWN, Fields
from mlpvm.protocol import EXECUTED, FAULT, HALTED, IN_ACK, IN_WAIT, OUT_VALID


def parse_range(text: str) -> range:
    """``12`` or ``10:20`` / ``10-20`` (both ends included) as a range of 1-based pass numbers."""
    m = re.fullmatch(r"\s*([0-9]{1,18})\s*(?:[:-]\s*([0-9]{1,18}))?\s*", text)
    if not m:
        raise MlpvmError(f"a pass range is N or A:B, not {text!r}")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else first
    if first < 1 or last < first:
        raise MlpvmError(f"empty pass range {text!r} (passes count from 1)")
    return range(first, last + 1)


DECODED = ("pc", *REGISTERS, HALTED, FAULT, EXECUTED, OUT_VALID, IN_ACK, IN_WAIT)


@lru_cache(maxsize=8)
def _fields(state: Layout, config: Config) -> Fields:
    return Fields(state, config)


def decoded(engine: Engine, config: Config, x: np.ndarray) -> dict[str, int]:
    """PC, registers and flags of one state vector, as numbers (every pass of a trace: one product)."""
    values = _fields(engine.state, config)(x)
    return {SHOWN.get(name, name): values[name] for name in DECODED if name in values}


def meta(engine: Engine, config: Config) -> dict:
    if engine.name == "transformer":  # its layers' outputs are punchcards, not the MLP's layouts
        from mlpvm.debug import transformer

        return transformer.dump_meta(engine)
    return {
        "config": config.to_meta(),
        "layers": engine.layer_names,
        "fields": {name: [[f.name, f.offset, list(f.shape)] for f in layout]
                   for name, layout in zip(engine.layer_names, engine.layouts)},
    }  # fmt: skip


def pass_arrays(
    engine: Engine, config: Config, number: int, trace: list[np.ndarray], before: np.ndarray
) -> dict[str, np.ndarray]:
    """Pass ``number``'s members: each layer's activations (``trace``, from the state ``before``, (1, size))
    and the decoded state after it."""
    if engine.name == "transformer":
        from mlpvm.debug import transformer

        return transformer.pass_arrays(engine, number, before[0], trace)
    arrays = {f"pass{number}.{name}": h[0].astype(np.uint8) for name, h in zip(engine.layer_names, trace)}
    arrays[f"pass{number}.decoded"] = np.array(json.dumps(decoded(engine, config, trace[-1][0])))
    return arrays


class Writer:
    """An ``.npz`` written member by member, as ``np.savez_compressed`` writes it but without holding every
    array at once: a long ``trace --layers`` adds each pass's activations as it comes."""

    def __init__(self, f: BinaryIO, info: dict):
        self.zip = zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        try:
            self.add({"meta": np.array(json.dumps(info))})
        except BaseException:
            self.abandon()
            raise

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            with self.zip.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    def close(self) -> None:
        self.zip.close()

    def abandon(self) -> None:
        """After a failed write (a full disk): closed now, not later by the garbage collector on a closed file."""
        with suppress(Exception):
            self.zip.close()


def streamed(path: str | Path, info: dict, write: Callable[[Writer], None], inputs: tuple = ()) -> None:
    """``write(writer)`` adds arrays to the ``.npz`` at ``path``, written in place of it atomically."""

    def body(f: BinaryIO) -> None:
        writer = Writer(f, info)
        try:
            write(writer)
        except BaseException:
            writer.abandon()
            raise
        writer.close()

    atomic_write(path, body, inputs)


def save(path: str | Path, arrays: dict[str, np.ndarray], info: dict) -> None:
    streamed(path, info, lambda writer: writer.add(arrays))


def dump_session(session, path: str | Path, passes: range | None = None) -> list[int]:
    """The passes (default: the last one) re-run on the stored matrices from their recorded states."""
    wanted = passes or range(session.passes, session.passes + 1)
    arrays: dict[str, np.ndarray] = {}
    written = []
    for number in wanted:
        before = session.before(number)
        if before is None:
            raise MlpvmError(f"there is no pass {number} (passes 1..{session.passes} ran)")
        arrays.update(pass_arrays(session.plain, session.config, number, session.trace_of(before), before))
        written.append(number)
    save(path, arrays, meta(session.plain, session.config))
    return written


MAX_DECODED = 1 << 12  # characters of a pass's decoded JSON: mlpvm writes about 200
DUMP_KEY = re.compile(r"pass([1-9][0-9]{0,17})\.(.+)")


def load_dump(path: str | Path) -> dict:
    """A dump as nested dicts: ``["passN"][layer][field]`` numpy arrays in the field's shape, ``["passN"]
    ["decoded"]`` a dict of numbers, and ``["meta"]``. Reads only those members (others are never
    decompressed), each checked by its headers before it is read and no larger than the meta says, all
    together no more than the memory ceiling; anything else is one ``MlpvmError`` naming the file."""
    with npz.reading(path, "a dump", MlpvmError, "not a dump: "), npz.archive(path) as members:
        info = _dump_meta(members)
        widths = {layer: max((o + math.prod(shape) for _, o, shape in fields), default=0)
                  for layer, fields in info["fields"].items()}  # fmt: skip
        out: dict = {"meta": info}
        budget = resources.CEILING
        kind = _activation_dtype(info)
        heads = _heads(info)
        for key in members:
            m = DUMP_KEY.fullmatch(key)
            if m is None or (m.group(2) not in ("decoded", *HEAD_MEMBERS) and m.group(2) not in widths):
                continue  # not a member of a dump: never read
            entry = out.setdefault(f"pass{m.group(1)}", {})
            if m.group(2) == "decoded":
                entry["decoded"] = _decoded(members, key)
                continue
            if m.group(2) in HEAD_MEMBERS:
                if heads:  # the transformer's: for each head, its two columns of most weight and the weights
                    member = npz.member(members, key, min(len(heads) * 2 * _columns(info) * 8, budget))
                    budget -= member.nbytes
                    _head_member(entry, key, heads, member, _columns(info), HEAD_MEMBERS[m.group(2)])
                continue
            layer = m.group(2)
            vector = npz.member(members, key, min(widths[layer] * kind.itemsize, budget))
            budget -= vector.nbytes
            if vector.dtype != kind or vector.shape != (widths[layer],):
                raise npz.ArchiveError(
                    f"{key} is {vector.dtype} {vector.shape}, not the {kind} ({widths[layer]},) of its layer's fields"
                )
            entry[layer] = {name: vector[offset : offset + math.prod(shape)].reshape(shape)
                            for name, offset, shape in info["fields"][layer]}  # fmt: skip
    return out


HEAD_MEMBERS = {"attended": ("column", np.dtype(np.int64)), "attention": ("weight", None)}  # the transformer's


def _activation_dtype(info: dict) -> np.dtype:
    """uint8 for the MLP's activations (bits); the transformer's are its float type (a softmax read is not)."""
    if info.get("network") != "transformer":
        return np.dtype(np.uint8)
    if info.get("dtype") not in ("float32", "float64"):
        raise npz.ArchiveError("'meta' of a transformer dump names no dtype float32 or float64")
    return np.dtype(info["dtype"])


def _heads(info: dict) -> list[str]:
    heads = info.get("heads", []) if info.get("network") == "transformer" else []
    if not isinstance(heads, list) or not all(isinstance(h, str) for h in heads):
        raise npz.ArchiveError("'meta' heads is not a list of names")
    return heads


def _columns(info: dict) -> int:
    cells = info.get("config", {}).get("cells") if isinstance(info.get("config"), dict) else None
    if type(cells) is not int or not 0 < cells <= resources.CEILING:
        raise npz.ArchiveError("'meta' config names no number of cells")
    return cells + 1


def _head_member(entry: dict, key: str, heads: list[str], a: np.ndarray, columns: int, what: tuple) -> None:
    """``entry["heads"][head][column|weight]``: (columns, 2) arrays, checked against the meta's heads."""
    name, dtype = what
    want = (len(heads), columns, 2)
    if a.shape != want or (dtype is not None and a.dtype != dtype) or (dtype is None and a.dtype.kind != "f"):
        raise npz.ArchiveError(f"{key} is {a.dtype} {a.shape}, not {dtype or 'float'} {want}")
    for i, head in enumerate(heads):
        entry.setdefault("heads", {}).setdefault(head, {})[name] = a[i]


def _dump_meta(members: npz.Members) -> dict:
    """``meta``, checked: an object with ``config``, ``layers`` (names) and ``fields`` (each layer's output
    fields as [name, offset, shape], offsets and dimensions non-negative integers)."""
    info = _json_member(members, "meta", 4 * MAX_TEXT)
    fields = info.get("fields") if isinstance(info, dict) else None
    layers = info.get("layers") if isinstance(info, dict) else None
    if not isinstance(fields, dict) or not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
        raise npz.ArchiveError("'meta' is not an object with 'layers' (names) and 'fields' (each layer's)")
    for layer, spec in fields.items():
        if not isinstance(spec, list) or not all(_is_field(f) for f in spec):
            raise npz.ArchiveError(f"'meta' fields of {layer!r} are not a list of [name, offset, [dimensions]]")
    return info


def _is_field(field: object) -> bool:
    if not (isinstance(field, list) and len(field) == 3 and isinstance(field[0], str)):
        return False
    offset, shape = field[1], field[2]
    numbers = [offset, *shape] if isinstance(shape, list) else [None]
    return all(type(n) is int and 0 <= n <= resources.CEILING for n in numbers)


def _decoded(members: npz.Members, key: str) -> dict[str, int]:
    values = _json_member(members, key, 4 * MAX_DECODED)
    if not isinstance(values, dict) or not all(type(v) is int for v in values.values()):
        raise npz.ArchiveError(f"{key} is not a JSON object of numbers")
    return values


def _json_member(members: npz.Members, key: str, limit: int):
    a = npz.member(members, key, limit)
    if a.shape != () or a.dtype.kind != "U":
        raise npz.ArchiveError(f"{key!r} is not a JSON string")
    try:
        return parse_json(str(a[()]), key)
    except ImageError as e:
        raise npz.ArchiveError(f"{key!r} is not JSON ({e.message})") from None
