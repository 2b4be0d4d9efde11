"""Nothing lost: Ctrl-C and step limits stop cleanly with the output so far and a summary, and an interrupted
write never leaves a truncated file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from mlpvm.check import verify
from mlpvm.cli import cli
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network, save

pytestmark = pytest.mark.usefixtures("no_process_left")  # conftest: no test leaves a process behind

# Prints "Hi", then loops forever at 6 (mem[11] -= mem[11] is 0, so it jumps to 6 again).
HI_THEN_LOOP = "9 -1 3 10 -1 6 11 11 6 72 105 0"


def test_ctrl_c_stops_run_with_the_output_so_far_and_a_summary(tmp_path):
    prog = tmp_path / "loop.dec"
    prog.write_text(HI_THEN_LOOP)
    cmd = [sys.executable, "-m", "mlpvm", "run", "--max-steps", "0", str(prog)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(2) == b"Hi"  # the program is running: the handler is in place
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out == b""  # "Hi" was read above; nothing lost, nothing garbled after it
    assert err.decode().startswith("mlpvm: interrupted after ") and ", pc=6" in err.decode()
    assert "Traceback" not in err.decode()


def test_step_limit_in_run_keeps_the_output_and_summarises(tmp_path):
    prog = tmp_path / "loop.dec"
    prog.write_text(HI_THEN_LOOP)
    result = CliRunner().invoke(cli, ["run", "--max-steps", "100", str(prog)])
    assert result.exit_code == 3
    limit = "mlpvm: step limit reached after 100 steps, pc=6; --max-steps N raises the limit (0: none)\n"
    assert (result.stdout, result.stderr) == ("Hi", limit)


def test_ctrl_c_stops_verify_with_what_was_checked(monkeypatch):
    """The library stops between passes at Ctrl-C and reports what it checked; no divergence is claimed."""
    cases = verify.random_cases(Config("subleq", 8, 32), 50)
    sent = []

    def progress(report: verify.Report) -> None:
        if report.steps > 500 and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    report = verify.verify(cases, max_steps=None, batch=25, progress=progress)
    assert report.interrupted and not report.ok and report.failure is None
    assert report.steps > 500 and report.checked < 50


def test_ctrl_c_in_the_verify_command_exits_130_with_a_summary():
    cmd = [sys.executable, "-m", "mlpvm", "verify", "--random", "2000", "--max-steps", "0", "--bits", "8"]
    cmd += ["--cells", "32"]
    for delay in (3, 8, 20):  # long enough for Python to start and the handler to be in place
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        if out:  # not interrupted before verifying began (that exits 130 too, with nothing checked)
            break
    assert proc.returncode == 130, err
    assert out.startswith("interrupted: ") and "steps checked" in out and "no divergence so far" in out


def test_verify_json_records_the_step_limit():
    result = CliRunner().invoke(
        cli, ["verify", "--random", "5", "--max-steps", "7", "--bits", "8", "--cells", "32", "--json"]
    )
    doc = json.loads(result.output)
    assert doc["step_limit"] == 7 and doc["steps"] <= 35 and result.exit_code == 0


def test_an_interrupted_weight_file_write_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    weights = compile_network(build(Config("subleq", 4, 16)))
    path = tmp_path / "w.npz"
    path.write_bytes(b"the old file")

    def interrupted(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(weights, path)
    assert path.read_bytes() == b"the old file"
    assert list(tmp_path.iterdir()) == [path]


def test_ctrl_c_before_any_work_exits_130_without_a_traceback():
    """Ctrl-C while the command is still starting (outside every pass loop) is 130 too, not click's "Aborted!"."""
    code = (
        "import os, signal; from mlpvm.cli import cli\n"
        "import mlpvm.cli.build as b\n"
        "b.build_network = lambda config: os.kill(os.getpid(), signal.SIGINT)\n"
        "cli(['info', '--bits', '4', '--cells', '16'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr.strip()) == (130, "mlpvm: interrupted")
