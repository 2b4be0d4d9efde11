"""The reference interpreters follow docs/machines.md (sections 1 and 2) to the letter (they are the ground truth)."""

from __future__ import annotations

import pytest

from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.paper.reference import Paper
from mlpvm.machines.reference import run
from mlpvm.machines.subleq.reference import Subleq
from mlpvm.program.inputs import Input

CFG = Config("subleq", 8, 16)


def machine(*words: int, cfg: Config = CFG) -> Subleq:
    return Subleq.load(cfg, list(words))


def test_subtract_and_branch_on_result_le_zero():
    m = machine(9, 10, 6, 0, 0, 0, 0, 0, 0, 3, 5)
    step = m.step(Input())
    assert (step.kind, step.result, step.branch, m.mem[10], m.pc) == ("sub", 2, False, 2, 3)
    m = machine(9, 10, 6, 0, 0, 0, 0, 0, 0, 5, 5)
    m.step(Input())
    assert (m.mem[10], m.pc) == (0, 6)
    m = machine(9, 10, 6, 0, 0, 0, 0, 0, 0, 7, 5)
    m.step(Input())
    assert (m.mem[10], m.pc) == (-2, 6)


def test_words_wrap_at_n_bits():
    m = machine(9, 10, 6, 0, 0, 0, 0, 0, 0, 1, -128)  # -128 - 1 wraps to 127 in 8 bits
    m.step(Input())
    assert (m.mem[10], m.pc) == (127, 3)


def test_a_equals_b_clears_and_always_branches():
    m = machine(9, 9, 6, 0, 0, 0, 0, 0, 0, 42)
    m.step(Input())
    assert (m.mem[9], m.pc) == (0, 6)


@pytest.mark.parametrize("pc", [-1, -128, 14, 15])
def test_halts_on_negative_pc_or_pc_plus_2_past_memory(pc):
    m = machine(0, 0, 0)
    m.pc = pc
    step = m.step(Input())
    assert step.kind == "halt" and m.halted and not m.fault and m.steps == 0
    assert m.step(Input()).kind == "halted"


@pytest.mark.parametrize("words", [(16, 3, 3), (3, 16, 3), (3, -2, 3), (-1, 16, 3), (-1, -1, 3), (99, -1, 3)])
def test_fault_on_out_of_range_operand_leaves_state(words):
    m = machine(*words)
    before = list(m.mem)
    step = m.step(Input(b"x"))
    assert step.kind == "fault" and m.halted and m.fault
    assert (m.mem, m.pc, m.steps) == (before, 0, 0)


def test_input_stores_byte_then_minus_one_at_eof_and_ignores_c():
    m = machine(-1, 9, 12, -1, 10, 12)
    inp = Input(b"A")
    m.step(inp)
    assert (m.mem[9], m.pc) == (65, 3)
    m.step(inp)
    assert (m.mem[10], m.pc) == (-1, 6)


def test_input_waits_when_nothing_is_ready():
    m = machine(-1, 9, 12)
    inp = Input(closed=False)
    assert m.step(inp).kind == "wait" and m.pc == 0 and m.steps == 0
    inp.feed(b"z")
    assert m.step(inp).kind == "in" and m.mem[9] == ord("z")


def test_output_emits_mem_a_mod_256():
    m = machine(6, -1, 0, 7, -1, 0, -1, 72)
    m.step(Input())
    m.step(Input())
    assert bytes(m.output) == b"\xffH"


def test_output_of_negative_word_narrower_than_a_byte():
    m = machine(3, -1, 0, -3, cfg=Config("subleq", 4, 16))
    m.step(Input())
    assert bytes(m.output) == bytes([(-3) % 256])


def test_run_reports_reasons():
    assert run(machine(0, 0, -1), Input()) == "halt"
    assert run(machine(0, 0, 0), Input(), max_steps=5) == "limit"
    assert run(machine(20, 0, 0), Input()) == "fault"
    assert run(machine(-1, 9, 0), Input(closed=False)) == "wait"


def test_paper_step_and_fixed_point_halt():
    cfg = Config("paper", 8, 4, 4)
    p = Paper.load(cfg, [3, 5, 0], [(0, 1, 2), (2, 2, 1)])
    p.step()
    assert (p.mem[1], p.pc) == (2, 1)
    step = p.step()  # slot 1: z z 1 with mem[z] = 0 changes nothing: halt
    assert step.kind == "halt" and p.halted and p.steps == 1


def test_paper_pc_wraps_after_last_slot():
    cfg = Config("paper", 8, 4, 2)
    p = Paper.load(cfg, [1, 9], [(0, 1, 0), (0, 1, 0)])
    p.step()
    p.step()
    assert p.pc == 0 and p.mem[1] == 7


@pytest.mark.parametrize("machine", ["subleq", "paper"])
def test_a_reference_restores_its_snapshot_exactly(machine):
    """The debugger's timeline keeps the reference's own snapshots: restoring one gives back memory, PC, flags,
    steps and output exactly, after any number of steps since."""
    cfg = Config(machine, 8, 16, slots=8 if machine == "paper" else None)
    if machine == "paper":
        ref = reference.load(cfg, [3, 1, 0], [(1, 0, 2), (0, 0, 0), (2, 1, 0), (1, 1, 3)])
    else:
        ref = reference.load(cfg, [9, -1, 3, 12, 12, 0, 0, 0, 0, 65])  # output mem[9], then loop on 12 -= 12
    inp = Input(b"")
    ref.step(inp)
    saved = ref.snapshot()
    want = (list(ref.mem), ref.pc, ref.halted, ref.fault, ref.steps, bytes(ref.output))
    for _ in range(5):
        ref.step(inp)
    ref.mem[0] += 1
    ref.restore(saved)
    assert (list(ref.mem), ref.pc, ref.halted, ref.fault, ref.steps, bytes(ref.output)) == want
