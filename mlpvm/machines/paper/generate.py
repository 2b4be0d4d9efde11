"""Random ``paper`` programs and single steps (``mlpvm.check.generate`` draws through these): slots over all
of memory, some at the halting fixed point."""

from __future__ import annotations

import numpy as np

from mlpvm.check.draw import subtractions, word
from mlpvm.check.lockstep import Program
from mlpvm.machines.config import Config


def program(cfg: Config, rng: np.random.Generator, max_instructions: int) -> Program:
    """Random slots over all of memory (any number: ``max_instructions`` bounds subleq's code, which shares
    memory with data); some jump to themselves, so that a step can reach the halting fixed point (mem[a] == 0,
    mem[b] <= 0, c == PC)."""
    count = int(rng.integers(1, cfg.slots + 1))
    slots = []
    for j in range(count):
        a, b = (int(v) for v in rng.integers(0, cfg.cells, 2))
        c = j if rng.random() < 0.2 else int(rng.integers(0, cfg.slots))
        slots.append((a, b, c))
    data = [word(rng, cfg.bits) for _ in range(int(rng.integers(1, cfg.cells + 1)))]
    return Program(data, slots)


def edges(cfg: Config, rng: np.random.Generator, max_instructions: int) -> Program:
    """A program at the paper machine's edges: every slot filled, so the PC wraps from slot K - 1 to 0;
    operands at cells 0 and M - 1, jumps to slots 0, K - 1, the slot itself (the halting fixed point when
    mem[a] == 0 and the result <= 0) and the next one; zeros in the edge cells, so that fixed point is met,
    in a quarter of the programs at the last slot."""
    m, k = cfg.cells, cfg.slots

    def cell() -> int:
        r = rng.random()
        return m - 1 if r < 0.35 else 0 if r < 0.5 else int(rng.integers(0, m))

    slots = []
    for j in range(k):
        c = int(rng.choice([0, k - 1, j, (j + 1) % k, int(rng.integers(0, k))]))
        slots.append((cell(), cell(), c))
    data = [word(rng, cfg.bits) for _ in range(m)]
    for at in (0, m - 1):
        if rng.random() < 0.4:
            data[at] = 0
    if rng.random() < 0.25:  # the last slot halts: z z self, with mem[z] = 0
        z = int(rng.choice([0, m - 1]))
        slots[k - 1], data[z] = (z, z, k - 1), 0
    return Program(data, slots)


def sweep(cfg: Config, rng: np.random.Generator) -> list[Program]:
    top = (cfg.cells - 1, cfg.cells - 1, cfg.slots - 1)  # every operand bit 1

    def program(pc: int, slot: tuple[int, int, int], cells: dict[int, int]) -> Program:
        data = [word(rng, cfg.bits) for _ in range(cfg.cells)]
        for cell, value in cells.items():
            data[cell] = value
        slots = [tuple(int(v) for v in rng.integers(0, (cfg.cells, cfg.cells, cfg.slots))) for _ in range(cfg.slots)]
        slots[pc] = slot
        return Program(data, slots, pc=pc)

    cases = []
    for pc in range(cfg.slots):
        cases.append(program(pc, top, {}))
        cases.append(program(pc, (0, 0, 0), {0: 1}))
        a, b = (int(v) for v in rng.choice(cfg.cells, 2, replace=False))
        cases.append(program(pc, (a, b, pc), {a: 0, b: 0}))  # the halting fixed point
        for bit in range(cfg.slot_bits):  # one step short of it: C differs from PC in one bit
            cases.append(program(pc, (a, b, pc ^ (1 << bit)), {a: 0, b: 0}))
    for mem_a, mem_b in subtractions(cfg.bits):
        a, b = (int(v) for v in rng.choice(cfg.cells, 2, replace=False))
        pc = int(rng.integers(cfg.slots))
        cases.append(program(pc, (a, b, int(rng.integers(cfg.slots))), {a: mem_a, b: mem_b}))
    for cell in range(cfg.cells):
        src = int(rng.choice([v for v in range(cfg.cells) if v != cell]))
        pc = int(rng.integers(cfg.slots))
        cases.append(program(pc, (cell, src, pc), {cell: -1, src: -1}))
        cases.append(program(pc, (src, cell, pc), {cell: -1, src: -1}))
        cases.append(program(pc, (src, cell, pc), {cell: 0, src: 1}))
    return cases


def case(cfg: Config, rng: np.random.Generator) -> Program:
    data = [word(rng, cfg.bits) for _ in range(cfg.cells)]
    slots = [tuple(int(v) for v in rng.integers(0, (cfg.cells, cfg.cells, cfg.slots))) for _ in range(cfg.slots)]
    pc = int(rng.integers(0, cfg.slots))
    a, b, c = slots[pc]
    if rng.random() < 0.4:
        c = pc  # a self-loop: halts when mem[a] == 0 and mem[b] <= 0
    if rng.random() < 0.1:
        b = a
    if rng.random() < 0.3:
        data[a] = 0
    slots[pc] = (a, b, c)
    return Program(data, slots, pc=pc)


def stopped(cfg: Config, rng: np.random.Generator) -> Program:
    """A random state that has already halted (the paper machine never faults)."""
    state = case(cfg, rng)
    state.halted = True
    return state
