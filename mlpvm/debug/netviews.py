"""Views of the network computing one pass: every layer's fields decoded, explained, and compared.

A pass is re-run on the stored matrices from its recorded state (``Session.before``), so any pass still in
the history can be shown. Fields a layer computes come first, each with its value and what it holds (from the
machine's construction, ``config.spec.meanings``); fields it only carries are summarised. Memory-wide fields
name the row their address selected, with its label, and count the rest, so every view stays a screen at any M.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlpvm.craft.blocks import Layer, Select
from mlpvm.debug.records import DebugError
from mlpvm.debug.session import Session
from mlpvm.machines.config import Config
from mlpvm.machines.state import REGISTERS, from_bits, signed_field
from mlpvm.network import LAYER_NAMES, build
from mlpvm.protocol import IN_BYTE, OUT_BYTE

WIDTH = 80  # every view fits an 80-column terminal
ADDER_STEP = re.compile(r"_(g|d1|d2|p|c|u|v)$")  # an adder's per-bit units (craft/adder.py): bits, not a word


@dataclass(frozen=True)
class PassTrace:
    """One pass, layer by layer: the state it started from and each layer's output activations."""

    number: int
    before: np.ndarray  # (state size,)
    outputs: list[np.ndarray]  # 23 vectors, one per layer

    def inputs(self, k: int) -> np.ndarray:
        return self.before if k == 0 else self.outputs[k - 1]


def pass_trace(session: Session, number: int | None = None) -> PassTrace:
    """Pass ``number`` (default: the last), re-run from its recorded state."""
    number = session.passes if number is None else number
    before = session.before(number) if number >= 1 else None
    if before is None:
        ran = f"passes 1..{session.passes} ran" if session.passes else "no pass has run yet: step first"
        raise DebugError(f"there is no pass {number} ({ran})")
    key = (session.config, number, before.tobytes())  # views of one pass in a row re-run it once
    if key not in _RECENT:
        _RECENT[key] = PassTrace(number, before[0], [h[0] for h in session.trace_of(before)])
        while len(_RECENT) > 4:
            _RECENT.pop(next(iter(_RECENT)))
    return _RECENT[key]


_RECENT: dict[tuple, PassTrace] = {}


def layer_index(key: str) -> int:
    """A layer by number (0..22) or name (read.1)."""
    if key.isdigit() and int(key) < len(LAYER_NAMES):
        return int(key)
    if key in LAYER_NAMES:
        return LAYER_NAMES.index(key)
    raise DebugError(f"no layer {key!r}: give 0..22 or a name like read.1")


@lru_cache(maxsize=8)
def meanings(config: Config) -> dict[str, str]:
    return dict(config.spec.meanings(config))


# -- one field's value in words -------------------------------------------------------------------


def selected_row(layer: Layer, name: str, inputs: np.ndarray) -> int | None:
    """The row an address-matched field's address selects (even when the row's value is 0)."""
    block = next((b for b in layer.blocks if b.out == name), None)
    if not isinstance(block, Select):
        return None
    bits = layer.inputs.view(inputs, block.addr).ravel()[block.addr_index]
    return int((from_bits(bits, signed=False) + block.shift) % block.rows)


def _from_slots(layer: Layer, name: str) -> bool:
    """Whether the field's rows are instruction slots (read from ``ins``) rather than memory cells."""
    block = next((b for b in layer.blocks if b.out == name), None)
    return isinstance(block, Select) and any(t.src == "ins" for t in block.terms)


def row_value(config: Config, layer: Layer, name: str, bits: np.ndarray) -> int:
    """A row's word: an instruction's address field (signed as the machine's addresses are), else a data word."""
    return int(from_bits(bits, signed=signed_field(config, "a" if _from_slots(layer, name) else "mem_a")))


def row_label(session: Session, layer: Layer, name: str, row: int) -> str:
    """``row 22 <loop>``: the cell (or slot, when the field is read from the instruction slots)."""
    if session.source_map is None:
        return f"row {row}"
    labels = session.source_map.labels_at(row, _from_slots(layer, name))
    return f"row {row}" + (f" <{labels[0]}>" if labels else "")


def word(config: Config, name: str, values: np.ndarray) -> str:
    """A bit field as its bits (most significant first) and its value, signed too when the top bit is set."""
    bits = np.rint(values).astype(np.int64).ravel()
    if name in REGISTERS or name == "pc":
        return str(int(from_bits(bits, signed=signed_field(config, name))))
    if len(bits) > config.bits:  # not a word: lookahead terms, one per (carry bit, source bit)
        return f"{int(bits.sum())} of {len(bits)} on"
    unsigned = int(from_bits(bits, signed=False))
    text = "".join(map(str, bits[::-1])) + f" = {unsigned}"
    if name in (OUT_BYTE, IN_BYTE):
        return text + f" {chr(unsigned)!r}"
    if len(bits) > 1 and bits[-1] and len(bits) == config.bits and not ADDER_STEP.search(name):
        text += f" (signed {int(from_bits(bits))})"
    return text


