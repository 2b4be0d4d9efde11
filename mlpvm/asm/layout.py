"""Layout: the third stage of the assembler. Gives every item its address, fills in the operands that
``A`` and ``A B`` leave out, spreads strings over cells, and defines the labels.

Nothing is evaluated yet: a label may be used before it is defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpvm.asm.expr import Expr, Here, Num
from mlpvm.asm.parser import Array, Label, Statement, Str
from mlpvm.errors import AsmError
from mlpvm.sourcemap import Origin


@dataclass(frozen=True)
class Cell:
    address: int
    expr: Expr
    origin: Origin  # where the item (or the character of a string) stands
    anchor: int  # the cell whose next address ``?`` means: itself, except in the copy of A that ``A`` implies


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    origin: Origin  # where it is defined


@dataclass
class Layout:
    cells: list[Cell] = field(default_factory=list)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    code: set[int] = field(default_factory=set)  # addresses where an instruction starts

    @property
    def size(self) -> int:
        return len(self.cells)

    def define(self, label: Label, value: int) -> None:
        if label.name in self.symbols:
            first = self.symbols[label.name].origin
            raise AsmError.at(label.origin, f"duplicate label {label.name!r} (first defined at {first}:{first.col})")
        self.symbols[label.name] = Symbol(label.name, value, label.origin)

    def put(self, expr: Expr, origin: Origin, cells: int, anchor: int | None = None) -> None:
        self.room(1, origin, cells)
        self.cells.append(Cell(self.size, expr, origin, self.size if anchor is None else anchor))

    def room(self, n: int, origin: Origin, cells: int) -> None:
        if self.size + n > cells:
            end = self.size + n - 1
            raise AsmError.at(origin, f"the program does not fit in {cells} cells: this item reaches cell {end}")


def layout(statements: list[Statement], cells: int) -> Layout:
    """Addresses for ``statements`` in a memory of ``cells`` cells; AsmError at the first cell that does not
    fit, at a duplicate label, or at a directive no earlier stage handled."""
    out = Layout()
    for st in statements:
        if st.kind == "directive":
            raise AsmError.at(st.origin, f"unknown directive '.{st.name}' (for data, put a space after the '.')")
        if st.kind == "code" and st.items:
            out.code.add(out.size)
        for k, item in enumerate(st.items):
            for label in item.labels:
                out.define(label, out.size)
            if isinstance(item.value, Str):
                for code, where in item.value.chars:
                    out.put(_number(code, where), where, cells)
            elif isinstance(item.value, Array):
                out.room(item.value.size, item.origin, cells)  # before the loop: N may be huge
                for _ in range(item.value.size):
                    out.put(_number(0, item.origin), item.origin, cells)
            else:
                out.put(item.value, item.origin, cells)
            if st.kind == "code" and k == len(st.items) - 1:
                _implied(out, st, cells)
        for label in st.trailing:
            out.define(label, out.size)
    return out


def _number(value: int, origin: Origin) -> Expr:
    return Expr(((1, Num(value, origin)),), origin)


def _implied(out: Layout, st: Statement, cells: int) -> None:
    """``A`` is ``A A ?`` and ``A B`` is ``A B ?``. The copy of A has A's value, ``?`` in it included (as in
    sqasm); the filled-in cells point at the item that implies them."""
    if len(st.items) == 1:
        first = st.items[0]
        out.put(first.value, first.origin, cells, anchor=out.size - 1)
    if len(st.items) < 3:
        out.put(Expr(((1, Here(st.origin)),), st.origin), st.items[-1].origin, cells)
