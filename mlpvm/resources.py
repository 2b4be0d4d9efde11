"""What a configuration's network costs, estimated from the configuration alone before anything is built,
and the ceiling above which mlpvm refuses to build it (so that a mistyped size fails at once, with the
numbers, instead of exhausting the machine's memory).

The weights grow with the memory: every cell's N bits pass through address-matched blocks of L = log2(M)
inputs each (fetch, read, write) and are carried through all 23 layers, which comes to about
M * N * (7 L + 40) nonzero weights for ``subleq`` (each machine's ``estimate``). The constants were measured on
built networks (the tests hold the estimates to within 15% of the real counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from mlpvm.errors import ConfigError
from mlpvm.machines.config import Config

CEILING = 8 << 30  # bytes
COMPILE_BYTES = 40  # per nonzero weight, peak, while building and compiling the matrices (measured: ~33)
STRUCTURED_BYTES = 640  # per state unit, for the blocks the structured engine evaluates (measured: ~600)
REFERENCE_BYTES = 64  # per memory cell of the reference interpreter: a list of Python ints (measured: ~48)
DENSE_PARAMS = 40  # dense weights per (state unit)^2: the 23 layers' in x out (measured: 27 to 37)
LAYER_UNITS = 32  # units of all 23 layers' outputs per state unit (measured: 25 to 30)
ACTIVATION_BYTES = 4  # per unit of a recorded activation (float32)


@dataclass(frozen=True)
class Cost:
    config: Config
    nonzeros: int  # stored weights, estimated
    state: int  # units in the state vector, exact

    def bytes(self, engine: str) -> int:
        """Memory to get ``engine`` running: ``structured`` or ``compiled``, ``reference``, ``dense`` (float64
        matrices), ``build-dense`` (int8 matrices in the file), or anything that compiles the matrices
        (``sparse``, ``build``, ``info``)."""
        if engine in ("structured", "compiled", "unrolled"):  # they run the blocks; none builds the matrices
            return self.state * STRUCTURED_BYTES
        if engine == "reference":
            return self.config.cells * REFERENCE_BYTES
        matrices = self.nonzeros * COMPILE_BYTES + self.state * STRUCTURED_BYTES
        if engine == "dense":
            return matrices + DENSE_PARAMS * self.state**2 * 8
        if engine == "build-dense":
            return matrices + DENSE_PARAMS * self.state**2
        return matrices

    def activations(self, passes: int) -> int:
        """Every layer's activations of ``passes`` passes of one machine, recorded (a trace, a battery)."""
        return passes * LAYER_UNITS * self.state * ACTIVATION_BYTES

    def mutants(self) -> int:
        """Mutation testing: the matrices, and every layer's activations of the battery's states (a sweep
        of every cell, about 8 a cell, and a few hundred more), which each mutant's evaluation reuses."""
        return self.bytes("sparse") + self.activations(8 * self.config.cells + 600)


def estimate(config: Config) -> Cost:
    n = config.bits
    state = sum(prod(shape) for _, shape in config.spec.state_fields(config))
    small = 10 * n * n + 300 * n  # registers, flags and the two adders: independent of memory
    return Cost(config, config.spec.estimate(config) + small, state)


def check(config: Config, engine: str) -> Cost:
    """Refuses, before anything is built, a configuration whose network would need more than ``CEILING``."""
    cost = estimate(config)
    need = cost.bytes(engine)
    if engine == "reference":
        what = f"the reference interpreter would need about {_size(need)} of memory for its cells"
    else:
        what = (
            f"the network would need about {_size(need)} of memory to build "
            f"({cost.nonzeros:,} nonzero weights, a state of {cost.state:,} units)"
        )
    refuse_above(need, config, what)
    return cost


def refuse_above(need: int, config: Config, what: str, fix: str = "use fewer --cells or --bits") -> None:
    """Refuses work that would need more than ``CEILING`` bytes, with the number."""
    if need > CEILING:
        raise ConfigError(
            f"{config.describe()}: {what}; mlpvm refuses anything above {_size(CEILING)} so that a mistyped size "
            f"cannot exhaust the machine: {fix}"
        )


def check_mutants(config: Config) -> Cost:
    cost = estimate(config)
    need = cost.mutants()
    refuse_above(need, config, f"mutation testing would need about {_size(need)} of memory")
    return cost


def check_trace(config: Config, passes: int, transformer=None) -> Cost:
    """``trace --layers``: the stored matrices and one pass's activations in memory (each pass is written as it
    comes), and the activations of every pass asked for on disk, uncompressed at most. ``transformer`` (its
    engine, already built): every layer's output is its whole punchcard, in its float type."""
    cost = estimate(config)
    if transformer is not None:
        disk = passes * len(transformer.layer_names) * transformer.card.size * transformer.dtype.itemsize
        refuse_above(disk, config, f"the activations of {passes:,} passes would write up to {_size(disk)}",
                     "ask for fewer --passes")  # fmt: skip
        return cost
    need = cost.bytes("sparse") + cost.activations(1)
    refuse_above(need, config, f"tracing the layers would need about {_size(need)} of memory")
    disk = cost.activations(passes)
    refuse_above(disk, config, f"the activations of {passes:,} passes would write up to {_size(disk)}",
                 "ask for fewer --passes")  # fmt: skip
    return cost


def _size(n: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"
