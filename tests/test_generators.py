"""The random programs reach the edges of each machine (docs/machines.md): measured by the reference interpreter
over the first 200 seeds, the population every random-program test and ``mlpvm verify --random`` draws from.

``subleq``: the halt at the top of memory (PC + 2 >= M), the last cell read or written, and a fault of every
kind (A or B of a subtraction, B of an input, A of an output) with operands at M and beyond it. ``paper``: the
PC wrapping from the last slot to 0, the last cell, jumps to the last slot, and the halting fixed point there.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mlpvm.check.generate import EDGE_EVERY, random_program
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.reference import Micro

SEEDS = range(200)
STEPS = 150  # what the random-program tests give each program


def edges_reached(cfg: Config, seed: int) -> set[str]:
    """The edge kinds one program meets on the reference, in its first ``STEPS`` steps."""
    p = random_program(cfg, seed)
    ref, inp, seen = reference.load(cfg, p.words, p.slots), p.input(), set()
    while ref.steps < STEPS and not ref.halted:
        m = ref.step(inp)
        seen |= (paper_edges if cfg.spec.harvard else subleq_edges)(cfg, m)
        if m.kind == "wait" and not inp.wait():
            break
    return seen


def subleq_edges(cfg: Config, m: Micro) -> set[str]:
    valid = min(cfg.cells, 1 << (cfg.bits - 1))  # addresses that are non-negative words
    seen = set()
    if m.kind in ("sub", "in", "out") and valid - 1 in (m.a, m.b):
        seen.add("last cell")
    if m.kind == "halt":
        seen.add("halt at the top" if m.pc >= 0 else "halt at a negative PC")
    if m.kind == "fault":
        operand = m.b if m.a == -1 else m.a if m.b == -1 or not 0 <= m.a < cfg.cells else m.b
        kind = "input B" if m.a == -1 else "output A" if m.b == -1 else "A" if operand == m.a else "B"
        seen.add(f"fault on {kind}")
        if operand != -1:  # -1 is input's B in -1 -1 C
            seen.add("operand M" if operand == cfg.wrap(valid) else "operand beyond M")
    return seen


def paper_edges(cfg: Config, m: Micro) -> set[str]:
    seen = set()
    if m.kind == "sub" and m.pc == cfg.slots - 1 and not m.branch:
        seen.add("wrap to slot 0")
    if m.kind == "sub" and cfg.cells - 1 in (m.a, m.b):
        seen.add("last cell")
    if m.kind == "sub" and m.branch and m.c == cfg.slots - 1:
        seen.add("jump to the last slot")
    if m.kind == "halt" and m.pc == cfg.slots - 1:
        seen.add("halt at the last slot")
    return seen


SUBLEQ = {
    "halt at the top": 15,
    "last cell": 15,
    "fault on A": 4,
    "fault on B": 4,
    "fault on input B": 4,
    "fault on output A": 4,
    "operand M": 4,
    "operand beyond M": 4,
}
PAPER = {"wrap to slot 0": 10, "last cell": 20, "jump to the last slot": 10, "halt at the last slot": 3}


@pytest.mark.parametrize(
    ("cfg", "least"),
    [(Config("subleq", 8, 32), SUBLEQ), (Config("subleq", 16, 64), SUBLEQ), (Config("paper", 8, 16, 8), PAPER)],
    ids=str,
)
def test_the_random_programs_reach_every_edge(cfg, least):
    """Counts of programs, out of 200, that meet each edge: at least ``least`` of each."""
    counts = Counter(kind for seed in SEEDS for kind in edges_reached(cfg, seed))
    short = {kind: counts[kind] for kind, n in least.items() if counts[kind] < n}
    assert not short, f"edges met by too few of {len(SEEDS)} programs: {short} (all: {dict(counts)})"


def test_a_fixed_share_of_the_programs_is_drawn_at_the_edges():
    """Every EDGE_EVERY-th seed; without them the top of memory is almost never reached."""
    cfg = Config("subleq", 8, 32)
    at_top = [seed for seed in SEEDS if "halt at the top" in edges_reached(cfg, seed)]
    assert sum(seed % EDGE_EVERY == EDGE_EVERY - 1 for seed in at_top) > 3 * len(at_top) // 4
