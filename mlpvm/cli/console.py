"""Where commands print: Rich consoles for tables and summaries, wide enough when the output is not a terminal."""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 120  # a pipe or a file has no width: room for every column instead of Rich's 80


def stdout() -> Console:
    console = Console(highlight=False, soft_wrap=True)
    return console if console.is_terminal else Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH)


def stderr() -> Console:
    return Console(stderr=True)
