"""The reference interpreter of the paper's Harvard machine (docs/machines.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpvm.machines.config import Config
from mlpvm.machines.reference import Micro, Snapshots
from mlpvm.program.inputs import Input


@dataclass
class Paper(Snapshots):
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
    def load(cls, config: Config, words: list[int], slots: list[tuple[int, int, int]] | None = None) -> Paper:
        """Data ``words`` from cell 0, instructions ``slots`` from slot 0; the rest 0."""
        padded = list(slots or []) + [(0, 0, 0)] * (config.slots - len(slots or []))
        return cls(config, padded, [config.wrap(w) for w in words] + [0] * (config.cells - len(words)))

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
