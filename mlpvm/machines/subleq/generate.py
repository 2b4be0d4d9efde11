"""Random ``subleq`` programs and single steps (``mlpvm.check.generate`` draws through these): instructions
that rewrite themselves, read and write bytes, halt by jumping to a negative address and fault on an operand
outside memory."""

from __future__ import annotations

import numpy as np

from mlpvm.check.draw import subtractions, word
from mlpvm.check.lockstep import Program
from mlpvm.machines.config import Config, wrap

MAX_INPUT = 6  # input bytes a random program gets at most


def program(cfg: Config, rng: np.random.Generator, max_instructions: int) -> Program:
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


def edges(cfg: Config, rng: np.random.Generator, max_instructions: int) -> Program:
    """A program at the edges of memory: a jump from 0 to code that ends at the top of the addressable cells,
    so that running off it halts (PC + 2 >= M, or PC + 3 past the largest word when M = 2^N); operands at the
    last cell and -1 (I/O); jumps to the last PCs and past them; in 60% of the programs one operand at M,
    M + 1, -2 (or -1 for input's B), the largest word or the most negative one: a fault of one kind (A or B of
    a subtraction, B of an input, A of an output)."""
    n, top = cfg.bits, 1 << (cfg.bits - 1)
    valid = min(cfg.cells, top)
    count = int(rng.integers(1, max(1, min(max_instructions, (valid - 6) // 3)) + 1))
    if valid - 3 * count < 4:  # no room for a data cell below the code: a memory of a few cells
        return program(cfg, rng, max_instructions)
    end = valid - int(rng.integers(0, min(2, valid - 3 * count - 4) + 1))  # the code's last word: valid - 1 at most
    start = end - 3 * count
    outside = sorted({wrap(v, n) for v in (valid, valid + 1, -2, top - 1, -top)} - {-1, *range(valid)})

    def operand() -> int:
        r = rng.random()
        if r < 0.25:
            return valid - 1
        return int(rng.integers(3, start)) if r < 0.75 else int(rng.integers(0, valid))

    def jump(k: int) -> int:
        r = rng.random()
        if r < 0.3:
            return wrap(valid - int(rng.integers(0, 4)), n)  # the last PCs, one that halts, or past the top
        return start + 3 * (k + 1) if r < 0.8 else start + 3 * int(rng.integers(0, count))  # on, or a loop

    code = []
    for k in range(count):
        r = rng.random()
        a, b = (-1, operand()) if r < 0.2 else (operand(), -1) if r < 0.4 else (operand(), operand())
        code.append([a, b, jump(k)])
    if rng.random() < 0.6:
        k, bad = int(rng.integers(count)), int(rng.choice(outside))
        code[k][:2] = [(bad, operand()), (operand(), bad), (-1, int(rng.choice([*outside, -1]))), (bad, -1)][
            int(rng.integers(4))
        ]
    z = int(rng.integers(3, start))
    words = [z, z, start] + [word(rng, n) for _ in range(start - 3)] + [w for ins in code for w in ins]
    return Program(words, data=rng.bytes(int(rng.integers(0, MAX_INPUT + 1))))


def sweep(cfg: Config, rng: np.random.Generator) -> list[Program]:
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


def _carry_chains(bits: int) -> list[int]:
    """PCs that make every lookahead term of PC + 3 fire: a carry from bit 0 or bit 1 propagated to bit k."""
    return [v for k in range(2, bits + 1) for v in ((1 << k) - 2, (1 << k) - 3)]


def case(cfg: Config, rng: np.random.Generator) -> Program:
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


def stopped(cfg: Config, rng: np.random.Generator) -> Program:
    """A random state that has already halted, or faulted."""
    state = case(cfg, rng)
    state.halted, state.fault = True, rng.random() < 0.5
    return state
