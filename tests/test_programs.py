"""The program library in programs/: each assembles, runs on the network to its exact output, and takes as
many steps as on the reference interpreter. Add a row to PROGRAMS for each new program."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlpvm import image as images
from mlpvm import reference
from mlpvm.cli import cli
from mlpvm.engines import make
from mlpvm.host import Computer
from mlpvm.inputs import Input
from mlpvm.state import encode
from tests.conftest import ROOT

PROGRAMS = [
    # (file in programs/, input, exact output)
    ("hello.asq", b"", b"Hello, world!\n"),
]


@pytest.mark.parametrize(("name", "data", "output"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_program_runs_on_the_network(name, data, output):
    program = images.load(ROOT / "programs" / name)
    config = images.config_for(program)
    eng = make("structured", config)
    outcome = Computer(eng, encode(eng.state, config, program.words), [Input(data)]).run(100_000)[0]
    ref = reference.load(config, program.words)
    assert reference.run(ref, Input(data), 100_000) == "halt"
    assert (outcome.output, outcome.reason, outcome.steps) == (output, "halt", ref.steps)


@pytest.mark.parametrize("name", [p[0] for p in PROGRAMS])
def test_program_says_what_it_does_in_its_first_line(name):
    assert (ROOT / "programs" / name).read_text().startswith(f"# {name}: ")


def test_mlpvm_run_runs_a_source_directly():
    result = CliRunner().invoke(cli, ["run", str(ROOT / "programs/hello.asq")])
    assert (result.exit_code, result.output) == (0, "Hello, world!\n")
