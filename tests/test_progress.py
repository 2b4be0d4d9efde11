"""Live progress (issue 10): the same style in every long command, on stderr only when it is a terminal, never
on stdout, silenced by --quiet and --json. Each command runs with stderr a pseudo-terminal and stdout a pipe."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.conftest import die_with_parent

pytestmark = pytest.mark.usefixtures("no_process_left")  # conftest: no test leaves a process behind

LOOP = "3 3 0 0"  # mem[3] -= mem[3], jump to 0: forever


DEADLINE = 120  # seconds a command may take here: well under the suite's per-test limit, so the child is killed


def _run(args: list[str], cwd) -> tuple[int, bytes, bytes]:
    """Exit code, stdout (a pipe) and what the terminal on stderr received. A command still running after
    ``DEADLINE`` seconds is killed and the test fails (the child never outlives the test, nor the run)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "80"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlpvm", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=follower, cwd=cwd, env=env, preexec_fn=die_with_parent,
    )  # fmt: skip
    os.close(follower)
    err = b""
    deadline = time.monotonic() + DEADLINE
    while True:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            os.close(leader)
            pytest.fail(f"mlpvm {' '.join(args)} still ran after {DEADLINE} s (killed); stderr ends {err[-200:]!r}")
        if select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed the terminal
                chunk = b""
            err += chunk
            if not chunk and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
    out = proc.stdout.read()
    os.close(leader)
    return proc.wait(timeout=60), out, err


@pytest.fixture
def loop(tmp_path):
    (tmp_path / "loop.dec").write_text(LOOP)
    return tmp_path


def _clean(out: bytes) -> None:
    assert b"\x1b" not in out and b"passes" not in out and b"building" not in out, out[:300]


def test_run_shows_its_status_line_on_stderr_and_stdout_has_only_the_program_output(loop):
    hello = os.path.abspath("programs/hello.sq")
    code, out, err = _run(["run", "--max-steps", "2000000", "loop.dec"], loop)
    assert code == 3 and out == b""
    assert b"running: " in err and b" passes, " in err and b"pc=" in err, err[-300:]
    assert err.rstrip().endswith(
        b"mlpvm: step limit reached after 2,000,000 steps, pc=0; --max-steps N raises the limit (0: none)"
    )
    code, out, err = _run(["run", hello], loop)
    assert code == 0 and out == b"Hello, world!\n" and err == b""


@pytest.mark.parametrize("quiet", [["-q"], ["--json"]])
def test_quiet_and_json_silence_the_status_line(loop, quiet):
    code, out, err = _run(["run", "--max-steps", "2000000", *quiet, "loop.dec"], loop)
    assert code == 3 and b"running:" not in err
    if quiet == ["--json"]:
        assert json.loads(out)["reason"] == "limit"


def test_trace_shows_passes_on_stderr_and_writes_only_its_file(loop):
    code, out, err = _run(["trace", "loop.dec", "-o", "t.jsonl", "--max-steps", "3000"], loop)
    assert code == 3 and out == b""
    assert b"tracing: pass " in err and b" of at most 3,000" in err, err[-300:]
    assert err.rstrip().endswith(b"mlpvm: step limit reached after 3,000 steps (3,000 passes); wrote t.jsonl")
    assert len((loop / "t.jsonl").read_text().splitlines()) == 3_000
    code, out, err = _run(["trace", "loop.dec", "-o", "t.jsonl", "--max-steps", "3000", "-q"], loop)
    assert code == 3 and b"tracing" not in err


def test_info_and_build_show_the_build_on_stderr_and_stdout_stays_clean(loop):
    code, out, err = _run(["info", "--cells", "2048"], loop)
    assert code == 0 and b"building subleq, 16-bit words, 2048 cells" in err
    _clean(out)
    assert b"23 layers" in out
    code, out, err = _run(["info", "--cells", "2048", "--json"], loop)
    assert code == 0 and b"building" not in err and json.loads(out)["totals"]["layers"] == 23
    code, out, err = _run(["build", "--cells", "2048", "-o", "net.npz"], loop)
    assert code == 0 and b"building subleq" in err and out.startswith(b"wrote net.npz")
    _clean(out)


def test_verify_shows_programs_checked_on_stderr(loop):
    code, out, err = _run(["verify", "--random", "5"], loop)
    assert code == 0 and b"verifying" in err and b"programs; steps: " in err
    _clean(out)
    assert out.startswith(b"OK: 5 programs")
    code, out, err = _run(["verify", "--random", "5", "--quiet"], loop)
    assert code == 0 and b"verifying" not in err


SMALL = ["loop.dec", "--bits", "8", "--cells", "16", "--engine", "unrolled"]


@pytest.mark.parametrize(
    "args, code",
    [
        (["run", *SMALL, "--max-steps", "10"], 3),
        (["trace", *SMALL, "--max-steps", "10", "-o", "t.jsonl"], 3),
        (["verify", *SMALL, "--max-steps", "10"], 0),
        (["debug", *SMALL, "--ex", "stepi 3", "--batch"], 0),
    ],
    ids=["run", "trace", "verify", "debug"],
)
def test_the_first_run_that_compiles_the_network_says_so(loop, args, code):
    """A fresh code cache: the unrolled engine compiles this configuration, and every command that runs the
    network says so on the terminal, on one line; the next run loads it and says nothing."""
    os.environ["MLPVM_CACHE"] = str(loop / "cache")
    try:
        first, second = _run(args, loop), _run(args, loop)
    finally:
        del os.environ["MLPVM_CACHE"]
    assert first[0] == second[0] == code
    said = b"mlpvm: compiling the network's code for "
    notice = first[2][first[2].index(said) :].split(b"configuration\r\n")[0] + b"configuration"
    assert all(len(line) <= 80 for line in notice.split(b"\r\n")), notice  # wrapped to the terminal's 80
    assert b"(LLVM); once per configuration" in b" ".join(notice.replace(b"\r\n", b" ").split()), first[2]
    assert said not in second[2]
    assert b"compiling" not in first[1]
