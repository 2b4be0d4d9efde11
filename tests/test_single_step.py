"""Exhaustive single-step sweeps at small widths: one pass of the network equals one reference step.

Every (mem[a], mem[b]) pair at N = 4 and N = 6, so both branch outcomes and every wrap-around; a = b; operands
that point into the instruction itself; PC near the end of memory; and every I/O case. Run on the stored
matrices (sparse), the structured and the compiled engines, each as one large batch; the dense engine covers N = 4.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlpvm.check.lockstep import Batch
from mlpvm.engines import make
from mlpvm.machines.config import Config
from mlpvm.machines.state import REGISTERS
from tests.conftest import COMPILED, needs_fast
from tests.helpers import one_pass_divergence

ENGINES = [COMPILED, "structured", "sparse"]


def values(bits: int) -> range:
    return range(-(1 << (bits - 1)), 1 << (bits - 1))


def subleq_pairs(cfg: Config, a: int, b: int, pc: int = 0) -> list[dict]:
    programs = []
    for va, vb in itertools.product(values(cfg.bits), repeat=2):
        words = [0] * cfg.cells
        words[pc : pc + 3] = [a, b, 5]
        words[a], words[b] = va, vb
        programs.append({"words": words, "pc": pc})
    return programs


@pytest.mark.parametrize("engine", [*ENGINES, "dense"])
def test_subleq_every_pair_n4(engine):
    cfg = Config("subleq", 4, 16)
    eng = make(engine, cfg)
    programs = subleq_pairs(cfg, 9, 11) + subleq_pairs(cfg, 9, 11, pc=3) + subleq_pairs(cfg, 12, 13, pc=5)
    assert one_pass_divergence(eng, cfg, programs) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_subleq_every_pair_n6(engine):
    cfg = Config("subleq", 6, 64)
    assert one_pass_divergence(make(engine, cfg), cfg, subleq_pairs(cfg, 40, 61, pc=7)) is None


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bits", [4, 6])
def test_subleq_a_equals_b_and_self_reference(engine, bits):
    cfg = Config("subleq", bits, 16)
    programs = []
    for v in values(bits):
        for a, b in ((9, 9), (9, 1), (2, 9), (0, 0), (1, 2)):  # operands in the instruction itself
            words = [a, b, 6] + [0] * 13
            if a > 2:
                words[a] = v
            if b > 2:
                words[b] = v
            programs.append({"words": words})
    assert one_pass_divergence(make(engine, cfg), cfg, programs) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_subleq_every_pc(engine):
    """Every PC value of a 6-bit machine: negative and past-the-end PCs halt; the rest execute."""
    cfg = Config("subleq", 6, 32)
    programs = []
    for pc in values(6):
        words = [3 * (i % 7) % 32 for i in range(32)]
        programs.append({"words": words, "pc": pc % 64})
    assert one_pass_divergence(make(engine, cfg), cfg, programs) is None


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bits", [4, 6, 8])
def test_subleq_io_and_faults(engine, bits):
    cfg = Config("subleq", bits, 16)
    programs = []
    for v in values(bits):  # output every value of mem[A]
        programs.append({"words": [9, -1, 0, 0, 0, 0, 0, 0, 0, v]})
    for byte in (0, 1, 65, 127, 128, 255):  # input: a byte, EOF, and nothing ready
        programs.append({"words": [-1, 9, 0], "data": bytes([byte])})
    programs.append({"words": [-1, 9, 0], "data": b""})
    programs.append({"words": [-1, 9, 0], "data": b"", "closed": False})
    lo = -(1 << (bits - 1))
    for a, b in ((16, 3), (3, 16), (3, -2), (-1, 16), (-1, -1), (16, -1), (lo, 3), (3, lo), (-1, lo)):
        programs.append({"words": [a, b, 0], "data": b"q"})  # faults (where the operand is out of range)
    assert one_pass_divergence(make(engine, cfg), cfg, programs) is None


def paper_pairs(cfg: Config, a: int, b: int, c: int, pc: int = 0) -> list[dict]:
    programs = []
    for va, vb in itertools.product(values(cfg.bits), repeat=2):
        data = [0] * cfg.cells
        data[a], data[b] = va, vb
        slots = [(0, 0, 0)] * cfg.slots
        slots[pc] = (a, b, c)
        programs.append({"words": data, "slots": slots, "pc": pc})
    return programs


@pytest.mark.parametrize("engine", [*ENGINES, "dense"])
def test_paper_every_pair_n4(engine):
    cfg = Config("paper", 4, 16, 8)
    programs = paper_pairs(cfg, 3, 5, 6) + paper_pairs(cfg, 3, 5, 7, pc=7) + paper_pairs(cfg, 4, 2, 2, pc=2)
    # a = b: the cell holds the last value assigned (vb), so the first 1 << bits pairs give it every value
    same = paper_pairs(cfg, 6, 6, 1, pc=1)[: 1 << cfg.bits]
    assert sorted(p["words"][6] for p in same) == list(values(cfg.bits))  # every value, once
    programs += same
    assert one_pass_divergence(make(engine, cfg), cfg, programs) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_paper_every_pair_n6(engine):
    cfg = Config("paper", 6, 64, 16)
    programs = paper_pairs(cfg, 33, 62, 9, pc=9) + paper_pairs(cfg, 33, 62, 14, pc=3)
    assert one_pass_divergence(make(engine, cfg), cfg, programs) is None


@pytest.mark.parametrize("engine", [pytest.param("unrolled", marks=needs_fast), *ENGINES])
@pytest.mark.parametrize("cfg", [Config("subleq", 8, 32), Config("paper", 8, 16, 8)], ids=str)
def test_a_stopped_machine_stays_exactly_as_it_is(engine, cfg):
    """Halted (or faulted) machines, many passes later: not one unit of the state changes, and no pass counts
    as a step. Behavioural, on every engine, apart from the mutation battery."""
    eng = make(engine, cfg)
    rng = np.random.default_rng(5)
    stopped = [cfg.spec.generator.stopped(cfg, rng) for _ in range(16)]
    x = Batch(eng, cfg, stopped).computer.x.copy()
    assert (x[:, eng.state["halted"].offset] == 1).all()
    machine = [f for f in eng.state if f.name not in REGISTERS]  # the registers show the last pass, not state
    before = x.copy()
    eng.run_pass(x)
    for f in machine:
        assert np.array_equal(x[:, f.offset : f.stop], before[:, f.offset : f.stop]), f.name
    first = x.copy()  # from here on the whole vector is a fixed point
    steps = np.zeros(len(x), np.int64)
    for _ in range(5):
        eng.run_pass(x)
    eng.run_until_event(x, 50, steps)
    assert np.array_equal(x, first) and not steps.any()
