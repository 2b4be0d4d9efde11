"""Macro expansion and ``.include``: the stage between ``parse`` and ``layout``, statements in, statements out.

- ``.include "file.asq"`` reads a file relative to the including one; ``.include <std>`` a library shipped in
  ``mlpvm/program/asm/lib/`` (``std.asq``, or ``std.pasq`` for the paper machine). A file is included once: a second
  ``.include`` of it adds nothing, and one that includes itself, directly or not, is an error naming the chain.
- ``.macro NAME p1, p2 ... .endm`` defines a macro; a statement that starts with its name calls it, with one
  argument (an item) per parameter. Its body is copied with each parameter replaced by the argument's value
  (as a whole: ``-p`` with ``p`` = ``a+1`` is ``-(a+1)``); a parameter used as a label defines the name passed.
  Every other label or constant the body defines is local to the expansion (``loop`` in the third call of
  ``PRINT`` becomes ``loop@PRINT3``), so a macro can be used any number of times. Macros may call macros
  defined before they are called.

Every cell an expansion makes keeps the place of the call (file, line, column): the source map and errors
name the line that calls the macro, and ``Origin.macro`` which line of which macro wrote the cell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import count
from pathlib import Path

from mlpvm import machines
from mlpvm.errors import AsmError, ImageError
from mlpvm.files import read_text
from mlpvm.program.asm.expr import Atom, Expr, Here, Num, Ref
from mlpvm.program.asm.parser import Array, Item, Label, Statement, Str, parse
from mlpvm.program.sourcemap import Origin

LIBRARY = Path(__file__).parent / "lib"
MAX_NESTING = 64  # macros expanding macros
# Statements that expansions may make before a runaway (a macro calling itself twice, ...) is assumed: one
# per cell of memory, plus some for statements that make no cell, and never more than a million.
MIN_BUDGET, MAX_BUDGET = 10_000, 1_000_000


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...]
    body: tuple[Statement, ...]
    origin: Origin  # the .macro line


def expand(
    statements: list[Statement], path: str, machine: str = machines.DEFAULT_MACHINE, cells: int = 1 << 16
) -> list[Statement]:
    """``statements`` of the source ``path`` with includes read and macro calls replaced by their bodies."""
    return Expander(path, machine, cells).run(statements)


class Expander:
    def __init__(self, path: str, machine: str, cells: int):
        self.machine = machine
        self.macros: dict[str, Macro] = {}
        self.calls: dict[str, count] = {}  # per macro: numbers its expansions, for unique local labels
        root = Path(path)
        self.dirs = {path: root.parent}  # where each source's relative includes are resolved
        self.chain = [(_key(root), path)]  # the files being read: (identity, name shown)
        self.included: set[str] = set()
        self.budget = min(MIN_BUDGET + cells, MAX_BUDGET)
        self.out: list[Statement] = []

    def run(self, statements: list[Statement]) -> list[Statement]:
        self._statements(statements, 0)
        return self.out

    def _statements(self, statements: list[Statement] | tuple[Statement, ...], depth: int) -> None:
        i = 0
        while i < len(statements):
            st = statements[i]
            i += 1
            if st.kind == "directive" and st.name == "macro":
                i = self._define(statements, i - 1)
            elif st.kind == "directive" and st.name == "endm":
                raise AsmError.at(st.origin, "'.endm' without a '.macro' to close")
            elif st.kind == "directive" and st.name == "include":
                self._include(st, depth)
            elif (macro := self._called(st)) is not None:
                self._call(macro, st, depth)
            else:
                self.out.append(st)

    # --- .include ---------------------------------------------------------------------------------------------

    def _include(self, st: Statement, depth: int) -> None:
        path, shown = self._target(st)
        key = _key(path)
        keys = [k for k, _ in self.chain]
        if key in keys:
            cycle = " -> ".join([name for _, name in self.chain[keys.index(key) :]] + [shown])
            raise AsmError.at(st.origin, f"include cycle: {cycle}")
        if key in self.included:
            return

        try:
            text = read_text(path)
        except ImageError as e:
            raise AsmError.at(st.origin, f"cannot include {shown}: {e.message}") from None
        self.dirs[shown] = path.parent
        self.chain.append((key, shown))
        self._statements(parse(text, shown), depth)
        self.chain.pop()
        self.included.add(key)

    def _target(self, st: Statement) -> tuple[Path, str]:
        """The file a ``.include`` names, and the name errors and source maps give it."""
        args = st.args
        if len(args) != 1 or args[0].kind not in ("string", "library"):
            raise AsmError.at(st.origin, '.include takes one "file" (relative to this one) or <library>')
        arg = args[0]
        if arg.kind == "library":
            suffix = machines.get(self.machine).source_suffix  # <std> is std.asq on subleq, std.pasq on paper
            path = LIBRARY / f"{arg.value}{suffix}"
            if not path.is_file():
                known = ", ".join(sorted(f"<{p.stem}>" for p in LIBRARY.glob(f"*{suffix}")))
                raise AsmError.at(arg.origin, f"no library {arg.text} for the {self.machine} machine (known: {known})")
            return path, arg.text
        name = "".join(chr(code) for code, _ in arg.value)
        if not name.strip() or "\0" in name:
            raise AsmError.at(arg.origin, ".include needs a file name")
        path = self.dirs.get(st.origin.file, Path(st.origin.file).parent) / name
        return path, str(path)

    # --- .macro -----------------------------------------------------------------------------------------------

    def _define(self, statements, start: int) -> int:
        """Records the macro whose ``.macro`` line is ``statements[start]``; returns the index after ``.endm``."""
        head = statements[start]
        name, params = _signature(head)
        if name in self.macros:
            first = self.macros[name].origin
            raise AsmError.at(head.args[0].origin, f"macro {name!r} is already defined (at {first}:{first.col})")
        for end in range(start + 1, len(statements)):
            st = statements[end]
            if st.kind != "directive":
                continue
            if st.name == "endm":
                if st.args:
                    raise AsmError.at(st.args[0].origin, "'.endm' takes nothing after it")
                self.macros[name] = Macro(name, params, tuple(statements[start + 1 : end]), head.origin)
                return end + 1
            what = "another macro" if st.name == "macro" else f"'.{st.name}'"
            raise AsmError.at(st.origin, f"{what} cannot stand inside macro {name!r} (close it with .endm first)")
        raise AsmError.at(head.origin, f"macro {name!r} has no '.endm'")

    def _called(self, st: Statement) -> Macro | None:
        """The macro ``st`` calls: a code statement that starts with a macro's name."""
        if st.kind != "code" or not st.items or not isinstance(st.items[0].value, Expr):
            return None
        name = st.items[0].value.bare_name()
        return self.macros.get(name) if name else None

    def _call(self, macro: Macro, st: Statement, depth: int) -> None:
        call = st.items[0].origin
        args = st.items[1:]
        if len(args) != len(macro.params):
            want = f"{len(macro.params)} argument{'s' * (len(macro.params) != 1)}"
            params = f" ({', '.join(macro.params)})" if macro.params else ""
            raise AsmError.at(call, f"macro {macro.name} takes {want}{params}, not {len(args)}")
        for arg in args:
            if arg.labels:
                raise AsmError.at(arg.labels[0].origin, "a label cannot name a macro argument")
        if depth >= MAX_NESTING:  # named at the outermost call: the chain of calls would be 64 long
            message = f"macros call macros more than {MAX_NESTING} deep (does {macro.name} call itself?)"
            raise AsmError.at(replace(call, macro=""), message)
        number = next(self.calls.setdefault(macro.name, count(1)))
        body = Instance(macro, number, call, {p: a for p, a in zip(macro.params, args)}).statements()
        self.budget -= len(body)
        if self.budget < 0:
            raise AsmError.at(call, "macro expansion makes far more statements than memory holds (a runaway?)")
        # Labels before the call name the first cell (or slot) the expansion fills, labels after it the next.
        kinds = [b.kind for b in body if b.kind in ("code", "data") and b.items] or ["code"]
        if st.items[0].labels:
            self.out.append(Statement(kinds[0], (), st.items[0].labels, st.origin))
        self._statements(body, depth + 1)
        if st.trailing:
            self.out.append(Statement(kinds[-1], (), st.trailing, st.origin))


