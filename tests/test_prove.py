"""`mlpvm prove`: the solver proves small configurations of both machines, whole and stage by stage, and refutes
a fault planted in any stage with a counterexample that the stored matrices and `mlpvm verify` confirm."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from mlpvm.check import mutate
from mlpvm.cli import cli
from mlpvm.errors import MlpvmError
from mlpvm.machines.config import Config
from mlpvm.network import STAGES, build
from mlpvm.network.weights import compile_network, save
from mlpvm.prove import compose, report
from tests.conftest import require_extra

require_extra("z3", "prove", "the prover needs z3")  # the Makefile installs it, so CI runs these tests

SMALL = [Config("subleq", 4, 4), Config("subleq", 5, 8), Config("paper", 4, 4, 2), Config("paper", 4, 8, 4)]
TINY = {"subleq": Config("subleq", 4, 4), "paper": Config("paper", 4, 4, 2)}


def proved(outcomes: list[compose.Outcome]) -> bool:
    return bool(outcomes) and all(o.result == compose.PROVED for o in outcomes)


@pytest.mark.parametrize("cfg", SMALL, ids=str)
def test_staged_proof_of_small_configurations(cfg):
    outcomes = compose.staged(compile_network(build(cfg)), timeout=120, on_done=lambda o: None)
    assert [o.stage for o in outcomes[::2]] == [stage for stage, _ in STAGES]
    assert [o.property for o in outcomes] == ["binary", "step"] * len(STAGES)
    assert proved(outcomes), [(o.property, o.stage, o.result) for o in outcomes]


@pytest.mark.parametrize("cfg", TINY.values(), ids=str)
def test_whole_proof_of_the_smallest_configurations(cfg):
    outcomes = compose.whole(compile_network(build(cfg)), timeout=120, on_done=lambda o: None)
    assert [o.property for o in outcomes] == ["binary", "step"]
    assert proved(outcomes)


def planted(cfg: Config, stage: str, seed: int = 0) -> tuple[mutate.Mutant, object]:
    """A fault in a unit of ``stage`` that changes what the layer computes: a bias shifted (so never a no-op)."""
    weights = compile_network(build(cfg))
    rng = np.random.default_rng(seed)
    units = [(k, u) for k, layer in enumerate(weights.layers) if layer.stage == stage for u in range(layer.b.size)]
    k, u = units[rng.integers(len(units))]
    kind = "bias+1" if rng.integers(2) else "bias-1"
    name = mutate.unit_name(weights.layers[k].outputs, u)
    mutant = mutate.Mutant(k, u, name, kind)
    return mutant, mutate.plant(weights, mutant)


@pytest.mark.parametrize("machine", TINY)
@pytest.mark.parametrize("stage", [stage for stage, _ in STAGES])
def test_a_fault_planted_in_any_stage_is_refuted(machine, stage):
    """The refutation is real: the counterexample's state, through the faulty matrices (numpy, no solver),
    leaves {0,1} or differs from the specification."""
    mutant, weights = planted(TINY[machine], stage)
    outcomes = compose.staged(weights, timeout=120, on_done=lambda o: None)
    refuted = [o for o in outcomes if o.result == compose.REFUTED]
    assert refuted, f"{mutant.describe(weights)} was not refuted"
    assert all(o.result != compose.UNKNOWN for o in outcomes)
    cex = report.counterexample(weights, refuted[0], timeout=120)
    assert cex.layer is not None or cex.differences, f"{mutant.describe(weights)}: the counterexample is not real"


def test_the_counterexample_reproduces_in_verify(tmp_path):
    """A loadable counterexample's program and command make `mlpvm verify` fail against the reference."""
    _, weights = planted(TINY["subleq"], "branch", seed=3)
    path = tmp_path / "bad.npz"
    save(weights, path)
    result = CliRunner().invoke(cli, ["prove", "--weights", str(path), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert not doc["proved"]
    cex = doc["counterexample"]
    assert cex["loadable"] and cex["reproduce"], cex
    command = cex["reproduce"].replace("mlpvm verify", f"{shlex.quote(sys.executable)} -m mlpvm verify")
    run = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode in (1, 4), run.stdout + run.stderr  # diverged, or a network fault
    assert "DIVERGED" in run.stdout or "NETWORK FAULT" in run.stdout


def test_the_cli_table_and_json():
    result = CliRunner().invoke(cli, ["prove", "--machine", "paper", "--bits", "4", "--cells", "4", "--slots", "2"])
    assert result.exit_code == 0, result.output
    assert "PROVED" in result.output and "branch" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    result = CliRunner().invoke(cli, ["prove", "--bits", "4", "--cells", "4", "--method", "whole", "--json"])
    doc = json.loads(result.output)
    assert result.exit_code == 0 and doc["proved"]
    assert [(r["property"], r["stage"], r["result"]) for r in doc["results"]] == [
        ("binary", "all", "proved"),
        ("step", "all", "proved"),
    ]


def test_without_z3_one_line_names_the_extra(monkeypatch):
    from mlpvm.prove import require_z3

    monkeypatch.setitem(sys.modules, "z3", None)
    with pytest.raises(MlpvmError, match=r"pip install 'mlpvm\[prove\]'"):
        require_z3()
