"""Writing programs as text: an image one instruction per line (or, for the paper machine, its JSON), or
source that reassembles to the same words (``mlpvm disasm --asm``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from mlpvm.errors import shown
from mlpvm.program.asm.disasm import (
    Instruction,
    data_items,
    disassemble,
    disassemble_paper,
    label_index,
    literal,
    operand_name,
    signed,
)
from mlpvm.program.sourcemap import SourceMap

INDENT = 8
DATA_LINE = 48  # words per data line when no source map says where lines break


def image_text(rows: list[Instruction], source_map: SourceMap | None = None) -> str:
    """The words of ``rows`` as an image file: one instruction per line, data as the source wrote it."""
    return "".join(" ".join(map(str, row.words)) + "\n" for row in _merged(rows, source_map))


def paper_json(slots: Sequence[Sequence[int]], words: Sequence[int]) -> str:
    """A paper image as ``mlpvm.program.image.load`` reads it, one slot a line."""
    rows = ",\n".join(f"  [{a}, {b}, {c}]" for a, b, c in slots)
    return f'{{"machine": "paper",\n "slots": [\n{rows}\n ],\n "data": {json.dumps(list(words))}}}\n'


def to_asm(
    words: Sequence[int],
    source_map: SourceMap | None = None,
    bits: int | None = None,
    lines: Sequence[tuple[int, int]] | None = None,
    title: str = "",
) -> str:
    """sqasm source for ``words`` that reassembles to exactly these words: the source map's labels, a label
    ``L<address>`` for every other address an instruction refers to, ``?`` for the next instruction (so
    ``A A ?`` prints as ``A`` and ``A B ?`` as ``A B``), ``?+3`` for a skip over one, strings for text."""
    rows = disassemble(words, source_map, bits, lines)
    names = _names(label_index(source_map), len(words))
    taken = {n for ns in names.values() for n in ns}
    _name_references(names, [v for row in rows for v in _references(row, bits)], len(words), "L", taken)
    out = [f"# sqasm source written by mlpvm disasm --asm{f' from {shown(title)}' if title else ''}"]
    for row in _merged(rows, source_map):
        out.append(_data(row, names, bits) if row.kind == "data" else _code(row, names, bits))
    if len(words) in names:  # labels just past the last word
        out.append("".join(f"{n}: " for n in names[len(words)]).rstrip())
    return "\n".join(out) + "\n"


def to_pasq(
    slots: Sequence[Sequence[int]],
    words: Sequence[int],
    source_map: SourceMap | None = None,
    bits: int | None = None,
    title: str = "",
) -> str:
    """Paper assembly (``.pasq``) for ``slots`` and data ``words`` that reassembles to exactly them: the map's
    labels, ``S<slot>`` and ``D<cell>`` for the other slots and cells the instructions name, ``?`` for the
    next slot (so ``a a ?`` prints as ``a`` and ``a b ?`` as ``a b``), then the data lines."""
    slot_rows, data_rows = disassemble_paper(slots, words, source_map, bits)
    cells = _names(label_index(source_map), len(words))
    targets = _names(label_index(source_map, slots=True), len(slots))
    taken = {n for table in (cells, targets) for ns in table.values() for n in ns}
    _name_references(cells, [v for a, b, _ in slots for v in (a, b)], len(words), "D", taken)
    _name_references(targets, [c for i, (_, _, c) in enumerate(slots) if c != i + 1], len(slots), "S", taken)
    out = [f"# paper assembly written by mlpvm disasm --asm{f' from {shown(title)}' if title else ''}"]
    for row in slot_rows:
        a, b, c = row.words
        items = [operand_name(cells, a, False) or str(a), operand_name(cells, b, False) or str(b)]
        items.append("?" if c == row.address + 1 else operand_name(targets, c, True) or str(c))
        if items[2] == "?":
            items.pop()
            if a == b:
                items.pop()
        head = "".join(f"{n}: " for n in targets.get(row.address, ()))
        out.append(f"{head:<{INDENT}}{' '.join(items)}" if len(head) < INDENT else f"{head}{' '.join(items)}")
    if len(slots) in targets:
        out.append("".join(f"{n}: " for n in targets[len(slots)]).rstrip())
    out += [_data(row, cells, bits) for row in _merged(data_rows, source_map)]
    if len(words) in cells:
        out.append(" " * INDENT + ". " + "".join(f"{n}: " for n in cells[len(words)]).rstrip())
    return "\n".join(out) + "\n"


def _names(index: dict[int, list[str]], size: int) -> dict[int, list[str]]:
    """The labels of addresses that a source can define: 0 up to just past the last word."""
    return {a: list(ns) for a, ns in index.items() if 0 <= a <= size}


def _name_references(names: dict[int, list[str]], values: list[int], size: int, prefix: str, taken: set[str]) -> None:
    """A label ``<prefix><address>`` for every referenced address in 0..size that has none."""
    for v in values:
        if 0 <= v <= size and v not in names:
            name = f"{prefix}{v}"
            while name in taken:
                name += "_"
            names[v] = [name]
            taken.add(name)


def _values(row: Instruction, bits: int | None) -> list[int]:
    return signed(row.words, bits)


def _references(row: Instruction, bits: int | None) -> list[int]:
    """The addresses an instruction names: A and B (but not -1, the I/O port), and C when it is a jump
    that ``?`` cannot write."""
    if row.kind == "data":
        return []
    a, b, c = _values(row, bits)
    refs = [v for v in (a, b) if v != -1]
    if row.kind not in ("in", "out", "halt") and c - row.address not in (3, 6):
        refs.append(c)
    return refs


def _labelled(names: dict[int, list[str]], address: int, item: str) -> str:
    return "".join(f"{n}:" for n in names.get(address, ())) + item


def _code(row: Instruction, names: dict[int, list[str]], bits: int | None) -> str:
    p = row.address
    items = []
    for k, (raw, v) in enumerate(zip(row.words, _values(row, bits))):
        exact, name = raw == v, operand_name(names, v, jump=k == 2)
        if k == 2 and exact and v == p + 3:
            items.append("?")
        elif exact and name:
            items.append(name)
        elif k == 2 and exact and v == p + 6:
            items.append("?+3")
        else:
            items.append(literal(raw))
    if items[2] == "?" and p + 2 not in names:  # the short forms
        items.pop()
        if items[0] == items[1] and p + 1 not in names:
            items.pop()
    body = " ".join([items[0], *(_labelled(names, p + k, it) for k, it in enumerate(items[1:], 1))])
    head = "".join(f"{n}: " for n in names.get(p, ()))
    return f"{head:<{INDENT}}{body}" if len(head) < INDENT else f"{head}{body}"


def _merged(rows: list[Instruction], source_map: SourceMap | None) -> list[Instruction]:
    """Consecutive data rows joined again into the source's lines (with a map) or into lines of up to
    ``DATA_LINE`` words, so that labels and strings read as one would write them."""
    out: list[Instruction] = []
    for row in rows:
        prev = out[-1] if out else None
        if prev is not None and prev.kind == row.kind == "data" and _joins(prev, row, source_map):
            out[-1] = replace(prev, words=prev.words + row.words)
        else:
            out.append(row)
    return out


def _joins(prev: Instruction, row: Instruction, source_map: SourceMap | None) -> bool:
    if source_map and source_map.cells:
        a, b = source_map.origin(prev.address), source_map.origin(row.address)
        return a is not None and b is not None and (a.file, a.line) == (b.file, b.line)
    return prev.size + row.size <= DATA_LINE


def _data(row: Instruction, names: dict[int, list[str]], bits: int | None) -> str:
    """One data line: labels before the cells they name, text as strings."""
    items: list[str] = []
    run: list[tuple[int, int]] = []  # (raw, value) since the last label
    label = ""  # labels waiting for the run they name

    def flush() -> None:
        pieces = data_items([r for r, _ in run], [v for _, v in run])
        if pieces:
            pieces[0] = label + pieces[0]
        items.extend(pieces)
        run.clear()

    for k, (raw, v) in enumerate(zip(row.words, _values(row, bits))):
        if row.address + k in names:
            flush()
            label = "".join(f"{n}:" for n in names[row.address + k])
        run.append((raw, v))
    flush()
    return " " * INDENT + ". " + " ".join(items)
