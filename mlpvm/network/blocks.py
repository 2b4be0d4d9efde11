"""The building blocks of a layer. Every unit of every layer computes ``ReLU(sum_j w_j x_j + b)``; a block
is a group of units that share a structure, so that the stored matrices and the fast engines are both
derived from it.

- ``Map``: each unit is a weighted sum of a few inputs picked by index arrays (copies, gates, bit logic).
- ``Select``: units over memory rows ``i`` that add an address match to a ``Map``: the match is 0 when an
  L-bit address register equals ``i - shift`` and at most -1 otherwise (minus the Hamming distance), so the
  row at the address is the only one that can fire. Its weights are +-1: a rank-L block.
- ``Reduce``: ``out[t] = ReLU(sum_i src[i, t])``, the read-out of a selected row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpvm.layout import Layout

Entries = tuple[np.ndarray, np.ndarray, np.ndarray]  # rows (local to the block), columns (global), weights


@dataclass(frozen=True, eq=False)
class Term:
    """``coef`` times elements of input field ``src``: ``index`` has shape (*out_shape, k); each unit sums the
    k elements its row names (flat indices into the field; -1 = none)."""

    coef: int
    src: str
    index: np.ndarray

    def entries(self, inputs: Layout) -> Entries:
        k = self.index.shape[-1]
        flat = self.index.reshape(-1, k)
        rows = np.repeat(np.arange(len(flat)), k)
        cols = flat.ravel()
        keep = cols >= 0
        return rows[keep], inputs[self.src].offset + cols[keep], np.full(keep.sum(), self.coef)

    def is_identity(self, inputs: Layout) -> bool:
        """A plain elementwise copy of the whole source field."""
        return (
            self.coef == 1
            and self.index.shape[-1] == 1
            and self.index.size == inputs[self.src].size
            and np.array_equal(self.index.ravel(), np.arange(self.index.size))
        )


def _terms_entries(terms: tuple[Term, ...], inputs: Layout) -> Entries:
    parts = [t.entries(inputs) for t in terms] or [_empty()]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class Map:
    out: str
    terms: tuple[Term, ...]
    bias: np.ndarray  # out shape

    def entries(self, inputs: Layout) -> Entries:
        return _terms_entries(self.terms, inputs)

    def biases(self) -> np.ndarray:
        return self.bias.ravel()

    def is_copy(self, inputs: Layout) -> bool:
        return len(self.terms) == 1 and self.terms[0].is_identity(inputs) and not self.bias.any()


@dataclass(frozen=True, eq=False)
class Select:
    """Terms over rows ``i`` of shape (rows, width), plus the match of address ``addr`` with ``i - shift``."""

    out: str
    terms: tuple[Term, ...]
    bias: np.ndarray  # (rows, width), without the match's own constant
    addr: str
    addr_index: np.ndarray  # (L,) flat indices into ``addr``: its address bits, least significant first
    shift: int

    @property
    def rows(self) -> int:
        return self.bias.shape[0]

    def codes(self) -> np.ndarray:
        """The address each row answers to: row i fires when the address equals (i - shift) mod rows."""
        return (np.arange(self.rows) - self.shift) % self.rows

    def code_bits(self) -> np.ndarray:
        """(rows, L) bits of each row's code, least significant first."""
        return (self.codes()[:, None] >> np.arange(len(self.addr_index))) & 1

    def entries(self, inputs: Layout) -> Entries:
        rows, cols, vals = _terms_entries(self.terms, inputs)
        bits = self.code_bits()
        n_addr = len(self.addr_index)
        arows = np.repeat(np.arange(self.bias.size), n_addr)
        acols = np.tile(inputs[self.addr].offset + self.addr_index, self.bias.size)
        avals = np.repeat(2 * bits - 1, self.bias.shape[1], axis=0).ravel()
        return np.concatenate([rows, arows]), np.concatenate([cols, acols]), np.concatenate([vals, avals])

    def biases(self) -> np.ndarray:
        """Match(i) = sum over address bits of (a_l if code bit is 1 else 1 - a_l) - L: the weights are +-1
        and the constant is minus the number of ones in the code."""
        return (self.bias - self.code_bits().sum(axis=1)[:, None]).ravel()


@dataclass(frozen=True, eq=False)
class Reduce:
    out: str
    src: str
    shape: tuple[int, int]  # of the source: (rows, width)

    def entries(self, inputs: Layout) -> Entries:
        rows, width = self.shape
        unit = np.tile(np.arange(width), rows)
        return unit, inputs[self.src].offset + np.arange(rows * width), np.ones(rows * width, np.int64)

    def biases(self) -> np.ndarray:
        return np.zeros(self.shape[1], np.int64)


Block = Map | Select | Reduce


def _empty() -> Entries:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)


@dataclass(frozen=True, eq=False)
class Layer:
    """One ``x <- ReLU(W x + b)``: a stable name, its stage, and the blocks that produce each output field."""

    name: str
    stage: str
    inputs: Layout
    outputs: Layout
    blocks: tuple[Block, ...]

    def coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All weights of the layer as (rows, cols, weights), and the bias vector."""
        rows, cols, vals = [], [], []
        bias = np.zeros(self.outputs.size, np.int64)
        for block in self.blocks:
            out = self.outputs[block.out]
            r, c, v = block.entries(self.inputs)
            rows.append(r + out.offset)
            cols.append(c)
            vals.append(v)
            bias[out.offset : out.stop] = block.biases()
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), bias
