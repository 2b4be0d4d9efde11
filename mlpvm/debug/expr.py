"""Expressions in breakpoint conditions, ``print``, ``display`` and ``set``.

A small, safe language over the machine: integers and 'c' characters, ``pc``, the registers (``a``, ``b``,
``c``, ``mem_a``, ``mem_b``, ``result``, ``branch``, ``next_pc``), ``halted``, ``fault``, ``step``,
``passes``, ``mem[i]``, labels (their addresses), arithmetic, comparisons, and C or Python boolean operators
(``&&``, ``||``, ``!``, ``and``, ``or``, ``not``). Parsed with ``ast`` and walked over a whitelist: nothing is
ever handed to ``eval``.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping

from mlpvm.errors import MlpvmError

_BINARY: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.Div: operator.floordiv,
}  # fmt: skip
_COMPARE: dict[type, Callable[[int, int], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip
_UNARY: dict[type, Callable[[int], int]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


MAX_TEXT = 1000  # characters of an expression
LIMIT = 1 << 64  # |value| of every constant and intermediate result: far beyond any word, far below a memory bomb


class ExprError(MlpvmError):
    """An expression that does not parse or cannot be evaluated."""


class Env:
    """What names and ``mem[i]`` mean while an expression is evaluated."""

    def __init__(self, names: Mapping[str, int], mem: Callable[[int], int]):
        self.names, self.mem = names, mem


def _c_style(text: str) -> str:
    text = text.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    return re.sub(r"'(\\?.)'", lambda m: str(ord(m.group(1).encode().decode("unicode_escape"))), text)


class Expr:
    def __init__(self, text: str):
        self.text = text.strip()
        if not self.text:
            raise ExprError("empty expression")
        if len(self.text) > MAX_TEXT:
            raise ExprError(f"an expression of {len(self.text):,} characters is longer than {MAX_TEXT:,}")
        try:
            self.tree = ast.parse(_c_style(self.text).strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # also too deep, or a literal too long
            raise ExprError(f"cannot parse expression: {self.text}") from None
        self._check(self.tree)

    def _check(self, node: ast.AST) -> None:
        allowed = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name, ast.Constant, ast.Subscript,
                   ast.Load, ast.And, ast.Or, ast.Not, *_BINARY, *_COMPARE, *_UNARY)  # fmt: skip
        for sub in ast.walk(node):
            if not isinstance(sub, allowed):
                raise ExprError(f"not allowed in an expression: {type(sub).__name__} in {self.text}")
            if isinstance(sub, ast.Constant) and not isinstance(sub.value, int):
                raise ExprError(f"only integers and 'c' characters: {self.text}")
            if isinstance(sub, ast.Subscript) and not (isinstance(sub.value, ast.Name) and sub.value.id == "mem"):
                raise ExprError(f"only mem[...] can be indexed: {self.text}")

    def names(self) -> set[str]:
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}

    def __call__(self, env: Env) -> int:
        try:
            return int(self._eval(self.tree, env))
        except RecursionError:
            raise ExprError(f"expression nested too deeply: {self.text}") from None

    def _eval(self, node: ast.AST, env: Env) -> int:
        value = self._value(node, env)
        if not -LIMIT <= value <= LIMIT:
            raise ExprError(f"a value beyond +-2**64 in {self.text}")
        return value

    def _value(self, node: ast.AST, env: Env) -> int:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env.names:
                raise ExprError(f"unknown name {node.id!r} in {self.text}")
            return env.names[node.id]
        if isinstance(node, ast.Subscript):
            return env.mem(self._eval(node.slice, env))
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, env)
            return int(not value) if isinstance(node.op, ast.Not) else _UNARY[type(node.op)](value)
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, env), self._eval(node.right, env)
            if isinstance(node.op, (ast.FloorDiv, ast.Div, ast.Mod)) and right == 0:
                raise ExprError(f"division by zero in {self.text}")
            if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= right <= 64:
                raise ExprError(f"a shift by {right} in {self.text}: shifts are by 0 to 64")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.BoolOp):
            values = (self._eval(v, env) for v in node.values)
            return int(all(values) if isinstance(node.op, ast.And) else any(values))
        assert isinstance(node, ast.Compare)
        left = self._eval(node.left, env)
        for op, right_node in zip(node.ops, node.comparators):
            right = self._eval(right_node, env)
            if not _COMPARE[type(op)](left, right):
                return 0
            left = right
        return 1


def parse_assignment(text: str) -> tuple[str, Expr | None, Expr]:
    """``mem[i] = v`` or ``pc = v``: (target, index expression or None, value expression)."""
    m = re.fullmatch(r"\s*(mem\s*\[(?P<index>.+)\]|(?P<name>[A-Za-z_]\w*))\s*=(?!=)\s*(?P<value>.+)", text)
    if not m:
        raise ExprError(f"expected 'mem[i] = value' or 'pc = value', not: {text.strip()}")
    if m.group("name"):
        return m.group("name"), None, Expr(m.group("value"))
    return "mem", Expr(m.group("index")), Expr(m.group("value"))
