"""The command line: output, exit codes, --json against the reference, weight files, info."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner
from hypothesis import given

from mlpvm.cli import cli
from mlpvm.machines.config import Config
from tests.conftest import EXTERNAL, examples
from tests.strategies import programs

HELLO = str(EXTERNAL / "rosetta/hello.sq")


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_run_prints_hello_computed_by_the_network():
    result = invoke("run", HELLO)
    assert (result.exit_code, result.output) == (0, "Hello, world!\n")


def test_run_as_a_process_streams_output():
    done = subprocess.run([sys.executable, "-m", "mlpvm", "run", HELLO], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "Hello, world!\n", "")


def test_json_result():
    doc = json.loads(invoke("run", "--json", HELLO).output)
    assert doc["output"] == "Hello, world!\n" and doc["steps"] == 71 and doc["reason"] == "halt"
    assert doc["pc"] == -1 and len(doc["memory"]) == 256 and doc["passes"] == 72


def test_exit_codes(tmp_path):
    loop = tmp_path / "loop.dec"
    loop.write_text("0 0 0")
    bad = tmp_path / "fault.dec"
    bad.write_text("300 0 0")
    result = invoke("run", "--max-steps", "50", str(loop))
    assert result.exit_code == 3 and "step limit" in result.output
    assert invoke("run", str(bad)).exit_code == 4
    assert invoke("run", "--engine", "reference", str(bad)).exit_code == 4


def test_input_option_and_stdin():
    echo = str(EXTERNAL / "howerj-subleq-vhdl/echo.dec")
    assert invoke("run", "--cells", "64", "--input", "abc\n", echo).output == "abc\n"
    assert invoke("run", "--cells", "64", echo, input="xyz").output == "xyz"


def test_paper_json_program(tmp_path):
    prog = tmp_path / "p.json"  # mem[1] -= mem[0] until <= 0, then halt at slot 1 (z z 1, mem[2] = 0)
    prog.write_text(json.dumps({"machine": "paper", "slots": [[0, 1, 1], [2, 2, 1]], "data": [3, 10, 0]}))
    doc = json.loads(invoke("run", "--json", str(prog)).output)
    ref = json.loads(invoke("run", "--json", "--engine", "reference", str(prog)).output)
    assert doc["reason"] == "halt" and doc["memory"][:3] == [3, 7, 0] and doc["steps"] == 1
    assert {k: doc[k] for k in ("memory", "steps", "pc", "reason")} == {
        k: ref[k] for k in ("memory", "steps", "pc", "reason")
    }


def test_weights_file_runs_with_its_own_configuration(tmp_path):
    w = tmp_path / "w.npz"
    assert invoke("build", "--bits", "16", "--cells", "64", "-o", str(w)).exit_code == 0
    result = invoke("run", "--weights", str(w), str(EXTERNAL / "howerj-subleq-vhdl/hi.dec"))
    assert (result.exit_code, result.output) == (0, "Hi")
    clash = invoke("run", "--weights", str(w), "--cells", "128", HELLO)
    assert clash.exit_code == 2 and "built for" in clash.output


def test_info_shows_23_layers_in_the_paper_stage_split():
    doc = json.loads(invoke("info", "--json").output)
    assert [r["name"] for r in doc["layers"]][:3] == ["fetch.0", "fetch.1", "read.0"]
    assert list(doc["totals"]["stages"].items()) == [
        ("fetch", 2),
        ("read", 2),
        ("subtract", 7),
        ("write", 2),
        ("next_pc", 6),
        ("branch", 4),
    ]
    assert doc["totals"]["nonzero"] == sum(r["nonzero"] for r in doc["layers"])
    text = invoke("info", "--bits", "8", "--cells", "32").output
    assert "23 layers (2/2/7/2/6/4)" in text and "branch.3" in text


def comparable(doc: dict) -> dict:
    return {k: doc[k] for k in ("output", "steps", "reason", "pc", "memory")}


@examples(15)
@given(programs(Config("subleq", 16, 256)))
def test_json_matches_reference_on_random_programs(tmp_path_factory, program):
    path = tmp_path_factory.mktemp("p") / "p.dec"
    path.write_text(" ".join(map(str, program.words)))
    args = ["run", "--json", "--max-steps", "200", "--input", program.data.decode("latin-1"), str(path)]
    net = invoke(*args)
    ref = invoke(*args, "--engine", "reference")
    assert net.exit_code == ref.exit_code
    assert comparable(json.loads(net.output)) == comparable(json.loads(ref.output))


@examples(10)
@given(programs(Config("paper", 16, 16, 16)))
def test_paper_json_matches_reference_on_random_programs(tmp_path_factory, program):
    path = tmp_path_factory.mktemp("p") / "p.json"
    path.write_text(json.dumps({"slots": program.slots, "data": program.words}))
    net = invoke("run", "--json", "--max-steps", "100", str(path))
    ref = invoke("run", "--json", "--max-steps", "100", "--engine", "reference", str(path))
    assert net.exit_code == ref.exit_code
    assert comparable(json.loads(net.output)) == comparable(json.loads(ref.output))


def test_run_loads_only_what_it_needs():
    """Commands are imported on first use: running a program never imports the debugger or prompt_toolkit."""
    code = (
        "import sys; from mlpvm.cli import cli\n"
        f"try: cli(['run', {HELLO!r}])\n"
        "except SystemExit as e: assert e.code == 0, e.code\n"
        "loaded = [m for m in sys.modules if m.startswith(('prompt_toolkit', 'mlpvm.debug', 'mlpvm.cli.bench'))]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "Hello, world!\n"


def test_help_lists_every_command():
    listed = invoke("--help").output
    for name in ("run", "debug", "trace", "asm", "disasm", "build", "info", "verify", "bench"):
        assert f"  {name} " in listed
        assert invoke(name, "--help").exit_code == 0
