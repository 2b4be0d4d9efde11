"""``mlpvm verify``: random, named and given programs in lockstep; a planted fault is reported with the program,
step, field and layer, and can be reproduced alone; the batch checks every program as if it ran alone."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlpvm.check import verify
from mlpvm.check.lockstep import Batch
from mlpvm.check.mutate import Mutant, plant
from mlpvm.cli import cli
from mlpvm.engines import Sparse, make
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network, save
from tests.conftest import EXTERNAL, needs_numba

SMALL = Config("subleq", 8, 32)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def unit(weights, layer: str, field: str, index: int = 0) -> int:
    """The row of ``field[index]`` in the output of ``layer``."""
    k = [layer.name for layer in weights.layers].index(layer)
    return weights.layers[k].outputs[field].offset + index, k


@pytest.fixture(scope="module")
def weights():
    return compile_network(build(SMALL))


def mutant(weights, layer: str, field: str, index: int, kind: str) -> Mutant:
    row, k = unit(weights, layer, field, index)
    return Mutant(k, row, f"{field}[{index}]", kind)


def test_random_programs_pass_with_every_stop_kind():
    doc = json.loads(invoke("verify", "--random", "60", "--bits", "8", "--cells", "32", "--json").output)
    assert doc["ok"] and doc["programs"] == doc["checked"] == 60 and doc["failure"] is None
    assert doc["steps"] > 3000 and set(doc["stops"]) == {"halt", "fault", "limit"}


def test_nothing_to_verify_is_a_usage_error():
    result = invoke("verify")
    assert result.exit_code == 2 and "nothing to verify" in result.output


def test_named_programs_are_the_external_ones_and_programs_dir():
    cases = verify.named_cases()
    names = [c.name for c in cases]
    assert "programs/external/rosetta/hello.sq" in names and "programs/hello.sq" in names
    assert "programs/calc.asq" in names and "programs/paper/factorial.pasq" in names
    assert not [n for n in names if n.startswith("programs/lib/")]  # subroutines, not programs
    assert len(cases) == len(verify.NAMED) + 28  # hello.sq, 23 .asq programs, 4 paper programs
    eforth = cases[names.index("programs/external/howerj-subleq-vhdl/eforth-8k.dec")]
    assert eforth.config == Config("subleq", 16, 8192) and eforth.program.data == b"2 2 + . cr\n"


def test_named_programs_run_to_their_end():
    listed = ("programs/external/", "programs/hello.sq")  # the programs whose step counts are written down
    small = [c for c in verify.named_cases() if c.config.cells <= 256 and c.name.startswith(listed)]
    report = verify.verify(small, max_steps=1000)  # each halts within 167 steps: a limit turns a loop into a failure
    assert report.ok and report.stops == {"halt": len(small)}
    assert report.steps == 71 + 3 + 167 + 124 + 23 + 12 + 84  # as programs/external/README.md lists


def test_an_image_with_input(tmp_path):
    result = invoke("verify", str(EXTERNAL / "howerj-subleq-vhdl/echo.dec"), "--cells", "64", "--input", "hey\n")
    assert result.exit_code == 0 and "OK" in result.output


def test_a_planted_fault_is_named_with_program_step_field_and_layer(tmp_path, weights):
    """Cell 20, bit 0 can never be written as 1: the first random program that tries diverges at write.1."""
    bad = tmp_path / "bad.npz"
    save(plant(weights, mutant(weights, "write.1", "mem", 20 * 8, "drop")), bad)
    result = invoke("verify", "--weights", str(bad), "--random", "200", "--json")
    doc = json.loads(result.stdout)  # (stderr: the engine it fell back to)
    fail = doc["failure"]
    assert result.exit_code == 1 and not doc["ok"] and not fail["network_fault"]
    assert fail["field"] == "mem[20]" and fail["layer"] == "write.1"
    assert fail["network"] == fail["reference"] - 1  # the lost bit
    assert fail["reproduce"].startswith(f"mlpvm verify --random 1 --seed {fail['seed']} ")
    again = json.loads(
        invoke("verify", "--weights", str(bad), "--random", "1", "--seed", str(fail["seed"]), "--json").stdout
    )
    assert {k: again["failure"][k] for k in ("step", "field", "layer")} == {
        k: fail[k] for k in ("step", "field", "layer")
    }


def test_text_report_of_a_divergence(tmp_path, weights):
    bad = tmp_path / "bad.npz"
    save(plant(weights, mutant(weights, "branch.1", "branch", 0, "drop")), bad)  # never branches
    result = invoke("verify", "--weights", str(bad), "--random", "50")
    assert result.exit_code == 1
    assert "DIVERGED in random program, seed" in result.output
    assert "first layer that disagrees with the reference: branch.1" in result.output
    assert "check it alone: mlpvm verify --random 1 --seed" in result.output


def test_a_network_fault_exits_4_naming_the_layer(tmp_path, weights):
    bad = tmp_path / "bad.npz"
    save(plant(weights, mutant(weights, "fetch.0", "pc_ok", 0, "bias+1")), bad)  # 2 whenever PC is in memory
    hi = str(EXTERNAL / "howerj-subleq-vhdl/hi.dec")
    result = invoke("verify", "--weights", str(bad), hi)
    assert result.exit_code == 4 and "network fault after layer fetch.0" in result.output
    run = invoke("run", "--weights", str(bad), hi)
    assert run.exit_code == 4
    assert run.output.strip().splitlines()[-1].startswith("mlpvm: error: network fault after layer fetch.0")


def test_a_batch_reports_the_same_divergence_as_the_program_alone(weights):
    bad = Sparse(plant(weights, mutant(weights, "subtract.6", "sub_r", 3, "drop")))
    programs = [c.program for c in verify.random_cases(SMALL, 40, seed=100)]
    _, div = Batch(bad, SMALL, programs).run(200)
    assert div is not None and div.program > 0
    _, alone = Batch(bad, SMALL, [programs[div.program]]).run(200)
    fields = ("step", "field", "network", "reference", "layer")
    assert [getattr(alone, f) for f in fields] == [getattr(div, f) for f in fields]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("engine", ["structured", "sparse"])
def test_every_dtype_is_exact_on_random_programs(engine, dtype):
    args = ["verify", "--random", "20", "--max-steps", "200", "--bits", "8", "--cells", "32", "--engine", engine]
    args += ["--dtype", dtype, "--json"]
    assert json.loads(invoke(*args).output)["ok"]


@needs_numba
def test_verify_runs_on_the_unrolled_engine():
    args = ["verify", "--random", "20", "--max-steps", "200", "--bits", "8", "--cells", "32", "--engine", "unrolled"]
    doc = json.loads(invoke(*args, "--json").output)
    assert doc["ok"] and doc["engine"] == "unrolled" and doc["steps"] > 20


def test_paper_machine(tmp_path):
    doc = json.loads(
        invoke("verify", "--random", "30", "--machine", "paper", "--bits", "8", "--cells", "16", "--json").output
    )
    assert doc["ok"] and doc["stops"]["halt"] > 0
    assert doc["configs"] == [{"machine": "paper", "bits": 8, "cells": 16, "slots": 16}]


def test_the_whole_batch_is_compared_every_pass():
    """Every program of a batch runs to its own end; steps add up to the reference's."""
    cases = verify.random_cases(SMALL, 40, seed=7)
    report = verify.verify(cases, max_steps=200, batch=16)
    assert report.ok and report.checked == 40 and sum(report.stops.values()) == 40
    eng = make("structured", SMALL)
    total = 0
    for c in cases:
        b = Batch(eng, SMALL, [c.program])
        total += b.run(200)[0]
    assert report.steps == total
