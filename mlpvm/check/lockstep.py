"""The network and the reference interpreter side by side, compared on the whole state after every pass.

This is what every claim of exactness rests on. A ``Batch`` runs B programs on one batched engine beside B
reference machines and after every pass compares every field of every machine's state with the reference:
memory (every cell), the instruction slots, PC, the halt and fault flags, the I/O handshake fields, the
output so far, the input consumed, and the registers the pass decoded (A, B, C, mem[A], mem[B], result,
branch, next PC) against the reference's micro-operations. The first difference is a ``Divergence`` naming
the program, the step, the field, and the first layer whose activations disagree with the reference.

By default each engine call runs one pass. ``passes_per_call`` runs many passes per call, as ``mlpvm run``
does (``Computer.advance``: the engine stops early after a pass with an event, and the host services it
between calls), and compares after each call, and where the call stopped: after the first pass in which the
reference machines raise an event (output, input taken, input wanted, halt, fault), else after all the passes
asked for. Each machine the host retires must stop for the reference's reason, and a network fault must name
a machine whose activation left {0,1} on the layer it names. ``staggered`` makes a batch whose machines start
one pass apart along one reference trace, so that one call of K passes leaves the batch covering consecutive
passes, each compared with the reference at that pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import cycle

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.engines import Engine
from mlpvm.errors import NetworkFault
from mlpvm.host.computer import Computer
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.reference import Micro
from mlpvm.machines.state import REGISTERS, encode, from_bits, register, to_bits, word
from mlpvm.program.inputs import Input
from mlpvm.protocol import INPUTS, KIND_FLAGS, OUT_BYTE, has_io, placed

# The kinds of step after which a machine's host has work to do: the engine's call must stop after that pass
# (``protocol.EVENTS``: output, input taken or wanted, halted; a machine loaded already stopped shows it too).
EVENT_KINDS = ("out", "in", "wait", "halt", "fault", "halted")


@dataclass
class Program:
    """What a lockstep run loads: memory words (and ``paper`` slots), the input, and where it starts."""

    words: list[int]
    slots: list[tuple[int, int, int]] | None = None
    data: bytes = b""
    pc: int = 0
    closed: bool = True  # the input ends after ``data``; False: an input instruction then waits
    halted: bool = False  # already stopped (a halted machine must stay exactly as it is)
    fault: bool = False
    eof_reads: int | None = None  # the end-of-input rule (``mlpvm.program.inputs``): None, no limit

    def input(self) -> Input:
        return Input(self.data, self.closed, eof_reads=self.eof_reads)


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


def first_off_binary(names: list[str], trace: list[np.ndarray]) -> tuple[str, int] | None:
    """The first layer in which an activation left {0,1}, and the first machine (row) where it did."""
    for name, h in zip(names, trace):
        rows = np.flatnonzero(((h != 0) & (h != 1)).any(axis=1))
        if len(rows):
            return name, int(rows[0])
    return None


class Batch:
    """B programs on one batched engine beside B reference machines; ``step()`` runs one pass of all that
    are running and compares every field of every state with the reference."""

    def __init__(self, engine: Engine, config: Config, programs: Sequence[Program]):
        self.engine, self.config, self.programs = engine, config, list(programs)
        state, harvard = engine.state, config.spec.harvard
        self.refs = [reference.load(config, p.words, p.slots) for p in self.programs]
        self.ref_inputs = [p.input() for p in self.programs]
        states = np.stack([encode(state, config, p.words, p.slots) for p in self.programs])
        for i, p in enumerate(self.programs):
            ref = self.refs[i]
            if p.pc:
                state.view(states[i], "pc")[...] = to_bits(p.pc, state["pc"].size)
                ref.pc = config.spec.pc(config, p.pc)
            for name in ("halted", "fault"):
                if getattr(p, name):
                    state.view(states[i], name)[...] = 1
                    setattr(ref, name, True)
        self.computer = Computer(engine, states, [p.input() for p in self.programs])
        # The reference memory as bits, kept up to date from the cell each step writes (mem[B]).
        self.mem_bits = to_bits(np.array([r.mem for r in self.refs]), config.bits)
        self.ins_bits = to_bits(np.array([r.slots for r in self.refs]), config.ins_bits) if harvard else None
        self.reasons: dict[int, str] = {}  # why each program stopped: halt, fault, wait, limit
        self.passes = 0

    @property
    def stopped(self) -> bool:
        return not len(self.computer.ids)

    @property
    def steps(self) -> int:
        """Steps checked so far, over all programs."""
        return sum(r.steps for r in self.refs)

    def step(self, passes: int = 1) -> Divergence | None:
        """One engine call of up to ``passes`` passes of all that are running (``Computer.advance``, what
        ``mlpvm run`` does), then the whole state of every machine compared with its reference, advanced by
        the passes the call ran."""
        if passes > 1:
            return self._call(passes)
        c = self.computer
        mids, before = c.ids.copy(), c.x.copy()
        placed = [self.ref_inputs[i].peek() for i in mids]
        micros = {int(i): self.refs[i].step(self.ref_inputs[i]) for i in mids}
        self._write_mirror(micros)
        start = c.passes
        try:
            c.step()
        except NetworkFault as fault:
            return self._network_fault(before, mids, micros, fault)
        self.passes += 1
        if c.passes - start != 1:
            return self._call_length(mids, micros, c.passes - start, 1)
        return self._compare(mids, before, placed, micros)

    def _call(self, passes: int) -> Divergence | None:
        """A call of many passes; a network fault inside it is found again one pass at a time, from the same
        states, to name its layer and step."""
        c = self.computer
        mids, before, start = c.ids.copy(), c.x.copy(), c.passes
        placed = [self.ref_inputs[i].peek() for i in mids]  # what the first pass reads: to locate a one-pass call
        try:
            c.advance(passes)
        except NetworkFault as fault:
            c.x[...] = before
            for _ in range(passes):
                div = self.step()
                if div is not None or self.stopped:
                    return div
            raise RuntimeError("a network fault in a call of many passes did not recur one pass at a time") from fault
        ran = c.passes - start
        micros: dict[int, Micro] = {}
        expected = 0
        while expected < passes:  # the passes the call must run: to the first event, or all of them
            micros = {int(i): self.refs[i].step(self.ref_inputs[i]) for i in mids}
            self._write_mirror(micros)
            expected += 1
            if self._events(micros):
                break
        self.passes += ran
        if ran != expected:
            return self._call_length(mids, micros, ran, expected)
        div = self._compare(mids, before, placed, micros, locate=ran == 1)
        if div is not None:
            div.passes = ran
        return div

    @staticmethod
    def _events(micros: dict[int, Micro]) -> list[int]:
        """The machines whose step raised an event, by machine id."""
        return [i for i, m in micros.items() if m.kind in EVENT_KINDS]

    def _call_length(self, mids: np.ndarray, micros: dict[int, Micro], ran: int, expected: int) -> Divergence:
        """The engine's call stopped after ``ran`` passes where the reference says ``expected`` (the first pass
        with an event, else the passes asked for): named on the machine whose event ends the call, if any."""
        events = self._events(micros)
        mid = events[0] if events else int(mids[0])
        m = micros[mid]
        what = f"an event ({m.kind}) of machine {mid}" if events else "no event"
        div = Divergence(self.refs[mid].steps - m.is_step, f"passes of the engine call ({what})", ran, expected)
        div.program, div.passes = mid, ran
        return div

    def _compare(
        self, mids: np.ndarray, before: np.ndarray, placed: list, micros: dict[int, Micro], locate: bool = True
    ) -> Divergence | None:
        """The first divergence after a call, over the machines that ran it (``mids``, from states ``before``)."""
        c = self.computer
        retired = [int(i) for i in mids if i in c.done and i not in self.reasons]
        for i in retired:
            self.reasons[i] = c.done[i].reason
            self._check_mirror(i)
        bad = [b for b in (self._first_bad(c.x, c.ids, micros), self._first_bad_retired(retired, micros)) if b]
        if not bad:  # every state is right: then each machine the host retired must stop for the right reason
            wrong = [i for i in retired if self.reasons[i] not in self._reasons(i, micros[i])]
            if not wrong:
                return None
            m = micros[wrong[0]]
            step = self.refs[wrong[0]].steps - m.is_step
            return Divergence(step, "stop reason", self.reasons[wrong[0]], m.kind, None, wrong[0])
        mid, field, got, want = min(bad, key=lambda b: b[0])
        row = int(np.flatnonzero(mids == mid)[0])
        m = micros[mid]
        layer = self._locate(before[row], m, placed[row], mid) if locate else None
        return Divergence(self.refs[mid].steps - m.is_step, field, got, want, layer, mid)

    def _reasons(self, mid: int, m: Micro) -> tuple[str, ...]:
        """The reasons the host may give for retiring machine ``mid`` after its reference step ``m``."""
        ref = self.refs[mid]
        if ref.fault:
            return ("fault",)
        if ref.halted:
            return ("halt",)
        return ("wait", "eof") if m.kind == "wait" else ()

    def run(
        self,
        max_steps: int | None = None,
        interrupted: Callable[[], bool] = lambda: False,
        progress=None,
        passes_per_call: int | Sequence[int] = 1,
    ) -> tuple[int, Divergence | None]:
        """Steps until every program stops (or reaches ``max_steps``, or ``interrupted()``); returns the steps
        checked and the first divergence. ``passes_per_call``: the passes each engine call may run, or a
        sequence of them taken in turn (the call ends earlier at an event, or where a program would pass
        ``max_steps``, as ``Computer.run`` does)."""
        calls = cycle([passes_per_call] if isinstance(passes_per_call, int) else passes_per_call)
        while not self.stopped:
            if max_steps is not None:
                done = [int(i) for i in self.computer.ids if self.refs[i].steps >= max_steps]
                if done:
                    self.computer.stop(done, "limit")
                    self.reasons.update(dict.fromkeys(done, "limit"))
                    continue
            if interrupted():
                break
            passes = next(calls)
            if max_steps is not None:  # a pass executes at most one instruction per machine
                passes = min(passes, max_steps - max(self.refs[i].steps for i in self.computer.ids))
            div = self.step(passes)
            if div is not None:
                return self.steps, div
            if progress is not None:
                progress(self)
        return self.steps, None

    def _write_mirror(self, micros: dict[int, Micro]) -> None:
        writes = [(i, m.b) for i, m in micros.items() if m.kind in ("sub", "in")]
        if writes:
            mids, cells = np.array(writes).T
            values = [self.refs[i].mem[b] for i, b in writes]
            self.mem_bits[mids, cells] = to_bits(values, self.config.bits)

    def _check_mirror(self, mid: int) -> None:
        """The memory mirror is exact (it follows from the reference writing only mem[B]); confirmed in full
        whenever a program stops."""
        if not np.array_equal(from_bits(self.mem_bits[mid]), self.refs[mid].mem):
            raise RuntimeError(f"lockstep memory mirror of program {mid} disagrees with the reference")

    def _first_bad_retired(self, mids: list[int], micros: dict[int, Micro]) -> tuple | None:
        if not mids:
            return None
        return self._first_bad(np.stack([self.computer.done[i].state for i in mids]), np.array(mids), micros)

    def _first_bad(self, x: np.ndarray, mids: np.ndarray, micros: dict[int, Micro]) -> tuple | None:
        """(program, field, network value, reference value) of the first program (lowest index) that differs."""
        if not len(mids):
            return None
        checks = self._mismatches(x, mids, micros)
        bad = np.zeros(len(mids), bool)
        for _, rows in checks:
            bad |= rows
        if not bad.any():
            return None
        row = int(np.argmin(np.where(bad, mids, np.iinfo(np.int64).max)))
        field = next(name for name, rows in checks if rows[row])
        return int(mids[row]), *self._describe(x[row], int(mids[row]), micros[int(mids[row])], field)

    def _mismatches(self, x: np.ndarray, mids: np.ndarray, micros: dict[int, Micro]) -> list[tuple[str, np.ndarray]]:
        """For each field, in report order, which machines (rows of ``x``) differ from the reference."""
        state, refs, ms = self.engine.state, [self.refs[i] for i in mids], [micros[int(i)] for i in mids]
        checks: list[tuple[str, np.ndarray]] = []

        def bits(name: str, values, defined=None) -> None:
            width = state[name].size
            got = x[:, state[name].offset : state[name].stop]
            rows = (got != to_bits(np.asarray(values, np.int64), width).reshape(len(x), width)).any(axis=1)
            checks.append((name, rows if defined is None else rows & np.asarray(defined, bool)))

        bits("pc", [r.pc for r in refs])
        bits("halted", [r.halted for r in refs])
        if "fault" in state:
            bits("fault", [r.fault for r in refs])
        bits("executed", [m.is_step for m in ms])
        if has_io(state):
            for name, kind in KIND_FLAGS.items():
                bits(name, [m.kind == kind for m in ms])
            bits(OUT_BYTE, [m.out or 0 for m in ms], [m.out is not None for m in ms])
            outputs, inputs = self.computer.outputs, self.computer.inputs
            checks.append(("output", np.array([outputs[i] != self.refs[i].output for i in mids])))
            checks.append(("input", np.array([inputs[i].consumed != self.ref_inputs[i].consumed for i in mids])))
            for name, values in zip(INPUTS, _placed([inputs[i].peek() for i in mids])):
                bits(name, values)
        checks.append(("mem", (state.view(x, "mem") != self.mem_bits[mids]).any(axis=(1, 2))))
        if self.ins_bits is not None:
            checks.append(("ins", (state.view(x, "ins") != self.ins_bits[mids]).any(axis=(1, 2, 3))))
        for name in REGISTERS:
            values = [getattr(m, name) for m in ms]
            bits(name, [v or 0 for v in values], [v is not None for v in values])
        return checks

    def _describe(self, x: np.ndarray, mid: int, m: Micro, field: str) -> tuple[str, object, object]:
        """The field's name (with the cell or slot), its value on the network, and in the reference."""
        state, cfg, ref = self.engine.state, self.config, self.refs[mid]
        if field == "mem":
            got = from_bits(state.view(x, "mem"))
            i = int(np.flatnonzero(got != np.asarray(ref.mem))[0])
            return f"mem[{i}]", int(got[i]), ref.mem[i]
        if field == "ins":
            got = from_bits(state.view(x, "ins"), signed=False)
            j = int(np.flatnonzero((got != np.asarray(ref.slots)).any(axis=1))[0])
            return f"ins[{j}]", tuple(int(v) for v in got[j]), tuple(ref.slots[j])
        if field == "output":
            return field, bytes(self.computer.outputs[mid]), bytes(ref.output)
        if field == "input":
            return "input consumed", self.computer.inputs[mid].consumed, self.ref_inputs[mid].consumed
        if field in INPUTS:
            want = dict(zip(INPUTS, (v[0] for v in _placed([self.computer.inputs[mid].peek()]))))
            return field, word(state, x, field, signed=False), int(want[field])
        if field == OUT_BYTE:
            return field, word(state, x, field, signed=False), m.out
        want = {"pc": ref.pc, "halted": ref.halted, "fault": ref.fault, "executed": m.is_step}
        want.update({name: m.kind == kind for name, kind in KIND_FLAGS.items()})
        want.update({name: getattr(m, name) for name in REGISTERS})
        return field, register(state, cfg, x, field), int(want[field])

    def _locate(self, before: np.ndarray, m: Micro, placed: int | None, mid: int) -> str | None:
        """Re-runs the diverging pass of one machine with a trace to find the first layer that went wrong."""
        trace = self._trace(before)
        return first_bad_layer(
            self.config, self.engine.layouts, self.engine.layer_names, trace, m, 0, self._carried(m, placed, mid)
        )

    def _trace(self, before: np.ndarray) -> list[np.ndarray]:
        trace: list[np.ndarray] = []
        guard, self.engine.guard = self.engine.guard, False
        try:
            self.engine.run_pass(np.array(np.atleast_2d(before)), trace)
        finally:
            self.engine.guard = guard
        return trace

    def _carried(self, m: Micro, placed: int | None, mid: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Bits of the state fields before and after the reference step, for locating a divergence."""
        cfg, ref, state = self.config, self.refs[mid], self.engine.state
        post_mem = self.mem_bits[mid]
        pre_mem = post_mem.copy()
        if m.kind in ("sub", "in"):
            pre_mem[m.b] = to_bits(m.mem_b, cfg.bits)
        width = state["pc"].size
        stopped = m.kind == "halted"  # it was stopped before the step: nothing changes
        carried = {
            "mem": (pre_mem, post_mem),
            "pc": (to_bits(m.pc, width), to_bits(ref.pc, width)),
            "halted": (np.array([stopped]), np.array([ref.halted])),
        }
        if "fault" in state:
            carried["fault"] = (np.array([stopped and ref.fault]), np.array([ref.fault]))
        if self.ins_bits is not None:
            carried["ins"] = (self.ins_bits[mid], self.ins_bits[mid])
        if has_io(state):
            for name, values in zip(INPUTS, _placed([placed])):
                bits = to_bits(values, state[name].size).ravel()
                carried[name] = (bits, bits)
        return carried

    def _network_fault(
        self, before: np.ndarray, mids: np.ndarray, micros: dict[int, Micro], fault: NetworkFault
    ) -> Divergence:
        """The guard stopped a pass: find the first layer and program where an activation left {0,1}. The
        machine the engine names (when it names one) must have left {0,1} on the layer it names."""
        trace = self._trace(before)
        names = self.engine.layer_names
        if fault.machine is not None and fault.layer in names:
            h = trace[names.index(fault.layer)]
            off = np.flatnonzero(((h != 0) & (h != 1)).any(axis=1))
            if fault.machine not in off:
                mid = int(mids[off[0]]) if len(off) else int(mids[0])
                step = self.refs[mid].steps - micros[mid].is_step
                named = int(mids[fault.machine]) if 0 <= fault.machine < len(mids) else fault.machine
                return Divergence(step, f"the machine the network fault names ({fault.layer})", named, mid, None, mid,
                                  fault=True)  # fmt: skip
        found = first_off_binary(names, trace)
        layer, row = found if found else (None, 0)
        mid = int(mids[row])
        step = self.refs[mid].steps - micros[mid].is_step
        return Divergence(step, "network fault", None, None, layer, mid, fault=True)


def _placed(values: list[int | None]) -> tuple[list[int], ...]:
    """What the host places in each of the input fields (``protocol.INPUTS``) for each next input."""
    rows = [placed(v) for v in values]
    return tuple([row[name] for row in rows] for name in INPUTS)


def staggered(config: Config, program: Program, machines: int) -> list[Program]:
    """``program`` and the states the reference reaches from it after 1, 2, ... ``machines - 1`` passes (fewer
    if it stops or waits sooner): a batch whose machine i is i passes along the same trace, so that one engine
    call of K passes leaves it at passes K .. K + machines - 1, each compared with the reference there."""
    ref, inp = reference.load(config, program.words, program.slots), program.input()
    ref.pc = config.spec.pc(config, program.pc)
    out: list[Program] = []
    while len(out) < machines and not ref.halted:
        out.append(Program(list(ref.mem), program.slots, inp.pending(), ref.pc, program.closed))
        if ref.step(inp).kind == "wait":
            break
    return out


class Lockstep(Batch):
    """One program on an engine and on the reference."""

    def __init__(self, engine: Engine, config: Config, words: list[int], slots=None, data: bytes = b""):
        super().__init__(engine, config, [Program(words, slots, data)])

    @property
    def ref(self) -> reference.Reference:
        return self.refs[0]
