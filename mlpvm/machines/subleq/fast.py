"""A fast reference for the ``subleq`` machine: the debugger's ``continue`` checks the network against it.

It runs the plain passes of docs/machines.md section 1 (an in-range subtract: no input, output, halt, fault
or wait) on an int64 copy of the reference's memory, compiled with numba when it is installed (else plain
Python: slow, for tests), and stops BEFORE any pass that needs the debugger's attention, which the plain
reference (``mlpvm.machines.subleq.reference``) and the session then run one at a time:

- a pass that is not plain (I/O, a halt, a fault at the top of memory or through an operand out of range);
- a pass from a PC in ``at`` (say the return jumps of subroutines, whose pass pops the CALL chain);
- a pass whose new PC is in ``to`` (breakpoints, ``until``, subroutine entries);
- a pass that writes a cell in ``write`` or reads one in ``read`` (the instruction words, then A and B, as the
  debugger counts reads).

Each committed pass is logged as a row of ``LOG``; the caller replays the log into the plain reference.
"""

from __future__ import annotations

import numpy as np

try:
    import numba

    njit = numba.njit(cache=True, nogil=True)
except ImportError:  # plain Python: the same code, slowly

    def njit(f):
        return f


LOG = ("pc", "a", "b", "c", "mem_a", "mem_b", "result", "branch", "next_pc", "new_pc")  # a log row's columns
# Why ``run`` stopped: the pass limit, or what the next pass needs.
LIMIT, NOT_PLAIN, AT, TO, WRITE, READ = range(6)
REASONS = ("limit", "not plain", "at", "to", "write", "read")


@njit
def run(mem, pc, max_passes, bits, at, to, write, read, log):
    """Plain passes from ``pc`` on ``mem`` (int64, all cells, signed ``bits``-bit words), at most
    ``max_passes``, each logged in ``log`` (rows of ``LOG``); the bitmaps (bool, one per cell) say which
    passes need attention. Returns (passes committed, why it stopped: ``REASONS``)."""
    cells = mem.size
    span = np.int64(1) << bits
    half = span >> 1
    for done in range(max_passes):
        if pc < 0 or pc + 2 >= cells:
            return done, NOT_PLAIN
        a, b, c = mem[pc], mem[pc + 1], mem[pc + 2]
        if a < 0 or a >= cells or b < 0 or b >= cells:
            return done, NOT_PLAIN
        if at[pc]:
            return done, AT
        if write[b]:
            return done, WRITE
        if read[pc] or read[pc + 1] or read[pc + 2] or read[a] or read[b]:
            return done, READ
        ma, mb = mem[a], mem[b]
        result = (mb - ma) & (span - 1)
        if result >= half:
            result -= span
        after = (pc + 3) & (span - 1)
        if after >= half:
            after -= span
        branch = result <= 0
        new = c if branch else after
        if 0 <= new < cells and to[new]:
            return done, TO
        mem[b] = result
        row = log[done]
        row[0], row[1], row[2], row[3], row[4] = pc, a, b, c, ma
        row[5], row[6], row[7], row[8], row[9] = mb, result, branch, after, new
        pc = new
    return max_passes, LIMIT


class Fast:
    """The fast reference beside a plain one: ``mem`` mirrors the plain reference's memory between runs."""

    columns = LOG

    def __init__(self, cells: int, bits: int):
        self.bits = bits
        self.mem = np.zeros(cells, np.int64)
        self.at = np.zeros(cells, np.bool_)
        self.to = np.zeros(cells, np.bool_)
        self.write = np.zeros(cells, np.bool_)
        self.read = np.zeros(cells, np.bool_)
        self.log = np.zeros((0, len(LOG)), np.int64)

    def load(self, mem: list[int]) -> None:
        self.mem[:] = mem

    def run(self, pc: int, max_passes: int) -> tuple[int, str]:
        """Commits up to ``max_passes`` plain passes from ``pc``; the log's first rows describe them."""
        if len(self.log) < max_passes:
            self.log = np.zeros((max_passes, len(LOG)), np.int64)
        done, why = run(self.mem, pc, max_passes, self.bits, self.at, self.to, self.write, self.read, self.log)
        return int(done), REASONS[why]
