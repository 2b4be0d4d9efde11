"""The kernel that runs a lowered network (``mlpvm.engines.lowered``): plain loops over units, compiled
with numba when it is installed (the ``fast`` extra), else run as ordinary Python (slow: for tests only).

A batch is split into tiles of machines. Within a tile, activations are batch-minor: the scratch ``S`` has
shape (slots, tile), so each weight of a unit is applied to the whole tile in one contiguous, vectorised
loop. A single machine has its own scalar loop (``layers_one``). Memory-like fields stay in the state
batch ``x`` (B, state_size); a selected row is read and written machine by machine.

``run_layers`` evaluates layers ``lo .. hi-1`` (a pass, or one layer for a trace); ``run_until_event``
loops passes without returning to Python until some machine raises a host event, as
``Engine.run_until_event`` does, carrying the state's narrow fields from pass to pass inside the scratch.
With the guard on, every computed unit is checked to be 0 or 1, so a fault names its layer and machine.
"""

from __future__ import annotations

import numpy as np

from mlpvm.engines.lowered import SELECT, UPDATE

try:
    import numba

    HAVE_NUMBA = True
    njit = numba.njit(cache=True, nogil=True)
except ImportError:  # the numpy engines are the default without it
    HAVE_NUMBA = False

    def njit(f):
        return f


@njit
def layers(x, S, R, lo, hi, guard, p, fault, first):
    """Layers ``lo .. hi-1`` for the machines of ``x`` (a tile of the batch; ``first`` is its first machine's
    number), with scratch ``S`` (slots, B) and row registers ``R`` (regs, B). Records the first activation
    off {0,1} in ``fault`` as (machine, layer) and stops there."""
    batch = x.shape[0]
    if batch == 1:
        layers_one(x[0], S[:, 0], R[:, 0], lo, hi, guard, p, fault, first)
        return
    layer_ops, op_kind, op_reg, op_shift, op_mask = p.layer_ops, p.op_kind, p.op_reg, p.op_shift, p.op_mask
    op_stride, op_units, op_addr, addr_slot = p.op_stride, p.op_units, p.op_addr, p.addr_slot
    unit_out, unit_bias, unit_s, unit_x = p.unit_out, p.unit_bias, p.unit_s, p.unit_x
    s_col, s_val, x_col, x_val = p.s_col, p.s_val, p.x_col, p.x_val
    zero = np.zeros(1, S.dtype)[0]
    acc = np.empty(batch, S.dtype)
    for layer in range(lo, hi):
        for op in range(layer_ops[layer], layer_ops[layer + 1]):
            kind = op_kind[op]
            rows = R[op_reg[op]] if kind != 0 else R[0]
            if kind == SELECT:  # the row whose code equals the address bits (each exactly 0 or 1)
                for b in range(batch):
                    rows[b] = 0
                start = op_addr[op]
                for j in range(start, op_addr[op + 1]):
                    bit = S[addr_slot[j]]
                    weight = 1 << (j - start)
                    for b in range(batch):
                        if bit[b] > 0.5:
                            rows[b] += weight
                for b in range(batch):
                    rows[b] = (rows[b] + op_shift[op]) & op_mask[op]
            stride = op_stride[op]
            for u in range(op_units[op], op_units[op + 1]):
                out = acc if kind == UPDATE else S[unit_out[u]]
                for b in range(batch):
                    out[b] = unit_bias[u]
                for e in range(unit_s[u], unit_s[u + 1]):
                    v = s_val[e]
                    src = S[s_col[e]]
                    for b in range(batch):
                        out[b] += v * src[b]
                for e in range(unit_x[u], unit_x[u + 1]):
                    v = x_val[e]
                    col = x_col[e]
                    for b in range(batch):
                        out[b] += v * x[b, col + rows[b] * stride]
                bad = False
                for b in range(batch):
                    a = out[b]
                    if a < 0:
                        a = zero
                    out[b] = a
                    bad |= (a != 0) & (a != 1)
                if kind == UPDATE:
                    col = unit_out[u]
                    for b in range(batch):
                        x[b, col + rows[b] * stride] = out[b]
                if guard and bad:
                    for b in range(batch):
                        if out[b] != 0 and out[b] != 1 and fault[0] < 0:
                            fault[0], fault[1] = first + b, layer
                            return


