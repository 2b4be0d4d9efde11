"""Where each engine call stops and which machine an event names, checked by lockstep itself (not only by
counting passes): an engine that stops a call a pass early or late, a fault that names a machine that did not
fault, a machine retired for the wrong reason, each is a divergence."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.check import mutate
from mlpvm.check.generate import one_step_cases, random_program
from mlpvm.check.lockstep import Batch, staggered
from mlpvm.engines import Sparse, Structured
from mlpvm.errors import NetworkFault
from mlpvm.host.computer import Computer
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network
from tests.conftest import needs_llvm, needs_numba

CFG = Config("subleq", 8, 32)


class Late(Structured):
    """Runs one pass more after a pass with an event (the call should have stopped)."""

    def _run_until_event(self, x, max_passes, steps, record=None):
        done = super()._run_until_event(x, max_passes, steps, record)
        if done < max_passes:
            self.run_pass(x)
            steps += x[:, self.state["executed"].offset] > 0.5
            done += 1
        return done


class Early(Structured):
    """Stops a call that has no event one pass before the passes asked for."""

    def _run_until_event(self, x, max_passes, steps, record=None):
        return super()._run_until_event(x, max(1, max_passes - 1), steps, record)


def _programs() -> list:
    return [p for seed in range(12) for p in staggered(CFG, random_program(CFG, seed), 3)]


@pytest.mark.parametrize("wrong", [Late, Early], ids=lambda c: c.__name__)
def test_lockstep_catches_a_call_that_stops_a_pass_late_or_early(wrong):
    batch = Batch(wrong(build(CFG)), CFG, _programs())
    _, div = batch.run(200, passes_per_call=5)
    assert div is not None and div.field.startswith("passes of the engine call"), div
    assert div.network == div.reference + (1 if wrong is Late else -1), div
    _, right = Batch(Structured(build(CFG)), CFG, _programs()).run(200, passes_per_call=5)
    assert right is None, right


class Misretired(Computer):
    """Retires a faulted machine as halted."""

    def _retire(self, row, reason):
        super()._retire(row, "halt" if reason == "fault" else reason)


def test_lockstep_catches_a_machine_retired_for_the_wrong_reason(monkeypatch):
    import mlpvm.check.lockstep as lockstep

    monkeypatch.setattr(lockstep, "Computer", Misretired)
    faults = [p for p in one_step_cases(CFG, 0, 64)]
    _, div = Batch(Sparse(compile_network(build(CFG))), CFG, faults).run(1)
    assert div is not None and div.field == "stop reason" and (div.network, div.reference) == ("halt", "fault"), div


FAULTY_ROW = 13  # the second group of 8 of the unrolled engine, a lane inside it


@pytest.fixture(scope="module")
def faulting():
    """A construction with a unit that computes 2 on some single steps, and a batch of 20 of them where only
    machine ``FAULTY_ROW`` makes it compute 2: (net, programs)."""
    net = build(CFG)
    steps = one_step_cases(CFG, 0, 128)
    x = Batch(Sparse(compile_network(net)), CFG, steps).computer.x
    for m in mutate.choose_blocks(net, seed=2, per_stage=3):
        if m.delta < 0:
            continue
        planted = mutate.plant_block(net, m)
        trace: list[np.ndarray] = []
        engine = Sparse(compile_network(planted))
        engine.guard = False
        engine.run_pass(x.copy(), trace)
        off = np.zeros(len(steps), bool)
        for h in trace:
            off |= ((h != 0) & (h != 1)).any(axis=1)
        clean, bad = np.flatnonzero(~off), np.flatnonzero(off)
        if len(bad) and len(clean) >= 19:
            order = [*clean[:FAULTY_ROW], bad[0], *clean[FAULTY_ROW:19]]
            return planted, [steps[i] for i in order]
    pytest.fail("no construction mutant computes 2 on a single step")


ENGINES = ["sparse", "dense", pytest.param("compiled", marks=needs_numba), pytest.param("unrolled", marks=needs_llvm)]


@pytest.mark.parametrize("name", ENGINES)
def test_a_batch_fault_names_a_machine_that_faulted(faulting, name):
    """The engine's network fault names the one machine whose activation left {0,1}, on a layer where it did;
    lockstep checks that and reports the fault, not a wrong name."""
    planted, programs = faulting
    engine = mutate.engine_of(name, planted)
    div = Batch(engine, CFG, programs).step()
    assert div is not None and div.fault and div.field == "network fault", div
    x = Batch(engine, CFG, programs).computer.x.copy()
    with pytest.raises(NetworkFault) as e:
        engine.run_pass(x.copy())
    trace: list[np.ndarray] = []
    plain = Sparse(compile_network(planted))
    plain.guard = False
    plain.run_pass(x.copy(), trace)
    h = trace[plain.layer_names.index(e.value.layer)]
    assert e.value.machine == FAULTY_ROW and ((h[FAULTY_ROW] != 0) & (h[FAULTY_ROW] != 1)).any()


def test_lockstep_catches_a_fault_that_names_the_wrong_machine(faulting):
    planted, programs = faulting

    class Misnamed(Sparse):
        def _run_pass(self, x, trace=None):
            try:
                super()._run_pass(x, trace)
            except NetworkFault as e:
                raise NetworkFault(e.layer, "misnamed", 0) from None  # a machine that did not fault

    div = Batch(Misnamed(compile_network(planted)), CFG, programs).step()
    assert div is not None and div.field.startswith("the machine the network fault names"), div
