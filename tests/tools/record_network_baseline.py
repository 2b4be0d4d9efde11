"""Records every layer's outputs, by field, on fixed random {0,1} states (the pre-change network)."""

import numpy as np

from mlpvm.engines.sparse import Sparse
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network

CONFIGS = [
    ("subleq", 4, 4, 0),
    ("subleq", 4, 16, 0),
    ("subleq", 6, 64, 0),
    ("subleq", 8, 8, 0),
    ("subleq", 8, 32, 0),
    ("subleq", 12, 16, 0),
    ("subleq", 16, 32, 0),
    ("subleq", 5, 32, 0),
    ("paper", 4, 4, 2),
    ("paper", 4, 16, 4),
    ("paper", 6, 8, 32),
    ("paper", 8, 16, 8),
    ("paper", 8, 32, 32),
    ("paper", 12, 4, 16),
    ("paper", 16, 16, 16),
    ("paper", 5, 8, 64),
]
STATES = 64
out = {}
for machine, bits, cells, slots in CONFIGS:
    cfg = Config(machine, bits, cells, slots)
    net = build(cfg)
    eng = Sparse(compile_network(net))
    eng.guard = False
    rng = np.random.default_rng([bits, cells, slots, len(machine)])
    x = rng.integers(0, 2, (STATES, eng.state.size)).astype(np.float32)
    key = f"{machine}-{bits}-{cells}-{slots}"
    out[f"{key}/input"] = np.packbits(x.astype(np.uint8), axis=1)
    trace = []
    eng.run_pass(x.copy(), trace)
    for layer, h in zip(net.layers, trace):
        for f in layer.outputs:
            v = layer.outputs.view(h, f.name).reshape(STATES, -1)
            assert v.max(initial=0) <= 1
            out[f"{key}/{layer.name}/{f.name}"] = np.packbits(v.astype(np.uint8), axis=1)
np.savez_compressed("/work/main/tests/data/network-baseline.npz", **out)
print(len(out))
