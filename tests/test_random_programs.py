"""Random programs on the network and on the reference, compared on the whole state at every step:
memory, PC, output, flags, stop reason and the decoded registers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlpvm.engines import make
from mlpvm.lockstep import BatchLockstep, Lockstep
from mlpvm.machine import Config
from tests.conftest import needs_numba
from tests.strategies import paper_programs, subleq_programs

SUBLEQ = Config("subleq", 8, 32)
PAPER = Config("paper", 8, 16, 8)
STEPS = 150
ENGINES = {name: make(name, SUBLEQ) for name in ("structured", "sparse")}
PAPER_ENGINES = {name: make(name, PAPER) for name in ("structured", "sparse")}


def check(ls: Lockstep) -> None:
    steps, div = ls.run(STEPS)
    assert div is None, str(div)
    if ls.stopped:  # both stopped the same way
        outcome = ls.computer.done[0]
        assert outcome.reason in ("halt", "fault", "wait")
        assert ls.ref.halted == (outcome.reason != "wait")
        assert ls.ref.fault == (outcome.reason == "fault")
        assert outcome.steps == steps


@given(subleq_programs(SUBLEQ))
def test_subleq_structured_every_step(program):
    words, data = program
    check(Lockstep(ENGINES["structured"], SUBLEQ, words, data=data))


@settings(max_examples=25)
@given(subleq_programs(SUBLEQ))
def test_subleq_stored_matrices_every_step(program):
    words, data = program
    check(Lockstep(ENGINES["sparse"], SUBLEQ, words, data=data))


@given(paper_programs(PAPER))
def test_paper_structured_every_step(program):
    slots, data = program
    check(Lockstep(PAPER_ENGINES["structured"], PAPER, data, slots))


@settings(max_examples=25)
@given(paper_programs(PAPER))
def test_paper_stored_matrices_every_step(program):
    slots, data = program
    check(Lockstep(PAPER_ENGINES["sparse"], PAPER, data, slots))


@settings(max_examples=20)
@given(subleq_programs(Config("subleq", 16, 64), max_words=40))
def test_subleq_16_bit_every_step(program):
    cfg = Config("subleq", 16, 64)
    words, data = program
    check(Lockstep(make("structured", cfg), cfg, words, data=data))


@needs_numba
@given(subleq_programs(SUBLEQ))
def test_subleq_compiled_every_step(program):
    words, data = program
    check(Lockstep(make("compiled", SUBLEQ), SUBLEQ, words, data=data))


@needs_numba
@given(paper_programs(PAPER))
def test_paper_compiled_every_step(program):
    slots, data = program
    check(Lockstep(make("compiled", PAPER), PAPER, data, slots))


# Fuzzing in batches: many random programs advanced together by one pass, each compared with its own
# reference at every step. Batches of more than one tile exercise the compiled engine's batch-minor path.
@needs_numba
@settings(max_examples=8)
@given(st.lists(subleq_programs(SUBLEQ), min_size=1, max_size=300))
def test_subleq_batches_every_step(programs):
    batch = BatchLockstep(make("compiled", SUBLEQ), SUBLEQ, [(words, None, data) for words, data in programs])
    assert batch.run(STEPS) == {}


@settings(max_examples=8)
@given(st.lists(paper_programs(PAPER), min_size=1, max_size=60))
def test_paper_batches_every_step(programs):
    batch = BatchLockstep(make("neural", PAPER), PAPER, [(data, slots, b"") for slots, data in programs])
    assert batch.run(STEPS) == {}
