"""The CSR matrices: built from a block's per-unit parts without a global sort, they equal the plain
summed-coordinate construction, whatever order, duplicates or cancellations the parts hold."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlpvm.network.csr import Csr, narrow_int

NCOLS = 12


def dense_of(parts, rows: int) -> np.ndarray:
    """What the parts mean, summed entry by entry."""
    out = np.zeros((rows, NCOLS), np.int64)
    for cols, vals in parts:
        vals = np.broadcast_to(vals, cols.shape)
        for r, k in zip(*np.nonzero(cols >= 0)):
            out[r, cols[r, k]] += vals[r, k]
    return out


@st.composite
def parts(draw):
    rows = draw(st.integers(1, 6))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(1, 3))
        cols = draw(arrays(np.int64, (rows, k), elements=st.integers(-1, NCOLS - 1)))
        vals = draw(arrays(np.int64, (rows, k), elements=st.integers(-3, 3)))
        out.append((cols, vals))
    return rows, out


@given(parts())
def test_from_parts_equals_the_summed_entries(case):
    rows, ps = case
    W = Csr.from_parts(ps, NCOLS)
    assert np.array_equal(W.to_dense(np.int64), dense_of(ps, rows))
    assert (W.data != 0).all()  # cancelled entries are dropped
    for r in range(rows):  # each row's columns ascending and distinct
        assert (np.diff(W.indices[W.indptr[r] : W.indptr[r + 1]]) > 0).all()


@given(parts(), parts())
def test_vstack_and_from_coo(a, b):
    top, bottom = Csr.from_parts(a[1], NCOLS), Csr.from_parts(b[1], NCOLS)
    both = Csr.vstack([top, bottom])
    assert np.array_equal(both.to_dense(np.int64), np.vstack([top.to_dense(np.int64), bottom.to_dense(np.int64)]))
    rows, cols = np.nonzero(both.to_dense(np.int64))
    again = Csr.from_coo(rows[::-1], cols[::-1], both.to_dense(np.int64)[rows, cols][::-1], both.shape)
    assert np.array_equal(again.to_dense(np.int64), both.to_dense(np.int64))


def test_narrow_int_keeps_every_value():
    assert narrow_int(np.array([-1, 1])).dtype == np.int8
    assert narrow_int(np.array([-128])).dtype == np.int16  # so that abs() never overflows
    assert narrow_int(np.array([300])).dtype == np.int16
    assert narrow_int(np.array([-(2**40)])).dtype == np.int64
