"""The kernel that runs a bit program (``mlpvm.engines.bitprog``) on machines bit-sliced 64 to a word.

``X`` (slots, words) holds one tile of the batch: bit ``i`` of word ``w`` of a slot is machine ``64 w + i``'s
value, so each word operation evaluates a unit on 64 machines. Compiled by numba when it is installed (the
``fast`` extra, numba's own cache); without it ``mlpvm.engines.bits`` runs the numpy evaluator instead.

``tile_pass`` evaluates layers ``lo .. hi-1`` of one tile and, after the last layer, stores the new state;
``run_until_event`` runs passes over all tiles (a double buffer, so that every tile stops after the same
pass and a fault leaves the state of the last whole pass) until some machine raises a host event.
"""

from __future__ import annotations

import numpy as np

try:
    import numba

    HAVE_NUMBA = True
    njit = numba.njit(cache=True, nogil=True)
except ImportError:  # the numpy evaluator runs instead
    HAVE_NUMBA = False

    def njit(f):
        return f


@njit
def run_ops(X, lo, hi, p, C, fault):
    """Ops ``lo .. hi-1``: each counts its literals into "at least j" flags ``C[1..k]`` (``C[0]`` is all
    ones), writes its value, and ORs its fault flag into ``fault``. Indexes ``X`` and ``C`` element by
    element: a row view per literal would cost a reference count each."""
    words = X.shape[1]
    zero, ones = np.uint64(0), ~np.uint64(0)
    for op in range(lo, hi):
        k = p.op_k[op]
        a, z = p.lit_ptr[op], p.lit_ptr[op + 1]
        if k == 1 and z - a == 2 and p.op_olvl[op] == 1 and p.op_flvl[op] < 0:  # a two-input AND: most ops
            la, lb = p.lits[a], p.lits[a + 1]
            ma, mb = ones if la & 1 else zero, ones if lb & 1 else zero
            mo = ones if p.op_oinv[op] else zero
            sa, sb, out = la >> 1, lb >> 1, p.op_out[op]
            for w in range(words):
                X[out, w] = ((X[sa, w] ^ ma) | (X[sb, w] ^ mb)) ^ mo
            continue
        for j in range(1, k + 1):
            for w in range(words):
                C[j, w] = 0
        for e in range(a, z):
            lit = p.lits[e]
            s = lit >> 1
            m = ones if lit & 1 else zero
            if k == 1:
                for w in range(words):
                    C[1, w] |= X[s, w] ^ m
            elif k == 2:
                for w in range(words):
                    x = X[s, w] ^ m
                    C[2, w] |= C[1, w] & x
                    C[1, w] |= x
            elif k == 3:  # written out: the loop over words vectorises
                for w in range(words):
                    x = X[s, w] ^ m
                    C[3, w] |= C[2, w] & x
                    C[2, w] |= C[1, w] & x
                    C[1, w] |= x
            else:
                for w in range(words):
                    x = X[s, w] ^ m
                    for j in range(k, 1, -1):
                        C[j, w] |= C[j - 1, w] & x
                    C[1, w] |= x
        out = p.op_out[op]
        lvl = p.op_olvl[op]
        m = ones if p.op_oinv[op] else zero
        for w in range(words):
            X[out, w] = C[lvl, w] ^ m
        lvl = p.op_flvl[op]
        if lvl >= 0:
            m = ones if p.op_finv[op] else zero
            for w in range(words):
                fault[w] |= C[lvl, w] ^ m


@njit
def first_bit(fault, valid):
    """The first machine whose fault bit is set (``valid`` masks the padding machines), or -1."""
    for w in range(fault.shape[0]):
        bad = fault[w] & valid[w]
        if bad:
            for i in range(64):
                if (bad >> np.uint64(i)) & np.uint64(1):
                    return 64 * w + i
    return -1


@njit
def store(X, p, stage):
    """The new state into the state slots; staged through ``stage`` when a stored literal reads one."""
    ones = ~np.uint64(0)
    words = X.shape[1]
    for j in range(p.store_dst.shape[0]):
        lit = p.store_lit[j]
        m = ones if lit & 1 else np.uint64(0)
        s, d = lit >> 1, p.store_dst[j]
        if p.staged:
            for w in range(words):
                stage[j, w] = X[s, w] ^ m
        else:
            for w in range(words):
                X[d, w] = X[s, w] ^ m
    if p.staged:
        for j in range(p.store_dst.shape[0]):
            d = p.store_dst[j]
            for w in range(words):
                X[d, w] = stage[j, w]


