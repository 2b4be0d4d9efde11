"""The bits engine: the stored matrices lowered to threshold operations on bits (``mlpvm.engines.bitprog``)
and run on batches bit-sliced 64 machines to a 64-bit word (``mlpvm.engines.bitkernel``, numba; a numpy
evaluator without it). Runs any weight file whose weights are small integers, and refuses others in one line.

Its values are bits, so it cannot hold an activation off {0,1}. With the guard on, such an activation is a
network fault, found exactly (each unit that could exceed 1 computes whether it did) and named by layer and
machine. Where it cannot answer (a state off {0,1}, or the guard off and an activation off {0,1}) the call
runs on the stored matrices as they are (the sparse engine), so that it always computes what they compute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mlpvm.engines.base import Engine, off_binary
from mlpvm.engines.bitprog import BitProgram, check, lower_bits
from mlpvm.errors import NetworkFault
from mlpvm.network.weights import Weights
from mlpvm.protocol import EVENTS, EXECUTED

TILE_WORDS = 8  # 512 machines evaluated together (measured: 1 to 16 words, 8 ahead on a batch of 4,096)
ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
SAY_LOWERING = 1_000_000  # stored weights above which lowering takes seconds (M = 1024, 1.8 million: 7 s loaded)


def _kernel():
    """The numba kernel, imported on first use (importing numba takes a noticeable fraction of a second)."""
    from mlpvm.engines import bitkernel

    return bitkernel


class BitArrays(NamedTuple):
    """What the kernel reads (``BitProgram``'s arrays)."""

    op_out: np.ndarray
    lit_ptr: np.ndarray
    lits: np.ndarray
    op_k: np.ndarray
    op_olvl: np.ndarray
    op_oinv: np.ndarray
    op_flvl: np.ndarray
    op_finv: np.ndarray
    layer_ops: np.ndarray
    store_dst: np.ndarray
    store_lit: np.ndarray
    staged: bool


def pack(x: np.ndarray, words: int) -> np.ndarray:
    """States (B, S) on {0,1} as (S, words) uint64: machine b is bit b % 64 of word b // 64."""
    bits = np.zeros((x.shape[1], 64 * words), np.uint8)
    bits[:, : len(x)] = x.T != 0
    return np.packbits(bits, axis=1, bitorder="little").view("<u8")


def unpack(words: np.ndarray, batch: int) -> np.ndarray:
    """(rows, words) uint64 as (batch, rows) of 0/1 bytes."""
    bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=1, bitorder="little")
    return bits[:, :batch].T


def valid_mask(batch: int, words: int) -> np.ndarray:
    """Words with a bit set for each real machine (the rest pad the last word)."""
    return pack(np.ones((batch, 1), np.uint8), words)[0]


