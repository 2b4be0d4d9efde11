"""Records every layer's outputs, field by field, on fixed random {0,1} states of 16 configurations.

``tests/data/network-baseline.npz`` was made by this script from the network as it was before the construction
derived its own pass-through (commit c51c6f0, issue 9); ``tests/test_construction.py`` checks that the network
still computes exactly that. Re-recording it would make the check compare the network with itself: only do so
for a change meant to alter the network's function, and say why in the commit.

For each configuration, keyed ``machine-bits-cells-slots``: ``KEY/input`` holds the input states and
``KEY/LAYER/FIELD`` that layer's output field, each as ``np.packbits(..., axis=1)``, one row per state.

    python -m tests.tools.record_network_baseline [OUT]    (default: tests/data/network-baseline.npz)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mlpvm.engines.sparse import Sparse
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network

BASELINE = Path(__file__).parent.parent / "data" / "network-baseline.npz"
CONFIGS = [
    Config("subleq", 4, 4, 0),
    Config("subleq", 4, 16, 0),
    Config("subleq", 6, 64, 0),
    Config("subleq", 8, 8, 0),
    Config("subleq", 8, 32, 0),
    Config("subleq", 12, 16, 0),
    Config("subleq", 16, 32, 0),
    Config("subleq", 5, 32, 0),
    Config("paper", 4, 4, 2),
    Config("paper", 4, 16, 4),
    Config("paper", 6, 8, 32),
    Config("paper", 8, 16, 8),
    Config("paper", 8, 32, 32),
    Config("paper", 12, 4, 16),
    Config("paper", 16, 16, 16),
    Config("paper", 5, 8, 64),
]
STATES = 64


def key(cfg: Config) -> str:
    return f"{cfg.machine}-{cfg.bits}-{cfg.cells}-{cfg.slots}"


def random_states(cfg: Config, size: int) -> np.ndarray:
    """STATES random {0,1} state vectors, the same for a configuration every time."""
    rng = np.random.default_rng([cfg.bits, cfg.cells, cfg.slots, len(cfg.machine)])
    return rng.integers(0, 2, (STATES, size)).astype(np.float32)


def layer_outputs(cfg: Config, x: np.ndarray) -> dict[str, np.ndarray]:
    """``LAYER/FIELD`` -> that field's packed bits after one pass of the stored matrices over states ``x``."""
    net = build(cfg)
    engine = Sparse(compile_network(net))
    engine.guard = False  # random states are not machine states; the activations stay on {0,1} all the same
    trace: list[np.ndarray] = []
    engine.run_pass(x.copy(), trace)
    out = {}
    for layer, h in zip(net.layers, trace):
        for f in layer.outputs:
            v = layer.outputs.view(h, f.name).reshape(len(x), -1)
            assert set(np.unique(v)) <= {0, 1}, f"{layer.name}/{f.name} left {{0,1}}"
            out[f"{layer.name}/{f.name}"] = np.packbits(v.astype(np.uint8), axis=1)
    return out


def record(path: Path) -> None:
    out = {}
    for cfg in CONFIGS:
        x = random_states(cfg, build(cfg).state.size)
        out[f"{key(cfg)}/input"] = np.packbits(x.astype(np.uint8), axis=1)
        out.update({f"{key(cfg)}/{name}": bits for name, bits in layer_outputs(cfg, x).items()})
    np.savez_compressed(path, **out)
    print(f"{path}: {len(out)} arrays")


if __name__ == "__main__":
    record(Path(sys.argv[1]) if len(sys.argv) > 1 else BASELINE)
