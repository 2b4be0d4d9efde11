"""Running programs as people do (issue 10): input typed at a terminal, piped input that ends, one escape
decoder for input text, and stops that say what to do."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlpvm.cli import cli
from mlpvm.program.inputs import EOF_READS, Input, unescape

pytestmark = pytest.mark.usefixtures("no_process_left")  # conftest: no test leaves a process behind

# Like eForth: prints a prompt, echoes every byte it reads, ignores -1 (the end) and asks again, forever.
READER = """
        gt (-1)
loop:   (-1) c
        m1 c loop           # c = c + 1 <= 0 only for -1: ignore it, read again
        one c
        c (-1)
        Z Z loop
. c: 0  m1: -1  one: 1  Z: 0  gt: 62
"""


@pytest.fixture
def reader(tmp_path):
    path = tmp_path / "reader.asq"
    path.write_text(READER)
    return str(path)


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.mark.parametrize(
    "text, data",
    [
        (r"a\nb", b"a\nb"),
        (r"\r\t\\", b"\r\t\\"),
        (r"\x00\xff\x41", b"\x00\xffA"),
        ("é", "é".encode()),
        (r"\\n", b"\\n"),
    ],
)
def test_unescape_decodes_the_five_escapes(text, data):
    assert unescape(text) == data


@pytest.mark.parametrize("text", [r"\q", "\\", r"\x4", r"\xzz", r"\u0041"])
def test_unescape_names_a_bad_escape(text):
    with pytest.raises(ValueError, match="bad escape"):
        unescape(text)


def test_an_input_gives_the_end_eof_reads_times_then_nothing():
    inp = Input(b"a", eof_reads=2)
    assert inp.peek() == ord("a")
    inp.take()
    for _ in range(2):
        assert inp.peek() == -1 and not inp.ended
        inp.take()
    assert inp.ended and inp.peek() is None and not inp.wait()
    assert Input(b"", eof_reads=None).peek() == -1  # the debugger's and the checks' inputs: forever


@pytest.mark.parametrize("engine", ["neural", "reference"])
@pytest.mark.parametrize("how", ["pipe", "option"])
def test_a_program_that_keeps_reading_after_its_input_ended_stops_by_itself(reader, engine, how):
    args = ["run", "-v", "--engine", engine, reader] + (["--input", r"2 2\n"] if how == "option" else [])
    result = invoke(*args, input="2 2\n" if how == "pipe" else None)
    assert result.exit_code == 0  # its input is done, as python's or bc's at the end of a pipe
    assert result.stdout == ">2 2\n"
    # the prompt, 4 bytes echoed (5 instructions each), the end read EOF_READS times (2 each)
    steps = 1 + 4 * 5 + EOF_READS * 2
    assert result.stderr.startswith(f"mlpvm: input ended after {steps} steps, pc=3 (loop, ")
    assert "kept reading after its input ended (--eof-reads N lets it read the end more; 0: no limit)" in result.stderr


def test_input_file_is_read_as_bytes_as_they_are(reader, tmp_path):
    data = tmp_path / "in.bin"
    data.write_bytes(b"\\n\x00\xff")
    result = CliRunner().invoke(cli, ["run", "--input-file", str(data), reader])
    assert result.stdout_bytes == b">\\n\x00\xff"
    both = invoke("run", "--input", "x", "--input-file", str(data), reader)
    assert both.exit_code == 2 and "not both" in both.output
    missing = invoke("run", "--input-file", str(tmp_path / "none"), reader)
    assert missing.exit_code == 2 and "none: error: cannot read the input file" in missing.stderr


def test_a_bad_escape_in_input_is_bad_usage(reader):
    result = invoke("run", "--input", r"a\q", reader)
    assert result.exit_code == 2 and r"bad escape '\q'" in result.stderr and "Traceback" not in result.output


def test_the_step_limit_names_the_option_with_separators_and_plurals(tmp_path, reader):
    result = invoke("run", "--max-steps", "1", "--input", "abc", reader)
    assert result.exit_code == 3
    assert result.stderr.startswith("mlpvm: step limit reached after 1 step, pc=3 (loop, ")
    assert "--max-steps N raises the limit" in result.stderr
    loop = tmp_path / "loop.dec"
    loop.write_text("3 3 0 0")
    big = invoke("run", "--max-steps", "12345", str(loop))
    assert big.stderr.startswith("mlpvm: step limit reached after 12,345 steps, pc=0;")


def test_a_fault_names_the_operand_its_value_memory_and_the_cells_that_would_hold_it(tmp_path):
    prog = tmp_path / "far.dec"
    prog.write_text("1000 0 -1")  # mem[0] -= mem[1000]: A is outside 256 cells
    result = invoke("run", str(prog))
    assert result.exit_code == 4
    assert result.stderr == (
        "mlpvm: fault after 0 steps, pc=0; operand A = 1000 is outside memory (0..255, 256 cells); "
        "--cells 1024 would hold it\n"
    )
    out = tmp_path / "out.dec"
    out.write_text("0 0 3 -300 -1 0")  # at 3: output mem[-300]
    result = invoke("run", str(out))
    assert "operand A = -300 is outside memory (0..255, 256 cells)\n" in result.stderr
    both = tmp_path / "both.dec"
    both.write_text("300 700 0")  # mem[700] -= mem[300]: both outside 256 cells
    result = invoke("run", str(both))
    want = "operand A = 300 and operand B = 700 are outside memory (0..255, 256 cells); --cells 1024 would hold them\n"
    assert want in result.stderr


def _own_terminal() -> None:
    """In the child: a session whose controlling terminal is the pty, so that Ctrl-C there sends SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _pty_run(args: list[str], command: str = "run") -> tuple[subprocess.Popen, int]:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", Screen.HEIGHT, Screen.WIDTH, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlpvm", command, *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        preexec_fn=_own_terminal,
        env={**os.environ, "TERM": "xterm", "COLUMNS": str(Screen.WIDTH), "LINES": str(Screen.HEIGHT)},
    )
    os.close(follower)
    return proc, leader


