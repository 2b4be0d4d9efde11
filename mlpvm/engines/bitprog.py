"""The stored matrices lowered to a program of threshold operations on bits: what the bits engine runs.

Read from the weights alone (a layer's truth, not its purpose). On a {0,1} state a unit
``ReLU(sum_i w_i x_i + b)`` with small integer weights is a count: writing ``w x = |w| (1 - x) - |w|``
for a negative weight, it is ``c + (number of true literals)`` over a multiset of literals (inputs or their
negations, each repeated ``|w|`` times), so its value is ``[count >= t]`` with ``t = 1 - c``, and it leaves
{0,1} exactly when ``count >= t + 1`` (a fault). Each value is a *literal*: a slot of a bit vector and
whether it is negated (``2 * slot + negated``); slot 0 is the constant 0.

Lowering, unit by unit, with no knowledge of what the network does:

- a unit equal to one literal (a copy, ``ReLU(x)``, or a negation, ``ReLU(1 - x)``) or to a constant costs
  nothing: later units read that literal;
- a unit that is the AND of its literals (``t`` = their number) becomes a chain of two-input ANDs, its most
  shared literals first, and every chain prefix is computed once (units that test the same bits share it);
- any other unit is one count: ``K`` bit-sliced "at least j" flags updated per literal (``c_j |= c_{j-1} &
  x``), or the same over the negated literals when that needs fewer flags (``count >= t`` is ``not
  count(~L) >= n - t + 1``); it yields its value and, where the weights allow a sum above 1, its fault flag;
- identical operations are computed once.

Each op writes one new slot (static single assignment), so every layer's activations are literals that can
still be read after the pass (a trace).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from mlpvm.network.weights import Weights

ZERO, ONE = 0, 1  # the constant literals: slot 0, plain or negated
MAX_WEIGHT = 64  # |w| and |b| above this are not "small": the count would repeat a literal that often
MAX_LITERALS = 4096  # literals of one unit (sum of |w|)


class NotBits(ValueError):
    """The weights are not small integers: the bits engine cannot evaluate them (the sparse engine can)."""


@dataclass
class BitProgram:
    """Flat arrays for the kernel. Op ``i`` writes slot ``op_out[i]`` from literals
    ``lits[lit_ptr[i]:lit_ptr[i+1]]`` with ``op_k`` "at least" flags: value ``c[op_olvl] ^ op_oinv``, fault
    ``c[op_flvl] ^ op_finv`` unless ``op_flvl < 0`` (flag 0 is all ones)."""

    state_size: int
    slots: int  # 1 + state_size + one per op
    op_out: np.ndarray
    lit_ptr: np.ndarray
    lits: np.ndarray
    op_k: np.ndarray
    op_olvl: np.ndarray
    op_oinv: np.ndarray
    op_flvl: np.ndarray
    op_finv: np.ndarray
    layer_ops: np.ndarray  # (layers + 1,) first op of each layer
    outputs: list[np.ndarray]  # each layer's activations as literals
    store_dst: np.ndarray  # state slots a pass changes ...
    store_lit: np.ndarray  # ... and the literal each gets
    staged: bool  # a stored literal reads a state slot: stage the stores so none reads a slot already written
    nnz: int  # nonzero weights of the stored matrices
    units: int  # units of the stored matrices

    @property
    def ops(self) -> int:
        return len(self.op_out)

    @property
    def literal_reads(self) -> int:
        return len(self.lits)

    @property
    def max_k(self) -> int:
        return int(self.op_k.max(initial=1))


class _Builder:
    def __init__(self, state_size: int):
        self.next_slot = 1 + state_size
        self.out: list[int] = []
        self.lits: list[list[int]] = []
        self.params: list[tuple[int, int, int, int, int]] = []  # k, olvl, oinv, flvl, finv
        self.memo: dict[tuple, int] = {}  # an op's inputs -> its value literal
        self.pairs: dict[tuple[int, int], int] = {}  # the two literals of an AND -> its value literal

    def op(self, lits: list[int], k: int, olvl: int, oinv: int, flvl: int, finv: int) -> int:
        key = (tuple(lits), k, olvl, oinv, flvl, finv)
        lit = self.memo.get(key)
        if lit is None:
            lit = self.memo[key] = self._new(lits, (k, olvl, oinv, flvl, finv))
        return lit

    def and2(self, a: int, b: int) -> int:
        """``a & b``: not (~a | ~b), one flag over the negated literals (memoised on the pair: most ops)."""
        key = (a, b) if a < b else (b, a)
        lit = self.pairs.get(key)
        if lit is None:
            lit = self.pairs[key] = self._new([key[0] ^ 1, key[1] ^ 1], (1, 1, 1, -1, 0))
        return lit

    def _new(self, lits: list[int], params: tuple[int, int, int, int, int]) -> int:
        slot = self.next_slot
        self.next_slot += 1
        self.out.append(slot)
        self.lits.append(lits)
        self.params.append(params)
        return 2 * slot


def _at_least(n: int, j: int, negated: bool) -> tuple[int, int]:
    """``count(L) >= j`` as (flag, inverted) over L (``negated`` False) or over ~L (``count(~L) >= n-j+1``
    negated); flag 0 is the constant 1."""
    if not negated:
        return (0, 0) if j <= 0 else (0, 1) if j > n else (j, 0)
    k = n - j + 1
    return (0, 1) if k <= 0 else (0, 0) if k > n else (k, 1)


def _unit(lits_in: np.ndarray, w: np.ndarray, b: int, where: str) -> tuple[list[int], int]:
    """A unit's literal multiset and threshold ``t``: its value is ``[count >= t]``, its fault ``count > t``."""
    if np.abs(w).max(initial=0) > MAX_WEIGHT or abs(b) > MAX_WEIGHT * 64:
        raise NotBits(f"{where}: a weight or bias is too large for the bits engine (more than {MAX_WEIGHT})")
    if int(np.abs(w).sum()) > MAX_LITERALS:
        raise NotBits(f"{where}: weights sum to more than {MAX_LITERALS} for the bits engine")
    c = int(b)
    counts: Counter[int] = Counter()
    for lit, wi in zip(lits_in.tolist(), w.tolist()):
        if wi < 0:
            lit, wi, c = lit ^ 1, -wi, c + wi  # w x = |w| (1 - x) - |w|
        if lit == ONE:
            c += wi
        elif lit != ZERO:
            counts[lit] += wi
    for lit in [lit for lit in counts if lit & 1 == 0 and lit ^ 1 in counts]:  # x + ~x = 1
        pair = min(counts[lit], counts[lit ^ 1])
        counts[lit] -= pair
        counts[lit ^ 1] -= pair
        c += pair
    lits = sorted(lit for lit, k in counts.items() for _ in range(k))
    return lits, 1 - c


