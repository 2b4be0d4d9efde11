"""The debugger's model (the bdb to the REPL's pdb): a program on the network, the reference interpreter in
lockstep beside it, breakpoints, watchpoints, history and I/O. No UI here: callers drive a ``Session`` and
render the ``Stop`` records and state it returns.

After every pass the session decodes the state vector back into PC, registers and the memory the pass
touched; it never feeds anything it decoded back into the network, except what the user explicitly sets
(``set mem[i] = v``, ``set pc = v``), which is written into the state as bits and mirrored in the reference.

The parts it is made of, each shared with the other front ends: the reference beside the network and the
checked chunks are ``check.runner.Checked`` (its comparison is lockstep's), what makes a breakpoint or
watchpoint stop the program is ``records``' (forward and back), source lines are ``source.Sources``, and the
reference machines snapshot and restore themselves for the timeline here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mlpvm.check.runner import CHUNK, Checked, Divergence
from mlpvm.debug import records, source
from mlpvm.debug.expr import Env, Expr, ExprError, parse_assignment
from mlpvm.debug.records import Breakpoint, DebugError, Frame, Pass, Stop, Watchpoint
from mlpvm.engines import DEFAULT, Engine, make
from mlpvm.errors import MlpvmError
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.reference import Saved
from mlpvm.machines.state import REGISTERS, SHOWN, Fields, encode, from_bits, to_bits
from mlpvm.program.image import Image
from mlpvm.program.inputs import Input
from mlpvm.protocol import EXECUTED, FAULT, HALTED, IN_ACK, IN_WAIT, OUT_BYTE, OUT_VALID, has_io, place_input

HISTORY_BYTES = 64 << 20  # state snapshots kept for reverse execution
CHECKPOINT_BYTES = 128 << 20  # states every ``_every`` passes, replayed from to go back further than that
FIRST_EVERY = 64  # passes between checkpoints at first; doubled (and every other one dropped) when full
CHUNKED_EVERY = 4096  # the same when passes run in chunks, which end at checkpoints: replaying them is fast
TAIL = 64  # passes replayed one at a time at the end of a jump back in time, which the history then holds


@dataclass(frozen=True)
class _Snapshot:
    bits: np.ndarray  # the packed state vector before a pass
    passes: int
    steps: int
    output: int  # bytes output so far
    consumed: int  # input bytes taken so far
    record: Pass | None  # the pass that led to this state, for ``history``
    ends: int  # times the program had read the end of its input (the end-of-input rule counts them)
    ref: Saved | None  # the reference machine's own state then (None: a session without the reference)

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes + (self.ref.nbytes if self.ref is not None else 0)


class Session:
    def __init__(
        self, image: Image, config: Config, data: bytes = b"", engine: str | Engine = DEFAULT, check: bool = True,
        eof_reads: int | None = None,
    ):  # fmt: skip
        """``engine``: a name, or an engine (for example the stored matrices of a weight file, which the layer
        views then show too). ``eof_reads``: once the input is closed (``eof``), how often the program may read
        its end before it stops (None: forever)."""
        self.image, self.config, self.check = image, config, check
        self._checkable = check  # the reference (and fast reference) were loaded: the check can come back on
        self.source_map = image.source_map
        self.sources = source.Sources(image.source_map, config.spec.harvard, str(image.path), config.spec.source_suffix)
        self.engine: Engine = make(engine, config) if isinstance(engine, str) else engine
        self._fields = Fields(self.engine.state, config)
        self._plain: Engine | None = None if isinstance(engine, str) or engine.name == "structured" else engine
        self.initial_input, self.eof_reads = data, eof_reads
        self.breakpoints: dict[int, Breakpoint] = {}
        self.watchpoints: dict[int, Watchpoint] = {}
        self._numbers = 0
        self._interrupted = False
        self._testing: Breakpoint | None = None  # the breakpoint whose condition is being tested
        self.progress: Callable[[], None] | None = None  # called between chunks (and passes) of a long run
        self.entries = self._subroutines()
        self.slow = False  # True: every pass on its own, as the chunks are checked against (tests)
        self._redo = 0  # passes of a chunk the network disagreed on, still to run one at a time
        self.checked = Checked(self.engine, config, self._fields, self._load(), Input(), check)
        self.restart()

    # -- running ---------------------------------------------------------------------------------

    def restart(self) -> None:
        """Back to the loaded program at PC 0, with the initial input; breakpoints stay."""
        self.x = self.engine.new_batch(encode(self.engine.state, self.config, self.image.words, self.image.slots))
        self.net_input = Input(self.initial_input, closed=False, eof_reads=self.eof_reads)
        self.checked.load(self._load(), Input(self.initial_input, closed=False, eof_reads=self.eof_reads))
        self.output = bytearray()
        self.passes = self.steps = 0
        self.last: Pass | None = None
        self.diverged: Stop | None = None  # the divergence reported, until going back before it or check off
        self._history: deque[_Snapshot] = deque(maxlen=max(16, HISTORY_BYTES // self._snapshot(self.x).nbytes))
        self._place()
        self.checkpoints: list[_Snapshot] = []
        self._edits: set[int] = set()  # passes at which the user edited the state: their checkpoints stay
        chunked = self.checked.fast is not None or not self.check  # --no-check runs the network's passes in chunks too
        self._every = max(FIRST_EVERY, CHUNKED_EVERY) if chunked else FIRST_EVERY
        self._replaying, self._gap = False, False
        self._checkpoint()

    def _load(self):
        return reference.load(self.config, self.image.words, self.image.slots)

    @property
    def ref(self) -> reference.Reference:
        """The reference machine beside the network (``checked``)."""
        return self.checked.ref

    @property
    def ref_input(self) -> Input:
        return self.checked.inp

    @property
    def io(self) -> bool:
        return has_io(self.engine.state)

    def _place(self) -> None:
        if self.io:
            place_input(self.engine.state, self.x[0], self.net_input.peek())
        self._read()

    def feed(self, data: bytes) -> None:
        """Queues program input (``input TEXT``)."""
        self.net_input.feed(data)
        self.ref_input.feed(data)
        self._place()
        self._edited()  # replaying the passes before it would find the input there sooner

    def close_input(self) -> None:
        """End of input: a read now stores -1."""
        self.net_input.close()
        self.ref_input.close()
        self._place()
        self._edited()

    def interrupt(self) -> None:
        """Ctrl-C: the running command stops after the current pass."""
        self._interrupted = True

    def step(self, n: int = 1) -> Stop:
        """``n`` loop passes, stopping early at a breakpoint, watchpoint, halt or anything else."""
        return self._run(n)

    def cont(self, max_steps: int | None = None) -> Stop:
        """Runs on; ``max_steps`` counts from here (``set max-steps``)."""
        return self._run(None, max_steps=max_steps)

    def until(self, address: int, max_steps: int | None = None) -> Stop:
        return self._run(None, until=address, max_steps=max_steps)

    def run_while(self, going: Callable[[], bool], max_steps: int | None = None, frames: bool = False) -> Stop:
        """Passes until ``going()`` is false after one (source-level stepping), or another reason to stop.
        ``frames``: ``going`` depends only on the CALL chain, which only passes run one at a time change, so
        the passes in between may run in chunks."""
        return self._run(None, max_steps=max_steps, done=lambda: not going(), chunked=frames)

    def _run(
        self, passes: int | None, until: int | None = None, max_steps: int | None = None,
        done: Callable[[], bool] | None = None, chunked: bool = True,
    ) -> Stop:  # fmt: skip
        """``chunked``: whether ``done`` can wait for the passes that need attention (else: every pass)."""
        self._interrupted = False
        refused = self._still_diverged()
        if refused is not None:
            return refused
        count, limit = 0, None if max_steps is None else self.steps + max_steps
        chunks = (done is None or chunked) and self._attention(until, stops=True)
        self._redo = 0
        while True:
            if self.halted:
                return Stop("fault" if self.fault else "halt", self.pc, last=self.last)
            ran, stop = self._forward(chunks, self._budget(passes, count, limit))
            count += ran or 1
            if stop is not None:
                return stop
            if until is not None and self.pc == until:
                return Stop("until", self.pc, last=self.last)
            if (passes is not None and count >= passes) or (done is not None and done()):
                return Stop("step", self.pc, last=self.last)
            if limit is not None and self.steps >= limit:
                return Stop("limit", self.pc, last=self.last)
            if self._interrupted:
                return Stop("interrupt", self.pc, last=self.last)
            if self.progress is not None:
                self.progress()

    def _still_diverged(self) -> Stop | None:
        """After a divergence the reference no longer stands beside the network: a checked run forward is
        refused (a "diverged" stop) until the user goes back before it or turns the check off."""
        d = self.diverged
        if d is None or not self.check:
            return None
        return Stop("diverged", self.pc, divergence=d.divergence, last=self.last)

    def set_check(self, on: bool) -> None:
        """``set check off``: the network runs on alone (as ``--no-check``), also past a divergence; ``on``
        again only at the start (after ``run``), where the reference is back beside the network."""
        if on and not self.check and (self.passes or not self._checkable):
            why = "`run` first" if self._checkable else "the session was started with --no-check"
            raise DebugError(f"The check can be turned back on only at the start: {why}.")
        self.check = on
        if not on:
            self.diverged = None

    def step_line(self, over: bool, max_steps: int | None = None) -> Stop:
        """To the next source line (``step``), or with ``over`` not stopping inside subroutines this line calls
        (``next``). Returning from a subroutine ends the line too. Where there is no source line: one
        instruction (``stepi``; ``nexti`` with ``over``)."""
        line, depth = self.line(), len(self.frames)
        if line is None:
            return self.step_over(max_steps) if over else self.step(1)

        def going() -> bool:
            if over and len(self.frames) > depth:
                return True
            here = self.line()
            return here is None or (here == line and len(self.frames) == depth)

        return self.run_while(going, max_steps)

    def step_over(self, max_steps: int | None = None) -> Stop:
        """One instruction; a CALL's jump into a subroutine runs on until it returns (``nexti``)."""
        depth = len(self.frames)
        stop = self.step(1)
        if stop.reason == "step" and len(self.frames) > depth:
            return self.run_while(lambda: len(self.frames) > depth, max_steps, frames=True)
        return stop

    def finish(self, max_steps: int | None = None, level: int = 0) -> Stop:
        """Until the innermost subroutine (``level`` calls out: its caller's, ...) returns to its caller."""
        depth = len(self.frames) - level
        if depth <= 0:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        return self.run_while(lambda: len(self.frames) >= depth, max_steps, frames=True)

    def until_next(self, max_steps: int | None = None) -> Stop:
        """gdb's ``until`` without an argument: ``next``, but a jump back (a loop's) does not end the line: it
        runs on until a line after the current one, or a return from this subroutine."""
        line, depth, start = self.line(), len(self.frames), self.pc

        def going() -> bool:
            if len(self.frames) != depth:
                return len(self.frames) > depth
            here = self.line()
            return here is None or here == line or self.pc < start

        return self.run_while(going, max_steps)

    def reverse_line(self, over: bool) -> Stop:
        """``reverse-step`` (``over``: ``reverse-next``): back to the start of the previous source line; with
        ``over`` the subroutines that line called are gone back through, else the last line of one is where
        it stops. Ctrl-C stops it at the pass it has reached. Where there is no source line: one pass back."""
        self._interrupted = False
        line, depth = self.line(), len(self.frames)
        if line is None:
            return self.reverse_step(1)
        while True:  # out of the current line
            if not self.passes:
                return Stop("history", self.pc, last=self.last)
            self._back_one()
            if self._interrupted:
                return Stop("interrupt", self.pc, last=self.last)
            here, now = self.line(), len(self.frames)
            if here is not None and not (over and now > depth) and not (here == line and now == depth):
                break
        return self._back_to_line_start()

    def _back_to_line_start(self) -> Stop:
        """Back while the pass that led here ran in the same source line: to the line's first pass."""
        here = self.line()
        while self.passes and self.last is not None and self.line(self.last.pc) == here and not self._interrupted:
            self._back_one()
        return Stop("interrupt" if self._interrupted else "step", self.pc, last=self.last)

    def reverse_finish(self) -> Stop:
        """Back to where the current subroutine was called: the CALL's jump in its caller."""
        self._interrupted = False
        depth = len(self.frames)
        if not depth:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        while self.passes and len(self.frames) >= depth and not self._interrupted:
            self._back_one()
        return Stop("interrupt" if self._interrupted else "step", self.pc, last=self.last)

    def _back_one(self) -> None:
        """One pass back, for the searches by line and frame; the status line is kept up to date."""
        self.reverse_step(1)
        if self.progress is not None:
            self.progress()

    def entry_stop(self) -> Stop | None:
        """A breakpoint at the current PC, tested as if arriving there (``run`` stops at one at the entry)."""
        try:
            bp = self._breakpoint_hit()
        except MlpvmError as e:
            return Stop("condition", self.pc, breakpoint=self._testing, error=str(e), last=self.last)
        return None if bp is None else Stop("breakpoint", self.pc, breakpoint=bp, last=self.last)

    def _pass(self) -> Stop | None:
        before = self.x.copy()
        self._remember(before)
        old_pc, placed = self.pc, self.net_input.peek()
        self.engine.run_pass(self.x)
        self.passes += 1
        now = self._read()
        out = None
        if now.get(OUT_VALID):
            out = now[OUT_BYTE]
            self.output.append(out)
        if now.get(IN_ACK):
            self.net_input.take()
            self._place()
        self.steps += now[EXECUTED]
        micro, diff = self.checked.step(self.x[0], self.output, self.net_input) if self.check else (None, None)
        self.last = self._describe(before[0], old_pc, out, self._frames_after(old_pc))
        if diff is not None:
            layer = self.checked.locate(self.plain, before[0], micro, placed)
            self.diverged = Stop("divergence", self.pc, divergence=Divergence(self.steps, *diff, layer=layer),
                                 last=self.last)  # fmt: skip
            return self.diverged
        if self.halted:
            return Stop("fault" if self.fault else "halt", self.pc, last=self.last)
        if now.get(IN_WAIT):
            return Stop("eof" if self.net_input.ended else "wait", self.pc, last=self.last)
        if self._replaying:
            return None  # going back in time: no stops, and no hit counts
        try:
            hits = records.watch_hits(self.watchpoints.values(), self.last, self.evaluate, self.mem)
            hits = [h for h in hits if h[0].hit()]
        except MlpvmError as e:
            return Stop("watch-error", self.pc, error=str(e), last=self.last)
        if hits:
            return Stop("watchpoint", self.pc, watch=hits, last=self.last)
        return self.entry_stop()

    # -- chunks: many passes at once, checked pass by pass (``check.runner.Checked``) ------------------------

    def _attention(self, until: int | None = None, stops: bool = True) -> bool:
        """Plans the chunks of a run (``stops``: breakpoints and watchpoints end them too, else only what keeps
        the CALL chain exact); False when the run must go pass by pass."""
        if self.slow or (self.checked.fast is None and self.check):
            return False
        watches = [w for w in self.watchpoints.values() if w.enabled] if stops else []
        if any(w.expr is not None for w in watches):
            return False  # value watchpoints are tested after every pass
        marks = [b.address for b in self.breakpoints.values() if b.enabled] if stops else []
        marks += [] if until is None else [until]
        return self.checked.plan(marks, list(self.entries), watches, self.check)

    def _forward(self, chunks: bool, budget: int) -> tuple[int, Stop | None]:
        """A checked chunk of up to ``budget`` plain passes where it can, else one pass on its own (also each
        pass of a chunk the network disagreed on, ``_redo`` of them, to find where). Returns the passes the
        chunk ran (0: one pass ran alone) and that pass's stop."""
        if chunks and not self._redo:
            ran, self._redo = self._chunk(budget)
            if ran:
                return ran, None
        self._redo = max(0, self._redo - 1)
        return 0, self._advance()

    def _budget(self, passes: int | None, count: int, limit: int | None) -> int:
        """Passes a chunk may run: not past a pass count (``count`` run of ``passes``) or a step limit."""
        budget = CHUNK
        if passes is not None:
            budget = min(budget, passes - count)
        if limit is not None:
            budget = min(budget, limit - self.steps)
        return budget

    def _chunk(self, budget: int) -> tuple[int, int]:
        """Up to ``budget`` passes (and not past the next checkpoint) run as one: checked against the fast
        reference, or the network's alone (``--no-check``). Returns (passes committed, passes to run one at a
        time: the network disagreed, or the pass needs attention)."""
        budget = min(budget, self._every - self.passes % self._every)
        if self.halted or budget <= 0:
            return 0, 0
        if not self.check:
            k, rest, steps, regs = self.checked.unchecked(self.x, self.pc, budget)
            if k:  # where it went: the PC now
                self._commit(k, steps, [*(regs[r] for r in ("pc", *REGISTERS)), None])
            return k, rest
        k, redo, row = self.checked.chunk(self.x, self._now, budget)
        if k:
            self._commit(k, k, [int(v) for v in row])
        else:
            self._read()
        return k, redo

    def _commit(self, k: int, steps: int, row: list) -> None:
        """The chunk's ``k`` passes (``steps`` steps) as done: counts, the last pass's record (``row``: its
        log row, ``LOG``), checkpoints."""
        self.passes += k
        self.steps += steps
        self._read()
        pc, a, b, c, mem_a, mem_b, result, branch, fallthrough, new_pc = row
        reads = (*self.config.spec.fetched(pc), a, b)
        self.last = Pass(self.passes, self.steps, pc, "sub", a, b, c, mem_a, mem_b, result, bool(branch), fallthrough,
                         self.pc if new_pc is None else new_pc, reads, b, mem_b, result, None, self.frames)  # fmt: skip
        self._history.clear()  # no longer contiguous: refilled when next looked at (``history``)
        self._gap = True
        if self.passes % self._every == 0:
            self._checkpoint()

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
        return bool(self._now[HALTED])

    @property
    def fault(self) -> bool:
        return bool(self._now.get(FAULT, 0))

    def registers(self) -> dict[str, int]:
        """PC, the registers of the last pass, and the flags."""
        regs = {"pc": self.pc, **{SHOWN.get(r, r): self._now[r] for r in REGISTERS}}
        regs["next_pc"] = self.pc  # where execution goes next: the jump target when the branch was taken
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

    def env(self, addresses: bool = False, code: bool = False) -> Env:
        """Names for expressions: labels are variables (their cells' values), or addresses for locations
        (``code``: of instructions, which on a Harvard machine are slots, with labels of their own)."""
        names = self.registers()
        names["steps"] = self.steps
        smap = self.source_map
        table = {} if smap is None else smap.slot_labels if code and self.config.spec.harvard else smap.labels
        return Env(names, self.mem, dict(table), addresses)

    def evaluate(self, text: str | Expr) -> int:
        return (text if isinstance(text, Expr) else Expr(text))(self.env())

    def address(self, spec: str, code: bool = False) -> int:
        """A location: a number, a label (its address) or an expression in which labels are addresses; with
        ``code``, a PC value (breakpoints, ``until``), labels naming instructions."""
        try:
            return Expr(spec)(self.env(addresses=True, code=code))
        except ExprError as e:
            raise DebugError(str(e)) from None

    # -- source lines and subroutines ----------------------------------------------------------------

    def location(self, spec: str) -> int:
        """gdb's locations: ``*EXPR`` an address, ``LINE`` (in the current source file) or ``FILE:LINE`` a source
        line (its first instruction, or the next line's with code: ``sources``), a label."""
        spec = spec.strip()
        place = None if spec.startswith("*") else self.sources.place(spec)
        if place is None:
            return self.address(spec.removeprefix("*"), code=True)
        return self.sources.code(*place)

    def line(self, pc: int | None = None) -> tuple[str, int] | None:
        """The source file and line of the instruction at ``pc`` (default: PC), if the map knows it."""
        return self.sources.line(self.pc if pc is None else pc)

    def _subroutines(self) -> dict[int, str]:
        """Entry points of the standard library's subroutines: labels just after a ``PROC`` return jump."""
        if not self.source_map or self.config.spec.harvard:
            return {}
        entries = {}
        for name, address in self.source_map.labels.items():
            origin = self.source_map.origin(address - 3)
            if origin is not None and origin.macro.startswith("PROC "):
                entries.setdefault(address, name)  # the PROC's own label, not a later one
        return entries

    @property
    def frames(self) -> tuple[Frame, ...]:
        return self.last.frames if self.last else ()

    def _frames_after(self, old_pc: int) -> tuple[Frame, ...]:
        """The CALL chain after the pass from ``old_pc``: a CALL's jump into an entry pushes, the return jump
        to the caller pops."""
        frames, pc = self.frames, self.pc
        if not self.entries:
            return frames
        if frames and pc == frames[-1].ret and old_pc == frames[-1].entry - 3:
            return frames[:-1]
        if pc in self.entries:
            origin = self.source_map.origin(old_pc)
            if origin is not None and any(part.startswith("CALL ") for part in origin.macro.split(" > ")):
                return (*frames, Frame(pc, self.mem(pc - 1), old_pc))
        return frames

    def _describe(self, before: np.ndarray, old_pc: int, out: int | None, frames: tuple[Frame, ...] = ()) -> Pass:
        """The pass just run, from the registers it left in the state."""
        state, regs = self.engine.state, self._now
        if not regs[EXECUTED]:
            kind = "idle"
        elif regs.get(IN_ACK):
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
                    written, old, new, out, frames)  # fmt: skip

    # -- breakpoints and watchpoints ---------------------------------------------------------------

    def _number(self) -> int:
        self._numbers += 1
        return self._numbers

    def add_breakpoint(
        self, spec: str, condition: str | None = None, temporary: bool = False, address: int | None = None
    ) -> Breakpoint:
        address = self.address(spec, code=True) if address is None else address
        cond = self.condition(condition) if condition else None
        bp = Breakpoint(self._number(), address, spec, temporary, cond)
        self.breakpoints[bp.number] = bp
        return bp

    def condition(self, text: str) -> Expr:
        """A breakpoint condition, its names checked now rather than when first tested."""
        cond = Expr(text)
        cond.check_names(self.env())
        return cond

    def add_watchpoint(
        self, spec: str, kind: str = "watch", location: bool = False, condition: str | None = None
    ) -> Watchpoint:
        """``spec``: a range ``START:END`` (end exclusive), ``mem[E]`` or a label (that cell), any other
        expression (its value, for ``watch``), or with ``location`` an address expression (``watch -l``)."""
        first, sep, last = spec.partition(":")
        expr = None
        if sep:
            start, stop = self.address(first), self.address(last)
        elif location or spec.strip() in (self.source_map.labels if self.source_map else {}):
            start = self.address(spec)
            stop = start + 1
        else:
            expr = Expr(spec)
            cell = expr.location()
            if cell is not None:
                start, expr = self.evaluate(cell), None
            elif kind != "watch":
                raise DebugError(f"{kind} needs a cell: a label, mem[E], START:END, or -l ADDR")
            elif not expr.names():
                raise DebugError(f"Cannot watch constant value `{spec.strip()}' (a cell: watch -l {spec.strip()})")
            else:
                start = 0
            stop = start + 1
        if expr is None and not 0 <= start < stop <= self.config.cells:
            raise DebugError(f"watch range {start}..{stop - 1} is outside memory (0..{self.config.cells - 1})")
        cond = self.condition(condition) if condition else None
        wp = Watchpoint(self._number(), start, stop, kind, spec, expr=expr, condition=cond)
        if expr is not None:
            wp.value = self.evaluate(expr)
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
        """The breakpoint that stops the program at PC now, its hit counted (a temporary one goes)."""

        def holds(bp: Breakpoint) -> bool:
            self._testing = bp  # a condition that fails to evaluate is reported on it
            return bool(self.evaluate(bp.condition))

        for bp in records.breakpoints_at(list(self.breakpoints.values()), self.pc, holds):
            if bp.hit():
                if bp.temporary:
                    del self.breakpoints[bp.number]
                return bp
        return None

    # -- editing the state -------------------------------------------------------------------------

    def set_mem(self, address: int, value: int) -> None:
        self.mem(address)  # range check
        self._remember(self.x.copy())
        word = self.config.wrap(value)
        self.engine.state.view(self.x[0], "mem")[address] = to_bits(word, self.config.bits)
        self.checked.poke(address, word)
        self._edited()

    def assign(self, text: str) -> tuple[int | None, int]:
        """``LABEL = V``, ``mem[E] = V`` or ``$pc = V`` (``set var``) done on the state: returns the cell (None:
        PC) and V as asked (a cell keeps it as a word: ``config.wrap``)."""
        target, index, value = parse_assignment(text)
        v = self.evaluate(value)
        if target in ("pc", "$pc"):
            self.set_pc(v)
            return None, v
        labels = self.source_map.labels if self.source_map else {}
        if target == "mem":
            address = self.evaluate(index)
        elif target in labels:
            address = labels[target]
        else:
            raise ExprError(f'No symbol "{target}" in current context (set a label, mem[i] or $pc).')
        self.set_mem(address, v)
        return address, v

    def set_pc(self, value: int) -> None:
        bits = self.engine.state["pc"].shape[0]
        if self.config.spec.harvard and not 0 <= value < self.config.slots:
            raise DebugError(f"pc must be a slot 0..{self.config.slots - 1}")
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1  # the PC field is signed: a negative PC halts
        if not low <= value <= high:
            raise DebugError(f"$pc = {value} does not fit the {bits}-bit PC ({low}..{high})")
        self._remember(self.x.copy())
        # masked here: to_bits goes through int64, which a value such as 10**30 overflows
        self.engine.state.view(self.x[0], "pc")[...] = to_bits(value & ((1 << bits) - 1), bits)
        self.ref.pc = self.config.spec.pc(self.config, value)
        self._read()
        self._edited()

    def _edited(self) -> None:
        """An edit is not a pass: replaying passes cannot redo it, so the edited state is a checkpoint."""
        self._edits.add(self.passes)
        self._checkpoint()

    # -- time ------------------------------------------------------------------------------------

    def _remember(self, before: np.ndarray) -> None:
        self._history.append(self._snapshot(before))

    def _snapshot(self, x: np.ndarray) -> _Snapshot:
        """The state ``x`` (the network's now, or just before a pass) with the session's counts and I/O
        positions now, and the reference's own snapshot (it stands where ``x`` does)."""
        ref = self.ref.snapshot() if self._checkable else None
        return _Snapshot(np.packbits(x[0] > 0.5), self.passes, self.steps, len(self.output), self.net_input.consumed,
                         self.last, self.net_input.ends_read, ref)  # fmt: skip

    def _restore(self, snap: _Snapshot) -> None:
        size = self.engine.state.size
        self.x[0] = np.unpackbits(snap.bits, count=size).astype(self.x.dtype)
        self.passes, self.steps, self.last = snap.passes, snap.steps, snap.record
        if self.diverged is not None and self.passes < self.diverged.last.number:
            self.diverged = None  # back before the divergence: the reference is beside the network again
        del self.output[snap.output :]
        for data in (self.net_input, self.ref_input):
            data.seek(snap.consumed)
            data.ends_read = snap.ends
        if snap.ref is not None:
            self.ref.restore(snap.ref)
            self.checked.sync()
        self._read()

    # Going back: the recent passes are full snapshots (``history``); further back, the state is rebuilt from
    # the latest checkpoint before the wanted pass by running the passes again on the network (with the
    # reference in lockstep), which gives exactly the same states: the network is deterministic and the input
    # bytes are replayed from the same positions.

    def _advance(self) -> Stop | None:
        stop = self._pass()
        if self.passes % self._every == 0:
            self._checkpoint()
        return stop

    def _checkpoint(self) -> None:
        """Keeps the state now for replaying from; when the checkpoints are full, every other one goes."""
        oldest = self._history[0] if len(self._history) == self._history.maxlen else None
        self._remember(self.x)
        self.checkpoints.append(self._history.pop())
        if oldest is not None:
            self._history.appendleft(oldest)
        if len(self.checkpoints) * self.checkpoints[0].nbytes > CHECKPOINT_BYTES:
            self._every *= 2
            self.checkpoints = [c for c in self.checkpoints if c.passes % self._every == 0 or c.passes in self._edits]

    def _goto(self, target: int, tail: int = TAIL) -> None:
        """The exact state after pass ``target`` (at or before the current one), replayed from a checkpoint:
        in chunks, then the last ``tail`` passes (at most) one at a time, which the history then holds. An
        edited state is never replayed across: the edit is its checkpoint."""
        tail = min(tail, self._history.maxlen or 0)
        k = max(i for i, c in enumerate(self.checkpoints)
                if c.passes <= max(0, target - tail) or (c.passes <= target and c.passes in self._edits))  # fmt: skip
        del self.checkpoints[k + 1 :]
        self._edits = {e for e in self._edits if e <= self.checkpoints[k].passes}
        self._history.clear()
        self._restore(self.checkpoints[k])
        self._replaying = True
        try:
            self._replay(target - tail, stops=False)
            while self.passes < target and not self.halted:
                self._advance()
        finally:
            self._replaying = False
        self._gap = False
        self._watch_values()

    def _replay(self, end: int, stops: bool, each: Callable[[], None] | None = None, searching: bool = False) -> None:
        """Passes up to pass ``end`` (or a halt), in chunks where none needs attention (``stops``: breakpoints
        and watchpoints need it too); ``each()``, if given, after every pass that needed attention.
        ``searching`` (``reverse-continue``): Ctrl-C ends it early, and the status line is kept up to date."""
        chunks = self._attention(stops=stops)
        self._redo = 0
        while self.passes < end and not self.halted:
            ran, _ = self._forward(chunks, end - self.passes)
            if not ran and each is not None:
                each()
            if searching and self._interrupted:
                return
            if searching and self.progress is not None:
                self.progress()

    def _watch_values(self) -> None:
        """Value watchpoints compare with the value at the state now, wherever that is in time."""
        for wp in self.watchpoints.values():
            if wp.expr is not None:
                try:
                    wp.value = self.evaluate(wp.expr)
                except MlpvmError:
                    wp.value = None

    def reverse_step(self, n: int = 1) -> Stop:
        """Back ``n`` passes (or edits), to the exact earlier state."""
        if n <= len(self.history):
            for _ in range(n):
                snap = self.history.pop()
            self._restore(snap)
            self._watch_values()
            return Stop("step", self.pc, last=self.last)
        target = (self.history[0].passes if self.history else self.passes) - (n - len(self.history))
        self._goto(max(0, target))
        return Stop("step" if target > 0 else "history", self.pc, last=self.last)

    def reverse_continue(self) -> Stop:
        """Back to the most recent earlier pass where an enabled breakpoint (whose condition holds) or
        watchpoint would have stopped the program: at a breakpoint with PC there, at a watchpoint just before
        the pass that triggered it (the cell still holds its old value). It searches back one stretch between
        checkpoints at a time; Ctrl-C stops it at the start of the last stretch searched through (an exact
        state, with no stop between it and where it began)."""
        self._interrupted = False
        end = self.passes  # no pass from here to where it began would have stopped the program
        for k in range(len(self.checkpoints) - 1, -1, -1):
            start = self.checkpoints[k].passes
            if start >= end:
                continue
            found = self._last_stop(k, end)
            if self._interrupted:  # Ctrl-C: at the earliest pass searched through to the start, exactly
                self._goto(end)
                return Stop("interrupt", self.pc, last=self.last)
            if found is not None:
                target, stop = found
                self._goto(target)
                return replace(stop, pc=self.pc, last=self.last)
            end = start
        self._goto(0)
        return Stop("history", self.pc, last=self.last)

    def _last_stop(self, k: int, end: int) -> tuple[int, Stop] | None:
        """Replays checkpoint ``k`` up to pass ``end``: the last (pass, stop) before ``end`` that a breakpoint
        or watchpoint would make, without counting hits."""
        self._goto(self.checkpoints[k].passes, tail=0)
        values = {n: wp.value for n, wp in self.watchpoints.items() if wp.expr is not None}
        found = None

        def test() -> None:  # after each pass that a breakpoint or watchpoint may care about
            nonlocal found
            hits = records.watch_hits(self.watchpoints.values(), self.last, self.evaluate, self.mem, values)
            if hits:
                found = (self.passes - 1, Stop("watchpoint", self.pc, watch=hits))
            holds = lambda bp: bool(self.evaluate(bp.condition))  # noqa: E731
            bp = next(records.breakpoints_at(self.breakpoints.values(), self.pc, holds), None)
            if bp is not None and self.passes < end:
                found = (self.passes, Stop("breakpoint", self.pc, breakpoint=bp))

        self._replaying = True
        try:
            self._replay(end, stops=True, each=test, searching=True)
        except MlpvmError:
            pass  # a condition that cannot be evaluated here does not stop
        finally:
            self._replaying = False
        return found

    @property
    def history(self) -> deque[_Snapshot]:
        """The states before the most recent passes (and edits), oldest first. After chunks of passes they are
        replayed from the last checkpoint when first looked at: ``history``, the layer views, ``reverse-step``."""
        if self._gap:
            self._goto(self.passes)
        return self._history

    def history_bytes(self) -> int:
        """Memory the states kept for going back take: the recent snapshots and the checkpoints."""
        return sum(snap.nbytes for snap in (*self._history, *self.checkpoints))

    def records(self, n: int | None = None) -> list[Pass]:
        """The last ``n`` passes still in the history, oldest first (after chunks: replayed, ``n`` of them)."""
        if self._gap and n and n > TAIL:
            self._goto(self.passes, tail=n)
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
        """The state before pass ``number`` (1-based; None outside 1..passes): from the history when it is
        there, else rebuilt beside the session from the last checkpoint before it (``_rebuilt``)."""
        if not 1 <= number <= self.passes:
            return None
        for snap in reversed(self.history):  # the latest: an edit may have changed the state since
            if snap.passes == number - 1:
                return np.unpackbits(snap.bits, count=self.engine.state.size)[None].astype(np.float32)
        return self._rebuilt(number - 1)

    def _rebuilt(self, passes: int) -> np.ndarray:
        """The state after ``passes`` passes, run on the network from the latest checkpoint at or before it,
        on a copy: the session stays where it is. No edit lies between (an edit is a checkpoint), and the
        input is replayed from the checkpoint's position, as ``_goto`` replays it."""
        snap = [c for c in self.checkpoints if c.passes <= passes][-1]
        x = np.unpackbits(snap.bits, count=self.engine.state.size)[None].astype(self.x.dtype)
        data = self.net_input.copy()
        data.seek(snap.consumed)
        data.ends_read = snap.ends
        for _ in range(passes - snap.passes):
            self.engine.run_pass(x)
            now = self._fields(x[0])
            if now.get(IN_ACK):
                data.take()
                place_input(self.engine.state, x[0], data.peek())
            if now[HALTED]:
                break
        return x.astype(np.float32)

    def last_trace(self) -> list[np.ndarray] | None:
        before = self.before(self.passes)
        return None if before is None else self.trace_of(before)
