"""The network lowered from its blocks to flat arrays of units: what the compiled kernel runs.

A machine's activations live in two places during a pass. Memory-like state fields (two or more dimensions:
``mem``, ``ins``) stay in the state vector ``x`` and are read there by reference. Every other activation has
a slot in a scratch vector ``s``, written once per pass (static single assignment), so that:

- a copy, a rename, or a unit that is ``ReLU(1 * v)`` of one other unit takes no work: it names the same
  slot (ReLU(v) = v for the non-negative activations of a {0,1} state);
- a ``Select`` over memory rows evaluates only the row its address register names, as the structured engine
  does (``mlpvm/engines/structured.py`` says why that is exact): it reads the row number off the address
  bits and keeps it in a row register; its width units read that row of ``x`` and the narrow slots;
- a ``Reduce`` of a selected row is the row's slots;
- ``mem - old_row + new_row`` updates the one selected row of ``x`` in place.

Each computed unit is ``ReLU(bias + sum s_val * s[s_col] + sum x_val * x[x_col + row * stride])`` with its
weights and bias copied from the block, so the kernel cannot drift from the construction. Anything outside
these patterns raises ``NotLowerable`` (the structured and sparse engines still run it).

``overrides`` (``mlpvm.engines.stored``: the units of a weight file that differ from the construction) gives
some units their own stored weights instead of their block's: such a unit is computed as a plain weighted sum
of its stored nonzeros, read from wherever each input lives at that point of the pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mlpvm.craft.blocks import Layer, Map, Reduce, Select, Term
from mlpvm.craft.layout import Layout
from mlpvm.network import Network

MAP, SELECT, UPDATE = 0, 1, 2  # op kinds: narrow units; units of a selected row; an in-place row update


class NotLowerable(ValueError):
    """The network uses a block pattern the kernel does not implement."""


class Override(NamedTuple):
    """A unit's own stored weights: input columns of its layer, their weights, and its bias."""

    cols: np.ndarray
    vals: np.ndarray
    bias: int


@dataclass(frozen=True)
class Narrow:
    slots: np.ndarray  # slot of each element of the field, in the field's shape


@dataclass(frozen=True)
class Wide:
    offset: int  # where the field starts in x
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Selected:
    """Zero except row ``reg`` (a row register), whose elements are ``slots``."""

    reg: int
    slots: np.ndarray  # (width,)
    rows: int
    key: tuple  # equal keys: the same row for every state (same address slots and shift)


Place = Narrow | Wide | Selected


class KernelArrays(NamedTuple):
    """What the kernel reads, by name: the ops of each layer, their units and weights, and the state columns
    loaded into scratch before a pass and stored back after it."""

    layer_ops: np.ndarray  # (layers + 1,) first op of each layer
    op_kind: np.ndarray
    op_reg: np.ndarray
    op_shift: np.ndarray
    op_mask: np.ndarray
    op_stride: np.ndarray
    op_units: np.ndarray  # (ops + 1,) first unit of each op
    op_addr: np.ndarray  # (ops + 1,) first address bit of each op
    addr_slot: np.ndarray
    unit_out: np.ndarray
    unit_bias: np.ndarray
    unit_s: np.ndarray  # (units + 1,) first scratch entry of each unit
    unit_x: np.ndarray  # (units + 1,) first state entry of each unit
    s_col: np.ndarray
    s_val: np.ndarray
    x_col: np.ndarray
    x_val: np.ndarray
    load_x: np.ndarray
    load_s: np.ndarray
    store_x: np.ndarray
    store_s: np.ndarray
    store_l: np.ndarray


@dataclass
class Lowered:
    """Flat arrays for the kernel, plus where every layer's fields live (for traces)."""

    scratch: int  # slots in s
    regs: int  # row registers
    arrays: dict[str, np.ndarray]
    places: list[dict[str, Place]]  # per layer: each output field's place
    units: int = 0  # computed units per pass
    entries: int = 0  # weights a pass multiplies (the nonzeros it touches)

    def kernel_args(self, dtype: np.dtype) -> KernelArrays:
        floats = {"unit_bias", "s_val", "x_val"}
        return KernelArrays(
            **{k: self.arrays[k].astype(dtype if k in floats else np.int64) for k in KernelArrays._fields}
        )

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


