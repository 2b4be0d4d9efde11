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
        """Sums duplicate entries and drops zeros. The blocks emit their entries in a few ascending runs, which
        a stable sort (timsort) merges in near-linear time: this is what keeps large builds fast."""
        key = rows.astype(np.int64) * shape[1] + cols
        order = np.argsort(key, kind="stable")
        key, vals = key[order], np.asarray(vals, np.int64)[order]
        if len(key) > 1 and not (fresh := key[1:] != key[:-1]).all():
            starts = np.flatnonzero(np.concatenate([[True], fresh]))
            key, vals = key[starts], np.add.reduceat(vals, starts)
        keep = vals != 0
        if not keep.all():
            key, vals = key[keep], vals[keep]
        r, c = np.divmod(key, shape[1])
        indptr = np.zeros(shape[0] + 1, np.int64)
        np.cumsum(np.bincount(r, minlength=shape[0]), out=indptr[1:])
        return cls(narrow_int(vals), c.astype(np.int32), positions(indptr), shape)

    @classmethod
    def from_parts(cls, parts: list[tuple[np.ndarray, np.ndarray]], ncols: int) -> Csr:
        """Rows given side by side in parts of shape (rows, k): columns (-1 = none) and weights. Needs no
        global sort: the parts go in the order of their columns, which leaves each row's entries ascending in
        the usual case (checked); otherwise the entries are summed the general way (``from_coo``)."""
        if not parts:
            raise ValueError("a matrix needs at least one part")
        parts = sorted(parts, key=lambda part: int(part[0].max(initial=-1)))
        ends = np.array([[v.min(initial=0), v.max(initial=0)] for _, v in parts])
        cols = np.concatenate([c for c, _ in parts], axis=1, dtype=np.int32, casting="same_kind")
        vals = np.concatenate(
            [np.broadcast_to(v, c.shape) for c, v in parts], axis=1, dtype=narrow_int(ends).dtype, casting="same_kind"
        )
        if any((v == 0).any() for _, v in parts):  # a zero weight is no entry
            cols[vals == 0] = -1
        keep = cols >= 0
        indptr = np.zeros(len(cols) + 1, np.int64)
        if keep.all():  # no gaps: the rows as they are
            indptr[1:] = np.arange(1, len(cols) + 1) * cols.shape[1]
            data, indices = vals.ravel(), cols.ravel()
        else:
            np.cumsum(keep.sum(axis=1), out=indptr[1:])
            data, indices = vals[keep], cols[keep]
        starts = np.zeros(len(indices), bool)
        starts[indptr[:-1][indptr[:-1] < indptr[1:]]] = True
        if not ((indices[1:] > indices[:-1]) | starts[1:]).all():  # out of order, or an input named twice
            rows = np.repeat(np.arange(len(cols)), np.diff(indptr))
            return cls.from_coo(rows, indices, data, (len(cols), ncols))
        return cls(data, indices, positions(indptr), (len(cols), ncols))

    @classmethod
    def vstack(cls, mats: list[Csr]) -> Csr:
        """The matrices' rows one after another."""
        starts = np.cumsum([0] + [m.nnz for m in mats])
        indptr = positions(np.concatenate([[0]] + [m.indptr[1:].astype(np.int64) + s for m, s in zip(mats, starts)]))
        data = np.concatenate([m.data for m in mats])
        shape = (sum(m.shape[0] for m in mats), mats[0].shape[1])
        return cls(data, np.concatenate([m.indices for m in mats]), indptr, shape)

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

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
        prod = x[:, self.indices] * (self.data if self.data.dtype == x.dtype else self.data.astype(x.dtype))
        prod = np.concatenate([prod, np.zeros((len(x), 1), x.dtype)], axis=1)
        out = np.add.reduceat(prod, self.indptr[:-1], axis=1)
        out[:, self.indptr[:-1] == self.indptr[1:]] = 0  # reduceat gives an element, not 0, for empty rows
        return out


def narrow_int(values: np.ndarray) -> np.ndarray:
    """The values in the smallest signed integer type that holds them and their negations (int8 for the
    construction's weights and biases)."""
    top = int(np.abs(values.astype(np.int64)).max(initial=0))
    for t in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(t).max:
            return values.astype(t)
    return values.astype(np.int64)


def positions(indptr: np.ndarray) -> np.ndarray:
    """Row starts as int32 when the matrix is small enough (halves their memory), else int64."""
    return indptr.astype(np.int32 if int(indptr[-1]) < 2**31 else np.int64)
