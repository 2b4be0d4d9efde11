"""Many passes per engine call, the path ``mlpvm run`` takes, on every engine, against the plain reference
interpreter on the whole state (memory, PC, flags, registers, output, input consumed).

Passes inside one call are not visible to the host, so two ways make every one of them compared: one machine
run by calls of every short length (1, 2, 3, ...) and long ones, compared after each call; and a batch whose
machine i starts i passes later along the same reference trace (``staggered``), so one call of K passes leaves
the batch at K consecutive passes, each compared with the reference at that pass. Input and output end a call
early; the host (``Computer.advance``) services them between calls exactly as ``mlpvm run`` does.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Batch, Program, staggered
from mlpvm.engines import Engine, make
from mlpvm.engines.compiled import TILE
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from tests.conftest import EXTERNAL, examples, needs_fast, needs_numba, needs_onnx, words_of
from tests.strategies import programs

CALLS = (1, 2, 3, 4, 5, 6, 7, 8, 13, 64, 1000)  # passes per call, in turn: every short length and long ones
STAGGER = 8  # machines one pass apart, and the passes of each call
STEPS = 150
SMALL = {"subleq": Config("subleq", 8, 32), "paper": Config("paper", 8, 16, 8)}
LARGE = {"subleq": Config("subleq", 16, 256), "paper": Config("paper", 16, 128, 16)}

FAST = [pytest.param("unrolled", marks=needs_fast), pytest.param("compiled", marks=needs_numba)]
NUMPY = ["bits", "structured", "sparse", pytest.param("onnx", marks=needs_onnx)]


@cache
def engine(name: str, cfg: Config) -> Engine:
    return make(name, cfg)


def check(batch: Batch, max_steps: int, passes_per_call) -> None:
    """Runs the batch to its end; every program stops as its reference does, and nothing diverged."""
    steps, div = batch.run(max_steps, passes_per_call=passes_per_call)
    assert div is None, str(div)
    assert batch.stopped
    for i, ref in enumerate(batch.refs):
        reason = batch.reasons[i]
        assert reason in ("halt", "fault", "limit", "wait", "eof")
        assert ref.halted == (reason in ("halt", "fault"))
        assert ref.fault == (reason == "fault")
        assert batch.computer.done[i].steps == ref.steps
    assert steps == sum(ref.steps for ref in batch.refs)


def one_machine(name: str, cfg: Config, program: Program, max_steps: int = STEPS) -> Batch:
    batch = Batch(engine(name, cfg), cfg, [program])
    check(batch, max_steps, CALLS)
    return batch


def stagger(name: str, cfg: Config, program: Program, machines: int = STAGGER, max_steps: int = STEPS) -> Batch:
    batch = Batch(engine(name, cfg), cfg, staggered(cfg, program, machines))
    check(batch, max_steps, machines)
    return batch


@pytest.mark.parametrize("machine", SMALL)
@pytest.mark.parametrize("name", FAST + NUMPY)
@examples(20)
@given(data=st.data())
def test_calls_of_every_length_on_one_machine(name, machine, data):
    cfg = SMALL[machine]
    one_machine(name, cfg, data.draw(programs(cfg)))


@pytest.mark.parametrize("machine", SMALL)
@pytest.mark.parametrize("name", FAST + NUMPY)
@examples(20)
@given(data=st.data())
def test_a_staggered_batch_compares_every_pass(name, machine, data):
    cfg = SMALL[machine]
    stagger(name, cfg, data.draw(programs(cfg)))


@pytest.mark.parametrize("machine", SMALL)
@examples(2)
@given(data=st.data())
def test_the_dense_matrices_over_many_passes(machine, data):
    """The executable specification, slow: a few programs, a short run each way."""
    cfg = SMALL[machine]
    p = data.draw(programs(cfg))
    one_machine("dense", cfg, p, max_steps=40)
    stagger("dense", cfg, p, max_steps=40)


@needs_numba
@pytest.mark.parametrize("machine", LARGE)
@pytest.mark.parametrize("name", ["unrolled", "compiled", "bits"])
@examples(10)
@given(data=st.data())
def test_the_fast_engines_on_a_larger_machine(name, machine, data):
    cfg = LARGE[machine]
    p = data.draw(programs(cfg, max_instructions=40))
    one_machine(name, cfg, p, max_steps=1000)
    stagger(name, cfg, p, machines=11, max_steps=1000)  # 11: the unrolled engine's last group of 8 padded


def _looping(cfg: Config, count: int) -> list[Program]:
    """``count`` random programs that run at least ``STEPS`` steps (they loop), each staggered over 4 machines."""
    out = []
    for seed in range(100_000):
        program = random_program(cfg, seed)
        ref = reference.load(cfg, program.words, program.slots)
        if reference.run(ref, program.input(), STEPS + 4) == "limit":
            out += staggered(cfg, program, 4)
            if len(out) >= 4 * count:
                return out
    raise AssertionError("not enough looping programs")


@needs_numba
@pytest.mark.parametrize("name", ["unrolled", "compiled"])
def test_many_tiles_take_turns_over_many_passes(name):
    """Over 3 tiles of 128 machines or more (the compiled engine's tile; over 32 of the unrolled one's groups
    of 8) on nearly every call: random programs that loop, each staggered over 4 machines, calls of 4 passes, the batch
    size of every call counted."""
    cfg = SMALL["subleq"]
    eng = engine(name, cfg)
    sizes: list[int] = []
    batch = Batch(eng, cfg, _looping(cfg, 100))
    run = eng.run_until_event
    try:
        eng.run_until_event = lambda x, *args, **kw: (sizes.append(len(x)), run(x, *args, **kw))[1]
        check(batch, STEPS, 4)
    finally:
        del eng.run_until_event
    assert set(batch.reasons.values()) == {"limit"}
    many = sum(size > 2 * TILE for size in sizes)  # 3 tiles or more
    assert len(sizes) >= STEPS // 4 and many >= 0.9 * len(sizes), (many, len(sizes))


@needs_numba
@pytest.mark.parametrize("name", ["unrolled", "compiled"])
@pytest.mark.parametrize(
    ("path", "cells", "data"),
    [
        ("howerj-subleq-vhdl/echo.dec", 64, b"abc\n"),
        ("howerj-subleq-vhdl/hello.dec", 256, b""),
        ("howerj-subleq-vhdl/hi2.dec", 256, b""),
    ],
    ids=lambda v: str(v).rsplit("/", 1)[-1] if isinstance(v, str) else None,
)
def test_external_programs_with_input_and_output(name, path, cells, data):
    """Every input and output byte ends a call; the host serves it between calls, as ``mlpvm run`` does."""
    cfg = Config("subleq", 16, cells)
    program = Program(words_of(EXTERNAL / path), data=data)
    one_machine(name, cfg, program, max_steps=1000)
    batch = stagger(name, cfg, program, max_steps=1000)
    assert set(batch.reasons.values()) == {"halt"} and batch.refs[0].output


EFORTH = Config("subleq", 16, 8192)


@pytest.fixture(scope="module")
def eforth() -> Program:
    return Program(words_of(EXTERNAL / "howerj-subleq-vhdl/eforth-8k.dec"), closed=False)


@needs_numba
@pytest.mark.parametrize("name", ["unrolled", "compiled"])
def test_eforth_boots_in_calls_of_every_length(name, eforth):
    """eForth to its first request for input (112,915 steps, ' ok' on the way), the whole state compared
    after every call, as ``mlpvm run`` makes them."""
    batch = one_machine(name, EFORTH, eforth, max_steps=200_000)
    assert (batch.reasons[0], batch.refs[0].steps, bytes(batch.refs[0].output)) == ("wait", 112_915, b" ok\r\n")
    assert batch.passes > 112_915


@needs_numba
@pytest.mark.parametrize("name", ["unrolled", "compiled"])
def test_eforth_boot_on_a_staggered_batch(name, eforth):
    """Eight machines one pass apart (one vector group of the unrolled engine) through the first 20,000 steps
    of the boot, calls of 8 passes: each call's passes compared with the reference at each of them."""
    batch = stagger(name, EFORTH, eforth, machines=8, max_steps=20_000)
    assert set(batch.reasons.values()) == {"limit"} and batch.passes > 2_000


