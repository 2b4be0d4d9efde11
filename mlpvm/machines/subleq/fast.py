"""The ``subleq`` machine's fast reference (``mlpvm.machines.fast``): its plain passes, docs/machines.md section 1.

A plain pass is an in-range subtract: no input, output, halt, fault or wait. ``at`` holds the return jumps of
subroutines (whose pass pops the CALL chain), ``to`` breakpoints, ``until`` and subroutine entries; reads are the
instruction words, then A and B, as the debugger counts them.
"""

from __future__ import annotations

from mlpvm.machines import fast
from mlpvm.machines.fast import AT, LIMIT, NOT_PLAIN, READ, TO, WRITE, commit, njit, wrap
from mlpvm.machines.subleq.reference import Subleq


@njit
def run(mem, pc, max_passes, bits, at, to, write, read, log):
    """Plain passes from ``pc`` on ``mem`` (int64, all cells, signed ``bits``-bit words), at most
    ``max_passes``, each logged in ``log`` (rows of ``LOG``); the bitmaps (bool, one per cell) say which
    passes need attention. Returns (passes committed, why it stopped: ``REASONS``)."""
    cells = mem.size
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
        result = wrap(mb - ma, bits)
        after = wrap(pc + 3, bits)
        branch = result <= 0
        new = c if branch else after
        if 0 <= new < cells and to[new]:
            return done, TO
        commit(mem, log, done, pc, a, b, c, ma, mb, result, branch, after, new)
        pc = new
    return max_passes, LIMIT


class Fast(fast.Fast):
    @classmethod
    def beside(cls, ref: Subleq) -> Fast:
        """A fast reference of the machine of the plain reference ``ref``."""
        return cls(ref.config.cells, ref.config.bits)

    def _run(self, pc: int, max_passes: int) -> tuple[int, int]:
        return run(self.mem, pc, max_passes, self.bits, self.at, self.to, self.write, self.read, self.log)
