"""The reference interpreter of the von Neumann ``subleq`` machine (docs/machines.md section 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpvm.machines.config import Config
from mlpvm.machines.reference import Micro, Snapshots
from mlpvm.program.inputs import Input


@dataclass
class Subleq(Snapshots):
    """The von Neumann SUBLEQ machine of docs/machines.md section 1."""

    config: Config
    mem: list[int] = field(default_factory=list)
    pc: int = 0
    halted: bool = False
    fault: bool = False
    steps: int = 0
    output: bytearray = field(default_factory=bytearray)

    @classmethod
    def load(cls, config: Config, words: list[int], slots: None = None) -> Subleq:
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
