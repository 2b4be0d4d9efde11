"""Expressions: sums of signed terms (numbers, characters, labels, ``?``, parenthesised expressions).

An expression is a flat list of signed atoms rather than a binary tree, so a long ``a+b-c+...`` costs no
recursion; only parentheses nest, and the parser bounds their depth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlpvm.errors import AsmError
from mlpvm.program.sourcemap import Origin


@dataclass(frozen=True)
class Num:
    value: int
    origin: Origin


@dataclass(frozen=True)
class Ref:
    """A label or a named constant."""

    name: str
    origin: Origin


@dataclass(frozen=True)
class Here:
    """``?``: the address of the next cell, i.e. of the cell holding this expression, plus one."""

    origin: Origin


@dataclass(frozen=True)
class Expr:
    terms: tuple[tuple[int, Atom], ...]  # (+1 or -1, atom)
    origin: Origin  # where the expression starts

    def bare_name(self) -> str | None:
        """The name, when the expression is just one (as a macro's name, or a parameter, stands)."""
        if len(self.terms) == 1 and self.terms[0][0] == 1 and isinstance(self.terms[0][1], Ref):
            return self.terms[0][1].name
        return None

    def names(self) -> list[Ref]:
        """Every label the expression refers to, in order."""
        refs: list[Ref] = []
        for _, atom in self.terms:
            if isinstance(atom, Ref):
                refs.append(atom)
            elif isinstance(atom, Expr):
                refs += atom.names()
        return refs


Atom = Num | Ref | Here | Expr


def evaluate(expr: Expr, symbols: Mapping[str, int], address: int | None) -> int:
    """The value of ``expr`` written in the cell at ``address``; ``?`` there is ``address + 1``. A constant's
    value has no cell (``address`` None), so ``?`` in it is an error."""
    total = 0
    for sign, atom in expr.terms:
        if isinstance(atom, Num):
            value = atom.value
        elif isinstance(atom, Here):
            if address is None:
                raise AsmError.at(atom.origin, "'?' (the next cell) means nothing in a constant")
            value = address + 1
        elif isinstance(atom, Ref):
            if atom.name not in symbols:
                raise AsmError.at(atom.origin, f"undefined label {atom.name!r}")
            value = symbols[atom.name]
        else:
            value = evaluate(atom, symbols, address)
        total += sign * value
    return total
