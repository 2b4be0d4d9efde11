"""Assembly: the stage after macro expansion. Gives every item its address, fills in the operands that ``A``
and ``A B`` leave out, spreads strings over cells, and defines the labels and constants.

On the ``paper`` machine code and data are two address spaces: each instruction fills one slot (``?`` in it
is the next slot), each data item one or more cells, and a label names a slot or a cell, whichever its
statement fills.

Nothing is evaluated yet: a label or a constant may be used before it is defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpvm import machines
from mlpvm.errors import AsmError
from mlpvm.program.asm.expr import Expr, Here, Num
from mlpvm.program.asm.parser import Array, Label, Statement, Str
from mlpvm.program.sourcemap import Origin


@dataclass(frozen=True)
class Cell:
    address: int
    expr: Expr
    origin: Origin  # where the item (or the character of a string) stands
    anchor: int  # the cell whose next address ``?`` means: itself, except in the copy of A that ``A`` implies


@dataclass(frozen=True)
class Slot:
    """A paper instruction: three operands, each evaluated as a cell anchored at the slot (``?`` = next)."""

    index: int
    operands: tuple[Cell, Cell, Cell]
    origin: Origin


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    origin: Origin  # where it is defined
    space: str = "cell"  # cell | slot (paper instructions)


@dataclass(frozen=True)
class Constant:
    name: str
    expr: Expr
    origin: Origin


@dataclass
class Assembly:
    cells: list[Cell] = field(default_factory=list)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    code: set[int] = field(default_factory=set)  # addresses where an instruction starts
    slots: list[Slot] = field(default_factory=list)  # paper only
    constants: dict[str, Constant] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.cells)

    def defined_at(self, name: str) -> Origin | None:
        known = self.symbols.get(name) or self.constants.get(name)
        return known.origin if known else None

    def define(self, label: Label, value: int, space: str = "cell") -> None:
        self._fresh(label.name, label.origin, "label")
        self.symbols[label.name] = Symbol(label.name, value, label.origin, space)

    def constant(self, st: Statement) -> None:
        self._fresh(st.name, st.origin, "constant")
        self.constants[st.name] = Constant(st.name, st.items[0].value, st.origin)

    def _fresh(self, name: str, origin: Origin, what: str) -> None:
        first = self.defined_at(name)
        if first is not None:
            raise AsmError.at(origin, f"duplicate {what} {name!r} (first defined at {first}:{first.col})")

    def put(self, expr: Expr, origin: Origin, cells: int, anchor: int | None = None) -> None:
        self.room(1, origin, cells)
        self.cells.append(Cell(self.size, expr, origin, self.size if anchor is None else anchor))

    def room(self, n: int, origin: Origin, cells: int) -> None:
        if self.size + n > cells:
            end = self.size + n - 1
            raise AsmError.at(origin, f"the program does not fit in {cells} cells: this item reaches cell {end}")


def layout(statements: list[Statement], cells: int, machine: str = machines.DEFAULT_MACHINE) -> Assembly:
    """Addresses for ``statements`` in a memory of ``cells`` cells; AsmError at the first cell that does not
    fit, at a duplicate name, at an instruction that is not one, or at a directive no earlier stage handled."""
    out, harvard = Assembly(), machines.get(machine).harvard
    for st in statements:
        if st.kind == "directive":
            raise AsmError.at(st.origin, f"unknown directive '.{st.name}' (for data, put a space after the '.')")
        if st.kind == "constant":
            out.constant(st)
        elif st.kind == "code" and harvard:
            _slot(out, st)
        else:
            if st.kind == "code":
                _check_instruction(st)
                if st.items:
                    out.code.add(out.size)
            _cells(out, st, cells)
    return out


def _check_instruction(st: Statement) -> None:
    for item in st.items:
        if isinstance(item.value, (Str, Array)):
            what = "a string" if isinstance(item.value, Str) else "an array [N]"
            raise AsmError.at(item.origin, f"{what} is data: put it on a line that starts with '.'")
    if len(st.items) > 3:
        first = st.items[0].value
        name = first.bare_name() if isinstance(first, Expr) else None
        hint = f" (and no macro is named {name!r})" if name else ""
        raise AsmError.at(st.items[3].origin, f"an instruction has at most 3 items (A B C); this is a 4th{hint}")


def _cells(out: Assembly, st: Statement, cells: int) -> None:
    """A statement whose items fill memory cells: a subleq instruction, or data."""
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


def _slot(out: Assembly, st: Statement) -> None:
    """A paper instruction: one slot, named by the labels before it (and after it: the next slot)."""
    _check_instruction(st)
    index = len(out.slots)
    if st.items:
        for item in st.items[1:]:
            if item.labels:
                raise AsmError.at(item.labels[0].origin, "a label names a whole slot: put it before the instruction")
        for label in st.items[0].labels:
            out.define(label, index, "slot")
        exprs = [item.value for item in st.items]
        origins = [item.origin for item in st.items]
        if len(exprs) == 1:
            exprs.append(exprs[0])
            origins.append(origins[0])
        if len(exprs) == 2:
            exprs.append(Expr(((1, Here(st.origin)),), st.origin))
            origins.append(origins[-1])
        operands = tuple(Cell(index, e, o, index) for e, o in zip(exprs, origins))
        out.slots.append(Slot(index, operands, st.items[0].origin))
    for label in st.trailing:
        out.define(label, len(out.slots), "slot")


def _number(value: int, origin: Origin) -> Expr:
    return Expr(((1, Num(value, origin)),), origin)


def _implied(out: Assembly, st: Statement, cells: int) -> None:
    """``A`` is ``A A ?`` and ``A B`` is ``A B ?``. The copy of A has A's value, ``?`` in it included (as in
    sqasm); the filled-in cells point at the item that implies them."""
    if len(st.items) == 1:
        first = st.items[0]
        out.put(first.value, first.origin, cells, anchor=out.size - 1)
    if len(st.items) < 3:
        out.put(Expr(((1, Here(st.origin)),), st.origin), st.items[-1].origin, cells)
