"""The real interactive REPL, driven through a pseudo-terminal: prompt, breakpoints, blank-line repeat,
Ctrl-C during a run, Ctrl-D, and the history file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

import pytest

from tests.conftest import ROOT

PROMPT = b"(mlpvm)"


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str], columns: int = 140):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the debugger, on the pty's slave side
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "mlpvm", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        self.seen = b""
        self.pos = 0  # where the next search starts: just past the last marker found

    def read_until(self, marker: bytes, timeout: float = 60) -> bytes:
        """Everything from the last marker found up to and including ``marker``."""
        end = time.monotonic() + timeout
        start = self.pos
        while marker not in self.seen[start:]:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} in {self.seen[start:][-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.seen += chunk
        found = self.seen.find(marker, start)
        self.pos = found + len(marker) if found >= 0 else len(self.seen)
        return self.seen[start : self.pos]

    def command(self, line: str) -> bytes:
        """Types a line, and everything until the debugger has answered it: a marker command typed right after
        can only be answered once the line's own output is complete."""
        os.write(self.fd, line.encode() + b"\r")
        os.write(self.fd, b"print 4242 + 1\r")
        return self.read_until(b"= 4243")

    def wait(self, timeout: float = 30) -> int:
        """The exit code, reading (and keeping) whatever the debugger still prints."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.2)[0]:
                with contextlib.suppress(OSError):  # the child closed its side of the terminal
                    self.seen += os.read(self.fd, 65536)
        raise AssertionError("the debugger did not exit")


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "MLPVM_HISTORY": str(tmp_path / "history")}


def test_interactive_session_in_a_pty(env, tmp_path):
    term = Terminal(["debug", "programs/hello.sq"], env)
    term.read_until(PROMPT)
    assert b"Breakpoint 1 at 12" in term.command("break *12")
    shown = term.command("continue")
    assert b"Breakpoint 1, pc=12" in shown and b"H" in shown
    again = term.command("continue\r")  # and a blank line after it repeats it (not after the marker's print)
    assert again.count(b"Breakpoint 1, pc=12") == 2 and b"e" in again and b"l" in again
    assert b"last pass (pc 9)" in term.command("regs")
    assert b"read.1" in term.command("layers")
    term.read_until(PROMPT)  # prompting again, so Ctrl-D reaches prompt_toolkit rather than the line discipline
    os.write(term.fd, b"\x04")  # Ctrl-D leaves
    assert term.wait() == 0
    history = (tmp_path / "history").read_text()
    assert "break *12" in history and "layers" in history


def test_ctrl_c_interrupts_a_run_back_to_the_prompt(env, tmp_path):
    loop = tmp_path / "loop.dec"
    loop.write_text("3 4 0 0 0")  # mem[4] -= mem[3] = 0, forever
    term = Terminal(["debug", str(loop)], env)
    term.read_until(PROMPT)
    os.write(term.fd, b"continue\r")
    term.read_until(b"continue")
    time.sleep(1.0)
    os.write(term.fd, b"\x03")
    shown = term.read_until(b"Interrupted")
    assert b"pc=" in shown + term.read_until(PROMPT)
    assert b"running" in term.command("info program")
    term.command("quit")
    assert term.wait() == 0


def test_tab_completes_a_label_at_80_columns_with_no_popup_while_typing(env):
    term = Terminal(["debug", "programs/hello.asq"], env, columns=80)
    term.read_until(PROMPT)
    os.write(term.fd, b"break do")  # no pop-up while typing: nothing but the echo comes back
    time.sleep(0.5)
    typed = term.read_until(b"do")
    assert b"done" not in typed
    os.write(term.fd, b"\t")  # Tab: the only label starting with "do"
    term.read_until(b"ne")
    shown = term.command("")
    assert b"Breakpoint 1 at 18 <done>" in shown
    shown = term.command("run")
    assert b"Breakpoint 1, pc=18 <done>" in shown
    # the status line (drawn between save and restore, on stderr, when the first pass is slow) is not a view
    text = re.sub(r"\x1b7.*?\x1b8|\x1b[DM]", "", shown.decode("utf-8", "replace"), flags=re.S)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r", "", text)
    assert "╭─ pass" in plain and max(len(line) for line in plain.splitlines()) <= 80  # the panel fits
    term.command("quit")
    assert term.wait() == 0


def test_ctrl_c_stops_a_long_continue_at_80_columns(env, tmp_path):
    loop = tmp_path / "loop.dec"
    loop.write_text("3 4 0 0 0")
    term = Terminal(["debug", str(loop)], env, columns=80)
    term.read_until(PROMPT)
    os.write(term.fd, b"continue\r")
    term.read_until(b"continue")
    time.sleep(1.0)
    os.write(term.fd, b"\x03")
    shown = term.read_until(b"Interrupted") + term.read_until(PROMPT)
    assert b"pc=0" in shown and b"running" in term.command("info program")
    term.command("quit")
    assert term.wait() == 0


def test_a_long_continue_shows_a_status_line_that_is_gone_at_the_stop(env, tmp_path):
    loop = tmp_path / "loop.dec"
    loop.write_text("3 4 0 0 0")
    term = Terminal(["debug", str(loop)], env, columns=80)
    term.read_until(PROMPT)
    os.write(term.fd, b"continue\r")
    running = term.read_until(b"/s, pc=0", timeout=30)  # after a second: passes, rate, PC
    assert b"running: " in running and b"passes" in running
    os.write(term.fd, b"\x03")
    shown = term.read_until(b"Interrupted")
    assert shown.count(b"\x1b[2K") >= 1  # the line was cleared before the stop was printed
    last_clear = shown.rfind(b"\x1b[2K")
    assert b"running: " not in shown[last_clear:]
    term.read_until(PROMPT)
    term.command("quit")
    assert term.wait() == 0
