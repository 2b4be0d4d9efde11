"""eForth's own test suite as shipped (programs/eforth: subleq.fth's ``T{ ... }T`` section typed into howerj's
subleq.dec): the full run is 5.9 billion passes (``make eforth-tests``); here, in seconds, what can go wrong
with the input and with its recorded reference output."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlpvm.engines import make
from mlpvm.host.computer import Computer
from mlpvm.machines import fast
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.machines.subleq.reference import Subleq
from mlpvm.program.inputs import Input
from tests.conftest import EXTERNAL, ROOT, needs_numba, words_of

SUITE = ROOT / "programs/eforth"
CONFIG = Config("subleq", 16, 65536)
IMAGE = EXTERNAL / "howerj-subleq/subleq.dec"
README_LINE = b"system +order only forth definitions decimal\n"  # the external programs' README types this first


def lines(data: bytes) -> list[str]:
    return data.decode("ascii").split("\n")


def test_the_recorded_output_passes_all_169_tests_and_answers_every_line():
    """tests.out, the reference's output: every test passed, no error, and from the line that makes eForth echo
    what it reads (``' debug <ok> !``) on, each input line echoed with ` ok`, in order, the last one the line
    that printed ``[ALL PASSED]``."""
    out = (SUITE / "tests.out").read_bytes()
    typed = lines((SUITE / "tests.fth").read_bytes())
    assert typed[-1] == "" and typed[-2] == "statistics  = ?\\ .( [ALL PASSED] ) cr"
    got = out.decode("ascii").split("\r\n")
    assert got[-1] == "" and got[-3:-1] == ["[ALL PASSED] ", typed[-2] + " ok"]
    assert "passed:  169 / 169" in got and "[FAILED]     " not in got
    assert not [g for g in got if g.startswith("fail:") or re.fullmatch(r" *-?\d+\?", g)]  # no failure, no error
    echoing = next(i for i, t in enumerate(typed) if "' debug <ok> !" in t)
    before = got.index(typed[echoing] + " ok")
    assert got[:before] == [" ok"] * before == [" ok"] * 6  # 8 lines before it, two opening a definition
    echoes = iter(got[before:])
    for t in typed[echoing:-1]:
        assert any(g == t + " ok" for g in echoes), t  # in order: what each line printed comes between


@needs_numba
def test_the_first_line_keeps_system_in_the_search_order_so_the_definitions_compile():
    """On the reference: the shipped first line and the next three answer ` ok` three times (the third opens the
    definition of ``grab``, the fourth ends it), tests.out's first bytes; after the README's first line, the
    fourth fails on ``token``: the error that leaves two stray cells on the stack (so far) and fails the five
    ``throws?`` tests."""
    first = [line + b"\n" for line in (SUITE / "tests.fth").read_bytes().split(b"\n")[:4]]
    machine = Subleq.load(CONFIG, words_of(IMAGE))
    assert fast.run_reference(machine, Input(b"".join(first))) == "halt"
    assert machine.output == b" ok\r\n" * 3 == (SUITE / "tests.out").read_bytes()[:15]
    machine = Subleq.load(CONFIG, words_of(IMAGE))  # (without the line that defines nul?: token is missed first)
    assert fast.run_reference(machine, Input(README_LINE + first[2] + first[3])) == "halt"
    assert machine.output == b" ok\r\n token?\r\n  -13?\r\n"


@needs_numba
@pytest.mark.parametrize("engine", ["neural"])
def test_the_network_runs_the_suite_as_the_reference_does_for_300_000_passes(engine):
    """eForth boots (92,000 passes) and reads the first line: the whole memory, PC and the input taken agree."""
    words, data = words_of(IMAGE), (SUITE / "tests.fth").read_bytes()
    eng = make(engine, CONFIG)
    net_input, ref_input = Input(data), Input(data)
    outcome = Computer(eng, encode(eng.state, CONFIG, words), [net_input]).run(300_000)[0]
    machine = Subleq.load(CONFIG, words)
    assert fast.run_reference(machine, ref_input, 300_000) == outcome.reason == "limit"
    assert (outcome.steps, outcome.pc, outcome.output) == (machine.steps, machine.pc, bytes(machine.output))
    assert np.array_equal(outcome.memory, machine.mem)
    assert net_input.consumed == ref_input.consumed > 0
