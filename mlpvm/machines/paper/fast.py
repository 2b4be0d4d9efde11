"""The ``paper`` machine's fast reference (``mlpvm.machines.fast``): its plain passes, docs/machines.md section 2.

Every pass of the Harvard machine is a subtract from its read-only instruction store (operands cannot leave
memory); the one pass that is not plain is the halt (``mem[a] == 0``, a branch, ``c == PC``). ``at`` and ``to``
are indexed by slot; reads are A and B.
"""

from __future__ import annotations

import numpy as np

from mlpvm.machines import fast
from mlpvm.machines.fast import AT, LIMIT, NOT_PLAIN, READ, TO, WRITE, commit, njit, wrap
from mlpvm.machines.paper.reference import Paper


@njit
def run(mem, slots, pc, max_passes, bits, at, to, write, read, log):
    """Plain passes from slot ``pc`` of ``slots`` (int64, (slots, 3)) on ``mem``, as the subleq ``run``."""
    count = slots.shape[0]
    for done in range(max_passes):
        a, b, c = slots[pc, 0], slots[pc, 1], slots[pc, 2]
        if at[pc]:
            return done, AT
        if write[b]:
            return done, WRITE
        if read[a] or read[b]:
            return done, READ
        ma, mb = mem[a], mem[b]
        result = wrap(mb - ma, bits)
        branch = result <= 0
        if ma == 0 and branch and c == pc:
            return done, NOT_PLAIN  # the halt
        after = (pc + 1) % count
        new = c if branch else after
        if to[new]:
            return done, TO
        commit(mem, log, done, pc, a, b, c, ma, mb, result, branch, after, new)
        pc = new
    return max_passes, LIMIT


class Fast(fast.Fast):
    def __init__(self, cells: int, bits: int, slots: list[tuple[int, int, int]]):
        super().__init__(cells, bits, len(slots))
        self.slots = np.array(slots, np.int64).reshape(-1, 3)

    @classmethod
    def beside(cls, ref: Paper) -> Fast:
        """A fast reference of the machine of the plain reference ``ref``, with its instructions."""
        return cls(ref.config.cells, ref.config.bits, ref.slots)

    def _run(self, pc: int, max_passes: int) -> tuple[int, int]:
        return run(self.mem, self.slots, pc, max_passes, self.bits, self.at, self.to, self.write, self.read, self.log)
