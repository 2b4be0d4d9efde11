"""The interactive face of the debugger: a prompt_toolkit loop over ``Debugger.execute``, plus batch mode.

Command history persists between sessions (``$MLPVM_HISTORY``, else ``~/.local/state/mlpvm/history``);
Tab completes commands, labels and layer names; Ctrl-C stops a running command and returns to the prompt
with the state intact; Ctrl-D or ``quit`` leaves.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from rich.text import Text

from mlpvm.debug.commands import COMMANDS, TOPICS, Debugger, Quit, lookup
from mlpvm.debug.records import DebugError
from mlpvm.errors import ImageError, shown
from mlpvm.files import MAX_TEXT, read_bytes
from mlpvm.network import LAYER_NAMES

PROMPT = "(mlpvm) "


def history_path() -> Path:
    if os.environ.get("MLPVM_HISTORY"):
        return Path(os.environ["MLPVM_HISTORY"])
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "mlpvm" / "history"


class SafeHistory(History):
    """A history whose file cannot be written (read-only, disk full) warns once and goes on in memory."""

    def __init__(self, inner: History):
        super().__init__()
        self.inner, self.failed = inner, False

    def load_history_strings(self) -> Iterable[str]:
        try:
            yield from self.inner.load_history_strings()
        except OSError:
            return

    def store_string(self, string: str) -> None:
        if self.failed:
            return
        try:
            self.inner.store_string(string)
        except OSError as e:
            self.failed = True
            print(f"warning: command history not saved ({e.strerror}: {shown(e.filename)})")


class _ReadHistory(FileHistory):
    """A history file whose contents were read already (``history_store``), and that new lines append to."""

    def __init__(self, path: Path, data: bytes):
        super().__init__(str(path))
        self.data = data

    def load_history_strings(self) -> Iterable[str]:
        strings, lines = [], []
        for line in self.data.decode("utf-8", errors="replace").splitlines(keepends=True):
            if line.startswith("+"):  # prompt_toolkit's format: "+" and a line of an entry, else a separator
                lines.append(line[1:])
            elif lines:
                strings.append("".join(lines)[:-1])
                lines = []
        if lines:
            strings.append("".join(lines)[:-1])
        return reversed(strings)  # newest first


def history_store(path: Path) -> History:
    """The history in ``path``, read now from a regular file of at most ``MAX_TEXT`` bytes (never a FIFO, a
    device, a directory or a huge file: those warn in one line and the session goes on without history)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = read_bytes(path, MAX_TEXT, "a command history") if os.path.lexists(path) else b""
    except ImageError as e:
        print(f"warning: {shown(e)}; going on without command history")
        return InMemoryHistory()
    except OSError as e:
        print(f"warning: {shown(path)}: cannot use the command history ({e.strerror}); going on without it")
        return InMemoryHistory()
    return _ReadHistory(path, data)


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


def ask(question: str, read: Callable[[], str] = input) -> bool:
    """gdb's query: y or n, asked again until it is one; end of input answers yes, as gdb's does (and says),
    Ctrl-C no."""
    while True:
        print(question, end="", flush=True)
        try:
            answer = read().strip().lower()
        except EOFError:
            print("EOF [answered Y; input not from terminal]")
            return True
        except KeyboardInterrupt:
            print("Quit")
            return False
        if answer in ("y", "yes", "n", "no"):
            return answer.startswith("y")
        print("Please answer y or n.")


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


LOCATIONS = {"break", "tbreak", "until", "advance", "list", "x", "print", "output", "display", "watch", "rwatch",
             "awatch", "disassemble", "set", "info symbol", "info line"}  # fmt: skip


def candidates(debugger: Debugger, line: str) -> list[str]:
    """What may complete the last word of ``line``: command names first, then the command's arguments (labels,
    layer names, ``info``/``set``/``help`` subcommands)."""
    words = line.split()
    if len(words) == 0 or (len(words) == 1 and not line.endswith(" ")):
        return sorted({alias for cmd in COMMANDS.values() for alias in (cmd.name, *cmd.aliases)})
    try:
        cmd = lookup(words[0].split("/")[0])
    except DebugError:  # an ambiguous prefix: nothing to complete its arguments from
        return []
    if cmd is None:
        return []
    s = debugger.session
    labels = sorted(s.source_map.labels) + sorted(s.source_map.slot_labels) if s.source_map else []
    labels = [name for name in labels if "@" not in name]  # macros' own labels
    first = len(words) == 1 or (len(words) == 2 and not line.endswith(" "))
    if cmd.name == "info":
        return list(Debugger.INFO) if first else labels
    if cmd.name == "help":
        return sorted(TOPICS) + sorted(COMMANDS)
    if cmd.name == "layer":
        return list(LAYER_NAMES)
    if cmd.name == "set":
        return list(Debugger.SETTINGS) + labels if first else labels
    return labels if cmd.name in LOCATIONS or cmd.topic in ("breakpoints", "data", "running") else []


class Completions(Completer):
    """Tab completes the word under the cursor from ``candidates``."""

    def __init__(self, debugger: Debugger):
        self.debugger = debugger

    def get_completions(self, document: Document, complete_event: CompleteEvent):
        before = document.text_before_cursor
        word = re.split(r"[\s*&\[\](),+\-=<>!/]", before)[-1]
        for name in candidates(self.debugger, before):
            if name.startswith(word) and name != word:
                yield Completion(name, start_position=-len(word))


def interact(debugger: Debugger, history: Path | None = None) -> None:
    """The REPL, until quit or Ctrl-D."""
    store = history_store(history or history_path())
    # completion on Tab only: no pop-up opening on every letter typed
    prompt = PromptSession(history=SafeHistory(store), completer=Completions(debugger), complete_while_typing=False)
    debugger.say('mlpvm debugger: "help" lists the commands.')
    while True:
        try:
            line = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:  # Ctrl-D is quit, as in gdb
            debugger.last_failed = False
            return
        try:
            with interrupts_to(debugger):
                debugger.execute(line)
        except Quit:
            return
