"""Program input from stdin: a terminal read key by key, as typed, or a pipe read as the program asks.

On a terminal the line discipline would echo a typed line and the program (eForth, echo.asq) echoes it again,
so while the program runs the terminal's own echo and line editing are off and every key goes to the program
at once; ``echo=True`` keeps the terminal's echo for programs that do not echo their input.
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

    def more() -> bytes:
        if before_wait is not None:
            before_wait()
        return _read_more()

    return Input(closed=False, more=more, eof_reads=eof_reads)


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