def field_value(session: Session, pt: PassTrace, k: int, name: str) -> str:
    """A field of layer ``k``'s output in words: a flag, a word, the selected row of a memory-wide field."""
    layer = build(session.config).layers[k]
    f = layer.outputs[name]
    values = layer.outputs.view(pt.outputs[k], name)
    if not f.shape:
        return str(round(float(values)))
    if len(f.shape) == 1:
        return word(session.config, name, values)
    on = int(np.count_nonzero(values))
    row = selected_row(layer, name, pt.inputs(k))
    if row is not None:
        rest = on - int(np.count_nonzero(values[row]))
        value = row_value(session.config, layer, name, values[row])
        return f"{row_label(session, layer, name, row)} = {value}" + (f"; {rest} units on elsewhere" if rest else "")
    if name in layer.inputs and name not in layer.passed:  # recomputed in place: name the rows that changed
        changed = np.flatnonzero((values != layer.inputs.view(pt.inputs(k), name)).reshape(f.shape[0], -1).any(1))
        cfg = session.config
        rows = ", ".join(f"{row_label(session, layer, name, int(r))} = {row_value(cfg, layer, name, values[r])}"
                         for r in changed[:2])  # fmt: skip
        return f"{on} units on; " + (f"changed {rows}" if rows else "no row changed")
    return f"{'x'.join(map(str, f.shape))}, {on} units on"


def active(layer: Layer, h: np.ndarray) -> tuple[int, int]:
    """Units on among those the layer computed, and among those it carried."""
    computed = sum(int(np.count_nonzero(layer.outputs.view(h, n))) for n in layer.computed)
    return computed, int(np.count_nonzero(h)) - computed


def computed_size(layer: Layer) -> int:
    return sum(layer.outputs[n].size for n in layer.computed)


# -- the views -------------------------------------------------------------------------------------


def layers(session: Session, pt: PassTrace) -> RenderableType:
    """One line per layer: units on of those it computed, units on of those it carried, what it computed."""
    rows = []
    for k, layer in enumerate(build(session.config).layers):
        made, carried = active(layer, pt.outputs[k])
        values = "; ".join(f"{n}={_short(field_value(session, pt, k, n))}" for n in layer.computed)
        rows.append((str(k), layer.name, f"{made}/{computed_size(layer)}", str(carried), values))
    title = f"pass {pt.number}: units on, of those each layer computed and of those it carried"
    return _table(title, ("#", "layer", "computed", "carried", "computes"), rows)


