"""The rows of a punchcard column: named fields, each a range of rows, persistent (the machine's state, kept
between passes) or temporary (scratch values of one pass, zero between passes)."""

from __future__ import annotations


class Rows:
    """Named row ranges in the order they were added; ``temps`` are cleared at the end of every pass."""

    def __init__(self) -> None:
        self.fields: dict[str, range] = {}
        self.temps: list[str] = []
        self.size = 0

    def add(self, name: str, width: int = 1, temp: bool = False) -> range:
        rows = range(self.size, self.size + width)
        self.fields[name] = rows
        self.size += width
        if temp:
            self.temps.append(name)
        return rows

    def __getitem__(self, name: str) -> range:
        return self.fields[name]

    def row(self, name: str, i: int = 0) -> int:
        """Row ``i`` of field ``name`` (bit i of a word, least significant first)."""
        return self.fields[name][i]

    def temp_rows(self) -> list[int]:
        return [r for name in self.temps for r in self.fields[name]]
