"""Where each word of a program came from: the assembler writes it, ``run``, ``disasm`` and the debugger
read it to name source lines and labels.

Addresses are memory cells for ``subleq``. For ``paper`` programs, instruction slots and data cells are two
address spaces: ``slots`` and ``slot_labels`` describe the slots, ``cells`` and ``labels`` the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Origin:
    """A place in a source file."""

    file: str
    line: int  # 1-based
    col: int  # 1-based
    text: str  # the whole source line, without its newline

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class SourceMap:
    cells: dict[int, Origin] = field(default_factory=dict)  # address -> where its word was written
    labels: dict[str, int] = field(default_factory=dict)  # label -> address
    slots: dict[int, Origin] = field(default_factory=dict)  # paper: slot -> where its instruction was written
    slot_labels: dict[str, int] = field(default_factory=dict)  # paper: label -> slot

    def labels_at(self, address: int, slots: bool = False) -> list[str]:
        """Every label naming ``address`` (a slot when ``slots``), in definition order."""
        table = self.slot_labels if slots else self.labels
        return [name for name, a in table.items() if a == address]

    def origin(self, address: int, slots: bool = False) -> Origin | None:
        return (self.slots if slots else self.cells).get(address)

    def resolve(self, name: str, slots: bool = False) -> int | None:
        """The address of a label, or None."""
        return (self.slot_labels if slots else self.labels).get(name)
