"""Emit: the last stage of the assembler. Evaluates every cell (and paper slot) and builds the image with its
source map."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mlpvm import machines
from mlpvm.errors import AsmError
from mlpvm.machines.config import fits
from mlpvm.program.asm.expr import evaluate
from mlpvm.program.asm.layout import Assembly, Cell
from mlpvm.program.image import Image
from mlpvm.program.sourcemap import SourceMap

MAX_NESTING = 200  # constants defined in terms of constants, deep: far beyond use, well within Python's stack


class Symbols(Mapping[str, int]):
    """Labels, and constants evaluated when first needed: a constant may use labels and other constants,
    but not itself."""

    def __init__(self, lay: Assembly):
        self.labels = {name: s.value for name, s in lay.symbols.items()}
        self.constants = lay.constants
        self.values: dict[str, int] = {}
        self.pending: list[str] = []  # constants being evaluated, outermost first

    def __getitem__(self, name: str) -> int:
        if name in self.labels:
            return self.labels[name]
        if name not in self.values:
            const = self.constants[name]
            if name in self.pending:
                chain = " -> ".join([*self.pending[self.pending.index(name) :], name])
                raise AsmError.at(const.origin, f"constant {name!r} is defined in terms of itself ({chain})")
            if len(self.pending) >= MAX_NESTING:
                raise AsmError.at(const.origin, f"constants defined in terms of others more than {MAX_NESTING} deep")
            self.pending.append(name)
            self.values[name] = evaluate(const.expr, self, None)
            self.pending.pop()
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.labels or name in self.constants

    def __iter__(self) -> Iterator[str]:
        yield from self.labels
        yield from self.constants

    def __len__(self) -> int:
        return len(self.labels) + len(self.constants)


def emit(
    lay: Assembly, path: str, bits: int, machine: str = machines.DEFAULT_MACHINE, cells: int | None = None
) -> Image:
    """The image of ``lay``; AsmError at an undefined name, a value that is not a ``bits``-bit word (signed or
    unsigned, as the loader accepts), or a paper operand that is not an address of its kind."""
    symbols = Symbols(lay)
    for name in lay.constants:
        symbols[name]  # every constant once, so that a bad one is reported even if unused
    words = [_word(cell, symbols, bits) for cell in lay.cells]
    source_map = SourceMap(
        cells={c.address: c.origin for c in lay.cells},
        labels={name: s.value for name, s in lay.symbols.items() if s.space == "cell"},
        code=set(lay.code),
    )
    where = [(c.origin.line, c.origin.col) for c in lay.cells]
    if not machines.get(machine).harvard:
        return Image(machine, words, path=path, where=where, source_map=source_map)
    slots = [tuple(_operand(lay, c, k, symbols, cells) for k, c in enumerate(s.operands)) for s in lay.slots]
    source_map.slots = {s.index: s.origin for s in lay.slots}
    source_map.slot_labels = {name: s.value for name, s in lay.symbols.items() if s.space == "slot"}
    return Image(machine, words, slots, path, where=where, source_map=source_map)


def _word(cell: Cell, symbols: Symbols, bits: int) -> int:
    value = evaluate(cell.expr, symbols, cell.anchor)
    if not fits(value, bits):
        lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
        raise AsmError.at(cell.origin, f"{value} does not fit in a {bits}-bit word ({lo}..{hi})")
    return value


def _operand(lay: Assembly, cell: Cell, k: int, symbols: Symbols, cells: int | None) -> int:
    """Operand ``k`` (a, b or c) of a paper slot: a and b address data cells, c a slot."""
    space, operand = ("cell", "ab"[k]) if k < 2 else ("slot", "c")
    for ref in cell.expr.names():
        label = lay.symbols.get(ref.name)
        if label is not None and label.space != space:
            what = "an instruction slot" if label.space == "slot" else "a data cell"
            raise AsmError.at(ref.origin, f"{ref.name!r} names {what}, but operand {operand} is {_kind(space)}")
    value = evaluate(cell.expr, symbols, cell.anchor)
    top = cells if space == "cell" and cells is not None else None
    if value < 0 or (top is not None and value >= top):
        bound = f"0..{top - 1}" if top is not None else ">= 0"
        raise AsmError.at(cell.origin, f"operand {operand} is {_kind(space)} ({bound}), not {value}")
    return value


def _kind(space: str) -> str:
    return "a data cell" if space == "cell" else "an instruction slot"
