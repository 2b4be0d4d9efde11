"""Pieces of the pass that both machines build the same way."""

from __future__ import annotations

import numpy as np

from mlpvm.craft.adder import STEPS, Adder
from mlpvm.craft.builder import Sequencer


def adder_steps(net: Sequencer, stage: str, adder: Adder, keep: list[str], steps: range, first: int = 0) -> None:
    """Adder steps, one layer each (``stage.{first + step}``), carrying ``keep`` alongside."""
    for step in steps:
        b = net.layer(f"{stage}.{first + step}", stage)
        adder.layer(b, step)
        b.carry(*keep)


def commit_write(net: Sequencer, shape: tuple[int, int], keep: list[str]) -> None:
    """write.1: memory minus the addressed row's old bits plus its new bits (both 0 unless a write happens)."""
    b = net.layer("write.1", "write")
    b.map("mem", shape, (1, "mem"), (-1, "write_old"), (1, "write_new"))
    b.carry(*keep)


def next_pc(net: Sequencer, adder: Adder, keep: list[str]) -> None:
    """The next-PC stage: the six-layer adder on PC (the not-taken successor), carrying ``keep``."""
    adder_steps(net, "next_pc", adder, keep, range(STEPS))


def result_is_zero(net: Sequencer, bits: int, keep: list[str]) -> None:
    """branch.0: whether the result word is 0 (its sign bit, the other half of <= 0, is read in branch.1)."""
    b = net.layer("branch.0", "branch")
    b.map("zero", (), (-1, "result", np.arange(bits)), bias=1)
    b.carry(*keep)
