"""Per-stage checks: after each stage's last layer the decoded fields (A, B, C, mem[A], mem[B], result,
branch flag, next PC) equal the reference's micro-operations for that instruction."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.check.runner import first_bad_layer
from mlpvm.engines import make
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode, register
from mlpvm.program.inputs import Input
from tests.conftest import COMPILED


def random_instructions(cfg: Config, rng: np.random.Generator, count: int):
    """Random states whose instruction at PC is a subtraction, input or output."""
    lo, hi = -(1 << (cfg.bits - 1)), 1 << (cfg.bits - 1)
    for _ in range(count):
        if cfg.machine == "paper":
            data = rng.integers(lo, hi, cfg.cells).tolist()
            slots = [
                tuple(int(v) for v in (rng.integers(cfg.cells), rng.integers(cfg.cells), rng.integers(cfg.slots)))
                for _ in range(cfg.slots)
            ]
            yield data, slots, int(rng.integers(cfg.slots)), b""
            continue
        words = rng.integers(lo, hi, cfg.cells).tolist()
        pc = int(rng.integers(0, cfg.cells - 2))
        kind = rng.integers(3)
        a, b = (int(v) for v in rng.integers(0, cfg.cells, 2))
        words[pc : pc + 3] = [[a, b, words[pc + 2]], [-1, b, 0], [a, -1, 0]][kind]
        yield words, None, pc, bytes([int(rng.integers(256))])


@pytest.mark.parametrize("engine", [COMPILED, "structured", "sparse"])
@pytest.mark.parametrize("cfg", [Config("subleq", 8, 32), Config("subleq", 16, 64), Config("paper", 8, 16, 8)])
def test_each_stage_produces_the_reference_micro_operations(engine, cfg):
    eng = make(engine, cfg)
    rng = np.random.default_rng(7)
    cases = list(random_instructions(cfg, rng, 150))
    states, micros = [], []
    for words, slots, pc, data in cases:
        x = encode(eng.state, cfg, words, slots)
        n = eng.state["pc"].shape[0]
        eng.state.view(x, "pc")[...] = [(pc >> t) & 1 for t in range(n)]
        if "in_ready" in eng.state:
            eng.state.view(x, "in_ready")[...] = 1
            eng.state.view(x, "in_byte")[...] = [(data[0] >> t) & 1 for t in range(8)]
        ref = reference.load(cfg, words, slots)
        ref.pc = pc
        micros.append(ref.step(Input(data)))
        states.append(x)
    batch = eng.new_batch(np.array(states))
    trace: list[np.ndarray] = []
    eng.run_pass(batch, trace)
    checked = 0
    for row, m in enumerate(micros):
        assert first_bad_layer(cfg, eng.layouts, eng.layer_names, trace, m, row) is None, m
        for layer, field in cfg.spec.checkpoints:
            want = getattr(m, field)
            if want is not None:
                k = eng.layer_names.index(layer)
                assert register(eng.layouts[k], cfg, trace[k][row], field) == int(want)
                checked += 1
    assert checked > 6 * len(micros)  # most instructions define most fields
