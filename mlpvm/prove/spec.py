"""What a specification is made of: the state as bit-vector variables, words read from memory, and claims.

A machine's specification (``mlpvm/machines/<name>/spec.py``) is written from docs/machines.md alone: it maps
the state's variables to *claims*, one per output field: ``(condition, value)``, meaning "when the condition
holds, the field holds the value". A field the documentation leaves unspecified in some case (the registers
of a faulting pass, say) has a condition; the others have ``True``. Values are z3 bit-vectors of the field's
width, Booleans for one-unit flags, and lists of them for fields with rows (``mem``, ``ins``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlpvm.craft.layout import Layout

from . import require_z3


@dataclass(frozen=True)
class Claim:
    cond: Any  # a z3 Boolean, or True
    value: Any  # a z3 bit-vector or Boolean, or (nested) lists of them


Spec = Mapping[str, Claim]


@dataclass(frozen=True)
class Rows:
    """A field with rows (memory) as one uninterpreted function from a row's address to its word (an array that
    is only read), for the proof of one symbolic row (``mlpvm.prove.rows``): ``index`` is that row, the variable
    the claims about the field's rows are stated for. ``rows[i]`` is the word at ``i`` (an integer or a
    bit-vector)."""

    function: Any
    index: Any

    def __getitem__(self, i):
        return self.function(i)

    def __iter__(self):  # a symbolic field has no end to iterate to: ``listed`` gives its rows
        raise TypeError("iterate over listed(rows, count), not over Rows")


def listed(value, count: int, parts: int = 0) -> list:
    """A field's rows as a list, whether it is a list already or ``Rows``; ``parts`` > 0 splits each row into
    that many equal words (a slot's operands)."""
    if not isinstance(value, Rows):
        return value
    z3 = require_z3()
    rows = [value[i] for i in range(count)]
    if not parts:
        return rows
    w = rows[0].size() // parts
    return [[z3.Extract((j + 1) * w - 1, j * w, r) for j in range(parts)] for r in rows]


def indices(rows) -> list:
    """The rows a claim about every row of ``rows`` is stated for: all of them (a list), or the symbolic one."""
    return [rows.index] if isinstance(rows, Rows) else list(range(len(rows)))


def variables(layout: Layout, prefix: str = "") -> dict[str, Any]:
    """One z3 variable per word of every field: a Boolean for a flag, a bit-vector for a word, lists for rows."""
    z3 = require_z3()

    def make(name: str, shape: tuple[int, ...]):
        if not shape:
            return z3.Bool(prefix + name)
        if len(shape) == 1:
            return z3.BitVec(prefix + name, shape[0])
        return [make(f"{name}[{i}]", shape[1:]) for i in range(shape[0])]

    return {f.name: make(f.name, f.shape) for f in layout}


def bits(value) -> list:
    """The field's units, in layout order: a flag, a word's bits least significant first, rows in order."""
    z3 = require_z3()
    if isinstance(value, list):
        return [b for v in value for b in bits(v)]
    if z3.is_bool(value):
        return [value]
    return [z3.Extract(t, t, value) == 1 for t in range(value.size())]


def state_bits(layout: Layout, values: Mapping[str, Any]) -> list:
    return [b for f in layout for b in bits(values[f.name])]


def word(flags: list):
    """A bit-vector from Boolean formulas, least significant first."""
    z3 = require_z3()
    one, zero = z3.BitVecVal(1, 1), z3.BitVecVal(0, 1)
    parts = [z3.If(f, one, zero) for f in reversed(flags)]
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def read(rows: list, address, width: int):
    """``rows[address]`` for an address given by its low ``width`` bits (a bit-vector of at least that width)."""
    z3 = require_z3()
    low = z3.Extract(width - 1, 0, address) if address.size() > width else address
    if isinstance(rows, Rows):
        return rows[low]
    value = rows[-1]
    for i in range(len(rows) - 2, -1, -1):
        value = z3.If(low == i, rows[i], value)
    return value


def operand(slots, j: int, address, width: int):
    """Word ``j`` of ``slots[address]`` (slots of equal words; ``address`` given by its low ``width`` bits)."""
    z3 = require_z3()
    if isinstance(slots, Rows):
        low = z3.Extract(width - 1, 0, address) if address.size() > width else address
        whole = slots[low]
        w = whole.size() // 3
        return z3.Extract((j + 1) * w - 1, j * w, whole)
    return read([slot[j] for slot in slots], address, width)


def signed_in(value, low: int, high: int):
    """``low <= value < high`` for ``value`` read as a signed word (``high`` may be 2^N)."""
    z3 = require_z3()
    wide = z3.SignExt(2, value)
    return z3.And(wide >= low, wide < high)


def at_most_zero(value):
    """``value <= 0`` as a signed word: zero or its sign bit set."""
    z3 = require_z3()
    return z3.Or(value == 0, z3.Extract(value.size() - 1, value.size() - 1, value) == 1)


def mismatch(claim: Claim, units: list):
    """A formula true when the field's network units (``units``) differ from the claim where it applies."""
    z3 = require_z3()
    want = bits(claim.value)
    assert len(want) == len(units), "a claim must cover its whole field"
    differs = [z3.Xor(_boolean(u), w) for u, w in zip(units, want)]
    return z3.And(claim.cond, z3.Or(differs)) if differs else z3.BoolVal(False)


def mismatches(claim: Claim, units: list) -> list:
    """``mismatch`` split into one formula per row of a field with rows (memory cells, slots): what the
    counterexample search reports as the violation found."""
    if not isinstance(claim.value, list):
        return [mismatch(claim, units)]
    out, at = [], 0
    for value in claim.value:
        n = len(bits(value))
        out.append(mismatch(Claim(claim.cond, value), units[at : at + n]))
        at += n
    return out


def _boolean(unit):
    z3 = require_z3()
    return z3.BoolVal(unit) if isinstance(unit, bool) else unit


def decoded(cfg, s: dict) -> tuple[dict, dict]:
    """The machine's decoded variables (``name -> variable``) and their definitions (``name -> variable ==
    expression``)."""
    pairs = cfg.spec.proof.decoded(cfg, s)
    return {k: v for k, (v, _) in pairs.items()}, {k: v == e for k, (v, e) in pairs.items()}
