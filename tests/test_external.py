"""Public SUBLEQ programs (programs/external, with their licences) give exactly the output and step counts
listed in that folder's README, on the network."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.engines import make
from mlpvm.host.computer import Computer
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.program.inputs import Input
from tests.conftest import COMPILED, EXTERNAL, needs_numba, words_of

CASES = [
    ("rosetta/hello.sq", 256, b"", b"Hello, world!\n", 71),
    ("howerj-subleq-vhdl/hi.dec", 256, b"", b"Hi", 3),
    ("howerj-subleq-vhdl/hello.dec", 256, b"", b"Hello, World!\n", 167),
    ("howerj-subleq-vhdl/hi2.dec", 256, b"", b"Hi", 124),
    ("howerj-subleq-vhdl/echo.dec", 64, b"abc\n", b"abc\n", 23),
    ("jserv-subleq/tests/lshift.dec", 256, b"", b"0", 12),
]


@pytest.mark.parametrize("engine", [COMPILED, "bits", "structured", "sparse"])
@pytest.mark.parametrize(("path", "cells", "data", "output", "steps"), CASES, ids=[c[0] for c in CASES])
def test_external_program(engine, path, cells, data, output, steps):
    cfg = Config("subleq", 16, cells)
    eng = make(engine, cfg)
    limit = 2 * steps + 100  # a program broken into a loop stops soon, even on the slowest engine
    outcome = Computer(eng, encode(eng.state, cfg, words_of(EXTERNAL / path)), [Input(data)]).run(limit)[0]
    assert (outcome.output, outcome.steps, outcome.reason) == (output, steps, "halt")


@needs_numba
def test_eforth_boots_on_the_network_like_the_reference():
    """eForth (M = 8192) to its first request for input: 112,915 steps, ' ok', and the whole memory."""
    cfg = Config("subleq", 16, 8192)
    words = words_of(EXTERNAL / "howerj-subleq-vhdl/eforth-8k.dec")
    eng = make("compiled", cfg)
    outcome = Computer(eng, encode(eng.state, cfg, words), [Input(closed=False)]).run(200_000)[0]
    ref = reference.load(cfg, words)
    assert reference.run(ref, Input(closed=False), 200_000) == outcome.reason == "wait"
    assert (outcome.output, outcome.steps) == (bytes(ref.output), ref.steps) == (b" ok\r\n", 112_915)
    assert outcome.pc == ref.pc and np.array_equal(outcome.memory, ref.mem)
