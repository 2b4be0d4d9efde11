"""Where each word of a program came from: the assembler writes it, ``run``, ``disasm`` and the debugger
read it to name source lines and labels.

Addresses are memory cells for ``subleq``. For ``paper`` programs, instruction slots and data cells are two
address spaces: ``slots`` and ``slot_labels`` describe the slots, ``cells`` and ``labels`` the data.

On disk (``mlpvm asm --map``) a map is JSON, format ``mlpvm-sourcemap/1``::

    {"format": "mlpvm-sourcemap/1",
     "cells": {"12": {"file": "hello.asq", "line": 5, "col": 3, "text": "a:0 (-1)"}, ...},
     "labels": {"a": 12, ...}, "code": [0, 3, ...], "slots": {...}, "slot_labels": {...}}

A cell written by a macro maps to the line that calls the macro, and its origin's ``macro`` (a ``"macro"`` key,
present only then) says which macro and which of its lines: ``"MOV at <std>:40"``, outermost call first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlpvm.errors import ImageError
from mlpvm.files import atomic_write, parse_json, read_text

FORMAT = "mlpvm-sourcemap/1"


@dataclass(frozen=True)
class Origin:
    """A place in a source file."""

    file: str
    line: int  # 1-based
    col: int  # 1-based
    text: str  # the whole source line, without its newline
    macro: str = ""  # a macro's cell: "NAME at FILE:LINE", its line in the macro (nested: "A at ... > B at ...")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        """``file:line``, and for a macro's cell the macros that wrote it: ``prog.asq:7 (JEQ > JGE)``."""
        if not self.macro:
            return str(self)
        return f"{self} ({' > '.join(part.split(' at ')[0] for part in self.macro.split(' > '))})"


@dataclass
class SourceMap:
    cells: dict[int, Origin] = field(default_factory=dict)  # address -> where its word was written
    labels: dict[str, int] = field(default_factory=dict)  # label -> address
    slots: dict[int, Origin] = field(default_factory=dict)  # paper: slot -> where its instruction was written
    slot_labels: dict[str, int] = field(default_factory=dict)  # paper: label -> slot
    code: set[int] = field(default_factory=set)  # addresses where the source wrote an instruction (3 cells)

    def labels_at(self, address: int, slots: bool = False) -> list[str]:
        """Every label naming ``address`` (a slot when ``slots``), in definition order."""
        table = self.slot_labels if slots else self.labels
        return [name for name, a in table.items() if a == address]

    def origin(self, address: int, slots: bool = False) -> Origin | None:
        return (self.slots if slots else self.cells).get(address)

    def resolve(self, name: str, slots: bool = False) -> int | None:
        """The address of a label, or None."""
        return (self.slot_labels if slots else self.labels).get(name)

    def where(self, address: int, slots: bool = False) -> str | None:
        """``address`` for a message: the nearest label at or before it and the source line, as in
        ``loop+3, hello.asq:7``; None when the map does not know the address."""
        origin = self.origin(address, slots)
        if origin is None:
            return None
        table = self.slot_labels if slots else self.labels
        below = [(a, name) for name, a in table.items() if a <= address]
        if not below:
            return str(origin)
        a, name = max(below, key=lambda p: p[0])  # the first-defined label wins among equals
        return f"{name}{f'+{address - a}' if address > a else ''}, {origin}"

    def to_json(self) -> dict:
        def origins(table: dict[int, Origin]) -> dict[str, dict]:
            return {str(a): {k: v for k, v in asdict(o).items() if v or k != "macro"} for a, o in sorted(table.items())}

        return {
            "format": FORMAT,
            "cells": origins(self.cells),
            "labels": dict(self.labels),
            "code": sorted(self.code),
            "slots": origins(self.slots),
            "slot_labels": dict(self.slot_labels),
        }

    @classmethod
    def from_json(cls, doc: object, path: str = "<map>") -> SourceMap:
        """The map stored in ``doc`` (as written by ``to_json``); ImageError naming ``path`` if it is not one."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ImageError(f'not a source map (expected "format": "{FORMAT}")', path)
        try:
            return cls(
                _origins(_table(doc, "cells", dict)),
                _addresses(_table(doc, "labels", dict)),
                _origins(_table(doc, "slots", dict)),
                _addresses(_table(doc, "slot_labels", dict)),
                {_address(a) for a in _table(doc, "code", list)},
            )
        except KeyError as e:
            raise ImageError(f"malformed source map: an origin without {e}", path) from None
        except (TypeError, ValueError) as e:
            raise ImageError(f"malformed source map: {e}", path) from None


MAX_ADDRESS = 1 << 32  # addresses are below 2^32 cells or slots (the largest memory a configuration has)


def _table(doc: dict, key: str, kind: type) -> dict | list:
    value = doc.get(key, kind())
    if not isinstance(value, kind):
        raise TypeError(f'"{key}" must be a JSON {"object" if kind is dict else "list"}')
    return value


def _int(v: object, least: int = 0, what: str = "an integer") -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not least <= v < MAX_ADDRESS:
        raise TypeError(f"{v!r} is not {what}")
    return v


def _address(v: object) -> int:
    return _int(v, 0, f"an address 0..{MAX_ADDRESS - 1}")


def _origins(table: dict) -> dict[int, Origin]:
    out = {}
    for key, o in table.items():
        if not isinstance(o, dict):
            raise TypeError(f"cell {key}: an origin is a JSON object")
        address = _address(int(key) if key.isascii() and key.isdigit() and len(key) < 12 else key)
        line, col = _int(o["line"], 1, "a line number >= 1"), _int(o["col"], 1, "a column >= 1")
        macro = o.get("macro", "")
        if not all(isinstance(v, str) for v in (o["file"], o["text"], macro)):
            raise TypeError(f"cell {key}: file, text and macro must be strings")
        out[address] = Origin(o["file"], line, col, o["text"], macro)
    return out


def _addresses(table: dict) -> dict[str, int]:
    return {str(name): _address(a) for name, a in table.items()}


def save(source_map: SourceMap, path: str | Path, inputs: tuple[str | Path, ...] = ()) -> None:
    """Writes ``source_map`` as JSON, atomically (never over one of ``inputs``)."""
    data = json.dumps(source_map.to_json(), indent=1).encode("utf-8") + b"\n"
    atomic_write(path, lambda f: f.write(data), inputs)


def load(path: str | Path) -> SourceMap:
    """Reads a map written by ``save`` (``mlpvm asm --map``)."""

    doc = parse_json(read_text(path, "a source map"), str(path))
    return SourceMap.from_json(doc, str(path))
