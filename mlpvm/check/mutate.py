"""Mutation testing: faults planted one at a time in the stored matrices, and a fixed battery of checks that
must catch every one of them.

A mutant is the weight file with one change to one unit of one layer: a weight negated, the bias shifted by
+1 or -1, or the unit dropped (its weights and bias zeroed). Units are chosen in every output field of every
layer (memory, registers, flags, I/O fields, scratch), so no part of the network goes untested. The battery
runs each mutant on the sparse engine (the stored matrices as they are, with the engine's guard on) and
reports the first check that fails. A mutant that survives every check means the checks are too weak or the
unit does nothing, and either is a defect.

The fast engines (``structured``, ``compiled``, ``unrolled``) run the construction, not a weight file, so a
fault for every engine is planted in the construction instead (``BlockMutant``): a unit's bias in a block
shifted by +1 (a unit that computed 1 now computes 2) or -1 (one that computed 0 now sums to -1, one that
computed 1 now computes 0). Every engine then runs the same faulty network (``engine_of``), the weight-file
engines through its compiled matrices; each engine's guard meets a real activation of 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from mlpvm.check.generate import one_step_cases, random_program
from mlpvm.check.lockstep import Batch, Divergence, Program
from mlpvm.check.verify import named_programs
from mlpvm.craft.blocks import Map
from mlpvm.craft.layout import Layout
from mlpvm.engines import Compiled, Dense, Engine, Sparse, Structured, Unrolled
from mlpvm.engines.base import first_off_binary_row, off_binary
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.network import Network
from mlpvm.network.csr import Csr
from mlpvm.network.weights import Weights, compile_network

KINDS = ("weight", "bias+1", "bias-1", "drop")
CONFIGS = (Config("subleq", 8, 32), Config("paper", 8, 16, 8))


@dataclass(frozen=True)
class Mutant:
    layer: int  # index 0..22
    unit: int  # row of the layer's W
    field: str  # the output field the unit belongs to, with its index
    kind: str  # one of KINDS
    column: int | None = None  # the input whose weight is negated ("weight")

    def describe(self, weights: Weights) -> str:
        if self.kind == "weight":
            inputs = weights.layers[self.layer - 1].outputs if self.layer else weights.state
            what = f"weight from {unit_name(inputs, self.column)} negated"
        else:
            what = "dropped" if self.kind == "drop" else self.kind
        return f"{weights.layers[self.layer].name} unit {self.field}: {what}"


def unit_name(layout: Layout, index: int) -> str:
    """``field[i][j]`` for the unit at flat ``index`` of a layer's activations."""
    f = next(f for f in layout if f.offset <= index < f.stop)
    return f.name + "".join(f"[{i}]" for i in np.unravel_index(index - f.offset, f.shape)) if f.shape else f.name


def choose(weights: Weights, seed: int = 0, per_field: int = 1) -> list[Mutant]:
    """``per_field`` units of every output field of every layer for each kind of fault, chosen at random."""
    rng = np.random.default_rng(seed)
    mutants = []
    for k, layer in enumerate(weights.layers):
        for f in layer.outputs:
            for kind in KINDS:
                for unit in rng.choice(f.size, min(per_field, f.size), replace=False):
                    row = f.offset + int(unit)
                    name = unit_name(layer.outputs, row)
                    column = None
                    if kind == "weight":
                        cols = layer.W.indices[layer.W.indptr[row] : layer.W.indptr[row + 1]]
                        if not len(cols):
                            continue
                        column = int(rng.choice(cols))
                    mutants.append(Mutant(k, row, name, kind, column))
    return mutants


def plant(weights: Weights, mutant: Mutant) -> Weights:
    """The weights with the one fault ``mutant`` describes."""
    layer = weights.layers[mutant.layer]
    W, b = layer.W, layer.b.copy()
    data = W.data.copy()
    lo, hi = W.indptr[mutant.unit], W.indptr[mutant.unit + 1]
    if mutant.kind == "weight":
        data[lo + int(np.flatnonzero(W.indices[lo:hi] == mutant.column)[0])] *= -1
    elif mutant.kind == "drop":
        data[lo:hi] = 0
        b[mutant.unit] = 0
    else:
        b[mutant.unit] += 1 if mutant.kind == "bias+1" else -1
    changed = replace(layer, W=Csr(data, W.indices, W.indptr, W.shape), b=b)
    return replace(weights, layers=(*weights.layers[: mutant.layer], changed, *weights.layers[mutant.layer + 1 :]))


@dataclass(frozen=True)
class BlockMutant:
    """A fault in the construction: the bias of unit ``unit`` of the map that computes ``field`` in layer
    ``layer`` shifted by ``delta``."""

    layer: int
    field: str
    unit: int
    delta: int  # +1 or -1

    def describe(self, net: Network) -> str:
        return f"{net.layers[self.layer].name} unit {self.field}[{self.unit}]: bias{self.delta:+d} (construction)"


