"""The mutation battery on every engine: a fault planted in the construction (a unit's bias +1, so a unit that
computed 1 computes 2; or -1, so one that computed 0 sums to -1 and one that computed 1 computes 0) runs on
each engine, which must catch it exactly as the stored matrices do: its guard stops the pass where an
activation is 2, on the same layer; a wrong value is the same divergence."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.check import mutate
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network
from tests.conftest import needs_llvm, needs_numba, needs_onnx

# The smallest configurations the battery's sweep accepts: every fault is found in a second or less.
CONFIGS = (Config("subleq", 4, 8), Config("paper", 4, 8, 4))
ENGINES = [
    "sparse",
    "dense",
    "structured",
    pytest.param("compiled", marks=needs_numba),
    pytest.param("unrolled", marks=needs_llvm),
    pytest.param("onnx", marks=needs_onnx),
]
# The costlier engines take the guarded faults first, then others, up to: each mutant is new machine code for
# the unrolled engine (a second to compile), a new model for onnx, and dense multiplies whole matrices.
PER_ENGINE = {"unrolled": 2, "onnx": 3, "dense": 3}
# Engines whose guard checks the state after a pass (each documents it), not every layer's activations.
STATE_GUARDS = ("structured", "onnx")


@pytest.fixture(scope="module", params=CONFIGS, ids=str)
def planted(request, tmp_path_factory):
    """The construction, its battery's fast checks (single steps in lockstep, random states against the
    unmutated network), the mutants, and what the stored matrices (sparse) make of each."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLPVM_CACHE", str(tmp_path_factory.mktemp("code")))  # the mutants' code, not the user's cache
        net = build(request.param)
        battery = mutate.battery(compile_network(net))
        checks = [c for c in battery.checks if c.name in ("steps", "states")]
        mutants = mutate.choose_blocks(net)
        verdicts = [_verdict(mutate.engine_of("sparse", mutate.plant_block(net, m)), checks) for m in mutants]
        yield net, checks, mutants, verdicts


def _verdict(engine, checks) -> tuple[str, str, str | None] | None:
    for check in checks:
        catch = check.run(engine)
        if catch is not None:
            return check.name, catch.detail, catch.layer
    return None


def test_the_mutants_cover_every_stage_both_ways(planted):
    net, _, mutants, verdicts = planted
    faultable = {layer.stage for k, layer in enumerate(net.layers) if any(mutate.faultable(net, k))}
    assert len(faultable) >= 5  # paper's write stage is memory updates only
    assert {(net.layers[m.layer].stage, m.delta) for m in mutants} == {(s, d) for s in faultable for d in (1, -1)}
    assert all(v is not None for v in verdicts), [m.describe(net) for m, v in zip(mutants, verdicts) if v is None]
    guarded = [v for v in verdicts if v[1].startswith("network fault")]
    assert guarded, "no mutant made an activation of 2: the guards would go untested"


@pytest.mark.parametrize("name", ENGINES)
def test_every_engine_catches_every_mutant_as_the_matrices_do(planted, name):
    """Each engine runs each faulty construction: the first check that fails, and how (the guard on the same
    layer, or the same field wrong), is what it is on the stored matrices."""
    net, checks, mutants, verdicts = planted
    pairs = list(zip(mutants, verdicts))
    if name in PER_ENGINE:  # the guarded faults first: the guard is what this exercises
        pairs.sort(key=lambda p: not p[1][1].startswith("network fault"))
        pairs = pairs[: PER_ENGINE[name]]
    assert any(v[1].startswith("network fault") for _, v in pairs)
    last = net.layers[-1].name
    for mutant, want in pairs:
        engine = mutate.engine_of(name, mutate.plant_block(net, mutant))
        assert engine.guard
        got = _verdict(engine, checks)
        if name in STATE_GUARDS and want[1].startswith("network fault") and want[2] != last:
            # Their guard checks the state after the pass, not every layer: a 2 inside the pass is caught by
            # what it does to the state, in the same check.
            assert got is not None and got[0] == want[0], f"{name}: {mutant.describe(net)}: {got}"
            continue
        assert got == want, f"{name}: {mutant.describe(net)}"


@pytest.mark.parametrize("name", ENGINES)
def test_every_guard_stops_a_2_in_the_state(planted, name):
    """A unit of the last layer (a state field) that computes 2: every engine's guard stops that pass, on the
    last layer, as the matrices' does (the guards that check only the state included)."""
    net, checks, _, _ = planted
    k = len(net.layers) - 1
    units = [(block.out, u) for block in mutate.faultable(net, k) for u in range(block.bias.size)]
    for field, u in units:
        mutant = mutate.BlockMutant(k, field, u, 1)
        want = _verdict(mutate.engine_of("sparse", mutate.plant_block(net, mutant)), checks)
        if want is not None and want[1] == f"network fault after layer {net.layers[k].name}":
            break
    else:
        pytest.fail(f"no unit of {net.layers[k].name} computes 2 in the battery's states")
    assert _verdict(mutate.engine_of(name, mutate.plant_block(net, mutant)), checks) == want


def test_a_planted_construction_is_its_matrices():
    """The faulty construction compiles to the matrices with that one bias changed, so the engines that run
    the construction and those that run the matrices run the same network."""
    net = build(CONFIGS[0])
    base = compile_network(net)
    for m in mutate.choose_blocks(net, seed=1):
        planted = compile_network(mutate.plant_block(net, m))
        for k, (a, b) in enumerate(zip(base.layers, planted.layers)):
            assert np.array_equal(a.W.to_dense(np.int64), b.W.to_dense(np.int64))
            changed = np.flatnonzero(a.b != b.b)
            if k != m.layer:
                assert len(changed) == 0
            else:
                row = net.layers[k].outputs[m.field].offset + m.unit
                assert changed.tolist() == [row] and b.b[row] - a.b[row] == m.delta
