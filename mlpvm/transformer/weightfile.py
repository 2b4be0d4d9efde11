"""The transformer's weight file, ``mlpvm-transformer/1``: a numpy archive (``allow_pickle=False``) that a
script with numpy alone can run (tests/test_transformer.py does, in an interpreter where mlpvm cannot be
imported).

Members: ``meta`` (JSON: format, config, lambda, dtype, the row ``fields`` as [start, stop], ``columns``, and
``layers``, each ``{"name", "kind": "ffn"|"attention", "heads": [names]}``); ``state0``, the empty punchcard
(rows x columns: the constant rows and positions set, memory and PC zero); for feed-forward layer k
``L{k}.w1``, ``L{k}.b1``, ``L{k}.w2`` (``X += w2 @ relu(w1 @ X + b1[:, None])``); for attention layer k and
head h ``L{k}.{h}.wq``, ``.wk``, ``.wv`` (``S = lambda (wq X)^T (wk X)``, ``P = softmax(S)`` by rows,
``X += (wv X) @ P^T``, the heads summed on the same X). To load a program, write each word's bits (least
significant first, two's complement) into rows ``val`` of column 1 + address, PC's into rows ``pc`` of
column 0; run the layers until row ``halted`` of column 0 is 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlpvm.files import atomic_write
from mlpvm.transformer.attention import Attention
from mlpvm.transformer.network import Transformer
from mlpvm.transformer.state import encode

FORMAT = "mlpvm-transformer/1"


def arrays(net: Transformer) -> dict[str, np.ndarray]:
    layers, out = [], {}
    for k, layer in enumerate(net.layers):
        if isinstance(layer, Attention):
            layers.append({"name": layer.name, "kind": "attention", "heads": [h.name for h in layer.heads]})
            for h, head in enumerate(layer.heads):
                out |= {f"L{k}.{h}.wq": head.wq, f"L{k}.{h}.wk": head.wk, f"L{k}.{h}.wv": head.wv}
        else:
            layers.append({"name": layer.name, "kind": "ffn", "heads": []})
            out |= {f"L{k}.w1": layer.w1, f"L{k}.b1": layer.b1, f"L{k}.w2": layer.w2}
    meta = {
        "format": FORMAT, "config": net.config.to_meta(), "lambda": net.lam, "dtype": np.dtype(net.dtype).name,
        "fields": {name: [r.start, r.stop] for name, r in net.rows.fields.items()}, "columns": net.columns,
        "layers": layers,
    }  # fmt: skip
    return {"meta": np.array(json.dumps(meta)), "state0": encode(net, []), **out}


def save(net: Transformer, path: str | Path) -> None:
    """Writes to a temporary name and renames (``mlpvm.files.atomic_write``)."""
    members = arrays(net)
    atomic_write(path, lambda f: np.savez_compressed(f, **members))
