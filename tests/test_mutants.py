"""Mutation testing: every unit of the network matters, and the verification battery catches a fault planted in
any layer (a sample here; `mlpvm verify --mutants` runs them all)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mlpvm.check import mutate
from mlpvm.check.generate import one_step_cases
from mlpvm.check.lockstep import Batch
from mlpvm.cli import cli
from mlpvm.engines import Sparse
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, build
from mlpvm.network.weights import compile_network

CONFIGS = [Config("subleq", 8, 32), Config("subleq", 6, 16), Config("subleq", 16, 64), Config("paper", 8, 16, 8)]


@pytest.fixture(scope="module", params=mutate.CONFIGS, ids=str)
def battery(request) -> mutate.Battery:
    return mutate.battery(compile_network(build(request.param)))


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_no_unit_is_dead(cfg):
    """Every unit feeds a unit that is read, back to the state (which the next pass, the host or the display reads)."""
    assert mutate.dead_units(compile_network(build(cfg))) == []


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.bits <= 8], ids=str)
def test_no_unit_is_constant(cfg):
    """Every unit takes both values 0 and 1 on some state: a constant unit would be a bias, not a unit. (At
    small widths, where random states reach every carry-lookahead pattern.)"""
    weights = compile_network(build(cfg))
    engine = Sparse(weights)
    states = np.random.default_rng(0).integers(0, 2, (3000, weights.state.size)).astype(np.float32)
    steps = Batch(engine, cfg, one_step_cases(cfg, 0, 500)).computer.x
    seen = [np.zeros((2, layer.W.shape[0]), bool) for layer in weights.layers]
    for x in (states, steps):
        trace: list[np.ndarray] = []
        engine.run_pass(x.copy(), trace)
        for k, h in enumerate(trace):
            seen[k] |= [(h == 0).any(axis=0), (h == 1).any(axis=0)]
    constant = [(weights.layers[k].name, np.flatnonzero(~s.all(axis=0)).tolist()) for k, s in enumerate(seen)]
    assert [c for c in constant if c[1]] == []


def test_mutants_cover_every_field_of_every_layer_with_every_kind(battery):
    weights = battery.weights
    mutants = mutate.choose(weights)
    for k, layer in enumerate(weights.layers):
        planted = {(m.field.split("[")[0], m.kind) for m in mutants if m.layer == k}
        assert planted == {(f.name, kind) for f in layer.outputs for kind in mutate.KINDS}, layer.name


def test_a_mutant_changes_one_unit_only(battery):
    weights = battery.weights
    for m in mutate.choose(weights)[::50]:
        mutated = mutate.plant(weights, m)
        for k, (a, b) in enumerate(zip(weights.layers, mutated.layers)):
            dw = a.W.to_dense(np.int64) != b.W.to_dense(np.int64)
            db = a.b != b.b
            rows = set(np.flatnonzero(dw.any(axis=1))) | set(np.flatnonzero(db))
            assert rows == ({m.unit} if k == m.layer else set()), m
            if k == m.layer:
                changed = (dw.sum(), db.sum())
                if m.kind == "weight":
                    assert changed == (1, 0) and dw[m.unit, m.column]
                elif m.kind == "drop":
                    assert not b.W.to_dense(np.int64)[m.unit].any() and b.b[m.unit] == 0
                else:
                    assert changed == (0, 1) and b.b[m.unit] - a.b[m.unit] == (1 if m.kind == "bias+1" else -1)


def test_the_fast_mutant_engine_equals_the_plain_one(battery):
    """``Mutated`` (prefix reuse) computes exactly what ``Sparse(plant(...))`` computes, guard included."""
    weights, inputs = battery.weights, [p.x for p in battery.prefixes]
    inputs.append(np.random.default_rng(5).integers(0, 2, (40, weights.state.size)).astype(np.float32))
    for m in mutate.choose(weights, seed=3)[::61]:
        fast, plain = battery.engine(m), Sparse(mutate.plant(weights, m))
        for x in inputs:
            results = []
            for engine in (fast, plain):
                y = x.copy()
                try:
                    engine.run_pass(y)
                    results.append(y)
                except NetworkFault as e:
                    results.append(e.layer)
            assert results[0] == results[1] if isinstance(results[1], str) else np.array_equal(*results), m


def test_a_sample_of_the_mutation_table_is_all_caught(battery):
    weights = battery.weights
    mutants = mutate.choose(weights)[::20]
    results = list(mutate.run(battery, mutants))
    survivors = [r.mutant.describe(weights) for r in results if not r.caught]
    assert survivors == []
    for r in results:  # a located divergence is never blamed on a layer before the fault
        if r.catch.layer is not None:
            assert LAYER_NAMES.index(r.catch.layer) >= LAYER_NAMES.index(r.planted), r
    assert sum(r.located for r in results) > len(results) / 4


def test_the_command_prints_the_table(monkeypatch):
    from mlpvm.check import campaign

    monkeypatch.setattr(mutate, "choose", lambda weights, seed=0: [m for m in CHOOSE(weights, seed)[::40]])
    campaign._mutants.cache_clear()  # an earlier test's campaign may have chosen this configuration's mutants
    result = CliRunner().invoke(cli, ["verify", "--mutants", "--bits", "8", "--cells", "32"])
    assert result.exit_code == 0, result.output
    assert "mutation table: subleq, 8-bit words, 32 cells" in result.output
    assert "branch.3" in result.output and "all caught: 45 of 45 mutants caught (100.0%)" in result.output
    doc = json.loads(CliRunner().invoke(cli, ["verify", "--mutants", "--machine", "paper", "--json"]).output)
    assert [d["config"]["machine"] for d in doc] == ["paper"] and doc[0]["survivors"] == []
    assert sum(row["mutants"] for row in doc[0]["layers"]) == doc[0]["mutants"] == doc[0]["caught"]
    campaign._mutants.cache_clear()  # the sample chosen here is not the battery later tests expect


CHOOSE = mutate.choose


def test_the_unmutated_network_passes_every_check_of_the_battery(battery):
    """The baseline: "every mutant caught" means something only if the network itself passes each check."""
    engine = Sparse(battery.weights)
    for check in battery.checks:
        assert check.run(engine) is None, check.name
