"""The interactive face of the debugger: a prompt_toolkit loop over ``Debugger.execute``, plus batch mode.

Command history persists between sessions (``$MLPVM_HISTORY``, else ``~/.local/state/mlpvm/history``);
Tab completes commands, labels and layer names; Ctrl-C stops a running command and returns to the prompt
with the state intact; Ctrl-D or ``quit`` leaves.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory, InMemoryHistory
from rich.text import Text

from mlpvm.debug.commands import COMMANDS, Debugger, Quit
from mlpvm.network import LAYER_NAMES

PROMPT = "(mlpvm) "


def history_path() -> Path:
    if os.environ.get("MLPVM_HISTORY"):
        return Path(os.environ["MLPVM_HISTORY"])
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "mlpvm" / "history"


@contextmanager
def interrupts_to(debugger: Debugger) -> Iterator[None]:
    """While a command runs, Ctrl-C asks the session to stop after the current pass."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, lambda signum, frame: debugger.session.interrupt())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def run_lines(debugger: Debugger, lines: Iterable[str], echo: bool = False, stop_on_error: bool = False) -> bool:
    """Batch mode: runs command lines in order; False once ``quit`` was given, or (``stop_on_error``, as gdb
    runs a -x script) at the first line that fails."""
    for line in lines:
        if echo and line.strip():
            debugger.console.print(Text(f"{PROMPT}{line.rstrip()}", style="dim"))
        try:
            with interrupts_to(debugger):
                ok = debugger.execute(line)
        except Quit:
            return False
        if stop_on_error and not ok:
            return False
    return True


def words(debugger: Debugger) -> list[str]:
    names = [alias for cmd in COMMANDS.values() for alias in (cmd.name, *cmd.aliases)]
    labels = list(debugger.session.source_map.labels) if debugger.session.source_map else []
    return sorted(set(names)) + labels + list(LAYER_NAMES) + ["registers", "breakpoints", "watchpoints", "display"]


def interact(debugger: Debugger, history: Path | None = None) -> None:
    """The REPL, until quit or Ctrl-D."""
    path = history or history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        store = FileHistory(str(path))
    except OSError:
        store = InMemoryHistory()
    prompt = PromptSession(history=store, completer=WordCompleter(words(debugger), sentence=True))
    debugger.say('mlpvm debugger: "help" lists the commands.')
    while True:
        try:
            line = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        try:
            with interrupts_to(debugger):
                debugger.execute(line)
        except Quit:
            return
