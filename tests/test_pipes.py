"""A reader that went away (issue 26, class 5): every command whose standard output is a pipe closed before
it writes ends with exit 141, as a process that SIGPIPE ended, and says nothing: no traceback, no "internal
error", no "Exception ignored" from the interpreter's last flush. The test walks the command tree, so a new
command must say here how it is run, or the test fails."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from mlpvm.cli import BROKEN_PIPE, COMMANDS, cli
from tests.conftest import ROOT

HELLO_ASQ = str(ROOT / "programs" / "hello.asq")
HELLO_SQ = str(ROOT / "programs" / "hello.sq")
SMALL = ["--bits", "4", "--cells", "4"]
# bench measures for minutes: the process runs it with the measurements replaced by a finished document,
# which leaves what is under test, the printing of the results
BENCH = """import sys
from mlpvm import bench
bench.run = lambda *args, **kw: {"neural": "sparse", "numba": False, "seconds": 1.0}
from mlpvm.cli import main
main(sys.argv[1:])
"""


def _extra(module: str, name: str):
    if importlib.util.find_spec(module) is None and not os.environ.get("CI"):
        return pytest.mark.skip(reason=f"needs the {name} extra")
    return ()


def invocations(tmp) -> dict[str, list[tuple[str, list[str]]]]:
    """For each command, the ways it writes to standard output: (id, argv; a first word "BENCH" runs the
    patched bench). ``trace`` and ``plot`` write files and report on stderr: they have none."""
    script = tmp / "script.gdb"  # (written by the test that runs it)
    return {
        "run": [("run", ["run", HELLO_SQ])],
        "debug": [
            ("debug --ex", ["debug", HELLO_ASQ, "--batch", "--ex", "run"]),
            ("debug -x", ["debug", HELLO_ASQ, "--batch", "-x", str(script)]),
        ],
        "trace": [],
        "asm": [("asm", ["asm", HELLO_ASQ])],
        "disasm": [("disasm", ["disasm", HELLO_SQ])],
        "build": [("build", ["build", *SMALL, "-o", str(tmp / "w.npz")])],
        "info": [("info", ["info", *SMALL]), ("info --json", ["info", *SMALL, "--json"])],
        "export": [("export", ["export", *SMALL, "--onnx", str(tmp / "w.onnx")])],
        "verify": [
            ("verify", ["verify", "--random", "2", "--bits", "8", "--cells", "16"]),
            ("verify --json", ["verify", "--random", "2", "--bits", "8", "--cells", "16", "--json"]),
        ],
        "bench": [("bench", ["BENCH"]), ("bench --json", ["BENCH", "--json"])],
        "prove": [("prove", ["prove", *SMALL]), ("prove --json", ["prove", *SMALL, "--json"])],
        "plot": [],
        "dap": [],  # speaks the Debug Adapter Protocol on stdout, to a client only (tests/test_dap.py)
        "compare": [("compare", ["compare", HELLO_SQ, "--bits", "8", "--cells", "64"])],
    }


NEEDS = {"export": _extra("onnx", "onnx"), "prove": _extra("z3", "prove")}


def _closed_stdout(argv: list[str], cwd) -> subprocess.CompletedProcess:
    """``mlpvm ARGV`` with standard output a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    if argv[:1] == ["BENCH"]:
        command = [sys.executable, "-c", BENCH, "bench", *argv[1:]]
    else:
        command = [sys.executable, "-m", "mlpvm", *argv]
    try:
        return subprocess.run(command, stdout=write, stderr=subprocess.PIPE, timeout=300, cwd=cwd)
    finally:
        os.close(write)


def test_every_command_says_how_it_writes(tmp_path):
    assert set(invocations(tmp_path)) == set(COMMANDS) == set(cli.list_commands(None))


CASES = [
    pytest.param(name, case_id, marks=NEEDS.get(name, ()), id=case_id)
    for name, cases in invocations(ROOT).items()  # (ids only: the paths are made again under tmp_path)
    for case_id, _ in cases
]


@pytest.mark.parametrize(("name", "case_id"), CASES)
def test_a_closed_pipe_is_141_and_silent(tmp_path, name, case_id):
    argv = dict(invocations(tmp_path)[name])[case_id]
    (tmp_path / "script.gdb").write_text("break *3\nrun\ninfo registers\ncontinue\n")
    result = _closed_stdout(argv, tmp_path)
    assert (result.returncode, result.stderr.decode()) == (BROKEN_PIPE, "")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], *([name, "--help"] for name in COMMANDS)], ids=" ".join)
def test_help_into_a_closed_pipe_is_141_and_silent(tmp_path, argv):
    result = _closed_stdout(argv, tmp_path)
    assert (result.returncode, result.stderr.decode()) == (BROKEN_PIPE, "")


@pytest.mark.parametrize("name", [name for name, cases in invocations(ROOT).items() if not cases and name != "dap"])
def test_commands_that_only_write_files_leave_stdout_alone(tmp_path, name):
    argv = {"trace": ["trace", HELLO_ASQ, "-o", str(tmp_path / "t.jsonl")],
            "plot": ["plot", HELLO_ASQ, "-o", str(tmp_path / "p.png")]}[name]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "mlpvm", *argv], capture_output=True, timeout=300, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, b""), result.stderr
