"""Program input from stdin: a terminal read key by key, as typed, or a pipe read as the program asks.

On a terminal the line discipline would echo a typed line and the program (eForth, echo.asq) echoes it again,
so while the program runs the terminal's own echo and line editing are off and every key goes to the program
at once; ``echo=True`` keeps the terminal's echo for programs that do not echo their input.

With line editing off the terminal no longer turns Ctrl-D into the end of input, so ``EndKey`` does what its
canonical mode would: Ctrl-D at the start of a line, or a second Ctrl-D in a row, ends the input; a single
Ctrl-D in the middle of a line (which would only flush the line, already sent key by key) is dropped.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlpvm.program.inputs import EOF_READS, Input

try:
    import termios
except ImportError:  # not a POSIX system: the terminal stays as it is
    termios = None  # type: ignore[assignment]


def stdin_input(before_wait: Callable[[], None] | None = None, eof_reads: int | None = EOF_READS) -> Input:
    """stdin as the program's input, read only when the program asks; the end-of-input rule applies
    (``eof_reads``; None: no limit). ``before_wait`` runs before the program waits for input (to take a status
    line off the screen)."""
    if sys.stdin is None:
        return Input(eof_reads=eof_reads)

    end_key = EndKey(_eof_char()) if _is_terminal() else None

    def more() -> bytes:
        if end_key is not None and end_key.ended:
            return b""
        if before_wait is not None:
            before_wait()
        chunk = _read_more()
        return end_key.take(chunk) if end_key is not None and chunk else chunk

    return Input(closed=False, more=more, eof_reads=eof_reads)


class EndKey:
    """The terminal's end-of-input key (Ctrl-D) in keys read one by one, with canonical mode's meaning."""

    def __init__(self, key: int = 4):
        self.key = key
        self.empty_line = True  # nothing typed since the last newline or Ctrl-D: Ctrl-D here ends the input
        self.ended = False

    def take(self, chunk: bytes) -> bytes:
        """The bytes of ``chunk`` that reach the program: up to the Ctrl-D that ends the input, if any (after
        it ``ended`` is true and what was typed after it is dropped, as the input is over)."""
        out = bytearray()
        for byte in chunk:
            if byte == self.key:
                if self.empty_line:
                    self.ended = True
                    break
                self.empty_line = True
                continue
            out.append(byte)
            self.empty_line = byte == 10
        return bytes(out)


def _is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _eof_char() -> int:
    """The terminal's own end-of-input key (VEOF, Ctrl-D unless changed with stty eof)."""
    if termios is None:
        return 4
    try:
        key = termios.tcgetattr(sys.stdin.fileno())[6][termios.VEOF]
    except (termios.error, OSError, ValueError, AttributeError):
        return 4
    return key[0] if isinstance(key, bytes) and key else 4


def _read_more() -> bytes:
    """What stdin has now, waiting until something comes. Ctrl-C while waiting interrupts at once (the host's
    handler would only note it for the next pass, which cannot come): nothing is half done here."""
    sys.stdout.flush()
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's stdin): read what it holds
        return sys.stdin.buffer.read1(4096)
    old = signal.getsignal(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread()
    if main:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        select.select([fd], [], [])
        return os.read(fd, 4096)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


@contextmanager
def keys(echo: bool = False) -> Iterator[None]:
    """stdin, when it is a terminal, gives each key as typed (Enter as a newline, Ctrl-C still interrupts),
    without the terminal's echo unless ``echo``; restored afterwards."""
    if termios is None or sys.stdin is None or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ICANON | (0 if echo else termios.ECHO))  # lflag
    mode[0] |= termios.ICRNL  # iflag: Enter gives \n
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
