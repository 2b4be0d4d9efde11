"""Plain reference interpreters: the ground truth every engine and test is compared with.

Written for clarity, not speed: Python ints, one instruction per ``step()``. Each step returns a ``Micro``
record of what the instruction did, which the per-stage checks compare with the network's registers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    next_pc: int | None = None  # PC + 3 (subleq) or PC + 1 (paper), wrapped: the not-taken successor; every kind
    out: int | None = None  # the byte written to the output

    @property
    def is_step(self) -> bool:
        return self.kind in STEP_KINDS


@dataclass
class Subleq:
    """The von Neumann SUBLEQ machine of docs/machines.md section 1."""

    config: Config
    mem: list[int] = field(default_factory=list)
    pc: int = 0
    halted: bool = False
    fault: bool = False
    steps: int = 0
    output: bytearray = field(default_factory=bytearray)

    @classmethod
    def load(cls, config: Config, words: list[int]) -> Subleq:
        mem = [config.wrap(w) for w in words] + [0] * (config.cells - len(words))
        return cls(config, mem)

    def step(self, inp: Input) -> Micro:
        cfg, mem, pc = self.config, self.mem, self.pc
        if self.halted:
            return Micro("halted", pc, next_pc=cfg.wrap(pc + 3))
        if pc < 0 or pc + 2 >= cfg.cells:
            self.halted = True
            return Micro("halt", pc, next_pc=cfg.wrap(pc + 3))
        a, b, c = mem[pc], mem[pc + 1], mem[pc + 2]
        m = Micro("sub", pc, a, b, c, next_pc=cfg.wrap(pc + 3))
        in_range = range(cfg.cells)
        if a == -1:
            if b not in in_range:
                return self._fault(m)
            value = inp.peek()
            if value is None:
                m.kind = "wait"
                return m
            inp.take()
            m.kind, m.mem_b, m.result = "in", mem[b], cfg.wrap(value)
            mem[b] = m.result
            self.pc = m.next_pc
        elif b == -1:
            if a not in in_range:
                return self._fault(m)
            m.kind, m.mem_a, m.out = "out", mem[a], mem[a] & 0xFF
            self.output.append(m.out)
            self.pc = m.next_pc
        else:
            if a not in in_range or b not in in_range:
                return self._fault(m)
            m.mem_a, m.mem_b = mem[a], mem[b]
            m.result = mem[b] = cfg.wrap(mem[b] - mem[a])
            m.branch = m.result <= 0
            self.pc = c if m.branch else m.next_pc
        self.steps += 1
        return m

    def _fault(self, m: Micro) -> Micro:
        self.halted = self.fault = True
        m.kind = "fault"
        return m


@dataclass
class Paper:
    """The paper's Harvard machine of docs/machines.md section 2.

    Halting convention: a step that would leave the whole state unchanged halts the machine instead; that is
    ``mem[a] == 0``, ``mem[b] <= 0`` and ``c == PC`` (for example ``z z self`` with ``mem[z] = 0``). The PC
    wraps from the last slot to slot 0.
    """

    config: Config
    slots: list[tuple[int, int, int]]
    mem: list[int]
    pc: int = 0
    halted: bool = False
    steps: int = 0
    fault: bool = False  # never set: out-of-range operands cannot be encoded
    output: bytearray = field(default_factory=bytearray)

    @classmethod
    def load(cls, config: Config, slots: list[tuple[int, int, int]], data: list[int]) -> Paper:
        padded = list(slots) + [(0, 0, 0)] * (config.slots - len(slots))
        return cls(config, padded, [config.wrap(w) for w in data] + [0] * (config.cells - len(data)))

    def step(self, inp: Input | None = None) -> Micro:
        cfg, mem, pc = self.config, self.mem, self.pc
        if self.halted:
            return Micro("halted", pc, next_pc=(pc + 1) % cfg.slots)
        a, b, c = self.slots[pc]
        m = Micro("sub", pc, a, b, c, mem[a], mem[b], next_pc=(pc + 1) % cfg.slots)
        m.result = cfg.wrap(mem[b] - mem[a])
        m.branch = m.result <= 0
        if m.mem_a == 0 and m.branch and c == pc:
            self.halted = True
            m.kind = "halt"
            return m
        mem[b] = m.result
        self.pc = c if m.branch else m.next_pc
        self.steps += 1
        return m


def load(config: Config, words: list[int], slots: list[tuple[int, int, int]] | None = None) -> Subleq | Paper:
    """A reference machine with the program loaded, PC 0."""
    if config.machine == "paper":
        return Paper.load(config, slots or [], words)
    return Subleq.load(config, words)


def run(machine: Subleq | Paper, inp: Input, max_steps: int | None = None, on_output=None) -> str:
    """Runs to a stop; returns the reason, as the network's host would report it."""
    while True:
        if max_steps is not None and machine.steps >= max_steps:
            return "limit"
        m = machine.step(inp)
        if m.out is not None and on_output:
            on_output(bytes([m.out]))
        if m.kind in ("halt", "fault", "halted"):
            return "fault" if machine.fault else "halt"
        if m.kind == "wait" and not inp.wait():
            return "wait"