def faultable(net: Network, k: int):
    """The blocks of layer ``k`` whose bias a fault can shift and every engine still computes unit by unit, as
    the matrices do: computed maps of registers and flags. Not copies (passed on uncomputed), in-place updates
    of memory, nor selects: the fast engines evaluate only the selected row, which is exact only because every
    other row of the construction is 0; a shifted bias would light rows that those engines never compute."""
    layer = net.layers[k]
    for block in layer.ordered():
        if isinstance(block, Map) and not block.is_copy(layer.inputs) and len(block.bias.shape) < 2:
            yield block


def choose_blocks(net: Network, seed: int = 0, per_stage: int = 1) -> list[BlockMutant]:
    """``per_stage`` units of each stage for each direction (+1, -1), chosen at random among faultable blocks."""
    rng = np.random.default_rng(seed)
    out = []
    stages = dict.fromkeys(layer.stage for layer in net.layers)
    for stage in stages:
        units = [
            (k, block.out, u)
            for k, layer in enumerate(net.layers)
            if layer.stage == stage
            for block in faultable(net, k)
            for u in range(block.bias.size)
        ]
        for delta in (1, -1):
            for i in rng.choice(len(units), min(per_stage, len(units)), replace=False):
                out.append(BlockMutant(*units[int(i)], delta))
    return out


def plant_block(net: Network, mutant: BlockMutant) -> Network:
    """The construction with the one fault ``mutant`` describes."""
    layer = net.layers[mutant.layer]
    block = next(b for b in layer.blocks if b.out == mutant.field)
    bias = block.bias.copy()
    bias.flat[mutant.unit] += mutant.delta
    blocks = tuple(replace(b, bias=bias) if b is block else b for b in layer.blocks)
    layers = (*net.layers[: mutant.layer], replace(layer, blocks=blocks), *net.layers[mutant.layer + 1 :])
    return replace(net, layers=layers)


def engine_of(name: str, net: Network, dtype=np.float32) -> Engine:
    """Engine ``name`` running ``net`` as it is (a planted construction included): the fast engines from the
    construction, the others from its compiled matrices."""
    if name in ("structured", "compiled", "unrolled"):
        return {"structured": Structured, "compiled": Compiled, "unrolled": Unrolled}[name](net, dtype)
    weights = compile_network(net)
    if name == "onnx":
        from mlpvm.engines.onnx import Onnx  # imports onnxruntime: only when asked for

        return Onnx(weights, dtype)
    return (Sparse if name == "sparse" else Dense)(weights, dtype)


def dead_units(weights: Weights) -> list[tuple[str, str, int]]:
    """Units nothing reads: (layer, field, flat index) of every unit with no nonzero weight into a unit that
    is itself read, working back from the state (every state field is read: by the next pass, the host, or
    the display). Mutating such a unit can change nothing, so the construction should have none."""
    live = np.ones(weights.state.size, bool)
    dead = []
    for k in range(len(weights.layers) - 2, -1, -1):
        nxt = weights.layers[k + 1].W
        used = (nxt.data != 0) & live[nxt.row_ids()]
        live = np.zeros(nxt.shape[1], bool)
        live[nxt.indices[used]] = True
        for f in weights.layers[k].outputs:
            dead += [(weights.layers[k].name, f.name, int(i)) for i in np.flatnonzero(~live[f.offset : f.stop])]
    return dead[::-1]


@dataclass
class Prefix:
    """The unmutated network's activations, layer by layer, for one batch of input states."""

    x: np.ndarray
    trace: list[np.ndarray]

    @classmethod
    def of(cls, engine: Engine, x: np.ndarray) -> Prefix:
        trace: list[np.ndarray] = []
        engine.run_pass(x.copy(), trace)
        return cls(x.copy(), trace)


class Mutated(Sparse):
    """``Sparse(plant(weights, mutant))``, faster on inputs whose unmutated activations are known: the layers
    before the mutated one come from the ``Prefix``, the mutated unit is computed alone, and only machines
    whose mutated unit changed go through the layers after it. The other machines' outputs are the prefix's,
    because nothing else in the network differs. Same result and same guard as the plain engine (tested)."""

    def __init__(self, weights: Weights, mutant: Mutant, prefixes: list[Prefix] = ()):
        super().__init__(plant(weights, mutant))
        self.mutant, self.prefixes = mutant, list(prefixes)

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        known = next((p for p in self.prefixes if p.x.shape == x.shape and np.array_equal(p.x, x)), None)
        if known is None or trace is not None:
            super()._run_pass(x, trace)
            return
        k, u = self.mutant.layer, self.mutant.unit
        W, b = self.mats[k]
        lo, hi = W.indptr[u], W.indptr[u + 1]
        before = x if k == 0 else known.trace[k - 1]
        unit = np.maximum(before[:, W.indices[lo:hi]] @ W.data[lo:hi].astype(x.dtype) + b[u], 0)
        self._check(k, unit[:, None], np.arange(len(unit)))
        changed = np.flatnonzero(unit != known.trace[k][:, u])
        out = known.trace[-1].copy()
        if len(changed):
            h = known.trace[k][changed]
            h[:, u] = unit[changed]
            for j in range(k + 1, len(self.mats)):
                Wj, bj = self.mats[j]
                h = np.maximum(Wj.matmul(h) + bj, 0)
                self._check(j, h, changed)
            out[changed] = h
        x[...] = out

    def _check(self, k: int, h: np.ndarray, rows: np.ndarray) -> None:
        """The guard on ``h``, the activations of the batch's machines ``rows`` (the others are the prefix's)."""
        if self.guard and off_binary(h):
            machine = int(rows[first_off_binary_row(h)])
            raise NetworkFault(self.layer_names[k], f"an activation of machine {machine} left {{0,1}}", machine)


