"""The network, built analytically for a machine configuration; independent of any program.

``build(config)`` returns the 23 layers as blocks (the structure); ``mlpvm.network.weights`` compiles them to the
stored matrices, and the engines evaluate one or the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mlpvm.craft.blocks import Layer
from mlpvm.craft.layout import Layout
from mlpvm.machines.config import Config

# The paper's stages, in execution order, with their layer counts: 2 + 2 + 7 + 2 + 6 + 4 = 23.
STAGES = (("fetch", 2), ("read", 2), ("subtract", 7), ("write", 2), ("next_pc", 6), ("branch", 4))
LAYER_NAMES = tuple(f"{stage}.{i}" for stage, count in STAGES for i in range(count))


@dataclass(frozen=True, eq=False)
class Network:
    config: Config
    layers: tuple[Layer, ...]

    @property
    def state(self) -> Layout:
        """The layout of the state vector between passes."""
        return self.layers[0].inputs

    @property
    def io_fields(self) -> dict[str, str]:
        return self.config.spec.io_fields

    def layer(self, key: str | int) -> Layer:
        """A layer by name (``read.1``) or index (0..22)."""
        if isinstance(key, int) or key.isdigit():
            return self.layers[int(key)]
        return self.layers[LAYER_NAMES.index(key)]


@lru_cache(maxsize=8)
def build(config: Config) -> Network:
    layers = tuple(config.spec.build(config))
    assert tuple(layer.name for layer in layers) == LAYER_NAMES, "the stage plan is 2/2/7/2/6/4"
    assert layers[-1].outputs == layers[0].inputs, "a pass must return the state layout"
    return Network(config, layers)
