"""A compressed-sparse-row matrix with just what the network needs, in numpy alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Csr:
    data: np.ndarray  # (nnz,) weights
    indices: np.ndarray  # (nnz,) column of each weight
    indptr: np.ndarray  # (rows + 1,) start of each row in data
    shape: tuple[int, int]

    @classmethod
    def from_coo(cls, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> Csr:
        """Sums duplicate entries and drops zeros."""
        key = rows.astype(np.int64) * shape[1] + cols
        key, inverse = np.unique(key, return_inverse=True)
        summed = np.bincount(inverse, weights=vals, minlength=len(key)).astype(np.int64)
        keep = summed != 0
        key, summed = key[keep], summed[keep]
        r, c = np.divmod(key, shape[1])
        indptr = np.zeros(shape[0] + 1, np.int64)
        np.cumsum(np.bincount(r, minlength=shape[0]), out=indptr[1:])
        return cls(summed, c.astype(np.int32), indptr, shape)

    @property
    def nnz(self) -> int:
        return len(self.data)

    def row_ids(self) -> np.ndarray:
        """The row of every stored entry."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def to_dense(self, dtype=np.float32) -> np.ndarray:
        dense = np.zeros(self.shape, dtype)
        dense[self.row_ids(), self.indices] = self.data
        return dense

    def matmul(self, x: np.ndarray, chunk_entries: int = 1 << 24) -> np.ndarray:
        """``x @ W.T`` for a batch ``x`` of shape (B, in): each row of the result is ``W x_b``.
        Works through the batch in chunks so the (B, nnz) products stay bounded."""
        rows = max(1, chunk_entries // max(1, self.nnz))
        if len(x) > rows:
            return np.concatenate([self.matmul(x[i : i + rows]) for i in range(0, len(x), rows)])
        prod = x[:, self.indices] * self.data.astype(x.dtype)
        prod = np.concatenate([prod, np.zeros((len(x), 1), x.dtype)], axis=1)
        out = np.add.reduceat(prod, self.indptr[:-1], axis=1)
        out[:, self.indptr[:-1] == self.indptr[1:]] = 0  # reduceat gives an element, not 0, for empty rows
        return out
