"""`mlpvm prove --method rows`: every memory row proved as one symbolic row, after a check of the stored rows.

The method must prove what the staged method proves and refute what it refutes: a fault planted in any one row of
an address-matched block breaks the symmetry check (the row is then kept as stored) and the row proof refutes it,
with a counterexample that the stored matrices and `mlpvm verify` confirm. Its lemmas, written as SMT-LIB 2, are
checked by cvc5 (the extra `mlpvm[prove2]`) with the same answers."""

from __future__ import annotations

import itertools
import json
import shlex
import subprocess
import sys

import numpy as np
import pytest
import z3  # noqa: F401  (the extra `mlpvm[prove]`)
from click.testing import CliRunner

from mlpvm.check import mutate
from mlpvm.cli import cli
from mlpvm.machines.config import Config
from mlpvm.network import STAGES, build
from mlpvm.network.weights import compile_network, save
from mlpvm.prove import compose, report, rows, smtlib

SMALL = [Config("subleq", 4, 4), Config("subleq", 8, 32), Config("paper", 4, 4, 2), Config("paper", 6, 16, 8)]
TINY = {"subleq": Config("subleq", 5, 8), "paper": Config("paper", 4, 8, 4)}


def quiet(weights, **kw) -> list[compose.Outcome]:
    return rows.prove(weights, timeout=120, on_done=lambda o: None, **kw)


def verdict(outcomes: list[compose.Outcome]) -> str:
    results = {o.result for o in outcomes}
    return compose.REFUTED if compose.REFUTED in results else compose.UNKNOWN if compose.UNKNOWN in results else "ok"


@pytest.mark.parametrize("cfg", SMALL, ids=str)
def test_rows_proves_small_configurations(cfg):
    outcomes = quiet(compile_network(build(cfg)))
    assert [(o.property, o.stage) for o in outcomes] == [
        (p, stage) for stage, _ in STAGES for p in ("symmetry", "binary", "step")
    ]
    assert all(o.result == compose.PROVED for o in outcomes), [(o.property, o.stage, o.result) for o in outcomes]
    assert all(o.solver == ("numpy" if o.property == "symmetry" else "z3") for o in outcomes)


