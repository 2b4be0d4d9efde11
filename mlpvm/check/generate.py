"""Random programs and random single steps, from a seeded numpy generator: one source for the tests (where
hypothesis draws the seed) and for ``mlpvm verify --random``. The same seed gives the same program.

Words lean towards the values that break arithmetic (0, +-1, powers of two, the extremes) and addresses
towards the program itself, so programs loop, rewrite their own operands, read and write bytes, halt by
jumping to a negative address and fault on an operand outside memory.
"""

from __future__ import annotations

import numpy as np

from mlpvm.check.lockstep import Program
from mlpvm.machines.config import Config, wrap

MAX_INSTRUCTIONS = 8
MAX_INPUT = 6


def word(rng: np.random.Generator, bits: int) -> int:
    """A signed ``bits``-bit word, often an edge case."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    r = rng.random()
    if r < 0.2:
        return int(rng.integers(-4, 5))
    if r < 0.35:
        return int(rng.choice([lo, lo + 1, hi - 1, hi]))
    if r < 0.5:
        power = 1 << int(rng.integers(0, bits - 1))
        return power if rng.random() < 0.5 else -power
    return int(rng.integers(lo, hi + 1))


def random_program(config: Config, seed: int, max_instructions: int = MAX_INSTRUCTIONS) -> Program:
    """A random program for ``config``, from ``seed`` alone."""
    rng = np.random.default_rng(seed)
    if config.machine == "paper":
        return _paper_program(config, rng)
    return _subleq_program(config, rng, max_instructions)


def _subleq_program(cfg: Config, rng: np.random.Generator, max_instructions: int) -> Program:
    """Instructions followed by data words. Operands mostly name the data or the code (so programs rewrite
    themselves); jumps mostly go to an instruction (loops), sometimes negative (halt) or anywhere."""
    valid = min(cfg.cells, 1 << (cfg.bits - 1))  # addresses that are non-negative words
    count = int(rng.integers(1, max(1, min(max_instructions, (valid - 1) // 3)) + 1))
    code = 3 * count
    size = min(valid, code + int(rng.integers(1, 9)))

    def address() -> int:
        r = rng.random()
        if r < 0.6 and size > code:
            return int(rng.integers(code, size))
        return int(rng.integers(0, code)) if r < 0.85 else int(rng.integers(0, valid))

    def jump() -> int:
        r = rng.random()
        if r < 0.7:
            return 3 * int(rng.integers(0, count))
        return int(rng.integers(-3, 0)) if r < 0.8 else int(rng.integers(0, valid))

    words: list[int] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.7:
            words += [address(), address(), jump()]
        elif r < 0.8:
            words += [-1, address(), jump()]  # input
        elif r < 0.9:
            words += [address(), -1, jump()]  # output
        else:  # anything: faults, I/O with odd operands, jumps out of memory
            words += [word(rng, cfg.bits) if rng.random() < 0.5 else int(rng.integers(-3, size + 3)) for _ in "abc"]
    words += [word(rng, cfg.bits) for _ in range(size - code)]
    return Program(words, data=rng.bytes(int(rng.integers(0, MAX_INPUT + 1))))


def _paper_program(cfg: Config, rng: np.random.Generator) -> Program:
    """Random slots over all of memory; some jump to themselves, so that a step can reach the halting
    fixed point (mem[a] == 0, mem[b] <= 0, c == PC)."""
    count = int(rng.integers(1, cfg.slots + 1))
    slots = []
    for j in range(count):
        a, b = (int(v) for v in rng.integers(0, cfg.cells, 2))
        c = j if rng.random() < 0.2 else int(rng.integers(0, cfg.slots))
        slots.append((a, b, c))
    data = [word(rng, cfg.bits) for _ in range(int(rng.integers(1, cfg.cells + 1)))]
    return Program(data, slots)


def one_step_cases(config: Config, seed: int, count: int) -> list[Program]:
    """Machines about to take one step. First a sweep that puts every PC and every memory cell under the
    address registers with all-ones and all-zeros words (so every row of every address-matched block is read
    and written with both bit values), makes every carry-lookahead term of the adders fire (``subtractions``,
    ``_carry_chains``) and tests results either side of zero; then machines that have already halted (which
    must stay as they are);
    then ``count`` random states of every instruction kind: subtractions (branch taken and not), input (a
    byte, end of input, nothing ready yet), output, faults and halts, with operands that coincide or point
    into the instruction itself, and all of memory random."""
    rng = np.random.default_rng(seed)
    paper = config.machine == "paper"
    cases = _paper_sweep(config, rng) if paper else _subleq_sweep(config, rng)
    for _ in range(8):
        case = (_paper_case if paper else _subleq_case)(config, rng)
        case.halted, case.fault = True, not paper and rng.random() < 0.5
        cases.append(case)
    return cases + [(_paper_case if paper else _subleq_case)(config, rng) for _ in range(count)]


def _subleq_sweep(cfg: Config, rng: np.random.Generator) -> list[Program]:
    n, valid = cfg.bits, min(cfg.cells, 1 << (cfg.bits - 1))

    def program(pc: int, instruction: list[int], cells: dict[int, int], data: bytes = b"", closed=True) -> Program:
        words = [word(rng, n) for _ in range(cfg.cells)]
        for cell, value in cells.items():
            words[cell] = value
        words[pc : pc + 3] = instruction
        return Program(words, data=data, pc=pc, closed=closed)

    def other(*avoid: int, below: int = valid) -> int:
        return int(rng.choice([v for v in range(below) if v not in avoid]))

    cases = []
    for pc in range(min(valid, cfg.cells - 2)):  # words at PC, PC+1, PC+2: all ones (-1) and zeros
        cases.append(program(pc, [-1, other(pc, pc + 1, pc + 2), -1], {}, bytes([int(rng.integers(256))])))
        cases.append(program(pc, [other(), -1, 0], {}))
    top = 1 << (n - 1)
    for pc in (*range(cfg.cells - 2, min(cfg.cells + 2, top)), top - 1, -top, *_carry_chains(n)):  # PCs that halt
        cases.append(Program([word(rng, n) for _ in range(cfg.cells)], pc=wrap(pc, n)))
    for mem_a, mem_b in subtractions(n):  # every carry the subtraction can form, every near-zero result
        pc = other(below=min(valid, cfg.cells - 2))
        a, b = other(*range(pc, pc + 3)), other(*range(pc, pc + 3))
        b = b if b != a else other(a, *range(pc, pc + 3))
        cases.append(program(pc, [a, b, 0], {a: mem_a, b: mem_b}))
    for cell in range(valid):  # read and written as all ones and all zeros, by a subtraction and by input
        pc = other(*range(cell - 2, cell + 1), below=min(valid, cfg.cells - 2))
        near = range(pc, pc + 3)
        src = other(cell, *near)
        cases.append(program(pc, [cell, src, 0], {cell: -1, src: -1}))  # reads ones at A; writes zeros
        cases.append(program(pc, [src, cell, 0], {cell: -1, src: -1}))  # erases ones at B
        cases.append(program(pc, [src, cell, 0], {cell: 0, src: 1}))  # writes ones at B
        cases.append(program(pc, [-1, cell, 0], {}, b"\xff"))  # input byte 255
        cases.append(program(pc, [-1, cell, 0], {}))  # end of input: -1
    return cases


def _paper_sweep(cfg: Config, rng: np.random.Generator) -> list[Program]:
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


def subtractions(bits: int) -> list[tuple[int, int]]:
    """(mem[A], mem[B]) pairs that make every lookahead term of the subtraction's adder fire (mem[B] + NOT
    mem[A] + 1 generates a carry at bit t and propagates it to bit k), and results with one or two bits set
    (just either side of the zero test)."""
    pairs = [
        (wrap(~(1 << t), bits), wrap(((1 << k) - 1) ^ ((1 << t) - 1), bits)) for k in range(1, bits) for t in range(k)
    ]
    pairs += [(-1, wrap((1 << k) - 1, bits)) for k in range(1, bits)]  # the carry-in, propagated to bit k
    ones = [1 << t for t in range(bits)]
    pairs += [(0, wrap(u | v, bits)) for i, u in enumerate(ones) for v in ones[i:]]
    return pairs


def _carry_chains(bits: int) -> list[int]:
    """PCs that make every lookahead term of PC + 3 fire: a carry from bit 0 or bit 1 propagated to bit k."""
    return [v for k in range(2, bits + 1) for v in ((1 << k) - 2, (1 << k) - 3)]


def _subleq_case(cfg: Config, rng: np.random.Generator) -> Program:
    n, m = cfg.bits, cfg.cells
    valid = min(m, 1 << (n - 1))
    words = [word(rng, n) for _ in range(m)]
    data = bytes([int(rng.integers(256))]) if rng.random() < 0.6 else b""
    closed = rng.random() < 0.7
    if rng.random() < 0.12:  # halts: PC too close to the end of memory, or negative
        top = 1 << (n - 1)
        pc = int(rng.integers(m - 2, top)) if m - 2 < top and rng.random() < 0.5 else int(rng.integers(-top, 0))
        return Program(words, data=data, pc=pc, closed=closed)
    pc = int(rng.integers(0, min(valid, m - 2)))
    here = [pc, pc + 1, pc + 2]

    def operand() -> int:
        return int(rng.choice(here)) if rng.random() < 0.15 else int(rng.integers(0, valid))

    def outside() -> int:
        v = word(rng, n)
        return v if not 0 <= v < valid and v != -1 else valid if valid < 1 << (n - 1) else -2

    a, b = operand(), operand()
    if rng.random() < 0.1:
        b = a
    r = rng.random()
    if r < 0.15:
        a = -1  # input
    elif r < 0.3:
        b = -1  # output
    elif r < 0.45:  # a fault: one operand out of range (with I/O operands too)
        a, b = [(outside(), b), (a, outside()), (-1, outside()), (outside(), -1)][int(rng.integers(4))]
    words[pc : pc + 3] = [a, b, word(rng, n) if rng.random() < 0.5 else int(rng.integers(0, valid))]
    return Program(words, data=data, pc=pc, closed=closed)


def _paper_case(cfg: Config, rng: np.random.Generator) -> Program:
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