@njit
def tile_pass(X, lo, hi, p, C, fault, valid, stage, commit):
    """Layers ``lo .. hi-1`` of one tile, then (``commit``, after the last layer) the new state into the
    state slots; returns -1, or (layer << 32) | machine of the first fault."""
    for layer in range(lo, hi):
        fault[:] = 0
        run_ops(X, p.layer_ops[layer], p.layer_ops[layer + 1], p, C, fault)
        bad = first_bit(fault, valid)
        if bad >= 0:
            return (layer << 32) | bad
    if commit and hi == p.layer_ops.shape[0] - 1:
        store(X, p, stage)
    return -1


@njit
def _account(state, valid, first, steps, events, executed, record, cols, done):
    """After a committed pass of one tile (``state``: its state slots, (state_size, words)): counts executed
    instructions, records the first machine's columns, and says whether a machine raised an event."""
    words = state.shape[1]
    one = np.uint64(1)
    for w in range(words):
        ex = state[executed, w] & valid[w]
        if ex:
            for i in range(64):
                if (ex >> np.uint64(i)) & one:
                    steps[first + 64 * w + i] += 1
    if record.shape[0]:
        for j in range(cols.shape[0]):
            record[done, j] = state[cols[j], 0] & one
    raised = False
    for e in events:
        for w in range(words):
            raised |= (state[e, w] & valid[w]) != 0
    return raised


@njit
def run_until_event(P, Q, X, C, fault, stage, valid, max_passes, steps, events, executed, record, cols, p, found):
    """Passes over the tiles ``P`` (tiles, state_size, words) until one in which some machine raised an event,
    or ``max_passes``; returns the passes run. A tile's pass goes into ``Q`` and the passes are committed
    together, so a fault (``found`` gets (layer << 32) | machine) leaves ``P`` as the last whole pass left it.
    One tile stays in ``X`` from pass to pass."""
    tiles, size, words = P.shape[0], P.shape[1], P.shape[2]
    n_layers = p.layer_ops.shape[0] - 1
    if tiles == 1:
        X[1 : size + 1] = P[0]
    done = 0
    while done < max_passes:
        for t in range(tiles):
            if tiles > 1:
                X[1 : size + 1] = P[t]
            bad = tile_pass(X, np.int64(0), n_layers, p, C, fault, valid[t], stage, True)
            if bad >= 0:
                found[0], found[1] = bad >> 32, (bad & 0xFFFFFFFF) + 64 * words * t
                if tiles == 1:
                    P[0] = X[1 : size + 1]
                return done
            if tiles > 1:
                Q[t] = X[1 : size + 1]
        raised = False
        for t in range(tiles):
            state = X[1 : size + 1] if tiles == 1 else Q[t]
            raised |= _account(state, valid[t], 64 * words * t, steps, events, executed, record, cols, done)
            if tiles > 1:
                P[t] = Q[t]
        done += 1
        if raised:
            break
    if tiles == 1:
        P[0] = X[1 : size + 1]
    return done


@njit
def bare_reads(X, lits, n):
    """The program's literal reads ``n`` times as one plain loop (each read, negated where marked, ORed into
    an accumulator per word), without ops, flags, faults or stores: ``mlpvm bench`` compares the engine with
    it. Returns the accumulator, so that the loop is not optimised away."""
    words = X.shape[1]
    acc = np.zeros(words, np.uint64)
    ones = ~np.uint64(0)
    for _ in range(n):
        for e in range(lits.shape[0]):
            lit = lits[e]
            s = lit >> 1
            m = ones if lit & 1 else np.uint64(0)
            for w in range(words):
                acc[w] |= X[s, w] ^ m
    return acc


@njit
def pack_tiles(x, P):
    """The float states ``x`` (B, S) into tiles ``P`` (tiles, S, words), machine b at bit b % 64 of word
    (b // 64) % words of tile b // (64 words); False (``P`` incomplete) if a value is neither 0 nor 1. One
    pass over ``x`` in its own order: the check and the packing at the cost of reading it once."""
    P[...] = 0
    words = P.shape[2]
    for b in range(x.shape[0]):
        t, w, bit = b // (64 * words), (b // 64) % words, np.uint64(1) << np.uint64(b % 64)
        for s in range(x.shape[1]):
            v = x[b, s]
            if v == 1:
                P[t, s, w] |= bit
            elif v != 0:
                return False
    return True


@njit
def unpack_changed(P, before, x):
    """Writes back into ``x`` only the words of ``P`` that differ from ``before`` (most of a state, memory,
    is unchanged by a few passes)."""
    tiles, size, words = P.shape
    batch = x.shape[0]
    one = np.uint64(1)
    for t in range(tiles):
        for s in range(size):
            for w in range(words):
                word = P[t, s, w]
                if word != before[t, s, w]:
                    first = 64 * (t * words + w)
                    for i in range(min(64, batch - first)):
                        x[first + i, s] = (word >> np.uint64(i)) & one