def select_fault(cfg: Config, field: str, row: int, kind: str, seed: int = 0):
    """A fault in one unit of row ``row`` of ``field`` (an address-matched block or memory) of the first layer
    that computes it."""
    weights = compile_network(build(cfg))
    k = next(i for i, layer in enumerate(weights.layers) if field in layer.outputs and field not in _passed(weights, i))
    f = weights.layers[k].outputs[field]
    unit = f.offset + row * (f.size // f.shape[0]) + int(np.random.default_rng(seed).integers(f.size // f.shape[0]))
    column = None
    if kind == "weight":
        cols = weights.layers[k].W.indices[weights.layers[k].W.indptr[unit] : weights.layers[k].W.indptr[unit + 1]]
        column = int(cols[np.random.default_rng(seed).integers(len(cols))])
    mutant = mutate.Mutant(k, unit, mutate.unit_name(weights.layers[k].outputs, unit), kind, column)
    return mutant, mutate.plant(weights, mutant)


def _passed(weights, k: int) -> set[str]:
    """Fields layer k only copies from its inputs (``mem`` before the write stage)."""
    before = weights.layers[k - 1].outputs if k else weights.state
    return {f.name for f in weights.layers[k].outputs if f.name in before}


ROW_FIELDS = {
    "subleq": ["fetch_a", "fetch_b", "fetch_c", "read_a", "read_b", "write_old", "write_new"],
    "paper": ["fetch_a", "fetch_c", "read_b", "write_old", "write_new"],
}


@pytest.mark.parametrize("machine", TINY)
@pytest.mark.parametrize("kind", ["weight", "bias+1", "bias-1", "drop"])
def test_a_fault_in_one_row_breaks_the_symmetry_and_is_refuted(machine, kind):
    """Every address-matched block, a row chosen at random, each kind of fault: the row is kept as stored
    (the symmetry check saw it) and the proof refutes it, agreeing with the staged method where that has an
    answer (a fault the state never reaches is harmless: then both prove it)."""
    cfg = TINY[machine]
    rng = np.random.default_rng(len(kind))
    for field in ROW_FIELDS[machine]:
        rows_of = cfg.slots if machine == "paper" and field.startswith("fetch") else cfg.cells
        row = int(rng.integers(rows_of))
        mutant, weights = select_fault(cfg, field, row, kind, seed=row)
        outcomes = quiet(weights)
        sym = [o for o in outcomes if o.property == "symmetry"]
        assert all(o.result == compose.PROVED for o in sym)
        assert any(f"{field}[{row}]" in o.detail for o in sym), f"{mutant.describe(weights)}: not seen"
        staged = compose.staged(weights, timeout=120, on_done=lambda o: None)
        assert verdict(outcomes) == verdict(staged), mutant.describe(weights)


def test_the_rows_method_agrees_with_staged_on_mutants():
    """A sample of every kind of fault in every field of every layer: the two methods give the same verdict."""
    cfg = Config("subleq", 4, 4)
    weights = compile_network(build(cfg))
    for mutant in mutate.choose(weights, seed=2)[::61]:
        bad = mutate.plant(weights, mutant)
        mine = verdict(quiet(bad))
        assert mine in (verdict(compose.staged(bad, timeout=120, on_done=lambda o: None)), compose.UNKNOWN), (
            mutant.describe(bad)
        )


def test_rows_that_are_not_one_row_repeated_leave_the_proof_unknown():
    """Many rows changed at once: the check refuses the field instead of trusting a template."""
    weights = compile_network(build(Config("subleq", 5, 16)))
    for row in range(0, 16, 1):
        mutant, _ = select_fault(Config("subleq", 5, 16), "write_new", row, "bias+1", seed=row)
        weights = mutate.plant(weights, mutant)
    outcomes = quiet(weights)
    assert outcomes[-1].property == "symmetry" and outcomes[-1].result == compose.UNKNOWN
    assert "differ from the others" in outcomes[-1].detail


def test_a_write_fault_has_a_counterexample_verify_reproduces(tmp_path):
    """A fault in one row of the write stage at N = 8, M = 64: refuted, and the counterexample's program makes
    `mlpvm verify` diverge from the reference (the default size, N = 16, M = 256, is a measured run)."""
    _, weights = select_fault(Config("subleq", 8, 64), "write_new", 37, "bias+1", seed=1)
    path = tmp_path / "bad.npz"
    save(weights, path)
    result = CliRunner().invoke(cli, ["prove", "--weights", str(path), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    cex = doc["counterexample"]
    assert not doc["proved"] and cex["loadable"] and cex["reproduce"], cex
    assert cex["off_binary_layer"] or cex["differences"]
    command = cex["reproduce"].replace("mlpvm verify", f"{shlex.quote(sys.executable)} -m mlpvm verify")
    run = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode in (1, 4), run.stdout + run.stderr
    assert "DIVERGED" in run.stdout or "NETWORK FAULT" in run.stdout


def test_the_counterexample_is_a_state_the_stored_matrices_get_wrong():
    for machine, cfg in TINY.items():
        _, weights = select_fault(cfg, "write_old", 3, "bias-1" if machine == "paper" else "bias+1")
        refuted = next(o for o in quiet(weights) if o.result == compose.REFUTED)
        cex = report.counterexample(weights, refuted, timeout=120)
        assert cex is not None and (cex.layer is not None or cex.differences), machine


cvc5 = pytest.importorskip("cvc5", reason="the second solver is the extra mlpvm[prove2]")


@pytest.mark.parametrize("cfg", [Config("subleq", 4, 4), Config("paper", 4, 4, 2)], ids=str)
def test_emitted_lemmas_are_checked_by_cvc5(cfg, tmp_path):
    outcomes = quiet(compile_network(build(cfg)), emit=tmp_path, second="cvc5")
    files = sorted(tmp_path.glob("*.smt2"))
    assert len(files) == 2 * len(STAGES)
    by_solver = {s: [o for o in outcomes if o.solver == s] for s in ("z3", "cvc5")}
    assert [(o.property, o.stage) for o in by_solver["z3"]] == [(o.property, o.stage) for o in by_solver["cvc5"]]
    assert all(o.result == compose.PROVED for o in outcomes)
    text = files[0].read_text()
    assert "pbge" not in text and "(check-sat)" in text and "; z3: proved" in text


def test_cvc5_refutes_the_lemma_of_a_fault_and_the_script_says_so(tmp_path):
    _, weights = select_fault(Config("subleq", 4, 4), "write_new", 2, "bias+1")
    outcomes = quiet(weights, emit=tmp_path, second="cvc5")
    pairs = [(a, b) for a, b in itertools.pairwise(outcomes) if a.solver == "z3" and b.solver == "cvc5"]
    assert any(a.result == b.result == compose.REFUTED for a, b in pairs)
    assert all(a.result == b.result for a, b in pairs)
    result = CliRunner().invoke(smtlib.main, [str(tmp_path)])
    assert result.exit_code == 1
    assert "refuted" in result.output and "NOT all proved" in result.output and "DISAGREES" not in result.output


def test_a_disagreement_is_reported(tmp_path):
    """A file whose recorded z3 answer differs from what cvc5 finds: the script says DISAGREES."""
    quiet(compile_network(build(Config("subleq", 4, 4))), emit=tmp_path)
    first = sorted(tmp_path.glob("*.smt2"))[0]
    first.write_text(first.read_text().replace("; z3: proved", "; z3: refuted"))
    result = CliRunner().invoke(smtlib.main, [str(tmp_path)])
    assert result.exit_code == 1 and "DISAGREES with z3 (refuted)" in result.output


def test_the_cli_defaults_to_rows_and_names_the_solvers(tmp_path):
    result = CliRunner().invoke(cli, ["prove", "--bits", "4", "--cells", "4", "--check-with", "cvc5"])
    assert result.exit_code == 0, result.output
    assert "(rows)" in result.output and "cvc5" in result.output and "numpy" in result.output
    assert "PROVED" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    result = CliRunner().invoke(cli, ["prove", "--bits", "4", "--cells", "4", "--method", "staged", "--emit", "x"])
    assert result.exit_code == 2 and "--method rows" in result.output
