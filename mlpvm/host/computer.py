"""The host: runs passes of an engine over a batch of machines and does only what docs/machines.md section
3.4 allows between passes: read the stop and I/O fields, place the next input byte, take the output byte.

It never looks at a machine's memory or instructions while it runs; decoding happens at the end.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mlpvm.engines import Engine
from mlpvm.machines.state import Decoded, decode
from mlpvm.program.inputs import Input
from mlpvm.protocol import HALTED, IN_ACK, IN_WAIT, OUT_VALID, has_io, place_input, serve, stopped

CHUNK = 4096  # passes between checks for Ctrl-C and progress updates, at most
PACE = 0.05  # seconds between those checks that the host aims for

# Why a machine stopped, and the exit code every command gives for it.
# eof: it kept reading after its input ended (the rule in mlpvm/program/inputs.py). Like python, bc or gforth
# at the end of piped input, a program that has consumed all of its input and asks for more has done its job:
# 0. wait: it asks for input that cannot come (no source at all, as in the debugger without input): 5.
EXIT_CODES = {"halt": 0, "eof": 0, "limit": 3, "fault": 4, "wait": 5, "interrupted": 130}
NORMAL_ENDS = ("halt", "eof")  # the stops that say nothing on stderr unless asked (-v)


@dataclass
class Outcome:
    """How one machine's run ended."""

    reason: str  # halt | fault | limit | wait | eof | interrupted
    steps: int
    output: bytes
    pc: int
    memory: np.ndarray  # signed words, all cells
    passes: int | None = None  # network passes (None for the reference interpreter)
    state: np.ndarray | None = None  # the final state vector
    decoded: Decoded | None = None


@contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Ctrl-C sets a flag that the loop checks between passes, so a pass is never cut in half.
    A second Ctrl-C interrupts at once."""
    hit = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if hit:  # a second Ctrl-C stops at once
            hit.append(True)
            raise KeyboardInterrupt
        hit.append(True)

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hit)
    finally:
        signal.signal(signal.SIGINT, old)


class Computer:
    """B machines of one configuration advanced together by an engine, one pass at a time."""

    def __init__(
        self,
        engine: Engine,
        states: np.ndarray,
        inputs: list[Input] | None = None,
        on_output: Callable[[int, bytes], None] | None = None,
    ):
        self.engine, self.state = engine, engine.state
        self.x = engine.new_batch(states)
        n = len(self.x)
        self.ids = np.arange(n)  # machine id of each row of the active batch
        self.inputs = inputs if inputs is not None else [Input() for _ in range(n)]
        self.outputs = [bytearray() for _ in range(n)]
        self.steps = np.zeros(n, np.int64)
        self.passes = 0
        self.on_output = on_output
        self.done: dict[int, Outcome] = {}
        self.io = has_io(self.state)
        self._at = {f.name: f.offset for f in self.state if not f.shape}
        if self.io:
            for row in range(n):
                self._place(row)

    def _flags(self, name: str) -> np.ndarray:
        return self.x[:, self._at[name]] > 0.5

    def _place(self, row: int) -> None:
        place_input(self.state, self.x[row], self.inputs[self.ids[row]].peek())

    def step(self) -> None:
        """One pass for every active machine, then the host's duties."""
        self.advance(1)

    def advance(self, max_passes: int) -> None:
        """Passes until a machine raises an event (output, input, halt) or ``max_passes``; then services it."""
        if not len(self.ids):  # every machine has stopped: nothing to run or to service
            return
        steps = np.zeros(len(self.ids), np.int64)
        self.passes += self.engine.run_until_event(self.x, max_passes, steps)
        self.steps[self.ids] += steps
        if self.io:
            for row in np.flatnonzero(self._flags(OUT_VALID) | self._flags(IN_ACK)):
                mid = int(self.ids[row])
                out = serve(self.state, self.x[row], self.inputs[mid], self.outputs[mid])
                if out is not None and self.on_output:
                    self.on_output(mid, bytes([out]))
            for row in np.flatnonzero(self._flags(IN_WAIT)):
                if self.inputs[self.ids[row]].wait():
                    self._place(row)
                else:
                    self._retire(row, "wait")
        for row in np.flatnonzero(self._flags(HALTED)):
            self._retire(row, stopped(self.state, self.x[row]))
        self._compact()

    def state_of(self, mid: int) -> np.ndarray:
        """The current state vector of machine ``mid`` (running or stopped)."""
        if mid in self.done:
            return self.done[mid].state
        return self.x[int(np.flatnonzero(self.ids == mid)[0])]

    def stop(self, mids, reason: str) -> None:
        """Retires machines ``mids`` with ``reason`` (a caller's own step limit, for one)."""
        for row in np.flatnonzero(np.isin(self.ids, mids)):
            self._retire(row, reason)
        self._compact()

    def _retire(self, row: int, reason: str) -> None:
        mid = int(self.ids[row])
        if reason == "wait" and self.inputs[mid].ended:
            reason = "eof"
        if mid not in self.done:
            self.done[mid] = self._outcome(row, reason)

    def _compact(self) -> None:
        keep = np.array([int(i) not in self.done for i in self.ids], bool)
        if not keep.all():
            self.x, self.ids = self.x[keep], self.ids[keep]

    def _outcome(self, row: int, reason: str) -> Outcome:
        mid = int(self.ids[row])
        x = self.x[row].copy()
        d = decode(self.state, self.engine.config, x)
        return Outcome(reason, int(self.steps[mid]), bytes(self.outputs[mid]), d.pc, d.mem, self.passes, x, d)

    def run(
        self, max_steps: int | None = None, progress: Callable[[Computer], None] | None = None, chunk: int = CHUNK
    ) -> list[Outcome]:
        """Runs until every machine halts, faults, waits for input that cannot come, or reaches ``max_steps``.
        ``progress`` is called after every ``chunk`` passes at most (``chunk=1``: after every pass).
        Ctrl-C stops all of them cleanly ("interrupted"), keeping their output and state."""
        pace = min(chunk, 16)  # passes per call to the engine: grown or shrunk to take about PACE seconds
        with deferred_interrupt() as interrupted:
            while len(self.ids):
                if max_steps is not None:
                    for row in np.flatnonzero(self.steps[self.ids] >= max_steps):
                        self._retire(row, "limit")
                    self._compact()
                    if not len(self.ids):
                        break
                if interrupted():
                    for row in range(len(self.ids)):
                        self._retire(row, "interrupted")
                    break
                budget = pace
                if max_steps is not None:  # a pass executes at most one instruction per machine
                    budget = max(1, min(pace, int((max_steps - self.steps[self.ids]).min())))
                start = time.perf_counter()
                self.advance(budget)
                took = time.perf_counter() - start
                if took < PACE:
                    pace = min(chunk, pace * 2)
                elif took > 4 * PACE:  # a slow engine: keep Ctrl-C and progress responsive
                    pace = max(1, pace // 2)
                if progress is not None:
                    progress(self)
        return [self.done[i] for i in range(len(self.outputs))]
