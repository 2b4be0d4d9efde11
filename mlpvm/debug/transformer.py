"""The debugger's layer views and dumps of the looped transformer (``mlpvm debug --network transformer``,
``mlpvm trace --network transformer --layers``).

A pass is re-run from its recorded state on the transformer's own layers (``Session.trace_of``).
An attention layer is shown head by head: which column each head attended to, with its softmax weight, and the
runner-up, for the columns that query at all (the scratchpad for the fetch and the reads; every column for the
write's broadcast, summarised by its smallest winning and largest losing weight). A feed-forward block shows
the fields it writes, decoded in the scratchpad, and the memory columns where it changed them.
"""

from __future__ import annotations

import json

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlpvm.debug.netviews import PassTrace, _table
from mlpvm.debug.records import DebugError
from mlpvm.transformer.attention import Attention
from mlpvm.transformer.encodings import from_bits
from mlpvm.transformer.engine import TransformerEngine

BITS_SHOWN = ("car1", "car2", "car3", "borrow", "dist")  # carries and distances: bits, not numbers
UNSIGNED = ("in_byte", "out_byte", "n_out_byte", "bb", "raw_bb", "pos")
# What each attention head reads, in the construction's words (mlpvm/transformer/subleq.py).
READS = {"fetch.a": "mem[PC] (A)", "fetch.b": "mem[PC+1] (B)", "fetch.c": "mem[PC+2] (C)",
         "read.a": "mem[A]", "read.b": "mem[B]", "write.broadcast": "scratchpad"}  # fmt: skip


def applies(session) -> bool:
    """Whether the session runs the transformer (these views) rather than the MLP (``netviews``)."""
    return isinstance(session.engine, TransformerEngine)


def engine(session) -> TransformerEngine:
    return session.engine


def layer_index(eng: TransformerEngine, key: str) -> int:
    """A layer by number (0..15) or name (fetch.round)."""
    names = eng.layer_names
    if key.isdigit() and int(key) < len(names):
        return int(key)
    if key in names:
        return names.index(key)
    raise DebugError(f"no layer {key!r}: give 0..{len(names) - 1} or a name like {names[3]}")


# -- what a pass computed, as data (the views and the dumps share it) ----------------------------------


def cards(eng: TransformerEngine, pt: PassTrace) -> list[np.ndarray]:
    """The punchcard after each layer, and before the first (``cards[0]``; layer k's input is ``cards[k]``)."""
    shape = (eng.net.rows.size, eng.net.columns)
    return [eng.embed(pt.before), *(h.reshape(shape) for h in pt.outputs)]


