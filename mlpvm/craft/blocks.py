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

from mlpvm.craft.layout import Layout

# A block's weights, unit by unit: parts of shape (units, k) holding input columns (-1 = none) and weights.
# Every unit of a part has the same number of slots, so a block's matrix rows are built without sorting.
Part = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class Term:
    """``coef`` times elements of input field ``src``: ``index`` has shape (*out_shape, k); each unit sums the
    k elements its row names (flat indices into the field; -1 = none)."""

    coef: int
    src: str
    index: np.ndarray

    def part(self, inputs: Layout) -> Part:
        flat = self.index.reshape(-1, self.index.shape[-1])
        cols = np.where(flat >= 0, flat + inputs[self.src].offset, -1)
        return cols, np.broadcast_to(np.int64(self.coef), cols.shape)

    def is_identity(self, inputs: Layout) -> bool:
        """A plain elementwise copy of the whole source field."""
        return (
            self.coef == 1
            and self.index.shape[-1] == 1
            and self.index.size == inputs[self.src].size
            and np.array_equal(self.index.ravel(), np.arange(self.index.size))
        )


@dataclass(frozen=True, eq=False)
class Map:
    out: str
    terms: tuple[Term, ...]
    bias: np.ndarray  # out shape

    def parts(self, inputs: Layout) -> list[Part]:
        return [t.part(inputs) for t in self.terms]

    def biases(self) -> np.ndarray:
        return self.bias.ravel()

    def is_copy(self, inputs: Layout) -> bool:
        return len(self.terms) == 1 and self.terms[0].is_identity(inputs) and not self.bias.any()

    def reads(self) -> set[str]:
        return {t.src for t in self.terms}


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

    def parts(self, inputs: Layout) -> list[Part]:
        """The terms, and the match: weight +1 on an address bit where the row's code has a 1, else -1."""
        cols = np.broadcast_to(inputs[self.addr].offset + self.addr_index, (self.bias.size, len(self.addr_index)))
        vals = np.repeat(2 * self.code_bits() - 1, self.bias.shape[1], axis=0)
        return [t.part(inputs) for t in self.terms] + [(cols, vals)]

    def biases(self) -> np.ndarray:
        """Match(i) = sum over address bits of (a_l if code bit is 1 else 1 - a_l) - L: the weights are +-1
        and the constant is minus the number of ones in the code."""
        return (self.bias - self.code_bits().sum(axis=1)[:, None]).ravel()

    def reads(self) -> set[str]:
        return {t.src for t in self.terms} | {self.addr}


@dataclass(frozen=True, eq=False)
class Reduce:
    out: str
    src: str
    shape: tuple[int, int]  # of the source: (rows, width)

    def parts(self, inputs: Layout) -> list[Part]:
        rows, width = self.shape
        cols = inputs[self.src].offset + np.arange(rows * width).reshape(rows, width).T
        return [(cols, np.broadcast_to(np.int64(1), cols.shape))]

    def biases(self) -> np.ndarray:
        return np.zeros(self.shape[1], np.int64)

    def reads(self) -> set[str]:
        return {self.src}


Block = Map | Select | Reduce


@dataclass(frozen=True, eq=False)
class Layer:
    """One ``x <- ReLU(W x + b)``: a stable name, its stage, and the blocks that produce each output field."""

    name: str
    stage: str
    inputs: Layout
    outputs: Layout
    blocks: tuple[Block, ...]
    passed: tuple[str, ...] = ()  # the fields it passes through unchanged (the sequencer's identity blocks)

    @property
    def computed(self) -> list[str]:
        """The fields the layer computes, in output order: all but those it passes through."""
        return [f.name for f in self.outputs if f.name not in self.passed]

    def ordered(self) -> list[Block]:
        """The blocks in the order of their output fields (each field is produced by exactly one block)."""
        return sorted(self.blocks, key=lambda block: self.outputs[block.out].offset)

    def biases(self) -> np.ndarray:
        return np.concatenate([block.biases() for block in self.ordered()])