def _integral(values: np.ndarray, where: str) -> np.ndarray:
    if not np.issubdtype(values.dtype, np.integer) and not np.array_equal(values, np.round(values)):
        raise NotBits(f"{where}: a weight or bias is not an integer; the bits engine needs integers")
    return values.astype(np.int64)


def check(weights: Weights) -> None:
    """Refuses (``NotBits``, one line naming the layer and unit) weights that are not small integers, in numpy
    and before any lowering: what ``lower_bits`` would refuse, at the cost of reading the weights once."""
    for layer in weights.layers:
        W = layer.W
        data = _integral(np.asarray(W.data), f"layer {layer.name}")
        bias = _integral(np.asarray(layer.b), f"layer {layer.name}")
        rows = W.row_ids()
        sums = np.bincount(rows, np.abs(data), W.shape[0]) if len(data) else np.zeros(W.shape[0])
        big = (np.bincount(rows, np.abs(data) > MAX_WEIGHT, W.shape[0]) > 0) | (np.abs(bias) > MAX_WEIGHT * 64)
        if big.any():
            where = f"layer {layer.name}, unit {int(np.flatnonzero(big)[0])}"
            raise NotBits(f"{where}: a weight or bias is too large for the bits engine (more than {MAX_WEIGHT})")
        if (sums > MAX_LITERALS).any():
            where = f"layer {layer.name}, unit {int(np.flatnonzero(sums > MAX_LITERALS)[0])}"
            raise NotBits(f"{where}: weights sum to more than {MAX_LITERALS} for the bits engine")


def lower_bits(weights: Weights) -> BitProgram:
    """The program for ``weights``; ``NotBits`` (one line) where the weights are not small integers."""
    size = weights.state.size
    b = _Builder(size)
    prev = 2 * (1 + np.arange(size, dtype=np.int64))  # the state's literals
    layer_ops, outputs = [0], []
    for layer in weights.layers:
        prev = _lower_layer(b, layer, prev)
        outputs.append(prev)
        layer_ops.append(len(b.out))
    final = outputs[-1]
    state_lits = 2 * (1 + np.arange(size, dtype=np.int64))
    changed = final != state_lits
    store_dst, store_lit = 1 + np.flatnonzero(changed), final[changed]
    par = np.array(b.params, np.int64).reshape(-1, 5)
    reads = store_lit >> 1
    return BitProgram(
        state_size=size,
        slots=b.next_slot,
        op_out=np.array(b.out, np.int64),
        lit_ptr=np.cumsum([0] + [len(x) for x in b.lits], dtype=np.int64),
        lits=np.array([lit for x in b.lits for lit in x], np.int64),
        op_k=par[:, 0].copy(),
        op_olvl=par[:, 1].copy(),
        op_oinv=par[:, 2].copy(),
        op_flvl=par[:, 3].copy(),
        op_finv=par[:, 4].copy(),
        layer_ops=np.array(layer_ops, np.int64),
        outputs=outputs,
        store_dst=store_dst.astype(np.int64),
        store_lit=store_lit.astype(np.int64),
        staged=bool(((reads >= 1) & (reads <= size)).any()),
        nnz=weights.nnz,
        units=sum(layer.W.shape[0] for layer in weights.layers),
    )