@njit
def layers_one(x, s, r, lo, hi, guard, p, fault, first):
    """``layers`` for a single machine (``x`` its state, ``s`` its scratch, ``r`` its row registers, all
    1-D): plain scalars, without the setup of the batch's vector loops."""
    layer_ops, op_kind, op_reg, op_shift, op_mask = p.layer_ops, p.op_kind, p.op_reg, p.op_shift, p.op_mask
    op_stride, op_units, op_addr, addr_slot = p.op_stride, p.op_units, p.op_addr, p.addr_slot
    unit_out, unit_bias, unit_s, unit_x = p.unit_out, p.unit_bias, p.unit_s, p.unit_x
    s_col, s_val, x_col, x_val = p.s_col, p.s_val, p.x_col, p.x_val
    zero = np.zeros(1, s.dtype)[0]
    for layer in range(lo, hi):
        for op in range(layer_ops[layer], layer_ops[layer + 1]):
            kind = op_kind[op]
            row = 0
            if kind == SELECT:
                start = op_addr[op]
                for j in range(start, op_addr[op + 1]):
                    if s[addr_slot[j]] > 0.5:
                        row += 1 << (j - start)
                row = (row + op_shift[op]) & op_mask[op]
                r[op_reg[op]] = row
            elif kind == UPDATE:
                row = r[op_reg[op]]
            # Unsigned indices: numba then skips its check for negative (from-the-end) indices.
            base = np.uint64(row * op_stride[op])
            for u in range(np.uint64(op_units[op]), np.uint64(op_units[op + 1])):
                a = unit_bias[u]
                for e in range(np.uint64(unit_s[u]), np.uint64(unit_s[u + 1])):
                    a += s_val[e] * s[np.uint64(s_col[e])]
                for e in range(np.uint64(unit_x[u]), np.uint64(unit_x[u + 1])):
                    a += x_val[e] * x[np.uint64(x_col[e]) + base]
                if a < 0:
                    a = zero
                if kind == UPDATE:
                    x[np.uint64(unit_out[u]) + base] = a
                else:
                    s[np.uint64(unit_out[u])] = a
                if guard and a != 0 and a != 1 and fault[0] < 0:
                    fault[0], fault[1] = first, layer
                    return


@njit
def transfer(x, S, p, into_scratch):
    """The state's narrow fields into their scratch slots (before a pass), or those a pass changed from
    their last slots back into the state (after it)."""
    cols, slots = (p.load_x, p.load_s) if into_scratch else (p.store_x, p.store_s)
    for j in range(cols.size):
        row, col = S[slots[j]], cols[j]
        for b in range(x.shape[0]):
            if into_scratch:
                row[b] = x[b, col]
            else:
                x[b, col] = row[b]


@njit
def next_pass(S, p):
    """Starts the next pass in the scratch: each changed narrow field back to its load slot."""
    store_s, store_l = p.store_s, p.store_l
    for j in range(store_s.size):
        dst, src = S[store_l[j]], S[store_s[j]]
        for b in range(S.shape[1]):
            dst[b] = src[b]


@njit
def run_layers(x, S, R, lo, hi, guard, p, fault):
    """Layers ``lo .. hi-1`` for the whole batch, from and to the state ``x`` (a pass, or part of one for a
    trace). ``S`` (tiles, slots, tile) and ``R`` (tiles, regs, tile) hold each tile's activations after it."""
    width = S.shape[2]
    for t in range(S.shape[0]):
        a, z = t * width, min(x.shape[0], (t + 1) * width)
        xs, St, Rt = x[a:z], S[t], R[t]
        if lo == 0:
            transfer(xs, St, p, True)
        layers(xs, St, Rt, lo, hi, guard, p, fault, a)
        if hi == p.layer_ops.size - 1 and fault[0] < 0:
            transfer(xs, St, p, False)