class Screen:
    """What a terminal shows for the bytes written to it: the few controls a terminal's line discipline and the
    status line use (CR, LF, BS, save/restore cursor, index/reverse index, erase line, cursor up/column);
    colours and cursor visibility are ignored. Lines that scroll off the top are kept in ``gone``."""

    WIDTH, HEIGHT = 80, 24

    def __init__(self):
        self.rows = [[" "] * self.WIDTH for _ in range(self.HEIGHT)]
        self.gone: list[str] = []
        self.r = self.c = 0
        self.saved = (0, 0)

    def feed(self, data: bytes) -> Screen:
        text, i = data.decode("utf-8", "replace"), 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b" and text[i + 1 : i + 2] == "[":
                j = i + 2
                while not text[j].isalpha() and text[j] not in "@`~":
                    j += 1
                self._csi(text[i + 2 : j], text[j])
                i = j + 1
                continue
            if ch == "\x1b":
                self._esc(text[i + 1])
                i += 2
                continue
            if ch == "\r":
                self.c = 0
            elif ch == "\n":
                self._down()
            elif ch == "\b":
                self.c = max(self.c - 1, 0)
            elif ch >= " ":
                if self.c >= self.WIDTH:
                    self.c = 0
                    self._down()
                self.rows[self.r][self.c] = ch
                self.c += 1
            i += 1
        return self

    def _down(self) -> None:
        if self.r == self.HEIGHT - 1:
            self.gone.append("".join(self.rows.pop(0)).rstrip())
            self.rows.append([" "] * self.WIDTH)
        else:
            self.r += 1

    def _esc(self, ch: str) -> None:
        if ch == "7":
            self.saved = (self.r, self.c)
        elif ch == "8":
            self.r, self.c = self.saved
        elif ch == "D":
            self._down()
        elif ch == "M":
            if self.r == 0:
                self.rows.insert(0, [" "] * self.WIDTH)
                self.rows.pop()
            else:
                self.r -= 1

    def _csi(self, params: str, final: str) -> None:
        n = int(params) if params.isdigit() else None
        if final == "K":
            lo, hi = {0: (self.c, self.WIDTH), 1: (0, self.c + 1), 2: (0, self.WIDTH)}[n or 0]
            self.rows[self.r][lo:hi] = [" "] * (hi - lo)
        elif final == "A":
            self.r = max(self.r - (n or 1), 0)
        elif final == "G":
            self.c = (n or 1) - 1

    def lines(self) -> list[str]:
        """Every line shown, those scrolled off first, without the blank ones at the end."""
        shown = self.gone + ["".join(row).rstrip() for row in self.rows]
        while shown and not shown[-1]:
            shown.pop()
        return shown


def test_the_screen_model_follows_the_controls_the_status_line_uses():
    screen = Screen().feed(b"ok\r\nabc\x1bD\x1bM\x1b7\x1bD\r\x1b[2Kstatus\x1b8")
    assert screen.lines() == ["ok", "abc", "status"] and (screen.r, screen.c) == (1, 3)
    screen.feed(b"\x1b7\x1bD\r\x1b[2K\x1b8d\r\n")
    assert screen.lines() == ["ok", "abcd"] and (screen.r, screen.c) == (2, 0)


def _read_until(fd: int, wanted: bytes, timeout: float = 120) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < end:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def test_in_a_terminal_a_typed_line_appears_once_and_ctrl_c_while_waiting_exits_130(reader):
    proc, fd = _pty_run([reader])  # no option: no step limit on a terminal
    try:
        assert _read_until(fd, b">").endswith(b">")  # running, and waiting for input
        os.write(fd, b"2 2 + . cr\n")
        seen = _read_until(fd, b"cr\r\n")
        assert seen.count(b"2 2 + . cr") == 1, seen  # the program's echo only, not the terminal's too
        time.sleep(1)  # the program now waits for input
        os.write(fd, b"\x03")  # Ctrl-C, through the terminal
        rest = _read_until(fd, b"interrupted after", timeout=60)
        assert proc.wait(timeout=60) == 130, rest
        assert b"mlpvm: interrupted after" in rest and b"Traceback" not in rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(fd)


EFORTH = "programs/external/howerj-subleq-vhdl/eforth-8k.dec"


@pytest.mark.timeout(600)
def test_real_eforth_typed_at_in_a_terminal_answers_and_ctrl_c_keeps_the_screen():
    """The headline program as a user meets it: no option, a terminal. Its boot takes about a million passes,
    the line about 12.7 million more (seconds at the unrolled engine's rate; minutes on a loaded machine), so
    the status line shows while it works, and must leave the echoed line as it was."""
    proc, fd = _pty_run([EFORTH])
    screen = Screen()
    try:
        boot = _read_until(fd, b" ok", timeout=300)
        assert b" ok" in boot, boot  # booted
        boot += _read_until(fd, b"never", timeout=1)  # and waiting for a line
        os.write(fd, b"2 2 + . cr\n")
        answer = _read_until(fd, b" ok", timeout=500)
        assert b" ok" in answer, answer[-300:]
        answer += _read_until(fd, b"never", timeout=1)  # the rest of the line; the status line taken off
        lines = screen.feed(boot + answer).lines()
        typed = [line for line in lines if "2 2 + . cr" in line]
        assert typed == ["2 2 + . cr 4"], lines  # the echo once, the answer after it, on the line it was typed
        assert lines[-1] == " ok" and not any("running:" in line for line in lines), lines
        os.write(fd, b"\x03")  # Ctrl-C while it waits for the next line
        rest = _read_until(fd, b"\n", timeout=60)
        rest += _read_until(fd, b"\n", timeout=5) if rest.endswith(b"\r\r\n") else b""  # the summary's line
        assert proc.wait(timeout=60) == 130, rest
        lines = screen.feed(rest).lines()
        assert lines[-2:] == [" ok", lines[-1]] and lines[-1].startswith("mlpvm: interrupted after 13,"), lines
        assert typed[0] in lines and b"Traceback" not in rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(fd)


def test_a_paper_program_shows_its_result(tmp_path):
    # gcd.pasq's own comment: it halts with a = b = 21 (gcd(1071, 462)); the library's constants are left out
    assert invoke("run", "programs/paper/gcd.pasq").stdout == "a = 21  b = 21  t = 0\n"
    prog = tmp_path / "p.json"
    prog.write_text('{"slots": [[0, 0, 0]], "data": [5, 0, 3, 0]}')  # mem[0] -= mem[0], then it halts
    assert invoke("run", str(prog)).stdout == "memory: 0 0 3\n"


def test_ctrl_c_in_any_command_exits_130_not_aborted(monkeypatch):
    import mlpvm.cli.build as build_cli

    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_cli, "build_network", interrupted)
    result = invoke("info", "--bits", "8", "--cells", "16")
    assert result.exit_code == 130
    assert "Aborted!" not in result.output and result.stderr.strip() == "mlpvm: interrupted"


