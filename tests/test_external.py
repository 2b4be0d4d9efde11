"""Public SUBLEQ programs (tests/data/external, with their licences) give exactly the output and step counts
listed in that folder's README, on the network."""

from __future__ import annotations

import pytest

from mlpvm.engines import make
from mlpvm.host import Computer
from mlpvm.inputs import Input
from mlpvm.machine import Config
from mlpvm.state import encode
from tests.conftest import COMPILED, EXTERNAL, words_of

CASES = [
    ("rosetta/hello.sq", 256, b"", b"Hello, world!\n", 71),
    ("howerj-subleq-vhdl/hi.dec", 256, b"", b"Hi", 3),
    ("howerj-subleq-vhdl/hello.dec", 256, b"", b"Hello, World!\n", 167),
    ("howerj-subleq-vhdl/hi2.dec", 256, b"", b"Hi", 124),
    ("howerj-subleq-vhdl/echo.dec", 64, b"abc\n", b"abc\n", 23),
    ("jserv-subleq/tests/lshift.dec", 256, b"", b"0", 12),
]


@pytest.mark.parametrize("engine", [COMPILED, "structured", "sparse"])
@pytest.mark.parametrize(("path", "cells", "data", "output", "steps"), CASES, ids=[c[0] for c in CASES])
def test_external_program(engine, path, cells, data, output, steps):
    cfg = Config("subleq", 16, cells)
    eng = make(engine, cfg)
    outcome = Computer(eng, encode(eng.state, cfg, words_of(EXTERNAL / path)), [Input(data)]).run(100_000)[0]
    assert (outcome.output, outcome.steps, outcome.reason) == (output, steps, "halt")
