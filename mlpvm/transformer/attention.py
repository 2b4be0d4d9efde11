"""Attention: heads that read a column by matching codes. Scores are ``lambda * <q_i, k_j>``; each query
column takes the softmax-weighted average of the value vectors of all columns (real softmax, in the network's
float type, computed stably as ``exp(s - max s)``), and the layer adds the heads' outputs to its input (the
residual connection). A head reads column j into rows of column i when the code in column i's query rows
equals column j's position; where codes differ by one bit the score is 2 lambda lower, so the error of one
read is about ``(columns) * exp(-2 lambda)``, which a later feed-forward block rounds away while it is small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpvm.transformer.ffn import mul


@dataclass
class Head:
    """One head: query and key maps (k x d), and a value map (d x d) that writes the attended rows."""

    name: str
    wq: np.ndarray
    wk: np.ndarray
    wv: np.ndarray

    def weights(self, x: np.ndarray, lam: float) -> np.ndarray:
        """The attention matrix P (n x n): P[i, j] is how much column i attends to column j. ``lam`` infinite:
        the hard limit, uniform over each row's highest scores (what softmax tends to as lambda grows)."""
        if np.isinf(lam):
            scores = mul(mul(self.wq, x).T, mul(self.wk, x))
            top = (scores == scores.max(axis=1, keepdims=True)).astype(x.dtype)
            return top / top.sum(axis=1, keepdims=True)
        scores = lam * mul(mul(self.wq, x).T, mul(self.wk, x))
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def attended(self, x: np.ndarray, lam: float, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What each column attended to: the ``k`` columns of most weight, most first (columns x k), their
        softmax weights (columns x k), and which columns query at all (a nonzero query; the others attend
        uniformly, which nothing reads)."""
        p = self.weights(x, lam)
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]
        return top, np.take_along_axis(p, top, axis=1), mul(self.wq, x).any(axis=0)

    def __call__(self, x: np.ndarray, lam: float) -> np.ndarray:
        """The head's output (d x n). Computed on the value map's nonzero rows and columns only: the same
        sums, without the exact zeros a dense product would add."""
        rows, cols = np.flatnonzero(self.wv.any(axis=1)), np.flatnonzero(self.wv.any(axis=0))
        out = np.zeros_like(x)
        out[rows] = mul(mul(self.wv[np.ix_(rows, cols)], x[cols]), self.weights(x, lam).T)
        return out


@dataclass
class Attention:
    """A multi-head attention layer with its residual connection: ``X + sum_h head_h(X)``."""

    name: str
    heads: list[Head] = field(default_factory=list)

    def __call__(self, x: np.ndarray, lam: float) -> np.ndarray:
        return x + sum(head(x, lam) for head in self.heads)

    def params(self) -> tuple[int, int]:
        """(parameters, nonzero weights)."""
        mats = [m for h in self.heads for m in (h.wq, h.wk, h.wv)]
        return sum(m.size for m in mats), sum(int(np.count_nonzero(m)) for m in mats)


def head(name: str, d: int, query: dict[int, dict[int, float]], key: dict[int, dict[int, float]],
         value: dict[int, int], dtype=np.float64) -> Head:  # fmt: skip
    """A head from sparse maps: ``query[k]`` and ``key[k]`` give component k's weights on rows, ``value``
    maps a destination row to the source row it copies from the attended column."""
    k = max(len(query), len(key))
    wq, wk, wv = np.zeros((k, d), dtype), np.zeros((k, d), dtype), np.zeros((d, d), dtype)
    for i, terms in query.items():
        for row, w in terms.items():
            wq[i, row] = w
    for i, terms in key.items():
        for row, w in terms.items():
            wk[i, row] = w
    for dst, src in value.items():
        wv[dst, src] = 1
    return Head(name, wq, wk, wv)