def _lower_layer(b: _Builder, layer, prev: np.ndarray) -> np.ndarray:
    W = layer.W
    if W.shape[1] != len(prev):
        raise NotBits(f"layer {layer.name}: {W.shape[1]} inputs, but the layer before has {len(prev)} outputs")
    data = _integral(np.asarray(W.data), f"layer {layer.name}")
    bias = _integral(np.asarray(layer.b), f"layer {layer.name}")
    out = np.zeros(W.shape[0], np.int64)
    lengths = np.diff(W.indptr.astype(np.int64))
    starts = W.indptr[:-1].astype(np.int64)
    # The common case at numpy speed: one input, a copy (w 1, b 0) or a negation (w -1, b 1).
    single = lengths == 1
    w1 = np.where(single, data[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else 0, 0)
    copy = single & (w1 == 1) & (bias == 0)
    neg = single & (w1 == -1) & (bias == 1)
    src = prev[W.indices[starts[copy | neg]].astype(np.int64)] if (copy | neg).any() else np.zeros(0, np.int64)
    out[copy | neg] = src ^ neg[copy | neg]
    rest = np.flatnonzero(~(copy | neg))
    units = _units(layer.name, W, data, bias, prev, rest)
    # How many AND units use each literal: chains take the most shared first, so prefixes are shared.
    freq: Counter[int] = Counter()
    for lits, t in units.values():
        if len(lits) >= 2 and t == len(lits):
            freq.update(set(lits))
    for r, (lits, t) in units.items():
        out[r] = _emit(b, lits, t, freq)
    return out


def _units(name: str, W, data: np.ndarray, bias: np.ndarray, prev: np.ndarray, rows: np.ndarray) -> dict:
    """Each row's literal multiset and threshold (``_unit``), in numpy for the common rows (weights +-1, no
    constant input, no input twice) and row by row for the others."""
    starts, lengths = W.indptr[rows].astype(np.int64), np.diff(W.indptr.astype(np.int64))[rows]
    owner = np.repeat(np.arange(len(rows)), lengths)
    idx = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    w, lit = data[idx], prev[W.indices[idx].astype(np.int64)]
    negative = w < 0
    lit = lit ^ negative
    odd = (np.abs(w) != 1) | (lit >> 1 == 0)
    order = np.lexsort((lit >> 1, owner))
    twice = np.zeros(len(lit), bool)
    twice[order[1:]] = (owner[order[1:]] == owner[order[:-1]]) & (lit[order[1:]] >> 1 == lit[order[:-1]] >> 1)
    slow = np.bincount(owner, odd | twice, len(rows)) > 0
    slow |= (np.abs(bias[rows]) > MAX_WEIGHT * 64) | (lengths > MAX_LITERALS)
    t = 1 - (bias[rows] - np.bincount(owner, negative, len(rows)).astype(np.int64))
    order = np.lexsort((lit, owner))
    per_row = np.split(lit[order], np.cumsum(lengths)[:-1]) if len(rows) else []
    units = {}
    for i, r in enumerate(rows.tolist()):
        if slow[i]:
            lo, hi = starts[i], starts[i] + lengths[i]
            cols = W.indices[lo:hi].astype(np.int64)
            units[r] = _unit(prev[cols], data[lo:hi], int(bias[r]), f"layer {name}, unit {r}")
        else:
            units[r] = (per_row[i].tolist(), int(t[i]))
    return units


def _emit(b: _Builder, lits: list[int], t: int, freq: Counter) -> int:
    n = len(lits)
    if n == 0 or t > n or (t <= 0 and t + 1 > n):  # a constant without a fault, or with one on every state
        if t + 1 <= 0:
            return b.op([], 0, 0, 0, 0, 0)  # value 1, fault always (flag 0 is all ones)
        return ONE if t <= 0 else ZERO
    if n == 1 and t == 1:
        return lits[0]
    if t == n:  # an AND: a chain, its most shared literals first
        chain = sorted(lits, key=lambda lit: (-freq[lit], lit))
        acc = chain[0]
        for lit in chain[1:]:
            acc = b.and2(acc, lit)
        return acc
    plain = max(min(t + 1, n), 1)  # flags needed over L: t and t + 1 (where the count can reach it)
    negated = max(min(n - t + 1, n), 1)  # over ~L: n - t + 1 and n - t
    use_neg = negated < plain
    olvl, oinv = _at_least(n, t, use_neg)
    flvl, finv = _at_least(n, t + 1, use_neg)
    if (flvl, finv) == (0, 1):  # the count cannot exceed t: no fault
        flvl, finv = -1, 0
    k = max(olvl, flvl, 1)
    inputs = [lit ^ 1 for lit in lits] if use_neg else list(lits)
    return b.op(inputs, k, olvl, oinv, flvl, finv)
