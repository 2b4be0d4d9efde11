"""Random programs on the network and on the reference, compared on the whole state at every step:
memory, PC, output, flags, stop reason and the decoded registers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Batch, Lockstep, Program
from mlpvm.engines import make
from mlpvm.machines.config import Config
from tests.conftest import examples, needs_numba
from tests.strategies import programs

SUBLEQ = Config("subleq", 8, 32)
PAPER = Config("paper", 8, 16, 8)
STEPS = 150
ENGINES = {name: make(name, SUBLEQ) for name in ("structured", "sparse", "bits")}
PAPER_ENGINES = {name: make(name, PAPER) for name in ("structured", "sparse", "bits")}


def check(ls: Batch) -> None:
    steps, div = ls.run(STEPS)
    assert div is None, str(div)
    assert ls.stopped
    for i, ref in enumerate(ls.refs):  # both stopped the same way
        reason = ls.reasons[i]
        assert reason in ("halt", "fault", "limit")
        assert ref.halted == (reason != "limit")
        assert ref.fault == (reason == "fault")
        assert ls.computer.done[i].steps == ref.steps
    assert steps == sum(ref.steps for ref in ls.refs)


def lockstep(engine, cfg: Config, p: Program) -> Lockstep:
    return Lockstep(engine, cfg, p.words, p.slots, p.data)


@given(programs(SUBLEQ))
def test_subleq_structured_every_step(program):
    check(lockstep(ENGINES["structured"], SUBLEQ, program))


@examples(25)
@given(programs(SUBLEQ))
def test_subleq_stored_matrices_every_step(program):
    check(lockstep(ENGINES["sparse"], SUBLEQ, program))


@given(programs(PAPER))
def test_paper_structured_every_step(program):
    check(lockstep(PAPER_ENGINES["structured"], PAPER, program))


@examples(25)
@given(programs(PAPER))
def test_paper_stored_matrices_every_step(program):
    check(lockstep(PAPER_ENGINES["sparse"], PAPER, program))


@examples(20)
@given(programs(Config("subleq", 16, 64), max_instructions=12))
def test_subleq_16_bit_every_step(program):
    cfg = Config("subleq", 16, 64)
    check(lockstep(make("structured", cfg), cfg, program))


def test_a_batch_checks_every_program_to_its_end():
    """64 programs in one batch: every one is compared at every step and ends as the reference does."""
    batch = Batch(ENGINES["structured"], SUBLEQ, [random_program(SUBLEQ, seed) for seed in range(64)])
    check(batch)
    assert {"halt", "fault", "limit"} <= set(batch.reasons.values())


@needs_numba
@given(programs(SUBLEQ))
def test_subleq_compiled_every_step(program):
    check(lockstep(make("compiled", SUBLEQ), SUBLEQ, program))


@needs_numba
@given(programs(PAPER))
def test_paper_compiled_every_step(program):
    check(lockstep(make("compiled", PAPER), PAPER, program))


# Fuzzing in batches: many random programs advanced together by one pass, each compared with its own
# reference at every step. Batches of more than one tile exercise the compiled engine's batch-minor path.
@needs_numba
@examples(8)
@given(st.lists(programs(SUBLEQ), min_size=1, max_size=300))
def test_subleq_batches_every_step(batch):
    check(Batch(make("compiled", SUBLEQ), SUBLEQ, batch))


@examples(8)
@given(st.lists(programs(PAPER), min_size=1, max_size=60))
def test_paper_batches_every_step(batch):
    check(Batch(make("neural", PAPER), PAPER, batch))


# The unrolled engine (the default with the fast extra): one machine runs its scalar code, a batch its
# groups of 8 machines per vector, a last group padded; each program compared with its reference every step.
@needs_numba
@given(programs(SUBLEQ))
def test_subleq_unrolled_every_step(program):
    check(lockstep(make("unrolled", SUBLEQ), SUBLEQ, program))


@needs_numba
@examples(8)
@given(st.lists(programs(SUBLEQ), min_size=1, max_size=100))
def test_subleq_unrolled_batches_every_step(batch):
    check(Batch(make("unrolled", SUBLEQ), SUBLEQ, batch))


# The bits engine: the stored matrices as threshold ops on bits, 64 machines a word; one machine and batches
# that fill no word exactly, each program compared with its reference every step.
@given(programs(SUBLEQ))
def test_subleq_bits_every_step(program):
    check(lockstep(ENGINES["bits"], SUBLEQ, program))


@given(programs(PAPER))
def test_paper_bits_every_step(program):
    check(lockstep(PAPER_ENGINES["bits"], PAPER, program))


@examples(8)
@given(st.lists(programs(SUBLEQ), min_size=60, max_size=140))
def test_subleq_bits_batches_every_step(batch):
    check(Batch(ENGINES["bits"], SUBLEQ, batch))
