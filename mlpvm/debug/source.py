"""Source files of the program being debugged, as gdb sees them: which file a ``LINE`` means, which addresses a
line's code has, and the lines themselves for ``list``.

A line number alone means a line of the current source file (the main program's at first, then the file of
the last stop or ``list``); ``FILE:LINE`` names a file by its path, a path's tail or its base name.
"""

from __future__ import annotations

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