def _signature(head: Statement) -> tuple[str, tuple[str, ...]]:
    """``.macro NAME p1, p2``: the name and the parameters (commas between them optional)."""
    tokens = [t for t in head.args if t.kind != "comma"]
    if not tokens or tokens[0].kind != "name":
        raise AsmError.at(head.origin, ".macro needs a name: .macro NAME param1, param2 ...")
    for tok in tokens[1:]:
        if tok.kind != "name":
            raise AsmError.at(tok.origin, f"a macro parameter is a name, not {tok.text!r}")
    params = tuple(t.text for t in tokens[1:])
    for k, p in enumerate(params):
        if p in params[:k]:
            raise AsmError.at(tokens[k + 1].origin, f"parameter {p!r} appears twice")
    return tokens[0].text, params


def _key(path: Path) -> str:
    """A file's identity, so that two spellings of one path are one file."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return str(path)


class Instance:
    """One expansion of a macro: its body with the arguments in, local names renamed, and every place moved
    to the call (remembering the macro's line)."""

    def __init__(self, macro: Macro, number: int, call: Origin, args: dict[str, Item]):
        self.macro, self.call, self.args = macro, call, args
        local = {label.name for st in macro.body for label in _labels(st)} | {
            st.name for st in macro.body if st.kind == "constant"
        }
        self.rename = {name: f"{name}@{macro.name}{number}" for name in local - set(args)}

    def statements(self) -> list[Statement]:
        return [self._statement(st) for st in self.macro.body]

    def _at(self, origin: Origin) -> Origin:
        """A place in the body, as seen from the call."""
        line = f"{self.macro.name} at {origin.file}:{origin.line}"
        chain = f"{self.call.macro} > {line}" if self.call.macro else line
        return Origin(self.call.file, self.call.line, self.call.col, self.call.text, chain)

    def _statement(self, st: Statement) -> Statement:
        items = tuple(self._item(item) for item in st.items)
        name = self.rename.get(st.name, st.name) if st.kind == "constant" else st.name
        trailing = tuple(self._label(label) for label in st.trailing)
        return replace(st, items=items, trailing=trailing, origin=self._at(st.origin), name=name)

    def _label(self, label: Label) -> Label:
        if label.name in self.args:  # a parameter as a label: define the name passed
            arg = self.args[label.name]
            name = arg.value.bare_name() if isinstance(arg.value, Expr) else None
            if name is None:
                raise AsmError.at(arg.origin, f"{label.name!r} is a label in macro {self.macro.name}: pass a name")
            return Label(name, arg.origin)
        return Label(self.rename.get(label.name, label.name), self._at(label.origin))

    def _item(self, item: Item) -> Item:
        labels = tuple(self._label(label) for label in item.labels)
        value = item.value
        param = value.bare_name() if isinstance(value, Expr) else None
        if param in self.args and not isinstance(self.args[param].value, Expr):  # a string or array, whole
            return Item(labels, self.args[param].value, self._at(item.origin))
        if isinstance(value, Str):
            value = Str(tuple((code, self._at(o)) for code, o in value.chars), self._at(value.origin))
        elif isinstance(value, Array):
            value = Array(value.size, self._at(value.origin))
        else:
            value = self._expr(value)
        return Item(labels, value, self._at(item.origin))

    def _expr(self, expr: Expr) -> Expr:
        return Expr(tuple((sign, self._atom(atom)) for sign, atom in expr.terms), self._at(expr.origin))

    def _atom(self, atom: Atom) -> Atom:
        if isinstance(atom, Ref):
            if atom.name in self.args:
                arg = self.args[atom.name]
                if not isinstance(arg.value, Expr):
                    raise AsmError.at(arg.origin, f"{atom.name!r} is used in an expression in macro {self.macro.name}")
                return arg.value
            return Ref(self.rename.get(atom.name, atom.name), self._at(atom.origin))
        if isinstance(atom, Num):
            return Num(atom.value, self._at(atom.origin))
        if isinstance(atom, Here):
            return Here(self._at(atom.origin))
        return self._expr(atom)


def _labels(st: Statement) -> list[Label]:
    return [label for item in st.items for label in item.labels] + list(st.trailing)
