"""Pictures of the network computing, as PNG or SVG (by the file's suffix), drawn with matplotlib (the optional
extra ``mlpvm[plot]``):

- ``pass_picture``: one pass, its 23 layers side by side, each a column of its fields, units coloured by
  activation (computed fields in orange, carried ones in grey), the row an address selected marked in red;
- ``run_picture``: a run over time from ``mlpvm trace``'s records: PC against pass, and how often each memory
  cell was read and written;
- ``flow_picture``: the data-flow matrix of ``netviews.flow_rows``.

Each returns the field names (or labels) it wrote, so a test can check them against the construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlpvm.debug.netviews import PassTrace, flow_rows, selected_row
from mlpvm.errors import MlpvmError
from mlpvm.files import atomic_write
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, build
from mlpvm.program.sourcemap import SourceMap

BAND = 8  # pixel rows of a flag's or a word's band; a memory-wide field's is TALL times that
TALL = 6
COLUMNS, LABEL = 64, 26  # pixel columns of every layer; the first LABEL hold the field's name, the rest its units
COMPUTED, CARRIED = np.array([0.85, 0.33, 0.0]), np.array([0.3, 0.3, 0.3])  # the colour of a unit at 1


def _figure(width: float, height: float, path: Path):
    if path.suffix.lower() not in (".png", ".svg"):
        raise MlpvmError(f"{path}: a picture is .png or .svg")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MlpvmError("pictures need matplotlib: pip install 'mlpvm[plot]'") from None
    return Figure(
        figsize=(width, height),
    )


def _save(fig, path: Path) -> None:
    import matplotlib

    kind = path.suffix.lower()[1:]
    metadata = {"Date": None} if kind == "svg" else None
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mlpvm"}):  # text stays text in SVG
        # atomic_write: a missing folder or a directory in the way is one line, and a failure leaves no half file
        atomic_write(path, lambda f: fig.savefig(f, format=kind, dpi=150, metadata=metadata))


def _resample(image: np.ndarray, size: int, axis: int) -> np.ndarray:
    """To ``size`` along ``axis``: the max over groups when shrinking (a lone active row stays), else nearest."""
    n = image.shape[axis]
    if n >= size:
        return np.maximum.reduceat(image, np.arange(size) * n // size, axis=axis)
    return np.take(image, np.arange(size) * n // size, axis=axis)


def _band(values: np.ndarray, computed: bool) -> np.ndarray:
    """A field as RGB pixels: one band for a flag or a word, TALL bands for a memory-wide field, whose rows are
    pooled; white at 0, the field's colour at 1, a white line below."""
    image = values.reshape(1, -1) if values.ndim < 2 else values.reshape(values.shape[0], -1)
    height = BAND * (TALL if image.shape[0] > 1 else 1)
    image = _resample(_resample(np.clip(image, 0, 1), height - 1, 0), COLUMNS - LABEL, 1)
    rgb = 1 - image[..., None] * (1 - (COMPUTED if computed else CARRIED))
    rgb = np.concatenate([np.ones((height - 1, LABEL, 3)), rgb], axis=1)
    return np.concatenate([rgb, np.ones((1, COLUMNS, 3))])


def pass_picture(config: Config, pt: PassTrace, path: Path, source_map: SourceMap | None = None) -> list[str]:
    """One pass (see the module's docstring); returns the field names written on it."""
    net = build(config)
    fig = _figure(24, 11, path)
    axes = fig.subplots(1, len(net.layers))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9, wspace=0.08)
    columns, texts = [], []
    for k, lay in enumerate(net.layers):
        bands, y = [], 0
        for f in lay.outputs:
            computed = f.name in lay.computed
            bands.append(_band(lay.outputs.view(pt.outputs[k], f.name), computed))
            row = selected_row(lay, f.name, pt.inputs(k))
            mark = None if row is None else y + (row * (len(bands[-1]) - 1)) // f.shape[0]
            texts.append((k, y, f.name, computed, mark, row))
            y += len(bands[-1])
        columns.append(np.concatenate(bands))
    height = max(len(c) for c in columns)
    for k, (ax, lay) in enumerate(zip(axes, net.layers)):
        canvas = np.ones((height, COLUMNS, 3))
        canvas[: len(columns[k])] = columns[k]
        ax.imshow(canvas, aspect="auto", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{k}\n{lay.name}", fontsize=6)
    for k, y, name, computed, mark, row in texts:
        style = {"fontweight": "bold"} if computed else {"color": "dimgray"}
        axes[k].text(0, y + BAND / 2, name, fontsize=3.5, va="center", **style)
        if mark is not None:
            axes[k].axhline(mark, xmin=LABEL / COLUMNS, color="red", linewidth=0.8)
            axes[k].text(COLUMNS - 1, mark, f" {row}", color="red", fontsize=4, va="center", ha="right")
    fig.suptitle(f"pass {pt.number} on {config.describe()}: computed fields orange, carried grey, selected rows red")
    _save(fig, path)
    return sorted({name for _, _, name, *_ in texts})


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