@njit
def tile_passes(x, S, R, passes, fresh, guard, p, fault, first, steps, events, executed, record, slots, writes, wop):
    """Up to ``passes`` passes of one tile of machines, stopping after a pass in which one of them raised an
    event (``events``, ``executed``: the flags' slots after a pass); returns the passes run, negated if an
    event stopped them. The tile's state stays in ``S`` from pass to pass: loaded by the caller when
    ``fresh``, else left there by the previous call. A ``record`` with rows (one machine) gets the narrow
    fields after each pass, read from their ``slots``; ``writes`` with rows (one machine) gets the pass's
    write as the network made it (``wop``: the update's row register, first state column and row stride):
    the row that register selected, then that row of the state as the update left it."""
    n_layers = p.layer_ops.size - 1
    for done in range(1, passes + 1):
        if done > 1 or not fresh:
            next_pass(S, p)
        layers(x, S, R, np.int64(0), n_layers, guard, p, fault, first)  # not a literal 0: one compilation
        if fault[0] >= 0:
            return -done
        if record.shape[0]:
            row = record[done - 1]
            for j in range(slots.size):
                row[j] = S[slots[j], 0]
        if writes.shape[0]:
            row = writes[done - 1]
            written = R[wop[0], 0]
            row[0] = written
            base = wop[1] + written * wop[2]
            for j in range(row.size - 1):
                row[j + 1] = x[0, base + j]
        flag = S[executed]
        for b in range(x.shape[0]):
            if flag[b] > 0.5:
                steps[b] += 1
        raised = False
        for e in events:
            flag = S[e]
            for b in range(x.shape[0]):
                raised |= flag[b] > 0.5
        if raised:
            return -done
    return passes


@njit
def run_until_event(x, steps, max_passes, guard, events, executed, S, R, fault, p, record, slots, writes, wop):
    """Passes over the batch until one in which some machine raised an event, or ``max_passes``; returns the
    passes run, counting each machine's executed instructions in ``steps``. ``S`` (tiles, slots, tile) and
    ``R`` (tiles, regs, tile) are the tiles' scratch. One tile runs every pass without a break; several
    take turns, a pass each, so that all stop after the same pass. ``record``: see ``tile_passes`` (empty:
    nothing recorded; rows: a batch of one machine), and so ``writes`` and ``wop``."""
    batch, tiles, width = x.shape[0], S.shape[0], S.shape[2]
    for t in range(tiles):
        a, z = t * width, min(batch, (t + 1) * width)
        transfer(x[a:z], S[t], p, True)
    per_turn = max_passes if tiles == 1 else 1
    passes = 0
    stop = False
    while passes < max_passes and not stop:
        ran = 0
        for t in range(tiles):
            a, z = t * width, min(batch, (t + 1) * width)
            ran = tile_passes(
                x[a:z], S[t], R[t], per_turn, passes == 0, guard, p, fault, a,
                steps[a:z], events, executed, record, slots, writes, wop,
            )  # fmt: skip
            stop |= ran < 0
        passes += abs(ran)
        stop |= fault[0] >= 0
    for t in range(tiles):
        a, z = t * width, min(batch, (t + 1) * width)
        transfer(x[a:z], S[t], p, False)
    return passes


@njit
def bare_units(S, x, out, n, p):
    """The program's units ``n`` times as one plain loop: the same multiply-adds as a pass, without the
    address decoding, row registers, guard, loads or stores. ``mlpvm bench`` compares the kernel with it."""
    unit_bias, unit_s, unit_x = p.unit_bias, p.unit_s, p.unit_x
    s_col, s_val, x_col, x_val = p.s_col, p.s_val, p.x_col, p.x_val
    zero = np.zeros(1, S.dtype)[0]
    for _ in range(n):
        for u in range(np.uint64(unit_bias.size)):
            a = unit_bias[u]
            for e in range(np.uint64(unit_s[u]), np.uint64(unit_s[u + 1])):
                a += s_val[e] * S[np.uint64(s_col[e])]
            for e in range(np.uint64(unit_x[u]), np.uint64(unit_x[u + 1])):
                a += x_val[e] * x[np.uint64(x_col[e])]
            out[u] = a if a > 0 else zero
