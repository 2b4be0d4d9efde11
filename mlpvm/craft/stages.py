"""Pieces of the pass that both machines build the same way."""

from __future__ import annotations

import numpy as np

from mlpvm.craft.adder import STEPS, Adder
from mlpvm.craft.builder import Sequencer

# What the fields these shared stages compute hold (the views show one line per field).
MEANINGS = {
    "write_old": "memory gated by the match with the write address: the old row, subtracted (0: no write)",
    "write_new": "the new word at the write address's row, added (0 when nothing is written)",
    "mem": "memory: one row of bits per cell, least significant first (the state)",
    "zero": "1 when the result word is 0",
}


def adder_steps(net: Sequencer, stage: str, adder: Adder, steps: range, first: int = 0) -> None:
    """Adder steps, one layer each (``stage.{first + step}``)."""
    for step in steps:
        adder.layer(net.layer(f"{stage}.{first + step}", stage), step)


def commit_write(net: Sequencer, shape: tuple[int, int]) -> None:
    """write.1: memory minus the addressed row's old bits plus its new bits (both 0 unless a write happens)."""
    b = net.layer("write.1", "write")
    b.map("mem", shape, (1, "mem"), (-1, "write_old"), (1, "write_new"))


def next_pc(net: Sequencer, adder: Adder) -> None:
    """The next-PC stage: the six-layer adder on PC (the not-taken successor)."""
    adder_steps(net, "next_pc", adder, range(STEPS))


def result_is_zero(net: Sequencer, bits: int) -> None:
    """branch.0: whether the result word is 0 (its sign bit, the other half of <= 0, is read in branch.1)."""
    b = net.layer("branch.0", "branch")
    b.map("zero", (), (-1, "result", np.arange(bits)), bias=1)