class _Ops:
    """Collects ops and their units; each unit's weights are given as entry lists (unit, column, weight)."""

    def __init__(self, slots: int):
        self.slots = slots
        self.regs = 0
        self.ops: list[tuple[int, int, int, int, int]] = []  # kind, reg, shift, mask, stride
        self.addr: list[np.ndarray] = []
        self.units: list[tuple[np.ndarray, np.ndarray, tuple, tuple]] = []  # out, bias, s entries, x entries
        self.layer_ops = [0]

    def alloc(self, n: int) -> np.ndarray:
        self.slots += n
        return np.arange(self.slots - n, self.slots)

    def add(self, kind, out, bias, s_entries, x_entries, reg=-1, shift=0, mask=0, stride=0, addr=None) -> None:
        self.ops.append((kind, reg, shift, mask, stride))
        self.addr.append(np.zeros(0, np.int64) if addr is None else np.asarray(addr, np.int64))
        self.units.append((np.asarray(out, np.int64), np.asarray(bias), s_entries, x_entries))

    def end_layer(self) -> None:
        self.layer_ops.append(len(self.ops))

    def arrays(self) -> dict[str, np.ndarray]:
        kind, reg, shift, mask, stride = np.array(self.ops, np.int64).reshape(-1, 5).T
        a = {
            "layer_ops": np.array(self.layer_ops),
            "op_kind": kind,
            "op_reg": reg,
            "op_shift": shift,
            "op_mask": mask,
            "op_stride": stride,
            "op_units": _ptr([len(u[0]) for u in self.units]),
            "op_addr": _ptr([len(a) for a in self.addr]),
            "addr_slot": _cat(self.addr),
            "unit_out": _cat([u[0] for u in self.units]),
            "unit_bias": _cat([u[1] for u in self.units]),
        }
        for side, k in (("s", 2), ("x", 3)):
            ptrs, cols, vals, start = [], [], [], 0
            for u in self.units:
                unit, col, val = u[k]
                ptrs.append(start + _ptr(np.bincount(unit, minlength=len(u[0])))[:-1])
                order = np.argsort(unit, kind="stable")
                cols.append(col[order])
                vals.append(val[order])
                start += len(unit)
            a[f"unit_{side}"] = np.append(_cat(ptrs), start)
            a[f"{side}_col"], a[f"{side}_val"] = _cat(cols), _cat(vals)
        return a


def _ptr(counts) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a).reshape(-1) for a in arrays]) if arrays else np.zeros(0, np.int64)


def _none() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)