def heads(eng: TransformerEngine, before: list[np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Every head of the pass, in order: (name, top two columns per query column, their weights, which
    columns query). ``before[k]``: layer k's input punchcard."""
    found = []
    for k, layer in enumerate(eng.net.layers):
        if isinstance(layer, Attention):
            for head in layer.heads:
                found.append((head.name, *head.attended(before[k], eng.lam)))
    return found


def written(eng: TransformerEngine, k: int) -> list[str]:
    """The row fields layer ``k`` writes, in row order (an attention layer: its value maps' rows)."""
    layer = eng.net.layers[k]
    if isinstance(layer, Attention):
        rows = set().union(*(np.flatnonzero(h.wv.any(axis=1)) for h in layer.heads))
    else:
        rows = set(np.flatnonzero(layer.w2.any(axis=1)))
    return [name for name, r in eng.net.rows.fields.items() if rows.intersection(r)]


# -- one field, in words ----------------------------------------------------------------------------


def value(eng: TransformerEngine, name: str, bits: np.ndarray) -> str:
    """A field's values in one column: a flag, a word (signed), an unsigned byte or address, or raw bits;
    a softmax read that is not exactly {0,1} shows its rounding and how far it was from it."""
    rounded = np.rint(bits).astype(np.int64)
    off = float(np.abs(bits - rounded).max(initial=0))
    if len(bits) == 1:
        text = str(int(rounded[0]))
    elif name in BITS_SHOWN:
        text = "".join(map(str, rounded[::-1]))
    else:
        text = str(from_bits(rounded, signed=name not in UNSIGNED))
    return f"~{text} (off {off:.1e})" if off else text


def cell(session, column: int) -> str:
    """``scratch``, or ``cell 5 <loop>`` for memory column 6."""
    if column == 0:
        return "scratch"
    labels = session.source_map.labels_at(column - 1) if session.source_map is not None else []
    return f"cell {column - 1}" + (f" <{labels[0]}>" if labels else "")


def field_text(session, eng: TransformerEngine, before: np.ndarray, after: np.ndarray, name: str,
               memory: bool = True) -> str:  # fmt: skip
    """A field the layer wrote: its value in the scratchpad, then the memory columns it changed (two by
    name, the rest counted; the same value in every one said once)."""
    rows = eng.net.rows[name]
    old, new = before[rows.start : rows.stop], after[rows.start : rows.stop]
    text = value(eng, name, new[:, 0])
    if not memory:
        return text
    changed = [int(c) for c in np.flatnonzero((old[:, 1:] != new[:, 1:]).any(axis=0)) + 1]
    if not changed:
        return text
    if len(changed) == eng.net.columns - 1 and (new[:, 1:] == new[:, 1:2]).all():
        return f"{text}; every memory column {value(eng, name, new[:, 1])}"
    shown = ", ".join(f"{cell(session, c)} {value(eng, name, new[:, c])}" for c in changed[:2])
    more = f" and {len(changed) - 2} more" if len(changed) > 2 else ""
    return f"{text}; changed {shown}{more}"


def head_row(session, name: str, top: np.ndarray, weight: np.ndarray, querying: np.ndarray) -> tuple[str, ...]:
    """(head, reads, querying columns, attended column, weight, runner-up, its weight) for a view."""
    cols = np.flatnonzero(querying)
    if len(cols) == 1:
        c = int(cols[0])
        return (name, READS.get(name, ""), cell(session, c), cell(session, int(top[c, 0])), f"{weight[c, 0]:.7f}",
                cell(session, int(top[c, 1])), f"{weight[c, 1]:.1e}")  # fmt: skip
    winners = {int(t) for t in top[cols, 0]}
    where = cell(session, winners.pop()) if len(winners) == 1 else f"{len(winners)} columns"
    return (name, READS.get(name, ""), f"all {len(cols)}", where, f">={weight[cols, 0].min():.7f}", "any other",
            f"<={weight[cols, 1].max():.1e}")  # fmt: skip


# -- the views ----------------------------------------------------------------------------------------


def layers(session, pt: PassTrace) -> RenderableType:
    """One line per layer: a head's attended column and weight, or the fields a block wrote (scratchpad)."""
    eng = engine(session)
    before = cards(eng, pt)
    found = iter(heads(eng, before))
    rows = []
    for k, layer in enumerate(eng.net.layers):
        if isinstance(layer, Attention):
            parts = []
            for _ in layer.heads:
                name, top, weight, querying = next(found)
                r = head_row(session, name, top, weight, querying)
                parts.append(f"{name}: {r[3]} {r[4]}")
            rows.append((str(k), layer.name, "attention", "; ".join(parts)))
        else:
            kept, cleared = sort_fields(eng, k, before)
            shown = [f"{n}={field_text(session, eng, before[k], before[k + 1], n)}" for n in kept]
            shown += [f"{len(cleared)} cleared"] if cleared else []
            rows.append((str(k), layer.name, "ffn", "; ".join(shown)))
    title = (f"pass {pt.number} on the transformer (lambda {eng.net.lam:g}, {eng.dtype.name}): each head's "
             f"attended column and weight, each block's fields in the scratchpad")  # fmt: skip
    return _table(title, ("#", "layer", "kind", "attends to / computes"), rows)


def sort_fields(eng: TransformerEngine, k: int, before: list[np.ndarray]) -> tuple[list, list]:
    """The fields layer ``k`` writes: those it computes, and the scratch fields it returns to 0 (a rounding
    block clears the raw read it rounded, the last block every scratch field)."""
    last, temps = len(eng.net.layers) - 1, eng.net.rows.temps
    kept, cleared = [], []
    for name in written(eng, k):
        rounding = name.startswith("raw_") and not isinstance(eng.net.layers[k], Attention)
        clears = name in temps and (k == last or rounding)
        (cleared if clears else kept).append(name)
    return kept, cleared


def layer(session, pt: PassTrace, k: int) -> RenderableType:
    """One layer: an attention layer's heads (attended column, weight, runner-up), then every field it wrote."""
    eng = engine(session)
    lay = eng.net.layers[k]
    before = cards(eng, pt)
    parts: list[RenderableType] = []
    if isinstance(lay, Attention):
        heads_text = f"{len(lay.heads)} head" + ("s" if len(lay.heads) > 1 else "")
        parts.append(Text(f"layer {k}: {lay.name} (attention, {heads_text}), pass {pt.number}, "
                          f"lambda {eng.net.lam:g}", style="bold"))  # fmt: skip
        table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
        for header in ("head", "reads", "query", "attended", "weight", "runner-up", "weight"):
            table.add_column(header, overflow="fold")
        names = {h.name for h in lay.heads}
        for name, top, weight, querying in heads(eng, before):
            if name in names:
                table.add_row(*head_row(session, name, top, weight, querying))
        parts.append(table)
    else:
        hidden = f"{len(lay.b1)} hidden unit" + ("s" if len(lay.b1) != 1 else "")
        parts.append(Text(f"layer {k}: {lay.name} (feed-forward, {hidden}, "
                          f"{int(np.count_nonzero(np.maximum(lay.w1 @ before[k] + lay.b1[:, None], 0)))} on), "
                          f"pass {pt.number}", style="bold"))  # fmt: skip
    kept, cleared = sort_fields(eng, k, before)
    memory = _memory_shown(eng, lay, before[k])
    fields = Table.grid(padding=(0, 1))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")
    for name in kept:
        fields.add_row(name, field_text(session, eng, before[k], before[k + 1], name, memory))
    where = "scratchpad; memory columns where they changed" if memory else "scratchpad"
    parts += [Text(f"fields written ({where}):", style="dim"), fields]
    if cleared:
        parts.append(Text("returned to 0: " + " ".join(cleared), style="dim"))
    return Group(*parts)


def _memory_shown(eng: TransformerEngine, lay, x: np.ndarray) -> bool:
    """Whether an attention layer's writes in the memory columns mean anything: only where those columns
    query (the broadcast); a scratchpad read leaves them a uniform average, which nothing reads."""
    if not isinstance(lay, Attention):
        return True
    return any(head.attended(x, eng.lam)[2][1:].any() for head in lay.heads)


def diff(session, a: PassTrace, b: PassTrace) -> RenderableType:
    """Between two passes, layer by layer: how many punchcard entries differ, the fields the layer wrote
    whose scratchpad value changed, and how many memory columns differ."""
    eng = engine(session)
    before_a, before_b = cards(eng, a), cards(eng, b)
    rows = []
    for k, lay in enumerate(eng.net.layers):
        x, y = before_a[k + 1], before_b[k + 1]
        changed = [f"{n} {_scratch(eng, n, x)}->{_scratch(eng, n, y)}" for n in written(eng, k)
                   if _scratch(eng, n, x) != _scratch(eng, n, y)]  # fmt: skip
        columns = int(np.count_nonzero((x[:, 1:] != y[:, 1:]).any(axis=0)))
        changed += [f"{columns} memory column" + ("s" if columns > 1 else "")] if columns else []
        rows.append((str(k), lay.name, str(int(np.count_nonzero(x != y))), "; ".join(changed)))
    title = f"pass {a.number} -> pass {b.number}: entries that differ, written fields that changed"
    return _table(title, ("#", "layer", "entries", "fields"), rows)


def diff_layers(session, pt: PassTrace, i: int, j: int) -> RenderableType:
    """Between two layers of a pass: every row field whose scratchpad value or memory columns differ."""
    eng = engine(session)
    c = cards(eng, pt)
    x, y = c[i + 1], c[j + 1]
    names = eng.layer_names
    table = Table("field", names[i], names[j], box=None, header_style="bold",
                  title=f"pass {pt.number}: {names[i]} -> {names[j]}", title_justify="left")  # fmt: skip
    same = 0
    for name, rows in eng.net.rows.fields.items():
        if np.array_equal(x[rows.start : rows.stop], y[rows.start : rows.stop]):
            same += 1
        else:
            table.add_row(name, field_text(session, eng, y, x, name), field_text(session, eng, x, y, name))
    return Group(table, Text(f"{same} fields are unchanged", style="dim"))


def _scratch(eng: TransformerEngine, name: str, x: np.ndarray) -> str:
    rows = eng.net.rows[name]
    return value(eng, name, x[rows.start : rows.stop, 0])


# -- dumps (``dump`` in the debugger, ``trace --layers``) --------------------------------------------


def dump_meta(eng: TransformerEngine) -> dict:
    """The dump's meta for the transformer: every layer's output is the whole punchcard, so its fields are
    the row fields, each (width, columns); ``heads`` names the attention heads of ``passN.attended``."""
    fields = [[f.name, f.offset, list(f.shape)] for f in eng.card]
    return {
        "config": eng.config.to_meta(), "network": "transformer", "lambda": eng.net.lam, "dtype": eng.dtype.name,
        "layers": eng.layer_names, "fields": {name: fields for name in eng.layer_names},
        "heads": [h.name for layer in eng.net.layers if isinstance(layer, Attention) for h in layer.heads],
    }  # fmt: skip


def pass_arrays(eng: TransformerEngine, number: int, before: np.ndarray, trace: list[np.ndarray]) -> dict:
    """One pass's members: each layer's punchcard (``passN.LAYER``, in the network's float type: a softmax
    read is not a bit), the decoded state after it (``passN.decoded``), and for every head and column the two
    columns of most weight (``passN.attended``, int64 heads x columns x 2) and their weights
    (``passN.attention``)."""
    pt = PassTrace(number, before, [h[0] for h in trace])
    found = heads(eng, cards(eng, pt))
    arrays = {f"pass{number}.{name}": h[0].astype(eng.dtype) for name, h in zip(eng.layer_names, trace)}
    state = np.zeros(eng.state.size, eng.dtype)
    shape = (eng.net.rows.size, eng.net.columns)
    eng.read_out(trace[-1][0].reshape(shape), [h[0].reshape(shape) for h in trace], state)
    arrays[f"pass{number}.decoded"] = np.array(json.dumps(decoded(eng, state)))
    arrays[f"pass{number}.attended"] = np.stack([top for _, top, _, _ in found]).astype(np.int64)
    arrays[f"pass{number}.attention"] = np.stack([w for _, _, w, _ in found]).astype(eng.dtype)
    return arrays


def decoded(eng: TransformerEngine, state: np.ndarray) -> dict[str, int]:
    from mlpvm.debug.dump import decoded as fields

    return fields(eng, eng.config, state)