@dataclass
class Catch:
    """How a check failed: what went wrong, and the first layer it found wrong (if it locates one)."""

    detail: str
    layer: str | None = None


@dataclass
class Check:
    name: str
    description: str
    run: Callable[[Engine], Catch | None]  # None if the engine passes


@dataclass
class Battery:
    """The checks, and the unmutated network's activations on their fixed inputs."""

    weights: Weights
    checks: list[Check]
    prefixes: list[Prefix]

    def engine(self, mutant: Mutant) -> Engine:
        return Mutated(self.weights, mutant, self.prefixes)


def battery(weights: Weights, seed: int = 0) -> Battery:
    """The fixed, fast checks every mutant must fail, in order: one step from states of every instruction
    kind (after a sweep of every address), the named programs and random programs in lockstep with the
    reference, and random {0,1} states (every field random) through one pass against the unmutated network."""
    config = weights.config
    steps = one_step_cases(config, seed, 128)
    programs = [random_program(config, seed + i) for i in range(24)]
    named = named_programs(config)
    base = Sparse(weights)
    states = np.random.default_rng(seed).integers(0, 2, (128, weights.state.size)).astype(base.dtype)
    prefixes = [Prefix.of(base, Batch(base, config, steps).computer.x), Prefix.of(base, states)]

    def lockstep(progs: list[Program], max_steps: int) -> Callable[[Engine], Catch | None]:
        def run(engine: Engine) -> Catch | None:
            _, div = Batch(engine, config, progs).run(max_steps)
            return None if div is None else Catch(_explain(div), div.layer)

        return run

    def one_pass(engine: Engine) -> Catch | None:
        x = states.copy()
        try:
            engine.run_pass(x)
        except NetworkFault as e:
            return Catch(f"network fault after layer {e.layer}", e.layer)
        expected = prefixes[1].trace[-1]
        for f in engine.state:
            if not np.array_equal(x[:, f.offset : f.stop], expected[:, f.offset : f.stop]):
                return Catch(f"{f.name} differs from the unmutated network")
        return None

    checks = [
        Check("steps", f"{len(steps)} single steps: every PC and cell with all-ones/zeros words, every carry of "
              "the adders, halted machines, random states of every instruction kind", lockstep(steps, 1)),
        Check("named", f"{len(named)} named programs in lockstep, to their end", lockstep(named, 2000)),
        Check("random", f"{len(programs)} random programs in lockstep, 200 steps", lockstep(programs, 200)),
        Check("states", "128 random {0,1} states (every field), one pass, against the unmutated network", one_pass),
    ]  # fmt: skip
    return Battery(weights, [c for c in checks if c.name != "named" or named], prefixes)


def _explain(div: Divergence) -> str:
    if div.fault:
        return f"network fault after layer {div.layer}"
    return f"{div.field}: {div.network!r} vs {div.reference!r}, first wrong after {div.layer}"


@dataclass
class Result:
    mutant: Mutant
    planted: str  # the name of the mutated layer
    check: str | None  # the first check that caught it; None if it survived
    catch: Catch | None = None

    @property
    def caught(self) -> bool:
        return self.check is not None

    @property
    def located(self) -> bool:
        """The check named the mutated layer as the first that went wrong."""
        return self.catch is not None and self.catch.layer == self.planted


def run(battery: Battery, mutants: list[Mutant]) -> Iterator[Result]:
    """Each mutant (on the stored matrices, guard on) through the checks, until one fails."""
    for mutant in mutants:
        engine = battery.engine(mutant)
        planted = battery.weights.layers[mutant.layer].name
        for check in battery.checks:
            catch = check.run(engine)
            if catch is not None:
                yield Result(mutant, planted, check.name, catch)
                break
        else:
            yield Result(mutant, planted, None)


def summary(weights: Weights, results: list[Result], checks: list[Check]) -> list[dict]:
    """Per layer: mutants planted, how many each check caught first, survivors, and how many the engine's
    guard stopped (an activation off {0,1}) or the check located at the planted layer."""
    rows = []
    for layer in weights.layers:
        mine = [r for r in results if r.planted == layer.name]
        rows.append(
            {
                "layer": layer.name,
                "mutants": len(mine),
                "kinds": {kind: sum(r.mutant.kind == kind for r in mine) for kind in KINDS},
                "caught_by": {c.name: sum(r.check == c.name for r in mine) for c in checks},
                "survived": sum(not r.caught for r in mine),
                "guard": sum(r.caught and r.catch.detail.startswith("network fault") for r in mine),
                "located": sum(r.located for r in mine),
            }
        )
    return rows
