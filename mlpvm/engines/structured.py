"""The structured engine: evaluates the network block by block instead of as matrices, exactly.

What makes it fast, and why each step is exact for states on {0,1}:

- a copy block passes its array on untouched (ReLU(x) = x for the non-negative activations);
- a ``Select`` over memory rows has weights that are the +-1 codes of the row addresses, so for a {0,1}
  address register every row but the one whose code equals the register has a match of at most -1 and,
  with the rest of its inputs summing to at most 1, is exactly 0. The engine reads that row number off the
  register (a dot product with powers of two) and evaluates only that row: a ``Rows`` value;
- a ``Reduce`` of a ``Rows`` value is that row; a ``Map`` that adds ``Rows`` values to memory changes only
  that row of memory, in place (nothing later in the pass reads the old words).

Tests compare every layer's activations with the stored matrices on random states of both machines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpvm.craft.blocks import Layer, Map, Reduce, Select, Term
from mlpvm.craft.layout import Layout
from mlpvm.engines.base import Engine, off_binary
from mlpvm.errors import NetworkFault
from mlpvm.network import Network


@dataclass
class Rows:
    """A (B, rows, width) activation that is zero except row ``idx[b]`` of machine ``b``, which is ``data[b]``."""

    idx: np.ndarray  # (B,)
    data: np.ndarray  # (B, width)
    rows: int

    def dense(self) -> np.ndarray:
        out = np.zeros((len(self.idx), self.rows, self.data.shape[1]), self.data.dtype)
        out[np.arange(len(self.idx)), self.idx] = self.data
        return out


Value = np.ndarray | Rows


def _dense(v: Value) -> np.ndarray:
    return v.dense() if isinstance(v, Rows) else v


class _Gather:
    """One term: ``coef`` times the sum of the k source elements each output unit names."""

    def __init__(self, term: Term, dtype: np.dtype):
        self.src, self.coef = term.src, dtype.type(term.coef)
        index = term.index.reshape(-1, term.index.shape[-1])
        self.mask = (index >= 0).astype(dtype) if (index < 0).any() else None  # -1 names no element
        self.index = np.where(index < 0, 0, index)
        self.single = self.index[:, 0] if index.shape[1] == 1 else None
        # One element for every unit (a flag broadcast over a register): a (B, 1) slice broadcasts for free.
        self.scalar = (
            int(index[0, 0]) if self.single is not None and self.mask is None and (index == index[0]).all() else None
        )

    def __call__(self, v: np.ndarray) -> np.ndarray:
        flat = v.reshape(len(v), -1)
        if self.scalar is not None:
            g = flat[:, self.scalar : self.scalar + 1]
        elif self.single is not None:
            g = flat[:, self.single] if self.mask is None else flat[:, self.single] * self.mask[:, 0]
        else:
            g = flat[:, self.index]
            g = (g if self.mask is None else g * self.mask).sum(axis=-1)
        return g * self.coef if self.coef != 1 else g

    @property
    def is_identity(self) -> bool:
        return (
            self.single is not None and self.mask is None and np.array_equal(self.single, np.arange(len(self.single)))
        )


class _Copy:
    def __init__(self, block: Map):
        self.out, self.src = block.out, block.terms[0].src

    def __call__(self, vals: dict[str, Value], engine: Structured) -> Value:
        return vals[self.src]


class _Map:
    def __init__(self, block: Map, dtype: np.dtype, rows_fields: set[str]):
        self.out, self.shape = block.out, block.bias.shape
        self.terms = [_Gather(t, dtype) for t in block.terms]
        self.bias = block.bias.ravel().astype(dtype)
        self.row_update = self._row_update_shape(rows_fields)

    def _row_update_shape(self, rows_fields: set[str]) -> bool:
        """memory + coef * rows ...: then only the selected row can change."""
        base = [t for t in self.terms if t.src not in rows_fields]
        rows = [t for t in self.terms if t.src in rows_fields]
        return (
            bool(rows) and len(base) == 1 and base[0].coef == 1 and not self.bias.any()
            and all(t.is_identity for t in self.terms)
        )  # fmt: skip

    def __call__(self, vals: dict[str, Value], engine: Structured) -> Value:
        if self.row_update:
            updated = self._update_rows(vals, engine)
            if updated is not None:
                return updated
        acc = self.bias
        for t in self.terms:
            acc = acc + t(_dense(vals[t.src]))
        return np.maximum(acc, 0).reshape((-1, *self.shape))

    def _update_rows(self, vals: dict[str, Value], engine: Structured) -> np.ndarray | None:
        """In place: nothing later in the pass reads the old memory. None if the rows differ."""
        rows = [t for t in self.terms if isinstance(vals[t.src], Rows)]
        (base,) = (t for t in self.terms if not isinstance(vals[t.src], Rows))
        idx = vals[rows[0].src].idx
        if any(not np.array_equal(vals[t.src].idx, idx) for t in rows):
            return None
        mem = vals[base.src]
        b = np.arange(len(idx))
        row = mem[b, idx]
        for t in rows:
            row = row + t.coef * vals[t.src].data
        mem[b, idx] = np.maximum(row, 0)
        engine.written.append((mem, idx))
        return mem


class _Select:
    def __init__(self, block: Select, dtype: np.dtype, inputs: Layout):
        self.out, self.rows, self.shift = block.out, block.rows, block.shift
        self.addr, self.addr_index = block.addr, block.addr_index
        self.weights = (1 << np.arange(len(block.addr_index))).astype(np.int64)
        width = block.bias.shape[1]
        self.terms = []
        for term in block.terms:
            index = term.index.reshape(self.rows, width, -1)
            own_row = np.arange(self.rows * width).reshape(self.rows, width, 1)
            if (index == index[0]).all():  # the same inputs on every row (a register, a flag)
                first = Term(term.coef, term.src, index[0])
                self.terms.append(("fixed", _Gather(first, dtype)))
            elif np.array_equal(index, own_row) and inputs[term.src].shape == (self.rows, width):
                self.terms.append(("row", (term.src, dtype.type(term.coef))))  # row i of a memory-like field
            else:
                self.terms.append(("any", (_Gather(term, dtype), index)))
        self.bias = block.bias.astype(dtype)
        self.fixed_bias = self.bias[0] if (self.bias == self.bias[0]).all() else None

    def __call__(self, vals: dict[str, Value], engine: Structured) -> Value:
        v = vals[self.addr]
        addr = v.reshape(len(v), -1)[:, self.addr_index]
        idx = (np.rint(addr).astype(np.int64) @ self.weights + self.shift) % self.rows
        acc = self.fixed_bias if self.fixed_bias is not None else self.bias[idx]
        for kind, how in self.terms:
            if kind == "fixed":
                acc = acc + how(_dense(vals[how.src]))
            elif kind == "row":
                src, coef = how
                row = _dense(vals[src])[np.arange(len(idx)), idx]
                acc = acc + (row if coef == 1 else coef * row)
            else:
                gather, index = how
                flat = _dense(vals[gather.src]).reshape(len(idx), -1)
                picked = index[idx]
                got = np.take_along_axis(flat, np.where(picked < 0, 0, picked).reshape(len(idx), -1), axis=1)
                acc = acc + gather.coef * (got.reshape(picked.shape) * (picked >= 0)).sum(axis=-1)
        acc = np.broadcast_to(acc, (len(idx), self.bias.shape[1]))
        return Rows(idx, np.maximum(acc, 0), self.rows)


class _Reduce:
    def __init__(self, block: Reduce):
        self.out, self.src = block.out, block.src

    def __call__(self, vals: dict[str, Value], engine: Structured) -> Value:
        v = vals[self.src]
        return v.data if isinstance(v, Rows) else np.maximum(v.sum(axis=1), 0)


def _plan(layer: Layer, dtype: np.dtype, rows_fields: set[str]) -> tuple[list, set[str]]:
    """The ops of one layer, and which of its outputs are ``Rows`` values."""
    ops, out_rows = [], set()
    for block in layer.blocks:
        if isinstance(block, Select):
            ops.append(_Select(block, dtype, layer.inputs))
            out_rows.add(block.out)
        elif isinstance(block, Reduce):
            ops.append(_Reduce(block))
        elif block.is_copy(layer.inputs):
            ops.append(_Copy(block))
            if block.terms[0].src in rows_fields:
                out_rows.add(block.out)
        else:
            ops.append(_Map(block, dtype, rows_fields))
    return ops, out_rows


class Structured(Engine):
    name = "structured"

    def __init__(self, net: Network, dtype=np.float32):
        super().__init__(net.config, [(layer.name, layer.outputs) for layer in net.layers])
        self.net, self.dtype = net, np.dtype(dtype)
        self.plan, rows = [], set()
        for layer in net.layers:
            ops, rows = _plan(layer, self.dtype, rows)
            self.plan.append(ops)
        wide = {"mem", "ins"}
        self.narrow = np.concatenate([f.indices().ravel() for f in self.state if f.name not in wide])
        self.written: list[tuple[np.ndarray, np.ndarray]] = []

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        views = {f.name: self.state.view(x, f.name) for f in self.state}
        vals: dict[str, Value] = dict(views)
        self.written.clear()
        for layer, ops in zip(self.net.layers, self.plan):
            vals = {op.out: op(vals, self) for op in ops}
            if trace is not None:
                trace.append(materialize(layer.outputs, vals, len(x)))
        for name, view in views.items():
            if vals[name] is not view:
                view[...] = _dense(vals[name])
        if self.guard:
            self._check(x)

    def _check(self, x: np.ndarray) -> None:
        if off_binary(x[:, self.narrow]):
            raise NetworkFault(self.layer_names[-1], "a register or flag left {0,1}")
        for mem, idx in self.written:
            if off_binary(mem[np.arange(len(idx)), idx]):
                raise NetworkFault("write.1", "a memory word left {0,1}")


def materialize(layout: Layout, vals: dict[str, Value], batch: int) -> np.ndarray:
    """One layer's activations as a dense (B, width) array in its output layout."""
    first = next(iter(vals.values()))
    dtype = first.data.dtype if isinstance(first, Rows) else first.dtype
    out = np.zeros((batch, layout.size), dtype)
    for f in layout:
        out[:, f.offset : f.stop] = _dense(vals[f.name]).reshape(batch, -1)
    return out