@pytest.mark.parametrize("name", [*FAST, "structured"])
def test_a_network_fault_inside_a_long_call_names_its_layer_and_step(name):
    """An activation off {0,1} stops the call; the lockstep finds it again one pass at a time."""
    cfg = SMALL["subleq"]
    batch = Batch(engine(name, cfg), cfg, [Program([3, 4, 0, 1, 1])])
    batch.computer.x[0, engine(name, cfg).state["mem"].offset + 3 * cfg.bits] = 0.5  # mem[3], read by the first step
    div = batch.step(1000)
    assert div is not None and div.fault and div.step == 0 and div.layer is not None, div


# Not in-process: the compiled kernel given no machine spun inside numba, where pytest-timeout's signal cannot
# stop it, so a bug that stopped every machine under ``mlpvm bench`` hung the suite.
NOTHING_LEFT = r"""
import numpy as np
from mlpvm.engines import make
from mlpvm.host.computer import Computer
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
cfg = Config("subleq", 8, 32)
for name in ("unrolled", "compiled", "structured", "sparse"):
    engine = make(name, cfg)
    computer = Computer(engine, encode(engine.state, cfg, [0, 0, -1]))
    computer.run()
    before = computer.passes
    computer.advance(1000)
    assert computer.passes == before and computer.done[0].reason == "halt", name
print("ok")
"""


@needs_numba
def test_a_host_with_every_machine_stopped_runs_no_pass():
    result = subprocess.run([sys.executable, "-c", NOTHING_LEFT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
