"""What the machines' fast references share (``mlpvm.machines.<machine>.fast``): the debugger's ``continue``
checks its chunks of network passes against one. A fast reference runs a machine's plain passes (a step that
needs no attention) on an int64 copy of the plain reference's memory, compiled with numba when it is installed
(else plain Python: slow, for tests), logs each, and stops BEFORE a pass that needs attention: one from a PC in
``at``, to a new PC in ``to``, writing a cell in ``write``, reading one in ``read``, or one that is not plain
(I/O, a halt, a fault), which the plain reference and the session then run one at a time."""

from __future__ import annotations

import numpy as np

from mlpvm.machines import reference
from mlpvm.machines.reference import Reference
from mlpvm.program.inputs import Input

try:
    import numba

    njit = numba.njit(cache=True, nogil=True)
    HAVE_NUMBA = True
except ImportError:  # plain Python: the same code, slowly
    HAVE_NUMBA = False

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


CHUNK = 1 << 20  # plain passes per call of the fast reference in ``run_reference`` at most (its log: 80 MB)
FIRST_CHUNK = 1 << 12  # ... at first: doubled after each call that ran it in full (a short run logs little)


def run_reference(machine: Reference, inp: Input, max_steps: int | None = None, on_output=None) -> str:
    """``mlpvm.machines.reference.run`` with the plain passes on the machine's fast reference: the same stop,
    steps, output and memory, 20 times sooner on eForth (M = 8192, with numba, on the loaded machine). The
    plain reference ``machine`` runs each pass that is not plain (I/O, a halt, a fault, a wait) itself, as the
    debugger's ``continue`` does; the cells the fast passes wrote are copied back into its memory, and the cell
    an input pass wrote into the fast one's."""
    fast = machine.config.spec.fast.Fast.beside(machine)
    fast.load(machine.mem)
    size = min(FIRST_CHUNK, CHUNK)
    while True:
        if max_steps is not None and machine.steps >= max_steps:
            return "limit"
        if not machine.halted:
            done, why = fast.run(machine.pc, size if max_steps is None else min(size, max_steps - machine.steps))
            _commit(machine, fast, done)
            if why == "limit":
                size = min(2 * size, CHUNK)
                continue
        m = machine.step(inp)
        if m.kind == "in":
            fast.mem[m.b] = machine.mem[m.b]
        stop = reference.stop_after(machine, m, inp, on_output)
        if stop is not None:
            return stop


def _commit(machine: Reference, fast: Fast, done: int) -> None:
    """The fast reference's first ``done`` logged passes, done on the plain reference too."""
    if not done:
        return
    log = fast.log[:done]
    written = np.unique(log[:, LOG.index("b")])
    for cell, value in zip(written.tolist(), fast.mem[written].tolist()):
        machine.mem[cell] = value
    machine.pc = int(log[done - 1, LOG.index("new_pc")])
    machine.steps += done
