"""What the machines' fast references share (``mlpvm.machines.<machine>.fast``): the debugger's ``continue``
checks its chunks of network passes against one. A fast reference runs a machine's plain passes (a step that
needs no attention) on an int64 copy of the plain reference's memory, compiled with numba when it is installed
(else plain Python: slow, for tests), logs each, and stops BEFORE a pass that needs attention: one from a PC in
``at``, to a new PC in ``to``, writing a cell in ``write``, reading one in ``read``, or one that is not plain
(I/O, a halt, a fault), which the plain reference and the session then run one at a time."""

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
def wrap(value, bits):
    """``value`` as a signed ``bits``-bit word (docs/machines.md: words wrap)."""
    span = np.int64(1) << bits
    value &= span - 1
    return value - span if value >= span >> 1 else value


@njit
def commit(mem, log, done, pc, a, b, c, ma, mb, result, branch, after, new):
    """A plain pass done: ``mem[b]`` written, the pass logged as row ``done`` (its columns: ``LOG``)."""
    mem[b] = result
    row = log[done]
    row[0], row[1], row[2], row[3], row[4] = pc, a, b, c, ma
    row[5], row[6], row[7], row[8], row[9] = mb, result, branch, after, new


class Fast:
    """A fast reference beside a plain one: ``mem`` mirrors the plain reference's memory between runs; ``at`` and
    ``to`` have a flag per PC value, ``write`` and ``read`` one per cell."""

    columns = LOG

    def __init__(self, cells: int, bits: int, pcs: int | None = None):
        self.bits = bits
        self.mem = np.zeros(cells, np.int64)
        self.at = np.zeros(cells if pcs is None else pcs, np.bool_)
        self.to = np.zeros_like(self.at)
        self.write = np.zeros(cells, np.bool_)
        self.read = np.zeros(cells, np.bool_)
        self.log = np.zeros((0, len(LOG)), np.int64)

    def load(self, mem: list[int]) -> None:
        self.mem[:] = mem

    def run(self, pc: int, max_passes: int) -> tuple[int, str]:
        """Commits up to ``max_passes`` plain passes from ``pc``; the log's first rows describe them."""
        if len(self.log) < max_passes:
            self.log = np.zeros((max_passes, len(LOG)), np.int64)
        done, why = self._run(pc, max_passes)
        return int(done), REASONS[why]

    def _run(self, pc: int, max_passes: int) -> tuple[int, int]:
        raise NotImplementedError
