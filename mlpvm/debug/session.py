"""The debugger's model (the bdb to the REPL's pdb): a program on the network, the reference interpreter in
lockstep beside it, breakpoints, watchpoints, history and I/O. No UI here: callers drive a ``Session`` and
render the ``Stop`` records and state it returns.

After every pass the session decodes the state vector back into PC, registers and the memory the pass
touched; it never feeds anything it decoded back into the network, except what the user explicitly sets
(``set mem[i] = v``, ``set pc = v``), which is written into the state as bits and mirrored in the reference.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mlpvm.check.lockstep import Divergence, first_bad_layer
from mlpvm.debug.expr import Env, Expr, ExprError
from mlpvm.engines import DEFAULT, Engine, make
from mlpvm.errors import MlpvmError
from mlpvm.host.computer import place_input
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import REGISTERS, Fields, decode, encode, from_bits, to_bits
from mlpvm.program.image import Image
from mlpvm.program.inputs import Input

HISTORY_BYTES = 64 << 20  # state snapshots kept for reverse execution


class DebugError(MlpvmError):
    """A command that cannot be carried out (unknown label, bad address, no such breakpoint, ...)."""


@dataclass
class Breakpoint:
    number: int
    address: int
    spec: str  # as the user wrote it: "loop", "12"
    temporary: bool = False
    condition: Expr | None = None
    ignore: int = 0
    hits: int = 0
    enabled: bool = True


@dataclass
class Watchpoint:
    number: int
    start: int
    stop: int  # exclusive
    kind: str  # watch (write) | rwatch (read) | awatch (either)
    spec: str
    hits: int = 0
    enabled: bool = True


@dataclass(frozen=True)
class Pass:
    """What one pass did, decoded from the state after it (and the memory before it)."""

    number: int  # 1-based pass count
    step: int  # steps completed after this pass
    pc: int  # PC of the instruction the pass looked at
    kind: str  # sub | in | out | idle (halted, waiting, or stopped this pass)
    a: int
    b: int
    c: int
    mem_a: int
    mem_b: int
    result: int
    branch: bool
    next_pc: int
    new_pc: int
    reads: tuple[int, ...]  # memory cells read: the instruction words, then operands
    written: int | None  # the cell written, if any
    old: int | None  # its value before and after
    new: int | None
    out: int | None  # the byte output, if any


@dataclass
class Stop:
    """Why a run stopped, for the banner."""

    reason: (
        str  # step | breakpoint | watchpoint | halt | fault | limit | wait | divergence | interrupt | until | history
    )
    pc: int
    breakpoint: Breakpoint | None = None
    watch: list[tuple[Watchpoint, int, str, int | None, int | None]] = field(default_factory=list)
    divergence: Divergence | None = None
    last: Pass | None = None


@dataclass(frozen=True)
class _Snapshot:
    bits: np.ndarray  # the packed state vector before a pass
    passes: int
    steps: int
    output: int  # bytes output so far
    consumed: int  # input bytes taken so far
    record: Pass | None  # the pass that led to this state, for ``history``


class Session:
    def __init__(
        self, image: Image, config: Config, data: bytes = b"", engine: str | Engine = DEFAULT, check: bool = True
    ):
        """``engine``: a name, or an engine (for example the stored matrices of a weight file, which the layer
        views then show too)."""
        self.image, self.config, self.check = image, config, check
        self.source_map = image.source_map
        self.engine: Engine = make(engine, config) if isinstance(engine, str) else engine
        self._fields = Fields(self.engine.state, config)
        self._plain: Engine | None = None if isinstance(engine, str) or engine.name == "structured" else engine
        self.initial_input = data
        self.breakpoints: dict[int, Breakpoint] = {}
        self.watchpoints: dict[int, Watchpoint] = {}
        self._numbers = 0
        self._interrupted = False
        self.restart()

    # -- running ---------------------------------------------------------------------------------

    def restart(self) -> None:
        """Back to the loaded program at PC 0, with the initial input; breakpoints stay."""
        self.x = self.engine.new_batch(encode(self.engine.state, self.config, self.image.words, self.image.slots))
        self.ref = reference.load(self.config, self.image.words, self.image.slots)
        self.net_input = Input(self.initial_input, closed=False)
        self.ref_input = Input(self.initial_input, closed=False)
        self.output = bytearray()
        self.passes = self.steps = 0
        self.last: Pass | None = None
        snapshot = len(np.packbits(self.x[0] > 0.5))
        self.history: deque[_Snapshot] = deque(maxlen=max(16, HISTORY_BYTES // snapshot))
        self._place()
        self._sync_reference_bits()

    def _sync_reference_bits(self) -> None:
        """The reference's memory as bits, kept beside it so that comparing all of memory is one array test."""
        self._ref_bits = np.array(self.engine.state.view(self.x[0], "mem"))

    @property
    def io(self) -> bool:
        return "in_ack" in self.engine.state

    def _place(self) -> None:
        if self.io:
            place_input(self.engine.state, self.x[0], self.net_input.peek())
        self._read()

    def feed(self, data: bytes) -> None:
        """Queues program input (``input TEXT``)."""
        self.net_input.feed(data)
        self.ref_input.feed(data)
        self._place()

    def close_input(self) -> None:
        """End of input: a read now stores -1."""
        self.net_input.close()
        self.ref_input.close()
        self._place()

    def interrupt(self) -> None:
        """Ctrl-C: the running command stops after the current pass."""
        self._interrupted = True

    def step(self, n: int = 1) -> Stop:
        """``n`` loop passes, stopping early at a breakpoint, watchpoint, halt or anything else."""
        return self._run(n)

    def cont(self, max_steps: int | None = None) -> Stop:
        return self._run(None, max_steps=max_steps)

    def until(self, address: int, max_steps: int | None = None) -> Stop:
        return self._run(None, until=address, max_steps=max_steps)

    def _run(self, passes: int | None, until: int | None = None, max_steps: int | None = None) -> Stop:
        self._interrupted = False
        done = 0
        while True:
            if self.halted:
                return Stop("fault" if self.fault else "halt", self.pc, last=self.last)
            stop = self._pass()
            done += 1
            if stop is not None:
                return stop
            if until is not None and self.pc == until:
                return Stop("until", self.pc, last=self.last)
            if passes is not None and done >= passes:
                return Stop("step", self.pc, last=self.last)
            if max_steps is not None and self.steps >= max_steps:
                return Stop("limit", self.pc, last=self.last)
            if self._interrupted:
                return Stop("interrupt", self.pc, last=self.last)

    def _pass(self) -> Stop | None:
        before = self.x.copy()
        self._remember(before)
        old_pc = self.pc
        self.engine.run_pass(self.x)
        self.passes += 1
        now = self._read()
        out = None
        if now.get("out_valid"):
            out = now["out_byte"]
            self.output.append(out)
        if now.get("in_ack"):
            self.net_input.take()
            self._place()
        self.steps += now["executed"]
        micro = self.ref.step(self.ref_input) if self.check else None
        self.last = self._describe(before[0], old_pc, out)
        diff = self._disagreement(micro) if micro is not None else None
        if diff is not None:
            trace = self.trace_of(before)
            layer = first_bad_layer(self.config, self.plain.layouts, self.plain.layer_names, trace, micro)
            return Stop("divergence", self.pc, divergence=Divergence(self.steps, *diff, layer=layer), last=self.last)
        if self.halted:
            return Stop("fault" if self.fault else "halt", self.pc, last=self.last)
        if now.get("in_wait"):
            return Stop("wait", self.pc, last=self.last)
        hits = self._watch_hits(self.last)
        if hits:
            return Stop("watchpoint", self.pc, watch=hits, last=self.last)
        bp = self._breakpoint_hit()
        if bp is not None:
            return Stop("breakpoint", self.pc, breakpoint=bp, last=self.last)
        return None

    def _disagreement(self, micro) -> tuple[str, object, object] | None:
        """The first field where the state differs from the reference after a step, as (field, network,
        reference); None when all agree. Cheap enough for every pass: registers, flags and output come from
        the decoded fields, and memory is compared as bits with the reference's memory kept as bits."""
        if micro.kind in ("sub", "in"):
            self._ref_bits[micro.b] = to_bits(self.ref.mem[micro.b], self.config.bits)
        now, ref = self._now, self.ref
        checks = [
            ("pc", now["pc"], ref.pc),
            ("halted", bool(now["halted"]), ref.halted),
            ("fault", bool(now.get("fault", 0)), ref.fault),
            ("executed", bool(now["executed"]), micro.is_step),
            ("output", bytes(self.output[-1:]), bytes(ref.output[-1:])),
            ("output length", len(self.output), len(ref.output)),
        ]
        checks += [(r, now[r], int(getattr(micro, r))) for r in REGISTERS if getattr(micro, r) is not None]
        for name, got, want in checks:
            if got != want:
                return name, got, want
        mem = self.engine.state.view(self.x[0], "mem")
        if not np.array_equal(mem, self._ref_bits):
            i = int(np.flatnonzero((mem != self._ref_bits).any(axis=1))[0])
            return f"mem[{i}]", self.mem(i), self.ref.mem[i]
        return None

    # -- what the state says -----------------------------------------------------------------------

    def _read(self) -> dict[str, int]:
        """Decodes the state's registers, flags and I/O fields (not memory): after every pass or edit."""
        self._now = self._fields(self.x[0])
        return self._now

    @property
    def pc(self) -> int:
        return self._now["pc"]

    @property
    def halted(self) -> bool:
        return bool(self._now["halted"])

    @property
    def fault(self) -> bool:
        return bool(self._now.get("fault", 0))

    def registers(self) -> dict[str, int]:
        """PC, the registers of the last pass, and the flags."""
        regs = {"pc": self.pc, **{r: self._now[r] for r in REGISTERS}}
        regs.update(halted=int(self.halted), fault=int(self.fault), step=self.steps, passes=self.passes)
        return regs

    def mem(self, address: int) -> int:
        """The word in a memory cell, decoded from the state."""
        if not 0 <= address < self.config.cells:
            raise DebugError(f"address {address} is outside memory (0..{self.config.cells - 1})")
        return int(from_bits(self.engine.state.view(self.x[0], "mem")[address]))

    def memory(self) -> np.ndarray:
        return from_bits(self.engine.state.view(self.x[0], "mem"))

    def slot(self, index: int) -> tuple[int, int, int]:
        """The (a, b, c) of an instruction slot of the paper machine."""
        cfg = self.config
        if not 0 <= index < cfg.slots:
            raise DebugError(f"slot {index} is outside the program (0..{cfg.slots - 1})")
        a, b, c = self.engine.state.view(self.x[0], "ins")[index]
        widths = (cfg.addr_bits, cfg.addr_bits, cfg.slot_bits)
        return tuple(int(from_bits(v[:w], signed=False)) for v, w in zip((a, b, c), widths))

    def env(self) -> Env:
        names = dict(self.source_map.labels) if self.source_map else {}
        names.update(self.registers())
        names["steps"] = self.steps
        return Env(names, self.mem)

    def evaluate(self, text: str | Expr) -> int:
        return (text if isinstance(text, Expr) else Expr(text))(self.env())

    def address(self, spec: str) -> int:
        """An address from a label, a number or an expression (a label wins over a register's name)."""
        if self.source_map and spec.strip() in self.source_map.labels:
            return self.source_map.labels[spec.strip()]
        try:
            return self.evaluate(spec)
        except ExprError as e:
            raise DebugError(str(e)) from None

    def _describe(self, before: np.ndarray, old_pc: int, out: int | None) -> Pass:
        """The pass just run, from the registers it left in the state."""
        state, regs = self.engine.state, self._now
        if not regs["executed"]:
            kind = "idle"
        elif regs.get("in_ack"):
            kind = "in"
        elif out is not None:
            kind = "out"
        else:
            kind = "sub"
        reads: tuple[int, ...] = ()
        written = old = new = None
        if kind != "idle":
            fetched = self.config.spec.fetched(old_pc)
            operands = {"sub": (regs["a"], regs["b"]), "out": (regs["a"],), "in": ()}[kind]
            reads = fetched + operands
            if kind in ("sub", "in"):
                written = regs["b"]
                old = int(from_bits(state.view(before, "mem")[written]))
                new = self.mem(written)
        return Pass(self.passes, self.steps, old_pc, kind, regs["a"], regs["b"], regs["c"], regs["mem_a"],
                    regs["mem_b"], regs["result"], bool(regs["branch"]), regs["next_pc"], self.pc, reads,
                    written, old, new, out)  # fmt: skip

    # -- breakpoints and watchpoints ---------------------------------------------------------------

    def _number(self) -> int:
        self._numbers += 1
        return self._numbers

    def add_breakpoint(self, spec: str, condition: str | None = None, temporary: bool = False) -> Breakpoint:
        address = self.address(spec)
        bp = Breakpoint(self._number(), address, spec, temporary, Expr(condition) if condition else None)
        self.breakpoints[bp.number] = bp
        return bp

    def add_watchpoint(self, spec: str, kind: str = "watch") -> Watchpoint:
        """``spec`` is a cell (number, label, expression) or a range ``START:END`` (end exclusive)."""
        first, _, last = spec.partition(":")
        start = self.address(first)
        stop = self.address(last) if last else start + 1
        if not 0 <= start < stop <= self.config.cells:
            raise DebugError(f"watch range {start}..{stop - 1} is outside memory (0..{self.config.cells - 1})")
        wp = Watchpoint(self._number(), start, stop, kind, spec)
        self.watchpoints[wp.number] = wp
        return wp

    def point(self, number: int) -> Breakpoint | Watchpoint:
        found = self.breakpoints.get(number) or self.watchpoints.get(number)
        if found is None:
            raise DebugError(f"no breakpoint or watchpoint number {number}")
        return found

    def delete(self, number: int | None = None) -> None:
        if number is None:
            self.breakpoints.clear()
            self.watchpoints.clear()
            return
        self.point(number)
        self.breakpoints.pop(number, None)
        self.watchpoints.pop(number, None)

    def _breakpoint_hit(self) -> Breakpoint | None:
        pc = self.pc
        for bp in list(self.breakpoints.values()):
            if not bp.enabled or bp.address != pc:
                continue
            if bp.condition is not None and not self.evaluate(bp.condition):
                continue
            bp.hits += 1
            if bp.ignore > 0:
                bp.ignore -= 1
                continue
            if bp.temporary:
                del self.breakpoints[bp.number]
            return bp
        return None

    def _watch_hits(self, p: Pass) -> list[tuple[Watchpoint, int, str, int | None, int | None]]:
        hits = []
        for wp in self.watchpoints.values():
            if not wp.enabled:
                continue
            inside = range(wp.start, wp.stop)
            if wp.kind in ("watch", "awatch") and p.written in inside and (p.old != p.new or wp.kind == "awatch"):
                hits.append((wp, p.written, "write", p.old, p.new))
            elif wp.kind in ("rwatch", "awatch"):
                read = next((a for a in p.reads if a in inside), None)
                if read is not None:
                    hits.append((wp, read, "read", self.mem(read), None))
        for wp, *_ in hits:
            wp.hits += 1
        return hits

    # -- editing the state -------------------------------------------------------------------------

    def set_mem(self, address: int, value: int) -> None:
        self.mem(address)  # range check
        self._remember(self.x.copy())
        word = self.config.wrap(value)
        self.engine.state.view(self.x[0], "mem")[address] = self._ref_bits[address] = to_bits(word, self.config.bits)
        self.ref.mem[address] = word

    def set_pc(self, value: int) -> None:
        bits = self.engine.state["pc"].shape[0]
        if self.config.spec.harvard and not 0 <= value < self.config.slots:
            raise DebugError(f"pc must be a slot 0..{self.config.slots - 1}")
        self._remember(self.x.copy())
        self.engine.state.view(self.x[0], "pc")[...] = to_bits(value, bits)
        self.ref.pc = self.config.spec.pc(self.config, value)
        self._read()

    # -- time ------------------------------------------------------------------------------------

    def _remember(self, before: np.ndarray) -> None:
        self.history.append(_Snapshot(np.packbits(before[0] > 0.5), self.passes, self.steps, len(self.output),
                                      self.net_input.consumed, self.last))  # fmt: skip

    def _restore(self, snap: _Snapshot) -> None:
        size = self.engine.state.size
        self.x[0] = np.unpackbits(snap.bits, count=size).astype(self.x.dtype)
        self.passes, self.steps, self.last = snap.passes, snap.steps, snap.record
        del self.output[snap.output :]
        self.net_input.seek(snap.consumed)
        self.ref_input.seek(snap.consumed)
        d = decode(self.engine.state, self.config, self.x[0])
        self.ref.mem = [int(v) for v in d.mem]
        self.ref.pc, self.ref.halted, self.ref.steps = d.pc, d.halted, snap.steps
        self.ref.fault = d.fault
        self.ref.output = bytearray(self.output)
        self._sync_reference_bits()
        self._read()

    def reverse_step(self, n: int = 1) -> Stop:
        """Back ``n`` passes, to the exact earlier state."""
        if not self.history or n < 1:
            return Stop("history", self.pc, last=self.last)
        for _ in range(min(n, len(self.history))):
            snap = self.history.pop()
        self._restore(snap)
        return Stop("step" if self.history or n == 1 else "history", self.pc, last=self.last)

    def reverse_continue(self) -> Stop:
        """Back to the most recent earlier state at an enabled breakpoint (whose condition holds there)."""
        while self.history:
            self._restore(self.history.pop())
            pc = self.pc
            for bp in self.breakpoints.values():
                if bp.enabled and bp.address == pc and (bp.condition is None or self.evaluate(bp.condition)):
                    return Stop("breakpoint", pc, breakpoint=bp, last=self.last)
        return Stop("history", self.pc, last=self.last)

    def records(self, n: int | None = None) -> list[Pass]:
        """The last ``n`` passes still in the history, oldest first."""
        seen: dict[int, Pass] = {}
        for rec in [s.record for s in self.history] + [self.last]:
            if rec is not None:
                seen[rec.number] = rec
        recs = list(seen.values())
        return recs[-n:] if n else recs

    # -- the network, layer by layer ---------------------------------------------------------------

    @property
    def plain(self) -> Engine:
        """The stored matrices, evaluated as they are: what the layer views show."""
        if self._plain is None:
            self._plain = make("sparse", self.config)
            self._plain.guard = False
        return self._plain

    def trace_of(self, before: np.ndarray) -> list[np.ndarray]:
        """Every layer's activations for the pass that starts from ``before``."""
        trace: list[np.ndarray] = []
        self.plain.run_pass(np.array(before, dtype=self.plain.dtype, copy=True), trace)
        return trace

    def before(self, number: int) -> np.ndarray | None:
        """The state before pass ``number`` (1-based), while it is in the history."""
        for snap in reversed(self.history):  # the latest: an edit may have changed the state since
            if snap.passes == number - 1:
                return np.unpackbits(snap.bits, count=self.engine.state.size)[None].astype(np.float32)
        return None

    def last_trace(self) -> list[np.ndarray] | None:
        before = self.before(self.passes)
        return None if before is None else self.trace_of(before)
