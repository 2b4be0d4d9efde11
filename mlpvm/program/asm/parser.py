"""Statements of sqasm source: the second stage of the assembler.

A statement is one line, or one part of a line between ``;``. It is one of

- ``code``: operands A B C of an instruction (``A`` means ``A A ?``, ``A B`` means ``A B ?``), or a macro
  call (its name, then its arguments);
- ``data``: a line starting with ``.``; every item is one cell, a string one cell per character, ``[N]``
  N cells of 0;
- ``constant``: ``NAME = expr`` or ``.define NAME expr``;
- ``directive``: ``.include``, ``.macro``, ``.endm``, for the expander (``expand.py``) to handle.

Labels (``name:``, no space before the colon) may stand before any item; labels after the last item name the
cell after the statement.

An item is an expression: terms joined by ``+`` and ``-``. A term that follows a complete term without an
operator starts a new item, and a ``-`` after a complete term is always binary, which is sqasm's classic
trap: ``p a -1`` is the two items ``p`` and ``a-1``; write ``p a (-1)``, or ``p, a, -1``: a comma ends an
item. How many items a statement may have, and of which kind, is for the layout to check after macro
expansion (a macro call may have more than three, and strings as arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpvm.errors import AsmError
from mlpvm.program.asm.expr import Expr, Here, Num, Ref
from mlpvm.program.asm.lexer import Token, tokenize
from mlpvm.program.sourcemap import Origin

MAX_DEPTH = 64  # nested parentheses


@dataclass(frozen=True)
class Label:
    name: str
    origin: Origin


@dataclass(frozen=True)
class Str:
    """A string item of a data statement: one cell per character."""

    chars: tuple[tuple[int, Origin], ...]  # (code, where the character stands)
    origin: Origin


@dataclass(frozen=True)
class Array:
    """``[N]`` in a data statement: N cells of 0 (a buffer)."""

    size: int
    origin: Origin


@dataclass(frozen=True)
class Item:
    labels: tuple[Label, ...]  # labels naming this item's (first) cell
    value: Expr | Str | Array
    origin: Origin


@dataclass(frozen=True)
class Statement:
    kind: str  # code | data | constant | directive
    items: tuple[Item, ...]  # constant: its one expression
    trailing: tuple[Label, ...]  # labels after the last item: they name the next cell
    origin: Origin
    name: str = ""  # directive: its name without the dot; constant: the constant's name
    args: tuple[Token, ...] = ()  # directive: the tokens after it, for the stage that handles it


def parse(text: str, path: str = "<asm>") -> list[Statement]:
    return parse_tokens(tokenize(text, path))


def parse_tokens(tokens: list[Token]) -> list[Statement]:
    """Statements from a token list (as made by ``tokenize``, or rewritten by a macro expander)."""
    statements, start = [], 0
    for i, tok in enumerate(tokens):
        if tok.kind in ("semi", "newline"):
            if i > start:
                statements.append(_Statement(tokens[start:i]).parse())
            start = i + 1
    if start < len(tokens):
        statements.append(_Statement(tokens[start:]).parse())
    return statements


class _Statement:
    """A recursive-descent parser over the tokens of one statement."""

    def __init__(self, tokens: list[Token]):
        self.tokens, self.i = tokens, 0

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def labels(self) -> list[Label]:
        found = []
        while (tok := self.peek()) and tok.kind == "label":
            found.append(Label(tok.value, tok.origin))
            self.i += 1
        return found

    def parse(self) -> Statement:
        first = self.tokens[0]
        labels = self.labels()
        tok = self.peek()
        if tok is not None and tok.kind == "directive" and tok.value == "define":
            self.i += 1
            return self.constant(labels, tok)
        nxt = self.peek(1)
        if tok is not None and tok.kind == "name" and nxt is not None and nxt.kind == "equals":
            return self.constant(labels, tok)
        if tok is not None and tok.kind == "directive":
            if labels:
                raise AsmError.at(tok.origin, f"a label cannot name the directive {tok.text}")
            self.i += 1
            return Statement("directive", (), (), tok.origin, tok.value, tuple(self.tokens[self.i :]))
        kind = "code"
        if tok is not None and tok.kind == "dot":
            kind = "data"
            self.i += 1
            labels += self.labels()
        items = []
        while self.peek() is not None:
            tok = self.peek()
            if tok.kind == "string":
                self.i += 1
                items.append(Item(tuple(labels), Str(tok.value, tok.origin), tok.origin))
            elif tok.kind == "lbracket":
                items.append(Item(tuple(labels), self.array(), tok.origin))
            else:
                items.append(Item(tuple(labels), self.expr(0), tok.origin))
            self.comma()
            labels = self.labels()
        return Statement(kind, tuple(items), tuple(labels), first.origin)

    def comma(self) -> None:
        """An optional ``,`` after an item; another item must follow it."""
        tok = self.peek()
        if tok is not None and tok.kind == "comma":
            self.i += 1
            if self.peek() is None:
                raise AsmError.at(tok.origin, "',' separates items: an item must follow it")

    def constant(self, labels: list[Label], start: Token) -> Statement:
        """``NAME = expr`` or ``.define NAME expr`` (the directive already taken)."""
        if labels:
            raise AsmError.at(labels[0].origin, "a label cannot name a constant")
        name = self.peek()
        if name is None or name.kind != "name":
            where = start.origin if name is None else name.origin
            raise AsmError.at(where, "a constant is defined as NAME = value, or .define NAME value")
        self.i += 1
        if start.kind == "name" or (self.peek() is not None and self.peek().kind == "equals"):
            self.i += 1  # the "=" (optional after .define)
        if self.peek() is None:
            raise AsmError.at(name.origin, f"constant {name.text!r} needs a value")
        value = self.peek()
        expr = self.expr(0)
        if self.peek() is not None:
            raise AsmError.at(self.peek().origin, "a constant's value is one expression: this is more")
        return Statement("constant", (Item((), expr, value.origin),), (), start.origin, name.text)

    def array(self) -> Array:
        """``[N]``, N a decimal number of cells."""
        start = self.take()
        size, close = self.peek(), self.peek(1)
        if size is None or size.kind != "number" or close is None or close.kind != "rbracket":
            raise AsmError.at(start.origin, "an array is [N], N a number of cells")
        self.i += 2
        return Array(size.value, start.origin)

    def expr(self, depth: int) -> Expr:
        """term (('+' | '-') term)*, where a term may carry unary minus signs."""
        start = self.peek()
        terms = [self.term(+1, depth)]
        while (tok := self.peek()) and tok.kind in ("plus", "minus"):
            self.i += 1
            terms.append(self.term(1 if tok.kind == "plus" else -1, depth))
        return Expr(tuple(terms), start.origin)

    def term(self, sign: int, depth: int):
        while (tok := self.peek()) and tok.kind == "minus":
            sign, self.i = -sign, self.i + 1
        tok = self.peek()
        if tok is None:
            last = self.tokens[-1]
            where = Origin(last.origin.file, last.origin.line, last.origin.col + len(last.text), last.origin.text)
            raise AsmError.at(where, "expected a value at the end of the statement")
        self.i += 1
        if tok.kind in ("number", "char"):
            return sign, Num(tok.value, tok.origin)
        if tok.kind == "name":
            return sign, Ref(tok.text, tok.origin)
        if tok.kind == "here":
            return sign, Here(tok.origin)
        if tok.kind == "lparen":
            if depth >= MAX_DEPTH:
                raise AsmError.at(tok.origin, f"parentheses nested more than {MAX_DEPTH} deep")
            if self.peek() is None:
                raise AsmError.at(tok.origin, "unclosed '('")
            inner = self.expr(depth + 1)
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise AsmError.at(tok.origin if close is None else close.origin, "expected ')' to close '('")
            self.i += 1
            return sign, inner
        if tok.kind == "string":
            raise AsmError.at(tok.origin, "a string cannot be part of an expression")
        if tok.kind in ("dot", "directive"):
            raise AsmError.at(tok.origin, "'.' (data) may only start a statement")
        if tok.kind == "equals":
            raise AsmError.at(tok.origin, "'=' defines a constant: NAME = value, a statement of its own")
        if tok.kind == "comma":
            raise AsmError.at(tok.origin, "',' must follow an item")
        if tok.kind == "library":
            raise AsmError.at(tok.origin, f"{tok.text} names a library: write .include {tok.text}")
        if tok.kind == "label":
            raise AsmError.at(tok.origin, f"a label ({tok.text}) cannot be part of an expression")
        what = {
            "colon": "':' must follow a label name, with no space between",
            "rparen": "')' without '('",
            "rbracket": "']' without '['",
            "lbracket": "an array [N] cannot be part of an expression",
        }.get(tok.kind)
        raise AsmError.at(tok.origin, what or f"expected a value, not {tok.text!r}")