def _table(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> RenderableType:
    """Every column but the last as wide as its widest cell; the last takes the rest of the width, wrapped
    between words (never cut); the title is a paragraph above, wrapped too."""
    table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
    widths = [max([len(header), *(len(r[n]) for r in rows)]) for n, header in enumerate(headers[:-1])]
    for header, wide in zip(headers, widths):
        table.add_column(header, no_wrap=True, min_width=wide, max_width=wide)
    table.add_column(headers[-1], overflow="fold")
    for r in rows:
        table.add_row(*r)
    return Group(Text(title), table)


def _short(value: str) -> str:
    """A value for the one-line summary: a bit field's number without its bits."""
    return value.split(" = ", 1)[1] if value[:1] in "01" and " = " in value and "row" not in value else value


def layer(session: Session, pt: PassTrace, k: int) -> RenderableType:
    """One layer: each computed field with its value and meaning, then the carried ones in a paragraph."""
    lay = build(session.config).layers[k]
    made, carried = active(lay, pt.outputs[k])
    head = (f"layer {k}: {lay.name} ({lay.stage}), pass {pt.number}: computed {len(lay.computed)} fields, "
            f"{made} of {computed_size(lay)} units on; carried {len(lay.passed)} fields, {carried} on")  # fmt: skip
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    means = meanings(session.config)
    for name in lay.computed:
        table.add_row(name, field_value(session, pt, k, name))
        table.add_row("", Text(means.get(name, ""), style="dim"))
    rest = "; ".join(f"{n} {_short(field_value(session, pt, k, n))}" for n in lay.passed)
    return Group(Text(head, style="bold"), table, Text("carried: " + rest, style="dim"))


def diff(session: Session, a: PassTrace, b: PassTrace) -> RenderableType:
    """Between two passes, layer by layer: how many units differ, and the computed fields whose value changed."""
    rows = []
    for k, lay in enumerate(build(session.config).layers):
        units = int(np.count_nonzero(a.outputs[k] != b.outputs[k]))
        names = [n for n in lay.outputs.fields if _differs(lay, n, a.outputs[k], b.outputs[k])]
        shown = [f"{n} {_short(field_value(session, a, k, n))}->{_short(field_value(session, b, k, n))}"
                 for n in names if n in lay.computed]  # fmt: skip
        carried = len([n for n in names if n in lay.passed])
        rows.append((str(k), lay.name, str(units), "; ".join(shown + ([f"{carried} carried"] if carried else []))))
    title = f"pass {a.number} -> pass {b.number}: units that differ, computed fields that changed"
    return _table(title, ("#", "layer", "units", "fields"), rows)


def diff_layers(session: Session, pt: PassTrace, i: int, j: int) -> RenderableType:
    """Between two layers of a pass: the fields both output whose units differ, and those only one has."""
    net = build(session.config)
    li, lj = net.layers[i], net.layers[j]
    table = Table("field", f"{li.name}", f"{lj.name}", box=None, header_style="bold",
                  title=f"pass {pt.number}: {li.name} -> {lj.name}", title_justify="left")  # fmt: skip
    same = 0
    for f in lj.outputs:
        if f.name not in li.outputs:
            table.add_row(f.name, Text("-", style="dim"), field_value(session, pt, j, f.name))
        elif np.array_equal(li.outputs.view(pt.outputs[i], f.name), lj.outputs.view(pt.outputs[j], f.name)):
            same += 1
        else:
            table.add_row(f.name, field_value(session, pt, i, f.name), field_value(session, pt, j, f.name))
    for f in li.outputs:
        if f.name not in lj.outputs:
            table.add_row(f.name, field_value(session, pt, i, f.name), Text("-", style="dim"))
    return Group(table, Text(f"{same} fields in both are unchanged", style="dim"))


def _differs(layer: Layer, name: str, x: np.ndarray, y: np.ndarray) -> bool:
    return not np.array_equal(layer.outputs.view(x, name), layer.outputs.view(y, name))


# -- the data flow -------------------------------------------------------------------------------------

LEGEND = "# computes  - carries  > reads (>- reads and carries on)  stages f r s w n b"


def flow_rows(config: Config) -> list[tuple[str, list[str]]]:
    """The construction's map: for each field (fields with the same flow, and an adder's steps, share a row),
    what each of the 23 layers does with it: '#' computes it, '-' carries it, '>' reads it (two characters)."""
    net = build(config)
    reads = [{src for block in lay.blocks if block.out in lay.computed for src in block.reads()} for lay in net.layers]
    names: list[str] = []
    for lay in [net.layers[0].inputs, *(lay.outputs for lay in net.layers)]:
        names += [f.name for f in lay if f.name not in names]
    grouped: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        cells = []
        for k, lay in enumerate(net.layers):
            mark = ">" if name in reads[k] else " "
            cells.append(mark + ("#" if name in lay.computed else "-" if name in lay.passed else " "))
        grouped.setdefault(tuple(cells), []).append(name)
    return [(_group_name(group), list(cells)) for cells, group in grouped.items()]


def _group_name(names: list[str]) -> str:
    """``fetch_{a,b,c} pc_{ok,top}``: names that share a prefix, shortened."""
    by_prefix: dict[str, list[str]] = {}
    for name in names:
        prefix, _, rest = name.rpartition("_")
        by_prefix.setdefault(prefix if prefix else name, []).append(rest if prefix else "")
    parts = [
        p
        if rest == [""] or (len(rest) == 1 and not rest[0])
        else f"{p}_{rest[0]}"
        if len(rest) == 1
        else f"{p}_{{{','.join(rest)}}}"
        for p, rest in by_prefix.items()
    ]
    return " ".join(parts)


def flow(session: Session) -> RenderableType:
    """The field x layer matrix of the construction (see ``flow_rows``), in 80 columns."""
    rows = flow_rows(session.config)
    net = build(session.config)
    width = min(max(len(name) for name, _ in rows), WIDTH - 2 * len(net.layers) - 2)
    tens = "".join(f"{k // 10 or '':>2}" for k in range(len(net.layers)))
    units = "".join(f"{k % 10:>2}" for k in range(len(net.layers)))
    stages = "".join(f"{lay.stage[:1] if k == 0 or lay.stage != net.layers[k - 1].stage else '':>2}"
                     for k, lay in enumerate(net.layers))  # fmt: skip
    lines = [Text(f"{'stage':<{width}} {stages}", style="bold"), Text(f"{'':<{width}} {tens}", style="bold"),
             Text(f"{'field':<{width}} {units}", style="bold")]  # fmt: skip
    for name, cells in rows:
        label = name if len(name) <= width else name[: width - 1] + "…"
        lines.append(Text(f"{label:<{width}} " + "".join(cells).rstrip()))
    lines.append(Text(LEGEND, style="dim"))
    return Group(*lines)
