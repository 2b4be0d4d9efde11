"""One comparison of the network with the reference interpreter, shared by ``check.lockstep`` (B programs on one
batched engine) and the debugger's session (one program, pass by pass or in checked chunks).

``mismatches`` compares every field of each machine's state after a pass with its reference: PC, the halt and
fault flags, the executed flag, the I/O handshake fields, the output and input consumed, the registers the pass
decoded (A, B, C, mem[A], mem[B], result, branch, next PC) against the reference's micro-operations, then memory
(every cell, against the reference's memory kept as bits: ``mirror``) and the instruction slots. ``describe``
names the first difference, ``locate`` the first layer whose activations disagree.

``Checked`` is the reference beside one network state (the debugger's): the plain reference, its input, its
memory as bits, and the fast reference (``mlpvm.machines.<machine>.fast``) that plans chunks of plain passes,
each checked pass by pass (``chunk``); ``unchecked`` runs the network's passes in chunks alone (``--no-check``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.engines import Engine
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.machines.reference import Micro, Reference
from mlpvm.machines.state import REGISTERS, Fields, from_bits, register, to_bits, word
from mlpvm.program.inputs import Input
from mlpvm.protocol import (
    EXECUTED,
    FAULT,
    HALTED,
    IN_ACK,
    IN_WAIT,
    INPUTS,
    KIND_FLAGS,
    OUT_BYTE,
    OUT_VALID,
    has_io,
    placed,
)

CHUNK = 4096  # passes run and checked together at most: Ctrl-C is seen between chunks
CHUNK_SECONDS = 0.05  # about the longest a chunk takes (fewer passes on a slow engine, such as a weight file's)


@dataclass
class Divergence:
    step: int  # steps the program completed before the diverging pass
    field: str
    network: object
    reference: object
    layer: str | None = None  # the first layer whose activations disagree with the reference
    program: int = 0  # index of the program in its batch
    fault: bool = False  # the engine's guard stopped the pass: an activation left {0,1} after ``layer``
    passes: int = 1  # passes of the engine call after which the states differed (the layer is located for 1)

    def __str__(self) -> str:
        if self.fault:
            return f"step {self.step}: network fault after layer {self.layer}"
        where = f", first wrong after layer {self.layer}" if self.layer else ""
        if self.passes > 1:
            where += f", after an engine call of {self.passes} passes"
        return (
            f"step {self.step}: {self.field} is {self.network} on the network, {self.reference} in the reference{where}"
        )


# -- the comparison ------------------------------------------------------------------------------


def mirror(mem_bits: np.ndarray, ref: Reference, m: Micro) -> None:
    """The reference's memory as bits (one machine's row), kept up to date from the cell a step writes."""
    if m.kind in ("sub", "in"):
        mem_bits[m.b] = to_bits(ref.mem[m.b], ref.config.bits)


def mismatches(
    state: Layout, x: np.ndarray, refs: list[Reference], micros: list[Micro], mem_bits: np.ndarray,
    outputs: list[bytearray], inputs: list[Input], ref_inputs: list[Input], ins_bits: np.ndarray | None = None,
) -> list[tuple[str, np.ndarray]]:  # fmt: skip
    """For each field, in report order, which machines (rows of ``x``, each beside ``refs[i]`` after its step
    ``micros[i]``) differ from the reference. ``outputs`` and ``inputs``: the host's output so far and input of
    each machine; the output is compared by its length and last byte (the earlier bytes were compared before)."""
    fields: list[tuple[str, list, list | None]] = [  # the fields compared as bits: name, values, where defined
        ("pc", [r.pc for r in refs], None),
        (HALTED, [r.halted for r in refs], None),
        *([(FAULT, [r.fault for r in refs], None)] if FAULT in state else []),
        (EXECUTED, [m.is_step for m in micros], None),
    ]
    io = has_io(state)
    if io:
        fields += [(name, [m.kind == kind for m in micros], None) for name, kind in KIND_FLAGS.items()]
        fields.append((OUT_BYTE, [m.out or 0 for m in micros], [m.out is not None for m in micros]))
        fields += [(name, values, None) for name, values in zip(INPUTS, _placed([i.peek() for i in inputs]))]
    for name in REGISTERS:  # before memory: a wrong register is where a wrong write comes from
        values = [getattr(m, name) for m in micros]
        fields.append((name, [v or 0 for v in values], [v is not None for v in values]))
    rows = dict(zip((f[0] for f in fields), _bit_mismatches(state, x, fields)))
    checks = [(name, rows[name]) for name in ("pc", HALTED, FAULT, EXECUTED, *KIND_FLAGS, OUT_BYTE) if name in rows]
    if io:
        output = [len(o) != len(r.output) or o[-1:] != r.output[-1:] for o, r in zip(outputs, refs)]
        checks.append(("output", np.array(output)))
        checks.append(("input", np.array([i.consumed != r.consumed for i, r in zip(inputs, ref_inputs)])))
        checks += [(name, rows[name]) for name in INPUTS]
    checks += [(name, rows[name]) for name in REGISTERS]
    checks.append(("mem", (state.view(x, "mem") != mem_bits).any(axis=(1, 2))))
    if ins_bits is not None:
        checks.append(("ins", (state.view(x, "ins") != ins_bits).any(axis=(1, 2, 3))))
    return checks


_PLANS: dict[tuple[int, tuple[str, ...]], tuple] = {}


def _bit_mismatches(state: Layout, x: np.ndarray, fields: list[tuple[str, list, list | None]]) -> list[np.ndarray]:
    """Which rows of ``x`` differ from each field's values (as two's-complement bits), where defined: all the
    fields in one comparison (this runs after every pass the debugger checks one at a time)."""
    names = tuple(f[0] for f in fields)
    key = (id(state), names)
    if key not in _PLANS or _PLANS[key][0] is not state:
        cols = [state[n].indices().ravel() for n in names]
        which = np.concatenate([np.full(len(c), k) for k, c in enumerate(cols)])
        bit = np.concatenate([np.arange(len(c)) for c in cols])
        starts = np.cumsum([0] + [len(c) for c in cols[:-1]])
        _PLANS[key] = (state, np.concatenate(cols), which, bit, starts)
    _, cols, which, bit, starts = _PLANS[key]
    values = np.array([f[1] for f in fields], np.int64).T  # (rows, fields)
    bad = np.logical_or.reduceat(x[:, cols] != ((values[:, which] >> bit) & 1), starts, axis=1)
    return [bad[:, k] if f[2] is None else bad[:, k] & np.asarray(f[2], bool) for k, f in enumerate(fields)]


def describe(
    state: Layout, config: Config, x: np.ndarray, ref: Reference, m: Micro, field: str, output: bytearray,
    inp: Input, ref_input: Input,
) -> tuple[str, object, object]:  # fmt: skip
    """The field's name (with the cell or slot), its value on the network (state ``x``), and in the reference."""
    if field == "mem":
        got = from_bits(state.view(x, "mem"))
        i = int(np.flatnonzero(got != np.asarray(ref.mem))[0])
        return f"mem[{i}]", int(got[i]), ref.mem[i]
    if field == "ins":
        got = from_bits(state.view(x, "ins"), signed=False)
        j = int(np.flatnonzero((got != np.asarray(ref.slots)).any(axis=1))[0])
        return f"ins[{j}]", tuple(int(v) for v in got[j]), tuple(ref.slots[j])
    if field == "output":
        return field, bytes(output), bytes(ref.output)
    if field == "input":
        return "input consumed", inp.consumed, ref_input.consumed
    if field in INPUTS:
        want = dict(zip(INPUTS, (v[0] for v in _placed([inp.peek()]))))
        return field, word(state, x, field, signed=False), int(want[field])
    if field == OUT_BYTE:
        return field, word(state, x, field, signed=False), m.out
    want = {"pc": ref.pc, HALTED: ref.halted, FAULT: ref.fault, EXECUTED: m.is_step}
    want.update({name: m.kind == kind for name, kind in KIND_FLAGS.items()})
    want.update({name: getattr(m, name) for name in REGISTERS})
    return field, register(state, config, x, field), int(want[field])


