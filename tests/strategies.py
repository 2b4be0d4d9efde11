"""Hypothesis strategies for random programs: hypothesis draws the seed, ``mlpvm.check.generate`` makes the program
(the same generator ``mlpvm verify --random`` uses), so a failing example names a seed that reproduces it."""

from __future__ import annotations

from hypothesis import strategies as st

from mlpvm.check.generate import MAX_INSTRUCTIONS, random_program
from mlpvm.check.lockstep import Program
from mlpvm.machines.config import Config

SEEDS = st.integers(0, 2**32 - 1)


def programs(cfg: Config, max_instructions: int = MAX_INSTRUCTIONS) -> st.SearchStrategy[Program]:
    return SEEDS.map(lambda seed: random_program(cfg, seed, max_instructions))


def subleq_programs(cfg: Config, max_words: int = 3 * MAX_INSTRUCTIONS) -> st.SearchStrategy[tuple[list[int], bytes]]:
    """(words, input) pairs: the earlier interface, kept for tests written against it."""
    return programs(cfg, max(1, max_words // 3)).map(lambda p: (p.words, p.data))


def paper_programs(cfg: Config) -> st.SearchStrategy[tuple[list[tuple[int, int, int]], list[int]]]:
    """(slots, data) pairs: the earlier interface, kept for tests written against it."""
    return programs(cfg).map(lambda p: (p.slots, p.words))
