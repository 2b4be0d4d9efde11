"""``mlpvm plot --compare``: the MLP and the looped transformer running the same program, pass by pass,
drawn side by side. Each network's panel is a heat map of its passes (rows) and layers (columns): the share
of the layer's output that is nonzero (the MLP's active ReLU units; the transformer's punchcard, where the
scratch rows fill during a pass and ``commit`` clears them); below them both networks' PC against the pass,
drawn over each other (identical when both stay exact)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlpvm.engines import make
from mlpvm.host import transformer as host
from mlpvm.host.computer import Computer
from mlpvm.machines.config import Config
from mlpvm.machines.state import decode, encode
from mlpvm.program.image import Image
from mlpvm.program.inputs import Input
from mlpvm.transformer import DEFAULT_LAMBDA
from mlpvm.transformer import build as build_transformer


def mlp_passes(image: Image, config: Config, data: bytes, max_passes: int) -> dict:
    """The MLP's passes (its ``sparse`` engine): per pass each layer's share of nonzero units, and the PC."""
    engine = make("sparse", config)
    computer = Computer(engine, encode(engine.state, config, image.words, image.slots)[None], [Input(data)])
    active, pcs, names = [], [], list(engine.layer_names)
    while len(computer.ids) and computer.passes < max_passes:
        trace: list[np.ndarray] = []
        engine.run_pass(computer.x.copy(), trace)
        active.append([float(np.count_nonzero(h)) / h.size for h in trace])
        computer.step()
        pcs.append(decode(engine.state, config, computer.state_of(0)).pc)
    return {"layers": names, "active": np.array(active), "pc": pcs}


def transformer_passes(image: Image, config: Config, data: bytes, max_passes: int, lam: float | None) -> dict:
    """The transformer's passes: per pass each layer's share of nonzero punchcard entries, and the PC."""
    from mlpvm.transformer.state import decode as decode_punchcard

    net = build_transformer(config, DEFAULT_LAMBDA if lam is None else lam)
    m = host.start(net, list(image.words), Input(data))
    active, pcs = [], []
    while m.passes < max_passes:
        s = m.step()
        trace: list = []
        net.run_pass(m.before, trace)
        active.append([float(np.count_nonzero(x)) / x.size for _, x in trace])
        pcs.append(decode_punchcard(net, m.x).pc)
        if s.flags["halted"] or (s.flags["in_wait"] and not m.inp.wait()):
            break
    return {"layers": [layer.name for layer in net.layers], "active": np.array(active), "pc": pcs}


def picture(title: str, mlp: dict, transformer: dict, path: Path) -> None:
    from mlpvm.debug.picture import _figure, _save

    fig = _figure(11, 7.5, path)
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 1.2), width_ratios=(23, 16))
    for col, (name, doc) in enumerate((("MLP", mlp), ("transformer", transformer))):
        ax = fig.add_subplot(grid[0, col])
        rows, cols = doc["active"].shape
        image = ax.imshow(doc["active"], aspect="auto", cmap="viridis", interpolation="nearest", vmin=0,
                          extent=(-0.5, cols - 0.5, rows + 0.5, 0.5))  # fmt: skip
        ax.set_title(f"{name}: {len(doc['layers'])} layers a pass", fontsize=9)
        ax.set_xticks(range(len(doc["layers"])), doc["layers"], rotation=90, fontsize=6)
        ax.set_ylabel("pass", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.05).set_label("share nonzero", fontsize=7)
    ax = fig.add_subplot(grid[1, :])
    for name, doc, style in (("MLP", mlp, "-"), ("transformer", transformer, "--")):
        ax.plot(range(1, len(doc["pc"]) + 1), doc["pc"], style, label=name, drawstyle="steps-post")
    ax.set_xlabel("pass", fontsize=8)
    ax.set_ylabel("PC", fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
