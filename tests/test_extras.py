"""The suite's own hygiene: without an optional extra its tests skip naming the extra (never fail nor hang), in
CI (``CI`` set, which ``.ci/run`` does) they fail instead, and no test leaves a process behind.

A missing extra is simulated with ``MLPVM_TEST_WITHOUT`` (tests/conftest.py), in a pytest of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT

HIDDEN = "numba,llvmlite,onnx,onnxruntime,z3"
# Tests of each extra, quick when they run: the fast and onnx engines on an empty batch, the prover, the
# onnx export, the fast engines over many tiles.
SELECTION = [
    "tests/test_engines.py::test_an_empty_batch_runs_no_pass",
    "tests/test_prove.py",
    "tests/test_onnx.py",
    "tests/test_multipass.py::test_many_tiles_take_turns_over_many_passes",
]


def _pytest(args: list[str], ci: bool, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(MLPVM_TEST_WITHOUT=HIDDEN, PYTHONPATH=str(ROOT), **({"CI": "true"} if ci else {}))
    command = [sys.executable, "-m", "pytest", "-q", "-rsfE", "-p", "no:cacheprovider", "--timeout", "120", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_without_the_extras_their_tests_skip_naming_the_extra():
    run = _pytest(SELECTION, ci=False)
    assert run.returncode == 0, run.stdout[-3000:]
    skips = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skips, run.stdout[-2000:]
    for line in skips:
        assert re.search(r"needs the (fast|onnx|prove) extra|the onnx extra", line), line
    assert "FAILED" not in run.stdout and "ERROR" not in run.stdout, run.stdout[-3000:]
    named = " ".join(skips)
    for extra in ("fast", "onnx", "prove"):
        assert f"the {extra} extra" in named, extra


def test_in_ci_a_missing_extra_fails_its_tests():
    run = _pytest(["tests/test_engines.py::test_an_empty_batch_runs_no_pass", "tests/test_prove.py"], ci=True)
    assert run.returncode == 1, run.stdout[-3000:]
    failed = set(re.findall(r"^FAILED (\S+)", run.stdout, re.MULTILINE))
    for name in ("compiled", "unrolled", "onnx"):
        assert f"tests/test_engines.py::test_an_empty_batch_runs_no_pass[{name}]" in failed, failed
    assert any(f.startswith("tests/test_prove.py::") for f in failed), failed
    assert "SKIPPED" not in run.stdout


def test_ci_sets_ci_before_the_tests():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    exported = next(i for i, line in enumerate(lines) if re.match(r"export CI=true\b", line))
    assert exported < next(i for i, line in enumerate(lines) if line.strip() == "make test")


LEAVES_A_CHILD = """
import subprocess
import pytest

pytestmark = pytest.mark.usefixtures("no_process_left")


def test_leaves_a_child():
    subprocess.Popen(["sleep", "60"])


def test_waits_for_its_child():
    subprocess.run(["true"], check=True)
"""


def test_a_test_that_leaves_a_process_running_fails_and_the_process_is_killed(tmp_path):
    (tmp_path / "test_child.py").write_text(LEAVES_A_CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider", "test_child.py"]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "2 passed, 1 error" in run.stdout, run.stdout[-2000:]  # its call passed; its teardown failed
    pid = re.search(r"left 1 process\(es\) running: \[(\d+)\] \(killed\)", run.stdout)
    assert pid, run.stdout[-2000:]
    assert not os.path.exists(f"/proc/{pid.group(1)}") or "Z" in _state(pid.group(1))


def _state(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
