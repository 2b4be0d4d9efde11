"""Plain reference interpreters: the ground truth every engine and test is compared with.

Written for clarity, not speed: Python ints, one instruction per ``step()``. Each step returns a ``Micro``
record of what the instruction did, which the per-stage checks compare with the network's registers. Each
machine's interpreter is in its package (``mlpvm.machines.subleq.reference``, ...); this module holds what
they share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mlpvm.machines.config import Config
from mlpvm.program.inputs import Input

# What a pass did. "sub", "in", "out" execute an instruction (a step); the others do not.
STEP_KINDS = ("sub", "in", "out")


@dataclass
class Micro:
    """The micro-operations of one step; None where a field does not apply to this kind of instruction."""

    kind: str  # sub | in | out | halt | fault | wait | halted
    pc: int
    a: int | None = None
    b: int | None = None
    c: int | None = None
    mem_a: int | None = None
    mem_b: int | None = None
    result: int | None = None  # the value written to mem[b]
    branch: bool | None = None
    next_pc: int | None = None  # PC + the machine's stride, wrapped: the not-taken successor; every kind
    out: int | None = None  # the byte written to the output

    @property
    def is_step(self) -> bool:
        return self.kind in STEP_KINDS


@dataclass(frozen=True)
class Saved:
    """A reference machine's state at one moment (``snapshot``), for going back in time exactly."""

    mem: np.ndarray  # the words, in the narrowest integer type that holds them (as small as the state's bits)
    pc: int
    halted: bool
    fault: bool
    steps: int
    output: int  # bytes output so far: the output only grows, so restoring cuts it back

    @property
    def nbytes(self) -> int:
        return self.mem.nbytes


class Snapshots:
    """What every reference interpreter has: its own state saved and restored exactly (the debugger's
    timeline keeps these beside the network's states). The program's instruction slots (``paper``) are not
    part of it: no step writes them."""

    def snapshot(self: Reference) -> Saved:
        bits = self.config.bits
        dtype = np.int16 if bits <= 16 else np.int32  # words are at most 32 bits (MAX_BITS)
        return Saved(np.array(self.mem, dtype), self.pc, self.halted, self.fault, self.steps, len(self.output))

    def restore(self: Reference, saved: Saved) -> None:
        self.mem[:] = saved.mem.tolist()
        self.pc, self.halted, self.fault, self.steps = saved.pc, saved.halted, saved.fault, saved.steps
        del self.output[saved.output :]


class Reference(Protocol):
    """A reference interpreter: the state a step reads and writes, and the step itself."""

    config: Config
    mem: list[int]
    pc: int
    halted: bool
    fault: bool
    steps: int
    output: bytearray

    @classmethod
    def load(cls, config: Config, words: list[int], slots: list[tuple[int, int, int]] | None = None) -> Reference:
        """The machine with ``words`` in memory from address 0 (and ``slots``, on a Harvard machine), PC 0."""
        ...

    def step(self, inp: Input) -> Micro: ...

    def snapshot(self) -> Saved: ...

    def restore(self, saved: Saved) -> None: ...


def load(config: Config, words: list[int], slots: list[tuple[int, int, int]] | None = None) -> Reference:
    """A reference machine with the program loaded, PC 0."""
    return config.spec.reference.load(config, words, slots)


def run(machine: Reference, inp: Input, max_steps: int | None = None, on_output=None) -> str:
    """Runs to a stop; returns the reason, as the network's host would report it."""
    while True:
        if max_steps is not None and machine.steps >= max_steps:
            return "limit"
        stop = stop_after(machine, machine.step(inp), inp, on_output)
        if stop is not None:
            return stop


def stop_after(machine: Reference, m: Micro, inp: Input, on_output=None) -> str | None:
    """After the step ``m``: its output byte passed on; why the run stops there (None: it goes on)."""
    if m.out is not None and on_output:
        on_output(bytes([m.out]))
    if m.kind in ("halt", "fault", "halted"):
        return "fault" if machine.fault else "halt"
    if m.kind == "wait" and not inp.wait():
        return "wait"
    return None
