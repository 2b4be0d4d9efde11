"""gdb's argument syntax, as the REPL's commands read it: a command line's name and argument, counts, print's
``/F`` and ``x``'s ``/NFU`` formats, value-history references (``$``, ``$$N``), ``echo``'s C escapes, command
files (``-x FILE``, ``source FILE``). Parsing only: what the commands do is in ``commands`` and the session."""

from __future__ import annotations

import re
from pathlib import Path

from mlpvm.debug.records import DebugError
from mlpvm.errors import MlpvmError, shown
from mlpvm.files import MAX_TEXT, read_bytes

_FORMATS, _UNITS, _GDB_ONLY = "duxotcsi", "bhwg", "afz"  # x/NFU: gdb's letters, and those of gdb's not here


def examine_format(arg: str) -> tuple[int, str, str, str]:
    """``/NFU ADDR`` as gdb reads it: every letter after the count is a format or a unit (g, gdb's giant word,
    is one cell here, as w is), any order, the last of each kind winning; another letter is gdb's error."""
    m = re.fullmatch(r"(?:/(\S*))?\s*(.*)", arg.strip(), re.DOTALL)
    spec, where = (m.group(1) or ""), m.group(2)
    parts = re.fullmatch(r"(\d*)([A-Za-z]*)", spec)
    if parts is None:
        raise DebugError(f"bad format: x/{spec} (x/NFU ADDR, F one of d u x o t c s i)")
    fmt, unit = "d", ""
    for letter in parts.group(2):
        if letter in _FORMATS:
            fmt = letter
        elif letter in _UNITS:
            unit = letter
        elif letter in _GDB_ONLY:
            raise DebugError(f'Format "{letter}" is gdb\'s, not available here (F one of d u x o t c s i).')
        else:
            raise DebugError(f'Undefined output format "{letter}".')
    return int(parts.group(1) or 1), fmt, unit, where


def print_format(arg: str, empty_ok: bool = False, letters: str = "duxotc") -> tuple[str, str]:
    """``/x expr`` -> ("x", "expr"): print's format letter."""
    m = re.fullmatch(rf"(?:/([{letters}]))?\s*(.*)", arg.strip(), re.S)
    if not m or not (m.group(2) or empty_ok):
        raise DebugError(f"expected [/F] EXPR, F one of {' '.join(letters)}")
    return m.group(1) or "", m.group(2)


HISTORY = re.compile(r"\$\$?\d*(?![\w$])")  # gdb's value history: $, $$, $N, $$N (not $pc)


def split(line: str) -> tuple[str, str]:
    """``x/4d 12`` -> ("x", "/4d 12"); ``b loop`` -> ("b", "loop")."""
    m = re.match(r"([A-Za-z?][\w-]*)(.*)", line)
    if not m:
        return line, ""
    return m.group(1), m.group(2).strip() if not m.group(2).startswith("/") else m.group(2)


MAX_SOURCE_DEPTH = 16  # ``source`` inside ``source``: deep enough for any script, not for one sourcing itself


def script_lines(path: str) -> list[str]:
    """A command file's lines (``-x FILE``, ``source FILE``); one that is not UTF-8 text is bad input, named
    with the line."""
    data = read_bytes(path, MAX_TEXT, "a debugger script")  # a regular file, bounded: never /dev/zero
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise MlpvmError(f"{path}:{line}: not UTF-8 text (byte {data[e.start]:#04x})") from None


_C_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.|$)", re.S)
_C_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b"}


def c_escapes(text: str) -> str:
    """gdb's echo: C escapes decoded; any other escaped character is itself (``\\ `` a space); a backslash at
    the end is nothing."""

    def one(m: re.Match) -> str:
        code = m.group(1)
        if not code:
            return ""
        if code[0] == "x" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        return _C_SIMPLE.get(code, code)

    return _C_ESCAPE.sub(one, text)


def relative(path: object) -> str:
    """A file name as short as it can be said: relative to the working directory when it is below it."""
    try:
        return shown(Path(str(path)).resolve().relative_to(Path.cwd()))
    except ValueError:
        return shown(path)


def steps(text: str, name: str) -> int:
    """A step count: at least 1 (gdb runs nothing on 0, which here is said rather than done silently)."""
    n = count(text)
    if n < 1:
        raise DebugError(f"{name} needs a count of at least 1")
    return n


def count(text: str, default: int | None = 1) -> int:
    text = text.strip()
    if not text:
        if default is None:
            raise DebugError("a number is needed")
        return default
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise DebugError(f"expected a number, not {text!r}")
    return int(text)
