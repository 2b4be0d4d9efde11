"""The machine descriptors: nothing outside a machine's own package branches on its name, and a third machine
is one descriptor and one registration away."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlpvm import machines
from mlpvm.check.generate import one_step_cases, random_program
from mlpvm.check.lockstep import Batch
from mlpvm.engines import make
from mlpvm.errors import ConfigError
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, build
from mlpvm.program import image as images
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image

PACKAGE = Path(machines.__file__).parents[1]
OWN = {PACKAGE / "machines" / name for name in machines.names()}  # where a machine may name itself


def test_every_registered_machine_is_complete():
    for name in machines.names():
        spec = machines.get(name)
        cfg = Config(name, 4, 16)
        assert cfg.spec is spec and spec.name == name
        assert callable(spec.listing.rows) and callable(spec.generator.sweep)
        assert {field for _, field in spec.checkpoints} <= set(reference.Micro.__dataclass_fields__)
        assert set(spec.produced) <= {field for field, _ in spec.state_fields(cfg)}


def test_an_unknown_machine_is_one_clean_error():
    with pytest.raises(ConfigError, match=r"unknown machine 'x86' \(choose from subleq, paper\)"):
        Config("x86")


# -- nothing branches on a machine's name outside its package ---------------------------------------------


def name_branches(source: str, names: set[str]) -> list[int]:
    """Lines that compare with a machine's name, or key a table by one."""

    def named(node: ast.AST) -> bool:
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(named(e) for e in node.elts)
        return isinstance(node, ast.Constant) and node.value in names

    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Dict):
            operands = [k for k in node.keys if k is not None]
        else:
            continue
        if any(named(n) for n in operands):
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_what_it_looks_for():
    names = {"subleq", "paper"}
    assert name_branches('if cfg.machine == "paper":\n    pass', names) == [1]
    assert name_branches('x = 1 if m != "subleq" else 3', names) == [1]
    assert name_branches('ok = machine in ("subleq", "paper")', names) == [1]
    assert name_branches('SUFFIX = {"subleq": ".asq"}', names) == [1]
    assert name_branches('Config("subleq", 8, 32)  # a default, not a branch\n"""paper"""', names) == []


def test_no_module_outside_the_machines_packages_branches_on_a_machine_name():
    names = set(machines.names())
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if not any(own in path.parents for own in OWN):
            found += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in name_branches(path.read_text(), names)]
    assert found == []


# -- a third machine --------------------------------------------------------------------------------------

TOY = replace(machines.get("subleq"), name="toy", summary="subleq again", source_suffix=".tasq")


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(machines.MACHINES, TOY.name, TOY)
    return TOY


def test_a_third_machine_is_validated_built_and_run_by_its_descriptor(toy, tmp_path):
    assert "toy" in machines.names() and Config("toy", 4, 16).spec is toy
    with pytest.raises(ConfigError, match="32 cells cannot be addressed by 4-bit words"):
        Config("toy", 4, 32)
    with pytest.raises(ConfigError, match="--slots applies to the paper machine only"):
        Config("toy", 8, 16, 4)
    net = build(Config("toy", 6, 16))
    assert [layer.name for layer in net.layers] == list(LAYER_NAMES) and net.io_fields is toy.io_fields
    source = tmp_path / "echo.tasq"
    source.write_text("-1 x\nx (-1)\nz z (-1)\n. x: 0 z: 0\n")  # echoes one byte, halts
    program = load_image(source)
    config = images.config_for(program)
    assert program.machine == "toy" and config == Config("toy", 16, 256)
    ref = reference.load(config, program.words)
    assert reference.run(ref, Input(b"Q"), max_steps=10) == "halt" and bytes(ref.output) == b"Q"


def test_a_third_machine_is_checked_in_lockstep(toy):
    cfg = Config("toy", 8, 16)
    programs = [random_program(cfg, seed) for seed in range(8)] + one_step_cases(cfg, 0, 16)
    steps, divergence = Batch(make("structured", cfg), cfg, programs).run(max_steps=50)
    assert divergence is None and steps > len(programs)


def test_a_third_machine_reaches_the_command_line(tmp_path):
    """Registered before the CLI is imported (as a package's registration line is), the machine is one of
    --machine's choices, and ``mlpvm info`` and ``mlpvm run`` build its network."""
    script = (
        "import sys; from dataclasses import replace; from mlpvm import machines; "
        "toy = replace(machines.get('subleq'), name='toy', summary='subleq again', source_suffix='.tasq'); "
        "machines.register(toy); from mlpvm.cli import main; sys.argv[0] = 'mlpvm'; main()"
    )

    def mlpvm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)

    assert "toy (subleq again)" in mlpvm("info", "--help").stdout
    info = mlpvm("info", "--machine", "toy", "--bits", "4", "--cells", "16", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["config"] == {"machine": "toy", "bits": 4, "cells": 16}
    program = tmp_path / "out.tasq"
    program.write_text("x (-1)\nz z (-1)\n. x: 33 z: 0\n")  # prints "!", halts
    run = mlpvm("run", str(program), "--engine", "structured", "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["output"] == "!" and doc["config"]["machine"] == "toy" and doc["reason"] == "halt"
    assert np.array_equal(doc["memory"][6:8], [33, 0])
