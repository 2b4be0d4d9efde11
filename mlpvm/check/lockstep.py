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

from mlpvm.check.runner import Divergence, carried, describe, locate, mirror, mismatches, trace
from mlpvm.engines import Engine
from mlpvm.errors import NetworkFault
from mlpvm.host.computer import Computer
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.reference import Micro
from mlpvm.machines.state import encode, from_bits, to_bits
from mlpvm.program.inputs import Input

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
        for i, m in micros.items():
            mirror(self.mem_bits[i], self.refs[i], m)

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
        c, ins = self.computer, None if self.ins_bits is None else self.ins_bits[mids]
        refs, ms = [self.refs[i] for i in mids], [micros[int(i)] for i in mids]
        outputs, inputs, ref_inputs = ([seq[i] for i in mids] for seq in (c.outputs, c.inputs, self.ref_inputs))
        return mismatches(self.engine.state, x, refs, ms, self.mem_bits[mids], outputs, inputs, ref_inputs, ins)

    def _describe(self, x: np.ndarray, mid: int, m: Micro, field: str) -> tuple[str, object, object]:
        """The field's name (with the cell or slot), its value on the network, and in the reference."""
        c = self.computer
        return describe(self.engine.state, self.config, x, self.refs[mid], m, field, c.outputs[mid], c.inputs[mid],
                        self.ref_inputs[mid])  # fmt: skip

    def _locate(self, before: np.ndarray, m: Micro, placed: int | None, mid: int) -> str | None:
        """Re-runs the diverging pass of one machine with a trace to find the first layer that went wrong."""
        ins = None if self.ins_bits is None else self.ins_bits[mid]
        fields = carried(self.engine.state, self.refs[mid], m, self.mem_bits[mid], placed, ins)
        return locate(self.engine, self.config, before, m, fields)

    def _network_fault(
        self, before: np.ndarray, mids: np.ndarray, micros: dict[int, Micro], fault: NetworkFault
    ) -> Divergence:
        """The guard stopped a pass: find the first layer and program where an activation left {0,1}. The
        machine the engine names (when it names one) must have left {0,1} on the layer it names."""
        layers = trace(self.engine, before)
        names = self.engine.layer_names
        if fault.machine is not None and fault.layer in names:
            h = layers[names.index(fault.layer)]
            off = np.flatnonzero(((h != 0) & (h != 1)).any(axis=1))
            if fault.machine not in off:
                mid = int(mids[off[0]]) if len(off) else int(mids[0])
                step = self.refs[mid].steps - micros[mid].is_step
                named = int(mids[fault.machine]) if 0 <= fault.machine < len(mids) else fault.machine
                return Divergence(step, f"the machine the network fault names ({fault.layer})", named, mid, None, mid,
                                  fault=True)  # fmt: skip
        found = first_off_binary(names, layers)
        layer, row = found if found else (None, 0)
        mid = int(mids[row])
        step = self.refs[mid].steps - micros[mid].is_step
        return Divergence(step, "network fault", None, None, layer, mid, fault=True)


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
