"""Pictures of the network computing, as PNG or SVG (by the file's suffix), drawn with matplotlib (the optional
extra ``mlpvm[plot]``):

- ``pass_picture``: one pass as its data flow: a column per layer, a row per field at the same height in every
  column; a box with the value where a layer computes the field, a thin line where it carries it; the
  instruction and its result in the title, memory summarised in one line (the cells read and written);
- ``run_picture``: a run over time from ``mlpvm trace``'s records: PC against pass, and how often each memory
  cell was read and written;
- ``flow_picture``: the data-flow matrix of ``netviews.flow_rows``.

Each returns the field names (or labels) it wrote, so a test can check them against the construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlpvm.debug.netviews import PassTrace, flow_rows, row_value, selected_row
from mlpvm.errors import MlpvmError, shown
from mlpvm.files import atomic_write, writable
from mlpvm.machines.config import Config
from mlpvm.machines.state import REGISTERS, Fields, from_bits, signed_field
from mlpvm.network import LAYER_NAMES, build
from mlpvm.program.sourcemap import SourceMap

NAMES, CELL, ROW, HEADER = 1.0, 0.78, 0.2, 1.05  # inches: the names' column, a layer's, a field's row, the top
COMPUTED, COMPUTED_OFF, CARRIED = "#f5b041", "#fbe3bd", "0.55"  # a computed field with a unit on, all off; carried
PICTURE_DPI = 110  # a pass picture at 100% on a laptop screen: 7-point names are about 11 pixels high


def _figure(width: float, height: float, path: Path):
    check_target(path)  # refused before anything is drawn: a bad name, an input, a directory
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MlpvmError("pictures need matplotlib: pip install 'mlpvm[plot]'") from None
    return Figure(
        figsize=(width, height),
    )


def check_target(path: Path) -> str:
    """``png`` or ``svg``, by the file's suffix; a stream (``-``, /dev/stdout, a pipe) without one gets PNG.
    Refuses (one line) a path that cannot be a picture or that ``atomic_write`` would refuse."""
    suffix = path.suffix.lower()
    target = writable(path)
    if suffix in (".png", ".svg"):
        return suffix[1:]
    if target.stream:
        return "png"
    raise MlpvmError(f"{shown(path)}: a picture is .png or .svg")


def _save(fig, path: Path, dpi: int = 150) -> None:
    import matplotlib

    fmt = check_target(path)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mlpvm"}):  # text stays text in SVG
        metadata = {"Date": None} if fmt == "svg" else None
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, metadata=metadata))


def pass_picture(config: Config, pt: PassTrace, path: Path, source_map: SourceMap | None = None) -> list[str]:
    """One pass as its data flow (see the module's docstring); returns the field names written on it."""
    net = build(config)
    rows = _field_rows(net.layers)
    width, height = NAMES + len(net.layers) * CELL + 0.2, HEADER + len(rows) * ROW + 0.2
    fig = _figure(width, height, path)
    from matplotlib.patches import Rectangle  # after _figure, which says how to install matplotlib

    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # inches from the top left: the layout below is in inches
    ax.axis("off")
    state = Fields(net.layers[-1].outputs, config)
    before, after = state(pt.before), state(pt.outputs[-1])
    ax.text(0.1, 0.12, _title(config, pt, before, after), fontsize=10, fontweight="bold", va="top")
    ax.text(0.1, 0.42, _memory_line(config, net.layers, pt, before, after, source_map), fontsize=8, va="top")
    for k, lay in enumerate(net.layers):
        x = NAMES + k * CELL
        if k % 2:
            ax.add_patch(Rectangle((x, HEADER - 0.3), CELL, len(rows) * ROW + 0.3, color="0.96", lw=0))
        ax.text(x + CELL / 2, HEADER - 0.05, f"{k}\n{lay.name}", fontsize=7, ha="center", va="bottom")
        for i, name in enumerate(rows):
            y = HEADER + i * ROW
            if name in lay.computed:
                text = _value(config, lay, name, pt, k)
                on = bool(np.count_nonzero(lay.outputs.view(pt.outputs[k], name)))
                ax.add_patch(Rectangle((x + 0.03, y + 0.02), CELL - 0.06, ROW - 0.04, lw=0,
                                       color=COMPUTED if on else COMPUTED_OFF))  # fmt: skip
                ax.text(x + CELL / 2, y + ROW / 2, text, fontsize=7, ha="center", va="center")
            elif name in lay.passed:  # carried: a thin line, so a field can be followed across the columns
                ax.plot((x, x + CELL), (y + ROW / 2, y + ROW / 2), color=CARRIED, lw=0.6)
    for i, name in enumerate(rows):
        y = HEADER + i * ROW + ROW / 2
        ax.text(NAMES - 0.08, y, name, fontsize=7, ha="right", va="center", fontweight="bold")
    ax.text(0.1, height - 0.05, "boxes: computed by that layer (orange: some unit on); thin lines: carried "
            "unchanged; memory-wide fields show the row an address selected as [row]=value", fontsize=7)  # fmt: skip
    _save(fig, path, dpi=PICTURE_DPI)
    return list(rows)


def _field_rows(layers) -> list[str]:
    """Every field once, in the order the pass first produces it: a row at one height in every column."""
    seen: dict[str, None] = {}
    for lay in layers:
        for f in lay.outputs:
            seen.setdefault(f.name, None)
    return list(seen)


def _value(config: Config, lay, name: str, pt: PassTrace, k: int) -> str:
    """A computed field in a few characters: a flag or a word's value, the selected row of a memory-wide field
    as [row]=value, an adder's per-bit terms as on/total."""
    f = lay.outputs[name]
    values = lay.outputs.view(pt.outputs[k], name)
    if not f.shape:
        return str(round(float(values)))
    if len(f.shape) == 1:
        if name in REGISTERS or name in ("pc", "result") or len(values) == config.bits or len(values) == 8:
            signed = signed_field(config, name) if (name in REGISTERS or name == "pc") else False
            return str(int(from_bits(np.rint(values).astype(np.int64), signed=signed)))
        return f"{int(np.count_nonzero(values))}/{len(values)} on"
    row = selected_row(lay, name, pt.inputs(k))
    if row is not None:
        return f"[{row}]={row_value(config, lay, name, values[row])}"
    changed = np.flatnonzero((values != lay.inputs.view(pt.inputs(k), name)).reshape(f.shape[0], -1).any(1))
    if name in lay.inputs and len(changed):
        return ", ".join(f"[{int(r)}]={row_value(config, lay, name, values[r])}" for r in changed[:1])
    return "no change" if name in lay.inputs else f"{int(np.count_nonzero(values))} on"


def _title(config: Config, pt: PassTrace, before: dict[str, int], after: dict[str, int]) -> str:
    """The instruction the pass ran and what it did."""
    pc, a, b, c = before["pc"], after["a"], after["b"], after["c"]
    head = f"pass {pt.number} on {config.describe()}: pc={pc}"
    if not after.get("executed", 1):
        return f"{head}: no instruction ran (halted or waiting)"
    adder = config.spec.adder
    branch = f"branch taken: pc = C = {c}" if after["branch"] else f"no branch: pc = {adder} = {after['pc']}"
    if after.get("out_valid"):
        op = f"OUT (B={b}): the byte mem[A={a}] = {after['out_byte']} goes out"
    elif after.get("in_ack"):
        op = f"IN (A={a}): mem[B={b}] = the input byte"
    else:
        op = f"SUBLEQ A={a} B={b} C={c}: mem[B] = {after['mem_b']} - {after['mem_a']} = {after['result']}"
    return f"{head}  {op}; {branch}"


def _memory_line(config, layers, pt: PassTrace, before, after, source_map: SourceMap | None) -> str:
    """Memory in one line, instead of a band in every column: its size, the cells the pass read and wrote."""
    mem = next((lay.outputs["mem"] for lay in layers if "mem" in lay.outputs), None)
    shape = "x".join(map(str, mem.shape)) if mem is not None else "?"
    fetched = config.spec.fetched(before["pc"]) if not config.spec.harvard else ()
    reads = [f"mem[{x}]" for x in fetched]
    if after.get("out_valid"):  # OUT reads mem[A] and writes no cell
        reads.append(f"mem[A={after['a']}]={after['mem_a']}")
        wrote = "no cell (the byte goes out)"
    elif after.get("in_ack"):  # IN writes the input byte into mem[B]
        wrote = f"mem[{after['b']}] = the input byte"
    elif after.get("executed", 1):
        reads += [f"mem[A={after['a']}]={after['mem_a']}", f"mem[B={after['b']}]={after['mem_b']}"]
        wrote = f"mem[{after['b']}] = {after['result']}"
    else:
        wrote = "nothing (no instruction ran)"
    return (
        f"memory ({shape} units, carried by every layer; drawn as the row 'mem'): read "
        f"{', '.join(reads) or 'no cell'}; write.1 stores {wrote}"
    )


def run_picture(config: Config, records: list[dict], path: Path, source_map: SourceMap | None = None) -> list[str]:
    """PC against pass (labels on the axis), and reads and writes per memory cell, from ``mlpvm trace`` records
    (an operand is read, and B written, when the pass executed an instruction and the operand is a cell)."""
    if not records:
        raise MlpvmError("no passes to draw")
    fig = _figure(12, 7, path)
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 1))
    passes = [r["pass"] for r in records]
    top.step(passes, [r["pc"] for r in records], where="post", linewidth=0.8)
    top.set_xlabel("pass")
    top.set_ylabel("PC")
    labels: list[str] = []
    if source_map is not None:
        table = source_map.slot_labels if config.spec.harvard else source_map.labels
        seen = sorted({r["pc"] for r in records})
        named = [(a, name) for name, a in table.items() if a in seen][:40]
        top.set_yticks([a for a, _ in named], [f"{name} {a}" for a, name in named], fontsize=6)
        labels = [name for _, name in named]
    counts = np.zeros((2, config.cells), np.int64)
    step = 0
    for r in records:
        if r["step"] > step:
            for row, cell in ((0, r["a"]), (0, r["b"]), (1, r["b"])):
                if 0 <= cell < config.cells:
                    counts[row, cell] += 1
        step = r["step"]
    image = bottom.imshow(np.log1p(counts), aspect="auto", cmap="magma", interpolation="nearest")
    bottom.set_yticks([0, 1], ["reads", "writes"])
    bottom.set_xlabel("memory cell")
    fig.colorbar(image, ax=bottom, label="log(1 + count)")
    fig.suptitle(f"{len(records)} passes on {config.describe()}")
    _save(fig, path)
    return labels


def flow_picture(config: Config, path: Path) -> list[str]:
    """The field x layer matrix: where each field is computed, carried and read."""
    rows = flow_rows(config)
    codes = {" ": 0, "-": 1, ">": 2, "#": 3}
    matrix = np.array([[max(codes[cell[0]], codes[cell[1]]) for cell in cells] for _, cells in rows])
    fig = _figure(10, 0.18 * len(rows) + 2, path)
    ax = fig.subplots()
    from matplotlib.colors import ListedColormap

    ax.imshow(matrix, cmap=ListedColormap(["white", "lightgray", "tab:blue", "tab:orange"]), vmin=0, vmax=3,
              aspect="auto", interpolation="nearest")  # fmt: skip
    names = [name for name, _ in rows]
    ax.set_yticks(range(len(rows)), names, fontsize=6)
    ax.set_xticks(range(len(LAYER_NAMES)), LAYER_NAMES, rotation=90, fontsize=6)
    ax.set_title("orange: computed, blue: read, gray: carried", fontsize=8)
    _save(fig, path)
    return names
