"""Where commands print, in one style: Rich consoles for tables and summaries (wide enough when the output is
not a terminal), and progress bars on stderr that show only on a terminal and vanish when done."""

from __future__ import annotations

import base64
import errno
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import click
from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.segment import Segment

from mlpvm.errors import shown

PIPE_WIDTH = 120  # a pipe or a file has no width: room for every column instead of Rich's 80


class _Console(Console):
    """A Rich console that leaves a closed pipe to the CLI: Rich's own handling exits 1, which means "failed"
    for ``verify`` and ``prove``; the CLI ends every command whose reader went away with 141."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def stdout(markup: bool = True) -> Console:
    console = _Console(highlight=False, soft_wrap=True, markup=markup)
    if not console.is_terminal:
        console = _Console(highlight=False, soft_wrap=True, markup=markup, width=PIPE_WIDTH)
    return escaping(console)


def stderr() -> Console:
    return escaping(_Console(stderr=True))


def escaping(console: Console) -> Console:
    """``console``, with control characters in everything it prints escaped (``mlpvm.errors.shown``): a source
    line, a file name, a script's line or a message quoting them cannot drive the terminal. Rich's own styles
    and cursor moves are not text, and pass."""
    console.push_render_hook(_Escaping())
    return console


class _Escaping(RenderHook):
    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Escaped(r) for r in renderables]


class _Escaped:
    """A renderable's text segments with control characters escaped (newlines, which end its lines, kept)."""

    def __init__(self, inner: ConsoleRenderable):
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for segment in console.render(self.inner, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(shown(segment.text, lines=True), segment.style)


def progress(
    label: str, *extra: ProgressColumn, counts: bool = True, quiet: bool = False, bar: bool = True
) -> Progress:
    """A transient progress bar on stderr: ``label`` (may use ``{task.description}`` and fields), the bar (a
    status line without it: work of no known length), ``done/total`` when ``counts``, any ``extra`` columns,
    the time elapsed. Off when stderr is not a terminal or ``quiet``."""
    console = stderr()
    columns = [TextColumn(label), *([BarColumn()] if bar else []), *([MofNCompleteColumn()] if counts else []), *extra]
    return Progress(
        *columns, TimeElapsedColumn(), console=console, transient=True, disable=quiet or not console.is_terminal
    )


class StatusLine:
    """One line of live status on a terminal's stderr, drawn on the line below the cursor and the cursor put
    back: the program's output (a prompt, an echoed line still without its newline) stays as it is on the
    screen, and what the program writes next goes where it would have gone. It shows after ``delay`` seconds
    without output; ``hide`` takes it off before the program writes or waits for input."""

    SAVE, RESTORE, DOWN, UP, CLEAR = "\x1b7", "\x1b8", "\x1bD", "\x1bM", "\r\x1b[2K"
    REFRESH = 0.1  # seconds between redraws, as Rich's progress bars

    def __init__(self, quiet: bool = False, delay: float = 1.0):
        self.console = stderr()
        self.disable = quiet or not self.console.is_terminal
        self.delay = delay
        self.shown = False
        self.quiet_since = self.drawn = time.monotonic()

    def due(self) -> bool:
        """Whether ``show`` would draw now (callers skip composing the text otherwise): on, ``delay`` seconds
        since the last output or input, and ``REFRESH`` since the last redraw."""
        now = time.monotonic()
        return not self.disable and now - self.quiet_since >= self.delay and now - self.drawn >= self.REFRESH

    def show(self, text: str) -> None:
        if not self.due():
            return
        self.drawn = time.monotonic()
        width = max(self.console.width - 1, 1)  # never wrap: one line to clear
        if not self.shown:  # a line below the cursor (scrolling now, if at the bottom), the cursor where it was
            self._write(self.DOWN + self.UP)
            self.shown = True
        text = shown(text)[:width]  # written past Rich, so escaped here: it names files and labels
        self._write(self.SAVE + self.DOWN + self.CLEAR + text + self.RESTORE)

    def hide(self) -> None:
        self.quiet_since = time.monotonic()
        if self.shown:
            self.shown = False
            self._write(self.SAVE + self.DOWN + self.CLEAR + self.RESTORE)

    def _write(self, text: str) -> None:
        sys.stdout.flush()  # the program's bytes first: the cursor must be after them
        self.console.file.write(text)
        self.console.file.flush()


def elapsed(seconds: float) -> str:
    """``0:01:05``, as the progress bars show the time elapsed."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def running(passes: int, rate: float, pc: int, where: str | None, took: float) -> str:
    """The status line's text while a program runs (``run``, the debugger's ``continue``)."""
    at = f"pc={pc}{f' ({where})' if where else ''}"
    return f"running: {passes:,} passes, {rate:,.0f}/s, {at}  {elapsed(took)}"


def same_place(out, err) -> bool:
    """Whether what ``out`` and ``err`` print ends up one after the other: both terminals, or one file or pipe
    (``> log 2>&1``). A summary on ``err`` then starts a line of its own after output without a newline."""
    try:
        if out.isatty() and err.isatty():
            return True
        a, b = os.fstat(out.fileno()), os.fstat(err.fileno())
    except (AttributeError, OSError, ValueError):  # not files (a test's streams)
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def notice(quiet: bool = False) -> Callable[[str], None]:
    """Prints ``mlpvm: TEXT`` on stderr when it is a terminal (a person waits there), else nothing."""
    console = stderr()
    if quiet or not console.is_terminal:
        return lambda text: None
    return lambda text: console.print(f"mlpvm: {text}", markup=False, highlight=False, soft_wrap=True)


LARGE = 4096  # cells from which numpy alone is slow enough (eForth: hundreds of passes/s) to point at the extra
SLOW_HINT = "mlpvm: hint: slow on numpy alone at this size; pip install 'mlpvm[fast]'"
_said: set[str] = set()  # notices already given in this process


def announce(engine, quiet: bool = False) -> None:
    """Says so on a terminal's stderr when ``engine``'s first run compiles its code (the first run after
    installing, or a new configuration of the unrolled engine), in every command that runs the network: once
    per process, however many configurations follow (verify --named). A large program on the numpy engine
    because the fast extra is missing gets a one-line hint (on stderr, unless quiet)."""
    from mlpvm.engines import Structured, fastest_name
    from mlpvm.engines.compiled import announce_compile

    announce_compile(engine, _once(notice(quiet), "compile"))
    slow = isinstance(engine, Structured) and fastest_name() == "structured"
    if slow and engine.config.cells >= LARGE and not quiet and "slow" not in _said:
        _said.add("slow")
        click.echo(SLOW_HINT, err=True)


def _once(say: Callable[[str], None], kind: str) -> Callable[[str], None]:
    """``say``, for the first notice of ``kind`` in this process only, wrapped to 80 columns."""

    def first(text: str) -> None:
        if kind not in _said:
            _said.add(kind)
            say(textwrap.fill(text, 80 - len("mlpvm: "), subsequent_indent="  "))

    return first


def output_fields(data: bytes) -> dict[str, str]:
    """A program's output in JSON: ``output``, the bytes read as UTF-8 (what a terminal shows; a byte that is not
    UTF-8 becomes U+FFFD), and ``output_base64``, the exact bytes."""
    return {"output": data.decode("utf-8", "replace"), "output_base64": base64.b64encode(data).decode("ascii")}


def output_lines(data: bytes) -> list[str]:
    """A program's output as lines to show among other text (the debugger's): read as UTF-8, as a terminal
    would, with control characters and bytes that are not UTF-8 as ``\\xHH`` escapes."""
    return [shown(line) for line in data.decode("utf-8", "surrogateescape").splitlines()]


def throttled(update: Callable[..., None], seconds: float = 0.1) -> Callable[..., None]:
    """``update``, called at most every ``seconds`` (a progress bar need not hear of every pass)."""
    last = [0.0]

    def call(*args) -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            update(*args)

    return call


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 step``, ``10,000,000 steps``, ``2 passes`` (``nouns``: the plural, if not ``noun`` + s)."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


# How each stop reads in a summary line (run, trace, batch headers).
STOPS = {
    "halt": "halted",
    "limit": "step limit reached",
    "fault": "fault",
    "wait": "waiting for input",
    "eof": "input ended",
    "interrupted": "interrupted",
}
