"""Expressions in breakpoint conditions, ``print``, ``display`` and ``set``.

A small, safe language over the machine, with gdb's meanings: integers and 'c' characters, ``mem[i]``, labels as
variables (``t`` is the value of the cell labelled t, ``&t`` its address), the registers as ``$pc``, ``$a``,
``$b``, ``$c``, ``$mem_a``, ``$mem_b``, ``$result``, ``$branch``, ``$fallthrough`` (PC + 3, the adder's output),
``$next_pc`` (where execution goes next; ``$`` may be left out when no label has the name), ``halted``, ``fault``,
``step``, ``passes``, arithmetic, comparisons, and C or Python boolean operators (``&&``, ``||``, ``!``, ``and``,
``or``, ``not``). Parsed with ``ast`` and walked over a whitelist: nothing is ever handed to ``eval``. Sizes are
bounded (text, nesting, shifts, magnitudes) so that no expression can exhaust the machine.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping

from mlpvm.errors import MlpvmError


def _c_div(a: int, b: int) -> int:
    """C's (and gdb's) division: the quotient truncated toward zero, -5/2 == -2 (Python's // floors: -3)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _c_mod(a: int, b: int) -> int:
    """C's remainder, which goes with its division: a == (a/b)*b + a%b, so -5 % 2 == -1."""
    return a - _c_div(a, b) * b


_BINARY: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: _c_div,
    ast.Mod: _c_mod, ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.Div: _c_div,
}  # fmt: skip
_COMPARE: dict[type, Callable[[int, int], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip
_UNARY: dict[type, Callable[[int], int]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


MAX_TEXT = 2000  # characters of an expression
MAX_DEPTH = 64  # nesting of its syntax tree
MAX_SHIFT = 256  # bits a shift may move
MAX_BITS = 4096  # magnitude of any intermediate value
ADDR, REG = "__addr_", "__reg_"  # how &label and $register reach the evaluator


class ExprError(MlpvmError):
    """An expression that does not parse or cannot be evaluated."""


class Env:
    """What names and ``mem[i]`` mean while an expression is evaluated. ``labels`` are label addresses;
    with ``addresses`` a bare label means its address (locations: break, x, watch -l), else its cell's value."""

    def __init__(
        self, names: Mapping[str, int], mem: Callable[[int], int], labels: Mapping[str, int] | None = None,
        addresses: bool = False,
    ):  # fmt: skip
        self.names, self.mem, self.labels, self.addresses = names, mem, labels or {}, addresses

    def known(self, name: str) -> bool:
        if name.startswith(ADDR):
            return name[len(ADDR) :] in self.labels
        if name.startswith(REG):
            return name[len(REG) :] in self.names
        return name in self.labels or name in self.names

    def lookup(self, name: str) -> int:
        if name.startswith(ADDR) and name[len(ADDR) :] in self.labels:
            return self.labels[name[len(ADDR) :]]
        if name.startswith(REG) and name[len(REG) :] in self.names:
            return self.names[name[len(REG) :]]
        if name in self.labels:
            return self.labels[name] if self.addresses else self.mem(self.labels[name])
        if name in self.names:
            return self.names[name]
        shown = "&" + name[len(ADDR) :] if name.startswith(ADDR) else name.replace(REG, "$")
        raise ExprError(f'No symbol "{shown}" in current context.')


def _c_style(text: str) -> str:
    text = text.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\$([A-Za-z_]\w*)", lambda m: REG + m.group(1), text)
    text = re.sub(r"(^|[-+*/%<>=(\[,~^|&]|\band|\bor|\bnot)(\s*)&\s*([A-Za-z_]\w*)",
                  lambda m: m.group(1) + m.group(2) + ADDR + m.group(3), text)  # unary & only  # fmt: skip
    return re.sub(r"'(\\?.)'", lambda m: str(ord(m.group(1).encode().decode("unicode_escape"))), text)


def _bounded(value: int, text: str) -> int:
    if value.bit_length() > MAX_BITS:
        raise ExprError(f"value too large (over {MAX_BITS} bits) in {text}")
    return value


class Expr:
    def __init__(self, text: str):
        self.text = text.strip()
        if not self.text:
            raise ExprError("empty expression")
        if len(self.text) > MAX_TEXT:
            raise ExprError(f"expression too long ({len(self.text)} characters, at most {MAX_TEXT})")
        if self.text.count("(") + self.text.count("[") > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (at most {MAX_DEPTH} brackets)")
        try:
            self.tree = ast.parse(_c_style(self.text).strip(), mode="eval").body
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            raise ExprError(f"cannot parse expression: {self.text}") from None
        if _depth(self.tree) > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (at most {MAX_DEPTH} levels)")
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
        """The names used (``mem`` of ``mem[i]`` included)."""
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}

    def check_names(self, env: Env) -> None:
        """Raises for the first name the environment does not know (``condition`` checks when set)."""
        for name in sorted(self.names() - {"mem"}):
            if not env.known(name):
                env.lookup(name)

    def location(self) -> Expr | None:
        """For ``watch mem[E]``: the expression E giving the cell; None if this is not a ``mem[...]``."""
        if isinstance(self.tree, ast.Subscript):
            inner = Expr.__new__(Expr)
            inner.text, inner.tree = ast.unparse(self.tree.slice), self.tree.slice
            return inner
        return None

    def __call__(self, env: Env) -> int:
        try:
            return int(self._eval(self.tree, env))
        except RecursionError:
            raise ExprError(f"expression nested too deeply: {self.text}") from None

    def _eval(self, node: ast.AST, env: Env) -> int:
        value = self._value(node, env)
        if value.bit_length() > MAX_BITS:
            raise ExprError(f"a value beyond {MAX_BITS} bits in {self.text}")
        return value

    def _value(self, node: ast.AST, env: Env) -> int:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env.lookup(node.id)
        if isinstance(node, ast.Subscript):
            return env.mem(self._eval(node.slice, env))
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, env)
            return int(not value) if isinstance(node.op, ast.Not) else _UNARY[type(node.op)](value)
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, env), self._eval(node.right, env)
            if isinstance(node.op, (ast.FloorDiv, ast.Div, ast.Mod)) and right == 0:
                raise ExprError(f"division by zero in {self.text}")
            if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= right <= MAX_SHIFT:
                raise ExprError(f"shift count {right} outside 0..{MAX_SHIFT} in {self.text}")
            return _bounded(_BINARY[type(node.op)](left, right), self.text)
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


def _depth(node: ast.AST) -> int:
    """The syntax tree's depth, without recursion (a long chain like 1+1+...+1 is deep too)."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        n, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((child, d + 1) for child in ast.iter_child_nodes(n))
    return deepest


def parse_assignment(text: str) -> tuple[str, Expr | None, Expr]:
    """``mem[i] = v`` or ``pc = v``: (target, index expression or None, value expression)."""
    m = re.fullmatch(r"\s*(mem\s*\[(?P<index>.+)\]|(?P<name>\$?[A-Za-z_]\w*))\s*=(?!=)\s*(?P<value>.+)", text)
    if not m:
        raise ExprError(f"expected 'mem[i] = value', 'LABEL = value' or '$pc = value', not: {text.strip()}")
    if m.group("name"):
        return m.group("name"), None, Expr(m.group("value"))
    return "mem", Expr(m.group("index")), Expr(m.group("value"))