def _join(parts: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [p for p in parts if len(p[0])] or [_none()]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def _term_entries(term: Term, place: Place, units: int) -> tuple[tuple, tuple]:
    """A term's (s entries, x entries) for ``units`` units whose inputs its index names (the first k per unit)."""
    index = term.index.reshape(units, -1)
    unit, k = np.nonzero(index >= 0)
    pos = index[unit, k]
    coef = np.full(len(unit), term.coef, np.int64)
    if term.coef == 0:
        return _none(), _none()
    if isinstance(place, Narrow):
        return (unit, place.slots.ravel()[pos], coef), _none()
    if isinstance(place, Wide):
        return _none(), (unit, place.offset + pos, coef)
    raise NotLowerable(f"a map reads the selected rows of {term.src!r} without reducing them")


class _Lowering:
    def __init__(self, net: Network, overrides: dict[int, dict[int, Override]] | None = None):
        self.net = net
        self.overrides = overrides or {}
        self.changed: dict[int, Override] = {}  # the current layer's overridden units, by row
        self.updated: set[int] = set()  # memories the current layer writes in place (their old rows are gone)
        state = net.state
        self.wide = {f.name for f in state if len(f.shape) >= 2}
        narrow = [f for f in state if f.name not in self.wide]
        self.ops = _Ops(0)
        self.load_x = np.concatenate([f.indices().ravel() for f in narrow]) if narrow else np.zeros(0, np.int64)
        loaded = self.ops.alloc(len(self.load_x))
        self.places: dict[str, Place] = {}
        start = 0
        for f in state:
            if f.name in self.wide:
                self.places[f.name] = Wide(f.offset, f.shape)
            else:
                self.places[f.name] = Narrow(loaded[start : start + f.size].reshape(f.shape))
                start += f.size
        self.layer_places: list[dict[str, Place]] = []

    def run(self) -> Lowered:
        for k, layer in enumerate(self.net.layers):
            self.changed = self.overrides.get(k, {})
            self.places = self._layer(layer)
            self.layer_places.append(self.places)
            self.ops.end_layer()
        store_x, store_s = self._stores()
        store_l = np.searchsorted(self.load_x, store_x)  # the slot each stored element is loaded into
        if np.isin(store_s, store_l).any():
            raise NotLowerable("a state field ends the pass in a slot that the next pass loads anew")
        arrays = self.ops.arrays()
        arrays.update(
            load_x=self.load_x, load_s=np.arange(len(self.load_x)), store_x=store_x, store_s=store_s, store_l=store_l
        )
        units = len(arrays["unit_out"])
        entries = len(arrays["s_col"]) + len(arrays["x_col"])
        return Lowered(self.ops.slots, self.ops.regs, arrays, self.layer_places, units, entries)

    def _stores(self) -> tuple[np.ndarray, np.ndarray]:
        """The narrow state fields written back to x after the last layer (those that changed slot)."""
        xs, ss = [], []
        for f in self.net.state:
            place = self.places[f.name]
            if isinstance(place, Wide):
                if place.offset != f.offset:
                    raise NotLowerable(f"state field {f.name!r} ends the pass in another field's memory")
                continue
            if not isinstance(place, Narrow):
                raise NotLowerable(f"state field {f.name!r} ends the pass as a selected row")
            if f.name in self.wide:  # passes carried in the scratch would never see it change
                raise NotLowerable(f"memory field {f.name!r} ends the pass computed unit by unit, not in place")
            moved = place.slots.ravel() != self.load_slots(f.name)
            xs.append(f.indices().ravel()[moved])
            ss.append(place.slots.ravel()[moved])
        return _cat(xs), _cat(ss)

    def load_slots(self, name: str) -> np.ndarray:
        start = 0
        for f in self.net.state:
            if f.name == name:
                return np.arange(start, start + f.size)
            if f.name not in self.wide:
                start += f.size
        raise KeyError(name)

    def _layer(self, layer: Layer) -> dict[str, Place]:
        src = self.places
        out: dict[str, Place] = {}
        self.updated = set()
        maps: list[tuple[Map, int]] = []
        for block in layer.blocks:
            if self._rows_changed(layer, block):
                if not isinstance(block, Map) or any(isinstance(src[t.src], Selected) for t in block.terms):
                    raise NotLowerable(f"{layer.name}: {self._first_changed(layer, block)} differs from the "
                                       "construction in a unit of a selected memory row or its update")  # fmt: skip
                maps.append((block, block.bias.size))  # computed unit by unit, a copy too
            elif isinstance(block, Select):
                out[block.out] = self._select(block, src)
            elif isinstance(block, Reduce):
                place = src[block.src]
                if not isinstance(place, Selected):
                    raise NotLowerable(f"{layer.name}: reduce of {block.src!r}, which is not a selected row")
                out[block.out] = Narrow(place.slots)
            elif block.is_copy(layer.inputs):
                out[block.out] = src[block.terms[0].src]
            elif any(isinstance(src[t.src], Selected) for t in block.terms):
                out[block.out] = self._update(layer, block, src)
            else:
                maps.append((block, block.bias.size))
        if maps:
            self._maps(layer, maps, src, out)
        self._check_aliases(layer, out)
        return out

    def _rows(self, layer: Layer, block) -> range:
        start = layer.outputs[block.out].offset
        return range(start, start + layer.outputs[block.out].size)

    def _rows_changed(self, layer: Layer, block) -> bool:
        rows = self._rows(layer, block)
        return any(r in rows for r in self.changed)

    def _first_changed(self, layer: Layer, block) -> str:
        from mlpvm.check.mutate import unit_name  # the one way units are named

        return unit_name(layer.outputs, min(r for r in self.changed if r in self._rows(layer, block)))

    def _stored_entries(self, layer: Layer, src: dict[str, Place], unit: int, row: int) -> tuple[tuple, tuple]:
        """(s entries, x entries) of an overridden unit: its stored weights, each read from its input's place."""
        cols, vals, _ = self.changed[row]
        s_parts, x_parts = [], []
        for f in layer.inputs:
            inside = (cols >= f.offset) & (cols < f.stop)
            if not inside.any():
                continue
            pos, val = cols[inside] - f.offset, vals[inside]
            units = np.full(len(pos), unit, np.int64)
            place = src[f.name]
            if isinstance(place, Narrow):
                s_parts.append((units, place.slots.ravel()[pos], val))
            elif isinstance(place, Wide):
                if place.offset in self.updated:
                    raise NotLowerable(f"{layer.name}: unit {row} reads {f.name!r} while it is updated in place")
                x_parts.append((units, place.offset + pos, val))
            else:
                raise NotLowerable(f"{layer.name}: unit {row} reads the selected rows of {f.name!r}")
        return _join(s_parts), _join(x_parts)

    def _select(self, block: Select, src: dict[str, Place]) -> Selected:
        addr = src[block.addr]
        if not isinstance(addr, Narrow):
            raise NotLowerable(f"select {block.out!r}: the address {block.addr!r} must be a narrow field")
        rows, width = block.bias.shape
        if not (block.bias == block.bias[0]).all():
            raise NotLowerable(f"select {block.out!r}: a bias that differs between rows")
        s_parts, x_parts, stride = [], [], 0
        for term in block.terms:
            index = term.index.reshape(rows, width, -1)
            place = src[term.src]
            if isinstance(place, Wide):  # row i reads element index[0] + i * step of a memory-like field
                first = np.flatnonzero(index[0].ravel() >= 0)
                step = int(index[1].ravel()[first[0]] - index[0].ravel()[first[0]]) if rows > 1 and len(first) else 0
                expect = np.where(index[0] >= 0, index[0] + step * np.arange(rows)[:, None, None], -1)
                if not np.array_equal(index, expect) or (stride and step != stride):
                    raise NotLowerable(f"select {block.out!r}: rows of {term.src!r} that are not evenly spaced")
                stride = step
            elif not (index == index[0]).all():
                raise NotLowerable(f"select {block.out!r}: row-dependent inputs from narrow field {term.src!r}")
            s, x = _term_entries(Term(term.coef, term.src, index[0]), place, width)
            s_parts.append(s)
            x_parts.append(x)
        addr_slots = addr.slots.ravel()[block.addr_index]
        reg = self.ops.regs
        self.ops.regs += 1
        slots = self.ops.alloc(width)
        self.ops.add(
            SELECT, slots, block.bias[0], _join(s_parts), _join(x_parts),
            reg=reg, shift=block.shift % rows, mask=rows - 1, stride=stride, addr=addr_slots,
        )  # fmt: skip
        key = (tuple(addr_slots), block.shift % rows, rows)
        return Selected(reg, slots, rows, key)

    def _update(self, layer: Layer, block: Map, src: dict[str, Place]) -> Wide:
        """``wide + sum coef * selected`` with identity indices and no bias: only the selected row changes."""
        base, *rows = block.terms
        memory = src[base.src]
        if not isinstance(memory, Wide):
            raise NotLowerable(f"{layer.name}: {block.out!r} adds selected rows to a narrow field")
        selected = [src[t.src] for t in rows]
        shape = block.bias.shape
        identity = np.arange(block.bias.size)
        ok = (
            base.coef == 1 and base.is_identity(layer.inputs) and not block.bias.any() and len(shape) == 2
            and all(isinstance(p, Selected) and p.key == selected[0].key for p in selected)
            and all(np.array_equal(t.index.ravel(), identity) for t in rows)
            and memory.shape == shape and selected[0].rows == shape[0]
        )  # fmt: skip
        if not ok:
            raise NotLowerable(f"{layer.name}: {block.out!r} is not an update of one selected row")
        for other in layer.blocks:  # the row is written in place: nothing else in this layer may read the old one
            if other is not block and any(src.get(n) == memory for n in _reads(other)):
                raise NotLowerable(f"{layer.name}: {other.out!r} reads {base.src!r} while it is updated in place")
        self.updated.add(memory.offset)
        width = shape[1]
        unit = np.tile(np.arange(width), len(rows))
        s_cols = np.concatenate([p.slots for p in selected])
        s_vals = np.repeat([t.coef for t in rows], width)
        x_entries = (np.arange(width), memory.offset + np.arange(width), np.ones(width, np.int64))
        self.ops.add(
            UPDATE, memory.offset + np.arange(width), np.zeros(width), (unit, s_cols, s_vals), x_entries,
            reg=selected[0].reg, stride=width,
        )  # fmt: skip
        return memory

    def _maps(self, layer: Layer, maps: list[tuple[Map, int]], src: dict[str, Place], out: dict[str, Place]) -> None:
        """All the layer's other maps as one op; units that only pass one slot on are not computed. An
        overridden unit gets its stored weights and bias instead of its block's."""
        s_parts, x_parts, biases, start = [], [], [], 0
        for block, units in maps:
            bias = block.bias.ravel().copy()
            first = layer.outputs[block.out].offset
            changed = [(r - first, r) for r in sorted(self.changed) if first <= r < first + units]
            mine = np.zeros(units, bool)
            for u, _ in changed:
                mine[u] = True
            for term in block.terms:
                s, x = _term_entries(term, src[term.src], units)
                s_parts.append(tuple(a[~mine[s[0]]] for a in (s[0] + start, *s[1:])))
                x_parts.append(tuple(a[~mine[x[0]]] for a in (x[0] + start, *x[1:])))
            for u, row in changed:
                s, x = self._stored_entries(layer, src, start + u, row)
                s_parts.append(s)
                x_parts.append(x)
                bias[u] = self.changed[row].bias
            biases.append(bias)
            start += units
        s_unit, s_col, s_val = _join(s_parts)
        x_unit, x_col, x_val = _join(x_parts)
        bias = np.concatenate(biases)
        n_s = np.bincount(s_unit, minlength=start)
        n_x = np.bincount(x_unit, minlength=start)
        ones = np.zeros(start, bool)
        ones[s_unit[s_val == 1]] = True
        passes = (n_s == 1) & (n_x == 0) & (bias == 0) & ones  # ReLU(1 * v) = v: the same slot
        slots = np.zeros(start, np.int64)
        slots[s_unit[passes[s_unit]]] = s_col[passes[s_unit]]
        computed = np.flatnonzero(~passes)
        computed = computed[np.argsort(n_s[computed] + n_x[computed], kind="stable")]  # equal loop lengths together
        slots[computed] = self.ops.alloc(len(computed))
        renumber = np.full(start, -1)
        renumber[computed] = np.arange(len(computed))
        keep_s, keep_x = ~passes[s_unit], ~passes[x_unit]
        self.ops.add(
            MAP, slots[computed], bias[computed],
            (renumber[s_unit[keep_s]], s_col[keep_s], s_val[keep_s]),
            (renumber[x_unit[keep_x]], x_col[keep_x], x_val[keep_x]),
        )  # fmt: skip
        start = 0
        for block, units in maps:
            out[block.out] = Narrow(slots[start : start + units].reshape(block.bias.shape))
            start += units

    def _check_aliases(self, layer: Layer, out: dict[str, Place]) -> None:
        """Two fields in one memory would both see an in-place update of either."""
        seen: dict[int, str] = {}
        for name, place in out.items():
            if isinstance(place, Wide):
                if place.offset in seen:
                    raise NotLowerable(f"{layer.name}: {name!r} and {seen[place.offset]!r} share memory")
                seen[place.offset] = name


def _reads(block) -> list[str]:
    if isinstance(block, Reduce):
        return [block.src]
    names = [t.src for t in block.terms]
    return [*names, block.addr] if isinstance(block, Select) else names


def lower(net: Network, overrides: dict[int, dict[int, Override]] | None = None) -> Lowered:
    """``net`` lowered; ``overrides``: units (layer -> row) computed from their own stored weights."""
    return _Lowering(net, overrides).run()


def materialize(layout: Layout, places: dict[str, Place], x: np.ndarray, s: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """One layer's activations for a batch, as dense (B, width) in its output layout, from x, s and the
    row registers as they are right after that layer."""
    batch = len(x)
    out = np.zeros((batch, layout.size), x.dtype)
    for f in layout:
        place = places[f.name]
        view = out[:, f.offset : f.stop]
        if isinstance(place, Narrow):
            view[...] = s[:, place.slots.ravel()]
        elif isinstance(place, Wide):
            view[...] = x[:, place.offset : place.offset + f.size]
        else:
            rows = view.reshape(batch, place.rows, -1)
            rows[np.arange(batch), reg[:, place.reg]] = s[:, place.slots]
    return out
