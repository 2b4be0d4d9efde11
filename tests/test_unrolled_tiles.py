"""The unrolled engine runs a large batch tile by tile in long calls (``Unrolled._tiled``): the same passes,
events, steps, states and faults as pass after pass over the whole batch."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.bench import counter_loop
from mlpvm.check.lockstep import Program
from mlpvm.check.verify import random_cases
from mlpvm.engines import make, unrolled
from mlpvm.errors import NetworkFault
from mlpvm.host.computer import Computer
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from tests.conftest import needs_llvm, needs_numba

pytestmark = [needs_numba, needs_llvm]

CONFIG = Config("subleq", 8, 32)
MACHINES = unrolled.TILE_GROUPS * unrolled.WIDTH * 3 + 5  # three tiles and a part, the last group padded


def engines():
    """The same code twice: one tiles, the other never does."""
    tiled, plain = make("unrolled", CONFIG), make("unrolled", CONFIG)
    plain._tiles = lambda *args: False
    return tiled, plain


def programs(seed: int, counters: int = 0):
    """Random programs (I/O, halts, waits, faults of their own), the first ``counters`` machines running the
    benchmark's counter instead, which raises no event: the earlier tiles then run further than the last."""
    cases = list(random_cases(CONFIG, MACHINES, seed))
    return [Program(counter_loop(50 + i % 60)) if i < counters else c.program for i, c in enumerate(cases)]


@pytest.mark.parametrize("seed", [0, 1])
def test_tiles_run_the_same_passes_as_the_whole_batch(seed):
    """A few random programs among counters stop at different passes in different tiles: each call stops
    after the batch's first event, every state and step count as pass after pass."""
    tiled, plain = engines()
    progs = programs(seed, counters=MACHINES - 4)
    x = np.stack([encode(tiled.state, CONFIG, p.words, p.slots) for p in progs]).astype(np.float32)
    y = x.copy()
    calls, runs = 0, []
    code = tiled.code(unrolled.WIDTH)
    run = code.run
    code.run = lambda *args: runs.append(args[1]) or run(*args)  # shared with ``plain``: count the tiles' calls
    for passes in (200, 64, 500, 1000, 3000, 100):
        for _ in range(4):
            tiled._long = True  # tiles whenever the batch and the call allow, whatever the last call ran
            s1, s2 = np.zeros(len(x), np.int64), np.zeros(len(y), np.int64)
            d1 = tiled.run_until_event(x, passes, s1)
            d2 = plain.run_until_event(y, passes, s2)
            assert d1 == d2 and np.array_equal(s1, s2) and np.array_equal(x, y), (passes, d1, d2)
            calls += d1 < passes  # stopped by an event
            for state in (x, y):  # what the host would do, crudely: clear every raised event
                state[:, tiled.events] = 0
    tiles = -(-MACHINES // unrolled.WIDTH // unrolled.TILE_GROUPS)
    tile_runs = [n for n in runs if n <= unrolled.TILE_GROUPS]
    assert calls and len(tile_runs) > 24 * tiles  # calls stopped by an event, and tiles run again to its pass


def test_a_computer_gives_the_same_outcomes_with_tiles():
    tiled, plain = engines()
    progs = programs(5)
    outcomes = []
    for engine in (tiled, plain):
        states = [encode(engine.state, CONFIG, p.words, p.slots) for p in progs]
        computer = Computer(engine, states, [p.input() for p in progs])
        outcomes.append(computer.run(2000))
    for a, b in zip(*outcomes):
        assert (a.reason, a.steps, a.output, a.pc, a.passes) == (b.reason, b.steps, b.output, b.pc, b.passes)
        assert np.array_equal(a.state, b.state)


def test_a_fault_in_a_later_tile_is_the_batch_first_fault():
    """A machine of the last tile with a state value off {0,1} faults on the first pass, after the earlier
    tiles ran passes of their own: the whole call runs again pass after pass, and the fault named is the same."""
    tiled, plain = engines()
    progs = programs(2)
    x = np.stack([encode(tiled.state, CONFIG, p.words, p.slots) for p in progs]).astype(np.float32)
    x[:, tiled.events] = 0
    bad = MACHINES - 3
    x[bad, tiled.state["pc"].offset] = 2
    faults = []
    for engine in (tiled, plain):
        y = x.copy()
        with pytest.raises(NetworkFault) as fault:
            engine.run_until_event(y, 500, np.zeros(len(y), np.int64))
        faults.append((fault.value.layer, fault.value.machine, y))
    assert faults[0][:2] == faults[1][:2] and faults[0][1] == bad
    assert np.array_equal(faults[0][2], faults[1][2])