NO_NEWLINE = "9 -1 3 10 10 0 0 0 0 72 0"  # prints "H" forever, never a newline


def test_the_summary_starts_on_its_own_line_when_both_streams_go_to_one_file(tmp_path):
    (tmp_path / "h.dec").write_text(NO_NEWLINE)
    with open(tmp_path / "log", "wb") as log:  # `> log 2>&1`
        code = subprocess.run([sys.executable, "-m", "mlpvm", "run", "--max-steps", "5", "h.dec"], cwd=tmp_path,
                              stdout=log, stderr=log, stdin=subprocess.DEVNULL, timeout=120).returncode  # fmt: skip
    assert code == 3
    assert (tmp_path / "log").read_bytes() == (
        b"HHH\nmlpvm: step limit reached after 5 steps, pc=3; --max-steps N raises the limit (0: none)\n"
    )
    apart = subprocess.run([sys.executable, "-m", "mlpvm", "run", "--max-steps", "5", "h.dec"], cwd=tmp_path,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
    assert apart.stdout == b"HHH" and apart.stderr.startswith(b"mlpvm: step limit")  # each stream as it was


def test_counts_are_singular_or_plural_with_separators_in_trace_verify_and_debug(tmp_path):
    (tmp_path / "h.dec").write_text(NO_NEWLINE)
    h, out = str(tmp_path / "h.dec"), str(tmp_path / "t.jsonl")
    one = invoke("trace", h, "-o", out, "--max-steps", "1")
    assert one.exit_code == 3 and one.stderr == f"mlpvm: step limit reached after 1 step (1 pass); wrote {out}\n"
    many = invoke("trace", h, "-o", out, "--max-steps", "1234")
    assert many.stderr == f"mlpvm: step limit reached after 1,234 steps (1,234 passes); wrote {out}\n"
    checked = invoke("verify", h, "--max-steps", "1").stdout
    assert "OK: 1 program (" in checked and "\n  1 step checked in " in checked and "first 1 step)" in checked
    halt = tmp_path / "halt.dec"
    halt.write_text("0 0 -1")  # one step, then PC -1
    debugged = invoke("debug", str(halt), "--ex", "continue", "--ex", "info program", "--batch").stdout
    assert "Halted after 1 step (2 passes), pc=-1" in debugged and "1 step, 2 passes" in debugged
    limited = invoke("debug", h, "--max-steps", "1000", "--ex", "continue", "--batch").stdout
    assert "Step limit reached (--max-steps N, or set max-steps N; 0: none)" in limited


def test_input_file_is_the_same_option_in_every_command_with_input(reader, tmp_path):
    data = tmp_path / "in.bin"
    data.write_bytes(b"ab")
    out = str(tmp_path / "t.jsonl")
    traced = invoke("trace", reader, "-o", out, "--input-file", str(data))
    assert traced.exit_code == 0 and traced.stderr.startswith("mlpvm: input ended after ")
    outs = [json.loads(line)["out"] for line in Path(out).read_text().splitlines()]
    assert bytes(o for o in outs if o is not None) == b">ab"  # the prompt, then each byte echoed
    debugged = invoke("debug", reader, "--input-file", str(data), "--ex", "continue", "--batch")
    assert "│ >ab" in debugged.stdout
    checked = invoke("verify", reader, "--input-file", str(data), "--max-steps", "200")
    assert checked.exit_code == 0 and "OK: 1 program" in checked.stdout
    for command in (["trace", reader, "-o", out], ["debug", reader, "--batch"], ["verify", reader]):
        both = invoke(*command, "--input", "x", "--input-file", str(data))
        assert both.exit_code == 2 and "give --input or --input-file, not both" in both.stderr


def test_an_endless_input_file_is_refused_in_one_line_not_read_until_memory_runs_out(reader):
    result = invoke("run", "--input-file", "/dev/zero", reader)
    assert result.exit_code == 2
    assert result.stderr == "/dev/zero: error: the input file has more than 67,108,864 bytes, the most mlpvm reads\n"
    empty = invoke("run", "--input-file", "/dev/null", reader)
    assert empty.exit_code == 0 and empty.stdout == ">"


@pytest.mark.parametrize("above", [0, 5, Screen.HEIGHT + 3])  # the cursor at the top, in the middle, at the bottom
def test_the_status_line_shows_below_the_cursor_and_leaves_the_line_it_is_on_as_it_was(monkeypatch, above):
    import io

    from rich.console import Console

    from mlpvm.cli import console

    err = io.StringIO()
    monkeypatch.setattr(console, "stderr", lambda: Console(file=err, force_terminal=True, width=Screen.WIDTH))
    screen = Screen().feed(b"".join(b"line %d\r\n" % i for i in range(above)) + b"ok 2 2 +")
    status = console.StatusLine(delay=0)
    status.REFRESH = 0
    for n in range(3):
        status.show(f"running: {n} passes " + "x" * 100)  # cropped to the width: never wraps
    shown = err.getvalue()
    lines = screen.feed(shown.encode()).lines()
    assert lines[-2:] == ["ok 2 2 +", "running: 2 passes " + "x" * (Screen.WIDTH - 19)], lines
    status.hide()
    screen.feed(err.getvalue()[len(shown) :].encode() + b" 4\r\n ok")  # the program goes on where it was
    assert screen.lines()[-2:] == ["ok 2 2 + 4", " ok"] and "running" not in "".join(screen.lines())


def test_the_status_rate_counts_the_time_computing_not_the_time_waiting_for_a_person(monkeypatch):
    import io
    import types

    from rich.console import Console

    from mlpvm.cli import console, run
    from mlpvm.engines import make
    from mlpvm.host.computer import Computer
    from mlpvm.machines.config import Config
    from mlpvm.machines.state import encode

    clock = [100.0]
    fake = types.SimpleNamespace(monotonic=lambda: clock[0])
    monkeypatch.setattr(console, "time", fake)
    monkeypatch.setattr(run, "time", fake)
    err = io.StringIO()
    monkeypatch.setattr(console, "stderr", lambda: Console(file=err, force_terminal=True, width=80))
    config = Config("subleq", 8, 16)
    engine = make("structured", config)
    computer = Computer(engine, encode(engine.state, config, [3, 3, 0, 0]))
    status = run.Status(config, None, quiet=False)
    computer.advance(10)
    status.update(computer)  # 10 passes in the first second
    clock[0] += 1.0
    status.update(computer)
    assert err.getvalue().endswith("running: 10 passes, 0/s, pc=0  0:00:01\x1b8")  # none since it started
    status.hide()  # the program waits for input: a person takes a minute to type
    clock[0] += 60
    status.update(computer)  # computing again, from 10 passes
    computer.advance(20)
    clock[0] += 2.0
    status.update(computer)
    assert err.getvalue().endswith("running: 30 passes, 10/s, pc=0  0:00:02\x1b8")  # 20 passes in 2 s, not 30 in 63
