"""The disassembler: what the words at an address do, named as the idioms SUBLEQ programmers use (and the
standard macro library, ``<std>``, defines).

``describe`` reads the single instruction at an address of live memory (the debugger's view of PC);
``disassemble`` lists a whole image as rows built by the same function, deciding which cells are code.
``describe_slot`` and ``disassemble_paper`` do the same for the paper machine's slots and data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlpvm.machines.config import wrap
from mlpvm.program.sourcemap import Origin, SourceMap

DATA_ROW = 16  # words per data row at most
TEXT_ROW = 64  # characters per row of text at most
MIN_STRING = 3  # printable words in a row that read as a string
PRINTABLE = {9, 10, 13, *range(32, 127)}


@dataclass(frozen=True)
class Instruction:
    """One row of a disassembly: an instruction (three words) or a run of data words."""

    address: int
    words: tuple[int, ...]  # A B C as stored (fewer at the end of memory); a data row's words
    kind: str  # in | out | halt | clr | jmp | sub | subleq | data
    text: str  # the idiom with labels substituted: "JMP loop", "OUT p", "SUB m1, p", 'DATA "Hi"'
    labels: tuple[str, ...]  # labels naming ``address``
    origin: Origin | None  # where the source wrote it, when a source map is known

    @property
    def size(self) -> int:
        return len(self.words)


def signed(words: Sequence[int], bits: int | None) -> list[int]:
    """The words as signed ``bits``-bit values (as they are without ``bits``)."""
    return [wrap(int(w), bits) if bits else int(w) for w in words]


def label_index(source_map: SourceMap | None, slots: bool = False) -> dict[int, list[str]]:
    """address (a slot, when ``slots``) -> its labels, in definition order."""
    index: dict[int, list[str]] = {}
    table = (source_map.slot_labels if slots else source_map.labels) if source_map else {}
    for name, address in table.items():
        index.setdefault(address, []).append(name)
    return index


def operand_name(index: dict[int, list[str]], address: int, jump: bool) -> str | None:
    """The label to write for ``address``: of several, the first for a jump target (``loop: ptr: x``
    names a place to jump to first) and the last for a cell read or written (the one next to the item)."""
    names = index.get(address)
    return (names[0] if jump else names[-1]) if names else None


def describe(
    words: Sequence[int], address: int, source_map: SourceMap | None = None, bits: int | None = None
) -> Instruction:
    """The instruction at ``address`` of ``words`` (memory, or an image), whatever the cells hold.
    Words are read as signed ``bits``-bit values when ``bits`` is given (else as they are)."""
    return _describe(words, address, label_index(source_map), source_map, bits)


def _describe(words, address, index, source_map, bits) -> Instruction:
    labels = tuple(index.get(address, ()))
    origin = source_map.origin(address) if source_map else None
    raw = tuple(int(w) for w in words[address : address + 3]) if address >= 0 else ()
    if len(raw) < 3:
        return Instruction(address, raw, "halt", "HALT (outside memory)", labels, origin)
    a, b, c = signed(raw, bits)
    cell = _namer(index, jump=False)
    if a == -1:
        kind, text = "in", f"IN {cell(b)}"
    elif b == -1:
        kind, text = "out", f"OUT {cell(a)}"
    else:
        target = _namer(index, jump=True, negative="HALT")
        kind, text = _idiom(a, b, c, address + 3, c < 0, cell, target)
    return Instruction(address, raw, kind, text, labels, origin)


def _namer(index: dict[int, list[str]], jump: bool, negative: str | None = None):
    """A function that writes an address as its label (or as the number; ``negative`` for one below 0)."""

    def name(v: int) -> str:
        if v < 0 and negative:
            return negative
        return operand_name(index, v, jump) or str(v)

    return name


def _idiom(a: int, b: int, c: int, nxt: int, halts: bool, cell, target) -> tuple[str, str]:
    """The kind and text of the subtraction ``a b c`` whose next instruction is ``nxt``; ``halts``: a
    ``x x c`` there stops the machine."""
    if a == b and halts:
        return "halt", "HALT"
    if a == b:
        return ("clr", f"CLR {cell(a)}") if c == nxt else ("jmp", f"JMP {target(c)}")
    if c == nxt:
        return "sub", f"SUB {cell(a)}, {cell(b)}"
    return "subleq", f"SUBLEQ {cell(a)}, {cell(b)}, {target(c)}"


def code_starts(
    words: Sequence[int],
    source_map: SourceMap | None = None,
    bits: int | None = None,
    lines: Sequence[tuple[int, int]] | None = None,
) -> set[int]:
    """Where instructions start. A source map knows; otherwise the cells reachable from address 0 by
    following every branch, plus, for an image written one instruction per line (``lines``: the line and
    column of each word), each line of exactly three words."""
    if source_map and source_map.cells:  # a map of the cells knows which it wrote as instructions
        return set(source_map.code)
    values = signed(words, bits)
    starts = _reachable(values)
    if lines and len(lines) == len(words):
        rows: dict[int, list[int]] = {}
        for i, (line, _) in enumerate(lines):
            rows.setdefault(line, []).append(i)
        if len(rows) > 1 and any(len(r) > 1 for r in rows.values()):
            starts |= {r[0] for r in rows.values() if len(r) == 3}
    return starts


def _reachable(values: Sequence[int]) -> set[int]:
    seen, todo = set(), [0]
    while todo:
        p = todo.pop()
        if p in seen or not 0 <= p <= len(values) - 3:
            continue
        seen.add(p)
        a, b, c = values[p : p + 3]
        if a == -1 or b == -1:
            todo.append(p + 3)
        elif a == b:
            todo.append(c)
        else:
            todo += [p + 3, c]
    return seen


def disassemble(
    words: Sequence[int],
    source_map: SourceMap | None = None,
    bits: int | None = None,
    lines: Sequence[tuple[int, int]] | None = None,
    starts: set[int] | None = None,
) -> list[Instruction]:
    """Every cell of ``words`` in rows: an instruction where ``starts`` (default: ``code_starts``) says one
    starts (and three cells remain), data rows elsewhere, broken at labels, instructions and source lines."""
    index = label_index(source_map)
    if starts is None:
        starts = code_starts(words, source_map, bits, lines)
    values = signed(words, bits)
    rows, p = [], 0
    while p < len(words):
        if p in starts and p + 3 <= len(words):
            rows.append(_describe(words, p, index, source_map, bits))
            p += 3
            continue
        end = p + 1
        while end < len(words) and end not in starts and end not in index:
            if source_map and _line_of(source_map, end) != _line_of(source_map, p):
                break
            end += 1
        for a, b, text in _data_rows(values, p, end):
            rows.append(_data(words, a, b, index, source_map, bits, text))
        p = end
    return rows


def _data_rows(values: list[int], start: int, end: int) -> list[tuple[int, int, bool]]:
    """Rows (start, end, is_text) for the data cells start..end: a row for each line of text (``MIN_STRING``
    or more printable characters, up to a newline), other words up to ``DATA_ROW`` a row."""
    run = [0] * (end - start + 1)  # printable words from each cell on, up to and including a newline
    for k in range(end - 1, start - 1, -1):
        v = values[k]
        run[k - start] = 0 if v not in PRINTABLE else 1 if v == 10 else run[k - start + 1] + 1
    rows, i = [], start
    while i < end:
        if run[i - start] >= MIN_STRING:
            k = i + min(run[i - start], TEXT_ROW)
            rows.append((i, k, True))
            i = k
        else:
            k = i + 1
            while k < end and k - i < DATA_ROW and run[k - start] < MIN_STRING:
                k += 1
            rows.append((i, k, False))
            i = k
    return rows


def _line_of(source_map: SourceMap, address: int) -> tuple[str, int] | None:
    o = source_map.origin(address)
    return (o.file, o.line) if o else None


def _data(words, start, end, index, source_map, bits, is_text) -> Instruction:
    raw = tuple(int(w) for w in words[start:end])
    values = signed(raw, bits)
    text = quote(values) if is_text else " ".join(data_items(raw, values))
    origin = source_map.origin(start) if source_map else None
    return Instruction(start, raw, "data", f"DATA {text}", tuple(index.get(start, ())), origin)


def data_items(raw: Sequence[int], values: Sequence[int]) -> list[str]:
    """sqasm items for data words (``raw`` as stored, ``values`` as signed words): each stretch of
    ``MIN_STRING`` or more printable characters one string, other words numbers, negative ones in
    parentheses (``(-1)``: a bare ``-1`` after an item would subtract)."""
    items: list[str] = []
    i = 0
    while i < len(raw):
        j = i
        while j < len(raw) and raw[j] == values[j] and values[j] in PRINTABLE:
            j += 1
        if j - i >= MIN_STRING:
            items.append(quote(values[i:j]))
            i = j
        else:
            items.append(literal(raw[i]))
            i += 1
    return items


def literal(word: int) -> str:
    """A word as a sqasm item: negative numbers in parentheses."""
    return f"({word})" if word < 0 else str(word)


def quote(codes: Sequence[int]) -> str:
    """Printable character codes as a sqasm string literal."""
    escapes = {10: "\\n", 9: "\\t", 13: "\\r", 34: '\\"', 92: "\\\\"}
    return '"' + "".join(escapes.get(v, chr(v)) for v in codes) + '"'


def describe_slot(
    slots: Sequence[Sequence[int]] | Mapping[int, Sequence[int]],
    index: int,
    source_map: SourceMap | None = None,
    count: int | None = None,
) -> Instruction:
    """The paper instruction in slot ``index`` of ``slots`` (a list, or a mapping that holds at least that
    slot; ``count`` slots in all: the next slot after the last is 0), named as ``describe`` names subleq's:
    ``HALT`` (``a a self``: it halts once mem[a] is 0, at once if it is), ``CLR a``, ``JMP c``, ``SUB a, b``,
    ``SUBLEQ a, b, c``."""
    return _slot(slots, index, label_index(source_map), label_index(source_map, slots=True), source_map, count)


def _slot(slots, index, cells, targets, source_map, count) -> Instruction:
    a, b, c = (int(v) for v in slots[index])
    nxt = (index + 1) % count if count else index + 1
    kind, text = _idiom(a, b, c, nxt, c == index, _namer(cells, jump=False), _namer(targets, jump=True))
    origin = source_map.origin(index, slots=True) if source_map else None
    return Instruction(index, (a, b, c), kind, text, tuple(targets.get(index, ())), origin)


def disassemble_paper(
    slots: Sequence[Sequence[int]],
    words: Sequence[int],
    source_map: SourceMap | None = None,
    bits: int | None = None,
    count: int | None = None,
) -> tuple[list[Instruction], list[Instruction]]:
    """A paper program as rows: one per slot, and the data cells (all of them data)."""
    cells, targets = label_index(source_map), label_index(source_map, slots=True)
    rows = [_slot(slots, i, cells, targets, source_map, count) for i in range(len(slots))]
    return rows, disassemble(words, source_map, bits, starts=set())
