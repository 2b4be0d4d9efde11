"""Hypothesis strategies for random programs: small address-like words so that programs touch themselves
(self-modifying code), -1 for I/O, out-of-range words for faults, negative jumps for halts."""

from __future__ import annotations

from hypothesis import strategies as st

from mlpvm.machine import Config


@st.composite
def subleq_programs(draw, cfg: Config, max_words: int = 24):
    n = draw(st.integers(3, min(max_words, cfg.cells)))
    lo, hi = -(1 << (cfg.bits - 1)), (1 << (cfg.bits - 1)) - 1
    word = st.one_of(
        st.integers(0, n + 2),  # addresses in and just past the program
        st.just(-1),  # I/O
        st.integers(-3, cfg.cells + 2),  # jumps that halt, operands that fault
        st.integers(lo, hi),  # anything
    )
    words = draw(st.lists(word, min_size=n, max_size=n))
    data = draw(st.binary(max_size=6))
    return words, data


@st.composite
def paper_programs(draw, cfg: Config):
    k = draw(st.integers(1, cfg.slots))
    lo, hi = -(1 << (cfg.bits - 1)), (1 << (cfg.bits - 1)) - 1
    slots = draw(
        st.lists(
            st.tuples(st.integers(0, cfg.cells - 1), st.integers(0, cfg.cells - 1), st.integers(0, cfg.slots - 1)),
            min_size=k,
            max_size=k,
        )
    )
    data = draw(st.lists(st.integers(lo, hi), max_size=cfg.cells))
    return slots, data