def first_difference(
    state: Layout, config: Config, x: np.ndarray, ref: Reference, m: Micro, mem_bits: np.ndarray,
    output: bytearray, inp: Input, ref_input: Input, ins_bits: np.ndarray | None = None,
) -> tuple[str, object, object] | None:  # fmt: skip
    """One machine (state ``x``, a vector): the first field that differs from its reference, or None."""
    xs, ins = x[None], None if ins_bits is None else ins_bits[None]
    checks = mismatches(state, xs, [ref], [m], mem_bits[None], [output], [inp], [ref_input], ins)
    field = next((name for name, rows in checks if rows[0]), None)
    return None if field is None else describe(state, config, x, ref, m, field, output, inp, ref_input)


def _placed(values: list[int | None]) -> tuple[list[int], ...]:
    """What the host places in each of the input fields (``protocol.INPUTS``) for each next input."""
    rows = [placed(v) for v in values]
    return tuple([row[name] for row in rows] for name in INPUTS)


# -- the first layer that went wrong -------------------------------------------------------------


def first_bad_layer(
    config: Config,
    layouts: list[Layout],
    names: list[str],
    trace: list[np.ndarray],
    m: Micro,
    row: int = 0,
    carried: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> str | None:
    """The first layer whose activations (machine ``row`` of ``trace``) disagree with the reference: a
    micro-operation at its checkpoint, or a carried state field (``carried``: name -> bits before and after
    the step) that differs from the value it must hold at that layer (the machine's ``produced``)."""
    produced = {field: names.index(layer) for field, layer in config.spec.produced.items()}
    for k, (name, layout) in enumerate(zip(names, layouts)):
        for layer, field in config.spec.checkpoints:
            want = getattr(m, field)
            if layer == name and want is not None and register(layout, config, trace[k][row], field) != int(want):
                return name
        for field, (pre, post) in (carried or {}).items():
            if field in layout:
                want = post if k >= produced.get(field, len(names)) else pre
                if not np.array_equal(layout.view(trace[k][row], field), want.reshape(layout[field].shape)):
                    return name
    return None


def trace(engine: Engine, before: np.ndarray) -> list[np.ndarray]:
    """Every layer's activations for the pass from ``before`` (the guard off: a fault is located, not raised)."""
    layers: list[np.ndarray] = []
    guard, engine.guard = engine.guard, False
    try:
        engine.run_pass(np.array(np.atleast_2d(before), dtype=engine.dtype), layers)
    finally:
        engine.guard = guard
    return layers


def carried(
    state: Layout, ref: Reference, m: Micro, mem_bits: np.ndarray, next_input: int | None,
    ins_bits: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Bits of the state fields before and after the reference step ``m`` (``mem_bits``: memory after it;
    ``next_input``: the input the host placed before it), for locating a divergence."""
    cfg = ref.config
    pre_mem = mem_bits.copy()
    if m.kind in ("sub", "in"):
        pre_mem[m.b] = to_bits(m.mem_b, cfg.bits)
    width = state["pc"].size
    stopped = m.kind == "halted"  # it was stopped before the step: nothing changes
    out = {
        "mem": (pre_mem, mem_bits),
        "pc": (to_bits(m.pc, width), to_bits(ref.pc, width)),
        HALTED: (np.array([stopped]), np.array([ref.halted])),
    }
    if FAULT in state:
        out[FAULT] = (np.array([stopped and ref.fault]), np.array([ref.fault]))
    if ins_bits is not None:
        out["ins"] = (ins_bits, ins_bits)
    if has_io(state):
        for name, values in zip(INPUTS, _placed([next_input])):
            bits = to_bits(values, state[name].size).ravel()
            out[name] = (bits, bits)
    return out


def locate(engine: Engine, config: Config, before: np.ndarray, m: Micro, fields: dict | None = None) -> str | None:
    """Re-runs the diverging pass on ``engine`` from ``before`` to find the first layer that went wrong
    (``fields``: the carried fields, ``carried``)."""
    return first_bad_layer(config, engine.layouts, engine.layer_names, trace(engine, before), m, 0, fields)


# -- the reference beside one network state, and chunks of passes ----------------------------------


class Checked:
    """The reference beside one network state (the debugger's session): after each pass ``step`` steps the
    reference and compares the whole state (``mismatches``); ``chunk`` runs many plain passes at once, planned
    by the fast reference and checked pass by pass; ``unchecked`` runs the network's passes alone in chunks."""

    def __init__(self, engine: Engine, config: Config, fields: Fields, ref: Reference, inp: Input, fast: bool):
        self.engine, self.config, self.fields = engine, config, fields
        self.ref, self.inp = ref, inp
        module = config.spec.fast if fast else None  # chunks are checked against it: only with the reference
        self.fast = None if module is None else module.Fast.beside(ref)
        self.record = np.zeros((CHUNK, len(engine.record_columns)), engine.dtype)
        self.writes = np.zeros((CHUNK if engine.write_log else 0, 1 + config.bits), engine.dtype)  # its write log
        self.size = 64  # passes in the next chunk at most: grows to what the engine runs in CHUNK_SECONDS
        self.expected = self._plain_pass() if self.fast is not None else None
        self.watch = (np.zeros(config.cells, bool), np.zeros(config.cells, bool))  # unchecked: written, read
        self.marks = self.returns = np.zeros(0, np.int64)  # unchecked: PCs a pass must not arrive at / leave
        self.mem_bits = np.zeros((config.cells, config.bits), engine.dtype)

    def load(self, ref: Reference, inp: Input) -> None:
        """A new reference (``run``)."""
        self.ref, self.inp = ref, inp
        self.sync()

    def sync(self) -> None:
        """The reference's memory as bits, kept beside it so that comparing all of memory is one array test
        (after the reference was loaded or restored)."""
        self.mem_bits = to_bits(np.asarray(self.ref.mem, np.int64), self.config.bits).astype(self.engine.dtype)
        self.stale = True  # the fast reference's memory is reloaded from the reference before it runs

    def poke(self, address: int, value: int) -> None:
        """``set mem[i] = v``: the reference's cell too (``value`` a word)."""
        self.ref.mem[address] = value
        self.mem_bits[address] = to_bits(value, self.config.bits)
        self.stale = True

    # -- one pass ------------------------------------------------------------------------------------

    def step(self, x: np.ndarray, output: bytearray, inp: Input) -> tuple[Micro, tuple | None]:
        """The reference's step beside a pass that left the state ``x`` (the host's ``output`` and input
        ``inp``): its micro-operations, and the first difference (field, network, reference) or None."""
        m = self.ref.step(self.inp)
        mirror(self.mem_bits, self.ref, m)
        if self.fast is not None and m.kind in ("sub", "in"):
            self.fast.mem[m.b] = self.ref.mem[m.b]
        diff = first_difference(self.engine.state, self.config, x, self.ref, m, self.mem_bits, output, inp, self.inp)
        return m, diff

    def locate(self, engine: Engine, before: np.ndarray, m: Micro, next_input: int | None) -> str | None:
        """The first layer of ``engine``'s pass from ``before`` that disagrees with the step ``m`` just taken."""
        own = getattr(engine, "first_bad_layer", None)  # an engine that diagnoses its passes itself
        if own is not None:
            return own(before[None])
        fields = carried(engine.state, self.ref, m, self.mem_bits, next_input)
        return locate(engine, self.config, before, m, fields)

    # -- checked chunks ------------------------------------------------------------------------------
    #
    # The fast reference commits the plain passes ahead, stopping before any pass that needs attention (a
    # breakpoint's or ``until``'s PC, a watched cell, a CALL or return, I/O, a halt); the network runs exactly
    # as many passes, recording its narrow fields after each, and every pass's fields are compared with the
    # fast reference's log, and its memory with the reference's memory as the log's writes leave it after that
    # pass (a wrong write that a later pass heals is caught at its pass). A chunk that disagrees is run again
    # one pass at a time by the caller, which stops at the exact pass, as ever.

    def plan(self, marks: list[int], entries: list[int], watches: list, checked: bool) -> bool:
        """The bitmaps that end a chunk: arriving at one of ``marks`` (breakpoints, ``until``), a CALL's entry
        (``entries``), leaving by a return jump, a watched cell (``watches``: watchpoints on cells);
        ``checked``: planned by the fast reference, else for the network alone. False: no chunks."""
        if checked and self.fast is None:
            return False
        if not checked:
            return self._plan_unchecked(marks + entries, [e - 3 for e in entries], watches)
        fast = self.fast
        for bitmap in (fast.at, fast.to, fast.write, fast.read):
            bitmap[:] = False
        fast.to[[a for a in marks if 0 <= a < len(fast.to)]] = True  # a PC outside memory: never a plain pass
        fast.to[entries] = True  # a CALL's jump pushes a frame
        fast.at[[e - 3 for e in entries if e >= 3]] = True  # a return jump pops one
        _cells(watches, fast.write, fast.read)
        return True

    def _plan_unchecked(self, marks: list[int], returns: list[int], watches: list) -> bool:
        self.marks, self.returns = np.array(marks, np.int64), np.array(returns, np.int64)
        written, read = self.watch
        written[:] = read[:] = False
        _cells(watches, written, read)
        return True

    def chunk(self, x: np.ndarray, now: dict[str, int], budget: int) -> tuple[int, int, np.ndarray | None]:
        """Up to ``budget`` plain passes from the state ``x`` (fields ``now``) run and checked as one. Returns
        (passes committed, passes to run one at a time because the network disagreed, the last pass's log row:
        ``LOG``). On agreement the reference has taken the passes too; else ``x`` is as it was."""
        fast, ref = self.fast, self.ref
        budget = min(budget, self.size)
        if self.stale:
            fast.load(ref.mem)
            self.stale = False
        k, _ = fast.run(ref.pc, budget)
        if not k:
            return 0, 0, None
        start = x.copy()
        record, log = self.record[:k], fast.log[:k]
        steps = np.zeros(1, np.int64)
        began = time.perf_counter()
        try:
            ran, expect = self._run_writes_checked(x, k, steps, record, log)
        except NetworkFault:
            ran, expect = -1, None
        self._timed(k, began)
        if ran == k and self._agrees(record, log, now):
            written = np.unique(log[:, fast.columns.index("b")])
            for b, v in zip(written.tolist(), fast.mem[written].tolist()):
                ref.mem[b] = v
            self.mem_bits = expect
            ref.steps += k
            ref.pc = int(log[k - 1, fast.columns.index("new_pc")])
            return k, 0, log[k - 1]
        x[...] = start
        self.stale = True  # the fast reference ran ahead
        return 0, k, None

    def _timed(self, passes: int, began: float) -> None:
        rate = passes / max(time.perf_counter() - began, 1e-6)
        self.size = int(min(CHUNK, max(16, rate * CHUNK_SECONDS)))

    def _run_writes_checked(
        self, x: np.ndarray, k: int, steps: np.ndarray, record: np.ndarray, log: np.ndarray
    ) -> tuple[int, np.ndarray]:
        """The chunk's ``k`` passes, and after each the network's whole memory against the reference's: the
        memory before the chunk with each pass's write (cell B <- result, from the fast reference's log) done
        in turn. A wrong write is so caught at its pass even when a later pass of the chunk heals it (the end
        of the chunk would agree). The passes run one engine call each, except on an engine with a write log
        (compiled, unrolled): one call logs each pass's write as the network made it (the row its update
        selected, the word it left there; memory changes nowhere else), each compared with the reference's
        (``_first_bad_write``). Returns the passes that agreed (``k``: all) and the memory the reference
        expects after them."""
        mem = self.engine.state.view(x[0], "mem")
        expect = self.mem_bits.copy()
        cells = log[:, self.fast.columns.index("b")]
        rows = to_bits(log[:, self.fast.columns.index("result")], self.config.bits)
        if self.engine.write_log:
            writes = self.writes[:k]
            ran = self.engine.run_until_event(x, k, steps, record, writes)
            bad = self._first_bad_write(writes[:ran], cells[:ran], rows[:ran])
            if bad is not None:
                return bad, expect
            written = np.unique(cells)
            expect[written] = to_bits(self.fast.mem[written], self.config.bits)
            return (ran if np.array_equal(mem, expect) else -1), expect  # as the log says, unless it is wrong
        for i in range(k):
            if self.engine.run_until_event(x, 1, steps, record[i : i + 1]) != 1:
                return i, expect
            expect[cells[i]] = rows[i]
            if not np.array_equal(mem, expect):
                return i, expect
        return k, expect

    def _first_bad_write(self, writes: np.ndarray, cells: np.ndarray, rows: np.ndarray) -> int | None:
        """The first pass whose write (the engine's write log: cell, then the word's bits) leaves memory other
        than the reference's write (cell ``cells[i]`` <- bits ``rows[i]``) does, given that memory agreed
        before it; None if none. Another cell than B agrees only if neither the network's nor the reference's
        write changed anything: each leaves its cell's old word (the reference's memory before that pass)."""
        got, words = writes[:, 0].astype(np.int64), writes[:, 1:]
        same = (got == cells) & (words == rows).all(axis=1)
        for i in np.flatnonzero(~same).tolist():
            if got[i] == cells[i] or not 0 <= got[i] < self.config.cells:
                return i
            old = [self._word_before(i, c, cells, rows) for c in (got[i], cells[i])]
            if not (np.array_equal(words[i], old[0]) and np.array_equal(rows[i], old[1])):
                return i
        return None

    def _word_before(self, i: int, cell: int, cells: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The reference's word in ``cell`` before pass ``i`` of the chunk, as bits."""
        earlier = np.flatnonzero(cells[:i] == cell)
        return rows[earlier[-1]] if len(earlier) else self.mem_bits[cell]

    def _agrees(self, record: np.ndarray, log: np.ndarray, now: dict[str, int]) -> bool:
        """Every pass's PC, flags, I/O handshake and registers as the network left them, against the log of
        the fast reference (whose passes are plain: a step, no I/O, no halt); the host's input fields stay."""
        weights, columns, fixed = self.expected
        got = np.rint(record) @ weights  # (passes, fields), exact small integers: the logged ones first
        want = np.array([now[n] if v is None else v for n, v in fixed])
        n = len(columns)
        return bool(np.array_equal(got[:, :n], log[:, columns]) and (got[:, n:] == want).all())

    def _plain_pass(self) -> tuple[np.ndarray, list[int], list[tuple[str, int | None]]]:
        """What the state's fields hold after a plain pass: the decoding weights of the fields that are in the
        fast reference's log, then of the others; the log's columns for the first; the others' values (None:
        the host's input fields, as before the pass)."""
        names, columns = self.fields.names, self.fast.columns
        logged = {"pc": "new_pc", **{r: r for r in REGISTERS}}
        flags = {HALTED: 0, FAULT: 0, EXECUTED: 1, OUT_VALID: 0, OUT_BYTE: 0, IN_ACK: 0, IN_WAIT: 0}
        order = [n for n in names if n in logged] + [n for n in names if n not in logged]
        weights = self.fields.weights[:, [names.index(n) for n in order]]
        fixed = [(n, flags.get(n)) for n in order if n not in logged]
        return weights, [columns.index(logged[n]) for n in order if n in logged], fixed

    # -- the network alone ---------------------------------------------------------------------------

    def unchecked(self, x: np.ndarray, pc: int, budget: int) -> tuple[int, int, int, dict[str, int] | None]:
        """Up to ``budget`` passes of the network alone from the state ``x`` (at ``pc``), in one call; the
        passes up to the first that needs attention (an event, an idle pass, a stop, a frame, a watched cell)
        are kept, the state rolled back to before it, and that pass is left to run on its own. Returns (passes
        kept, passes to run alone, steps, the last kept pass's fields with its own ``pc``)."""
        budget = min(budget, self.size)
        start = x.copy()
        steps = np.zeros(1, np.int64)
        began = time.perf_counter()
        try:
            ran = self.engine.run_until_event(x, budget, steps, self.record[:budget])
        except NetworkFault:
            x[...] = start
            return 0, 1, 0, None
        self._timed(ran, began)
        names = self.fields.names
        values = np.rint(np.rint(self.record[:ran]) @ self.fields.weights).astype(np.int64)
        col = {n: values[:, names.index(n)] for n in names}
        after = col["pc"]
        before = np.concatenate([[pc], after[:-1]])
        first = self._first_needing(col, before, ran)
        if first < ran:  # roll back, and run again exactly the passes before it
            x[...] = start
            steps[:] = 0
            if first:
                self.engine.run_until_event(x, first, steps)
        if not first:
            return 0, 1, 0, None
        fields = {r: int(col[r][first - 1]) for r in REGISTERS}
        fields["pc"] = int(before[first - 1])
        return first, int(first < ran), int(steps[0]), fields

    def _first_needing(self, col: dict[str, np.ndarray], before: np.ndarray, ran: int) -> int:
        """The first of ``ran`` recorded passes (fields ``col``, from PCs ``before``) that needs attention."""
        after = col["pc"]
        need = col[EXECUTED] == 0
        for flag in (HALTED, FAULT, OUT_VALID, IN_ACK, IN_WAIT):
            if flag in col:
                need |= col[flag] != 0
        need |= np.isin(after, self.marks) | np.isin(before, self.returns)
        written, read = self.watch
        cells = self.config.cells
        inside = lambda v: np.clip(v, 0, cells - 1)  # noqa: E731  (out of memory: a fault, an event anyway)
        need |= written[inside(col["b"])] | read[inside(col["a"])] | read[inside(col["b"])]
        for k in range(self.config.spec.stride if not self.config.spec.harvard else 0):
            need |= read[inside(before + k)]
        return int(np.argmax(need)) if need.any() else ran


def _cells(watches: list, written: np.ndarray, read: np.ndarray) -> None:
    """Marks the cells of watchpoints: written ones (watch, awatch) and read ones (rwatch, awatch)."""
    for w in watches:
        if w.kind in ("watch", "awatch"):
            written[w.start : w.stop] = True
        if w.kind in ("rwatch", "awatch"):
            read[w.start : w.stop] = True
