"""Source files of the program being debugged, as gdb sees them: which file a ``LINE`` means, which addresses a
line's code has, and the lines themselves for ``list``.

A line number alone means a line of the current source file (the main program's at first, then the file of
the last stop or ``list``); ``FILE:LINE`` names a file by its path, a path's tail or its base name. ``Sources``
is the session's model of them, which the REPL, the DAP server and the Python API all ask.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from mlpvm.debug.records import DebugError
from mlpvm.program.asm.expand import LIBRARY
from mlpvm.program.sourcemap import Origin, SourceMap


def _table(source_map: SourceMap, harvard: bool) -> dict[int, Origin]:
    return source_map.slots if harvard else source_map.cells


def files(source_map: SourceMap, harvard: bool) -> list[str]:
    """The files the program's code and data came from, in order of first address."""
    seen: dict[str, None] = {}
    for _, origin in sorted(_table(source_map, harvard).items()):
        seen.setdefault(origin.file, None)
    return list(seen)


def main_file(source_map: SourceMap, harvard: bool, path: str | None) -> str | None:
    """The program's own file: the image's path when the map names it, else the first file not a library."""
    names = files(source_map, harvard)
    if path is not None:
        for name in names:
            if _same(name, path):
                return name
    return next((n for n in names if not n.startswith("<")), names[0] if names else None)


def _same(name: str, path: str) -> bool:
    try:
        return Path(name).resolve() == Path(path).resolve()
    except OSError:
        return name == path


def find_file(source_map: SourceMap, harvard: bool, name: str) -> str:
    """The file ``name`` means: the same path, else the one whose path ends with it (``lib/printdec.asq``)."""
    names = files(source_map, harvard)
    exact = [n for n in names if n == name or _same(n, name)]
    if exact:
        return exact[0]
    tail = [n for n in names if Path(n).parts[-len(Path(name).parts) :] == Path(name).parts]
    if len(tail) == 1:
        return tail[0]
    if len(tail) > 1:
        raise DebugError(f'"{name}" is ambiguous: {", ".join(tail)}')
    raise DebugError(f"No source file named {name}.")


def line_code(source_map: SourceMap, harvard: bool, file: str, line: int) -> tuple[int, list[int]]:
    """The first line at or after ``line`` in ``file`` that has code, and its addresses (gdb moves a breakpoint
    on a comment or blank line to the next line with code). ``code``: the addresses that start instructions."""
    if line < 1:
        raise DebugError(f"No line {line} in {file}: lines start at 1.")
    code = None if harvard else source_map.code
    by_line: dict[int, list[int]] = {}
    for address, o in _table(source_map, harvard).items():
        if o.file == file and o.line >= line and (code is None or address in code):
            by_line.setdefault(o.line, []).append(address)
    if not by_line:
        raise DebugError(f'Line {line} is out of range for "{file}" (no code at or after it).')
    found = min(by_line)
    return found, sorted(by_line[found])


@cache
def _read(file: str, suffix: str) -> tuple[str, ...] | None:
    path = LIBRARY / f"{file[1:-1]}{suffix}" if file.startswith("<") and file.endswith(">") else Path(file)
    try:
        return tuple(path.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None


def lines(source_map: SourceMap, harvard: bool, file: str, suffix: str) -> list[str]:
    """The text of ``file``, line by line: from the file itself, else (moved or deleted since) the lines the
    map kept, blank between them."""
    text = _read(file, suffix)  # suffix: the machine's, which names its libraries (<std> is std.asq)
    if text is not None:
        return list(text)
    kept = {o.line: o.text for o in _table(source_map, harvard).values() if o.file == file}
    return [kept.get(n, "") for n in range(1, max(kept, default=0) + 1)]


class Sources:
    """The program's source lines, as the debugger's model keeps them for every front end (REPL, DAP, API): a
    line -> the addresses of its code, an address -> its file and line, and the current source file, where a
    bare ``LINE`` is (the main program's at first, then the file of the last stop or ``list``)."""

    def __init__(self, source_map: SourceMap | None, harvard: bool, path: str | None, suffix: str):
        self.map, self.harvard, self.path, self.suffix = source_map, harvard, path, suffix
        self._current: str | None = None

    def _need(self) -> SourceMap:
        if not self.map:
            raise DebugError("No source lines (an image without a map): use *ADDR for an address.")
        return self.map

    def file(self, name: str | None = None) -> str:
        """The file ``name`` means, or without it the current source file."""
        smap = self._need()
        if name is not None:
            return find_file(smap, self.harvard, name)
        if self._current is None:
            self._current = main_file(smap, self.harvard, self.path)
        if self._current is None:
            raise DebugError("No source file: the map names none.")
        return self._current

    def look_at(self, file: str) -> None:
        """``list`` showed ``file``: a bare ``LINE`` is now in it (a library's too)."""
        self._current = file

    def seen(self, address: int) -> bool:
        """A stop or a selected frame at ``address``: its file becomes the current one, unless it is a library
        (which, like code without debug info, is looked at only when listed). True if it did."""
        here = self.line(address)
        if here is None or here[0].startswith("<"):
            return False
        self._current = here[0]
        return True

    def line(self, address: int) -> tuple[str, int] | None:
        """The source file and line of the instruction (or data) at ``address``, if the map knows it."""
        origin = self.map.origin(address, self.harvard) if self.map else None
        return None if origin is None else (origin.file, origin.line)

    def place(self, spec: str) -> tuple[str, int] | None:
        """The file and line ``LINE`` (in the current file) or ``FILE:LINE`` names; None for another spec."""
        m = re.fullmatch(r"(?:(?P<file>[^\s:]+):)?(?P<line>\d+)", spec.strip())
        return None if m is None else (self.file(m.group("file")), int(m.group("line")))

    def code(self, file: str, line: int) -> int:
        """The first instruction of ``line`` in ``file``, or of the next line with code (as gdb moves a
        breakpoint on a comment or blank line)."""
        return line_code(self._need(), self.harvard, file, line)[1][0]

    def span(self, address: int) -> list[int]:
        """The addresses of the source line ``address`` belongs to (``info line``), in order; [] if none."""
        here = self.line(address)
        return (
            []
            if here is None
            else sorted(a for a, o in _table(self.map, self.harvard).items() if (o.file, o.line) == here)
        )

    def lines(self, file: str) -> list[str]:
        """The text of ``file``, line by line (``lines``)."""
        return lines(self._need(), self.harvard, file, self.suffix)