class Bits(Engine):
    name = "bits"

    def __init__(self, weights: Weights, dtype=np.float32):
        super().__init__(weights.config, [(layer.name, layer.outputs) for layer in weights.layers])
        self.dtype = np.dtype(dtype)
        self.weights = weights
        check(weights)  # refused now, in one line; lowered on first use (seconds at large M), said on stderr
        self._program: BitProgram | None = None
        self.announce: Callable[[str], None] | None = None  # told before a long lowering
        self.events = np.array([self.state[n].offset for n in EVENTS if n in self.state], np.int64)
        self.executed = int(self.state[EXECUTED].offset)
        self.use_numba = _kernel().HAVE_NUMBA
        self._plain: Engine | None = None
        self._numpy: _NumpyOps | None = None

    @property
    def program(self) -> BitProgram:
        if self._program is None:
            if self.announce is not None and self.weights.nnz > SAY_LOWERING:
                self.announce(f"lowering {self.weights.nnz:,} weights to bit operations; once per run")
            self._program = lower_bits(self.weights)
            self.arrays = BitArrays(*(getattr(self._program, f) for f in BitArrays._fields))
        return self._program

    def plain(self) -> Engine:
        """The sparse engine on the same weights, with this engine's guard: for what bits cannot hold."""
        if self._plain is None:
            from mlpvm.engines.sparse import Sparse

            self._plain = Sparse(self.weights, self.dtype)
        self._plain.guard = self.guard
        return self._plain

    # -- one pass (a trace on request), tile by tile --------------------------------------------------

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        if off_binary(x):
            return self.plain()._run_pass(x, trace)
        batch, p = len(x), self.program
        words = -(-batch // 64)
        width = min(words, TILE_WORDS)
        packed = pack(x, -(-words // width) * width)
        valid = valid_mask(batch, packed.shape[1])
        X, C, fault, stage = self._scratch(width)
        n = len(self.layer_names)
        layers = [np.zeros((batch, len(lits)), np.uint8) for lits in p.outputs] if trace is not None else None
        for a in range(0, packed.shape[1], width):
            X[1 : p.state_size + 1] = packed[:, a : a + width]
            for lo, hi in [(k, k + 1) for k in range(n)] if layers is not None else [(0, n)]:
                # A trace reads each layer's literals, some of them state slots: commit after the last read.
                bad = self._tile_pass(X, lo, hi, C, fault, valid[a : a + width], stage, layers is None)
                if bad >= 0:
                    if not self.guard:
                        return self.plain()._run_pass(x, trace)
                    self._raise(bad >> 32, (bad & 0xFFFFFFFF) + 64 * a)
                if layers is not None:
                    got = unpack(_literals(X, p.outputs[lo]), 64 * width)[: batch - 64 * a]
                    layers[lo][64 * a : 64 * a + len(got)] = got
            if layers is not None:
                self._tile_pass(X, n, n, C, fault, valid[a : a + width], stage, True)
            packed[:, a : a + width] = X[1 : p.state_size + 1]
        if layers is not None:
            trace.extend(h.astype(self.dtype) for h in layers)
        x[...] = unpack(packed, batch)

    def _tile_pass(self, X, lo, hi, C, fault, valid, stage, commit: bool) -> int:
        """Layers ``lo .. hi-1`` of a tile, committing the new state after the last one if ``commit``."""
        if self.use_numba:
            k = _kernel()
            return int(k.tile_pass(X, np.int64(lo), np.int64(hi), self.arrays, C, fault, valid, stage, commit))
        return self._numpy_ops().tile_pass(X, lo, hi, fault, valid, commit)

    # -- many passes ----------------------------------------------------------------------------------

    def _run_until_event(
        self, x: np.ndarray, max_passes: int, steps: np.ndarray, record: np.ndarray | None = None
    ) -> int:
        if record is not None and len(x) != 1:
            raise ValueError("records are kept for a batch of one machine")
        batch = len(x)
        words = -(-batch // 64)
        width = min(words, TILE_WORDS)
        tiles = -(-words // width)
        P = self._pack(x, tiles, width)
        if P is None:  # a state off {0,1}: the stored matrices as they are
            return self.plain()._run_until_event(x, max_passes, steps, record)
        before = P.copy()
        valid = valid_mask(batch, tiles * width).reshape(tiles, width)
        counted = np.zeros(64 * tiles * width, np.int64)
        rec = np.zeros((max_passes if record is not None else 0, len(self.record_columns)), np.uint8)
        found = np.full(2, -1, np.int64)
        if self.use_numba:
            X, C, fault, stage = self._scratch(width)
            Q = np.empty_like(P) if tiles > 1 else P[:0]
            done = _kernel().run_until_event(
                P, Q, X, C, fault, stage, valid, max_passes, counted, self.events, self.executed, rec,
                self.record_columns, self.arrays, found,
            )  # fmt: skip
        else:
            done = self._numpy_ops().run_until_event(P, valid, max_passes, counted, self, rec, found)
        self._unpack(P, before, x)
        steps += counted[:batch]
        if record is not None:
            record[:done] = rec[:done]
        if found[0] >= 0:
            if self.guard:
                self._raise(int(found[0]), int(found[1]))
            rest = None if record is None else record[done:]
            return done + self.plain()._run_until_event(x, max_passes - done, steps, rest)
        return int(done)

    def _pack(self, x: np.ndarray, tiles: int, width: int) -> np.ndarray | None:
        """The states as tiles (tiles, state_size, width) of packed words; None if one is off {0,1}."""
        if self.use_numba and x.flags.c_contiguous:
            P = np.empty((tiles, self.program.state_size, width), np.uint64)
            return P if _kernel().pack_tiles(x, P) else None
        if off_binary(x):
            return None
        packed = pack(x, tiles * width)
        return np.ascontiguousarray(packed.reshape(len(packed), tiles, width).transpose(1, 0, 2))

    def _unpack(self, P: np.ndarray, before: np.ndarray, x: np.ndarray) -> None:
        """The tiles back into the float states ``x``: only the words that changed, with numba."""
        if self.use_numba and x.flags.c_contiguous:
            _kernel().unpack_changed(P, before, x)
        else:
            x[...] = unpack(P.transpose(1, 0, 2).reshape(P.shape[1], -1), len(x))

    def _raise(self, layer: int, machine: int) -> None:
        raise NetworkFault(self.layer_names[layer], f"an activation of machine {machine} left {{0,1}}")

    def _scratch(self, width: int):
        p = self.program
        return (
            np.zeros((p.slots, width), np.uint64),
            np.full((p.max_k + 1, width), ONES, np.uint64),  # C[0] stays all ones
            np.zeros(width, np.uint64),
            np.zeros((len(p.store_dst), width), np.uint64),
        )

    def _numpy_ops(self) -> _NumpyOps:
        if self._numpy is None:
            self._numpy = _NumpyOps(self.program)
        return self._numpy


def _literals(X: np.ndarray, lits: np.ndarray) -> np.ndarray:
    """The literals' words: their slots, negated where marked."""
    return X[lits >> 1] ^ np.where(lits & 1, ONES, np.uint64(0))[:, None]


class _Group(NamedTuple):
    """Ops of one layer that depend only on earlier ones and share (k, number of literals): one numpy step."""

    out: np.ndarray  # (g,)
    lits: np.ndarray  # (g, n)
    k: int
    olvl: np.ndarray
    oinv: np.ndarray
    faulty: np.ndarray  # (f,) rows with a fault flag
    flvl: np.ndarray
    finv: np.ndarray


class _NumpyOps:
    """The bit program in numpy, without numba: each layer's ops grouped by depth and shape, one array
    operation per group and literal position, instead of one Python step per op."""

    def __init__(self, p: BitProgram):
        self.p = p
        self.layers = [self._groups(int(p.layer_ops[i]), int(p.layer_ops[i + 1])) for i in range(len(p.outputs))]

    def _groups(self, lo: int, hi: int) -> list[_Group]:
        p = self.p
        depth: dict[int, int] = {}  # slot computed in this layer -> its depth
        keys: dict[tuple[int, int, int], list[int]] = {}
        for op in range(lo, hi):
            lits = p.lits[p.lit_ptr[op] : p.lit_ptr[op + 1]]
            d = 1 + max((depth.get(int(lit) >> 1, 0) for lit in lits), default=0)
            depth[int(p.op_out[op])] = d
            keys.setdefault((d, int(p.op_k[op]), len(lits)), []).append(op)
        groups = []
        for (_, k, n), ops in sorted(keys.items()):
            ops = np.array(ops)
            lits = np.stack([p.lits[p.lit_ptr[o] : p.lit_ptr[o + 1]] for o in ops]) if n else np.zeros((len(ops), 0))
            faulty = np.flatnonzero(p.op_flvl[ops] >= 0)
            olvl, oinv = p.op_olvl[ops], _mask(p.op_oinv[ops])
            flvl, finv = p.op_flvl[ops][faulty], _mask(p.op_finv[ops][faulty])
            groups.append(_Group(p.op_out[ops], lits.astype(np.int64), k, olvl, oinv, faulty, flvl, finv))
        return groups

    def tile_pass(self, X: np.ndarray, lo: int, hi: int, fault: np.ndarray, valid: np.ndarray, commit: bool) -> int:
        for layer in range(lo, hi):
            fault[:] = 0
            for g in self.layers[layer]:
                self._group(X, g, fault)
            bad = np.flatnonzero(unpack((fault & valid)[None], 64 * len(fault))[:, 0])
            if len(bad):
                return (layer << 32) | int(bad[0])
        if commit and hi == len(self.layers):
            X[self.p.store_dst] = _literals(X, self.p.store_lit)  # the right side is read in full first
        return -1

    @staticmethod
    def _group(X: np.ndarray, g: _Group, fault: np.ndarray) -> None:
        words = X.shape[1]
        C = np.zeros((g.k + 1, len(g.out), words), np.uint64)
        C[0] = ONES
        for i in range(g.lits.shape[1]):
            x = _literals(X, g.lits[:, i])
            for j in range(g.k, 1, -1):
                C[j] |= C[j - 1] & x
            C[1] |= x
        rows = np.arange(len(g.out))
        X[g.out] = C[g.olvl, rows] ^ g.oinv[:, None]
        if len(g.faulty):
            fault |= np.bitwise_or.reduce(C[g.flvl, g.faulty] ^ g.finv[:, None], axis=0)

    def run_until_event(self, P, valid, max_passes, counted, engine: Bits, rec, found) -> int:
        """``bitkernel.run_until_event`` in numpy: the same passes, commits and accounting."""
        tiles, size, width = P.shape
        X = np.zeros((self.p.slots, width), np.uint64)
        fault = np.zeros(width, np.uint64)
        n = len(self.layers)
        for done in range(max_passes):
            Q = np.empty_like(P)
            for t in range(tiles):
                X[1 : size + 1] = P[t]
                bad = self.tile_pass(X, 0, n, fault, valid[t], True)
                if bad >= 0:
                    found[:] = bad >> 32, (bad & 0xFFFFFFFF) + 64 * width * t
                    return done
                Q[t] = X[1 : size + 1]
            P[...] = Q
            state = unpack((P & valid[:, None, :]).transpose(1, 0, 2).reshape(size, -1), 64 * tiles * width)
            counted += state[:, engine.executed]
            if len(rec):
                rec[done] = state[0, engine.record_columns]
            if state[:, engine.events].any():
                return done + 1
        return max_passes


def _mask(flags: np.ndarray) -> np.ndarray:
    return np.where(flags != 0, ONES, np.uint64(0))
