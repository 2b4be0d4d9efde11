"""Where commands print, in one style: Rich consoles for tables and summaries (wide enough when the output is
not a terminal), and progress bars on stderr that show only on a terminal and vanish when done."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

PIPE_WIDTH = 120  # a pipe or a file has no width: room for every column instead of Rich's 80


def stdout(markup: bool = True) -> Console:
    console = Console(highlight=False, soft_wrap=True, markup=markup)
    if console.is_terminal:
        return console
    return Console(highlight=False, soft_wrap=True, markup=markup, width=PIPE_WIDTH)


def stderr() -> Console:
    return Console(stderr=True)


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
