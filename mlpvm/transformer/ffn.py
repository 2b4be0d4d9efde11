"""Feed-forward blocks: ``X + W2 ReLU(W1 X + b1)``, applied to every column alike (the weights are shared by
all columns, as in a transformer), and a builder that writes them unit by unit.

Units that compute the scratchpad's logic are gated: a weight of ``-(sum |w| + |b| + 1)`` on the ``is_mem``
row keeps them at 0 in every memory column, whose scratch rows must stay 0."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The matrix product, single-threaded (numpy's own loops, not BLAS): these matrices are small, and a
    threaded BLAS on a shared machine spends more time waking threads than multiplying."""
    return np.einsum("ij,jk->ik", a, b, optimize=False)


@dataclass
class FFN:
    name: str
    w1: np.ndarray  # hidden x d
    b1: np.ndarray  # hidden
    w2: np.ndarray  # d x hidden

    def __call__(self, x: np.ndarray, lam: float = 0.0) -> np.ndarray:
        """``X + W2 ReLU(W1 X + b1)``, on the rows the block reads and writes only (the same sums, without
        the exact zeros of the other rows)."""
        ins, outs = np.flatnonzero(self.w1.any(axis=0)), np.flatnonzero(self.w2.any(axis=1))
        hidden = np.maximum(mul(self.w1[:, ins], x[ins]) + self.b1[:, None], 0)
        y = x.copy()
        y[outs] += mul(self.w2[outs], hidden)
        return y

    def params(self) -> tuple[int, int]:
        mats = (self.w1, self.b1, self.w2)
        return sum(m.size for m in mats), sum(int(np.count_nonzero(m)) for m in mats)


def most(terms: dict[int, float], bias: float) -> float:
    """The largest value of ``terms + bias`` over inputs in [0, 1]."""
    return sum(max(w, 0) for w in terms.values()) + bias


class Builder:
    """Collects hidden units (``unit``) and their contributions to output rows (``out``)."""

    def __init__(self, name: str, d: int, gate_row: int):
        self.name, self.d, self.gate_row = name, d, gate_row
        self.units: list[tuple[dict[int, float], float]] = []
        self.outs: list[tuple[int, int, float]] = []

    def unit(self, terms: dict[int, float], bias: float = 0.0, scratch: bool = True) -> int:
        """A hidden unit ReLU(sum w x + bias); ``scratch``: gated off in memory columns."""
        terms = dict(terms)
        if scratch:
            big = sum(abs(w) for w in terms.values()) + abs(bias) + 1
            terms[self.gate_row] = terms.get(self.gate_row, 0) - big
        self.units.append((terms, bias))
        return len(self.units) - 1

    def out(self, row: int, unit: int, weight: float = 1.0) -> None:
        self.outs.append((row, unit, weight))

    def set(self, row: int, terms: dict[int, float], bias: float = 0.0, scratch: bool = True) -> None:
        """Adds ReLU(terms + bias) to ``row`` (a row that is 0 before: the value is written)."""
        self.out(row, self.unit(terms, bias, scratch))

    def clamp(self, row: int, terms: dict[int, float], bias: float, scratch: bool = True) -> None:
        """Adds min(1, max(0, y)) for y = terms + bias: a step when y is an integer, and the rounding of a
        softmax read when y = 4 r - 1.5 (0 for r <= 3/8, 1 for r >= 5/8, exactly in floating point). A unit
        that no input in [0, 1] can switch on is left out (it would be dead weight no fault could show)."""
        for shift, weight in ((0, 1), (1, -1)):
            if most(terms, bias) > shift:
                self.out(row, self.unit(terms, bias - shift, scratch), weight)

    def parity(self, row: int, terms: dict[int, float], bias: float = 0.0) -> None:
        """Adds s mod 2 for s = terms + bias in {0, 1, 2, 3}: ReLU(s) - 2 ReLU(s - 1) + 2 ReLU(s - 2), each
        unit only where s can exceed its shift."""
        for shift, weight in ((0, 1), (1, -2), (2, 2)):
            if most(terms, bias) > shift:
                self.out(row, self.unit(terms, bias - shift), weight)

    def build(self, dtype=np.float64) -> FFN:
        h = len(self.units)
        w1, b1, w2 = np.zeros((h, self.d), dtype), np.zeros(h, dtype), np.zeros((self.d, h), dtype)
        for i, (terms, bias) in enumerate(self.units):
            for row, w in terms.items():
                w1[i, row] += w
            b1[i] = bias
        for row, i, w in self.outs:
            w2[row, i] += w
        return FFN(self.name, w1, b1, w2)
