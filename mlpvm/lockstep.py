"""The network and the reference interpreter side by side, compared on the whole state after every pass.

This is what every claim of exactness rests on: memory, PC, flags, output so far, and the registers the pass
decoded (A, B, C, mem[A], mem[B], result, branch, next PC) against the reference's micro-operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpvm import reference
from mlpvm.engines import Engine
from mlpvm.host import Computer
from mlpvm.inputs import Input
from mlpvm.layout import Layout
from mlpvm.machine import Config
from mlpvm.reference import Micro
from mlpvm.state import Decoded, decode, encode, register

# Where each micro-operation first appears in a pass: the layer whose output holds it, and the field there.
CHECKPOINTS = {
    "subleq": (
        ("fetch.1", "a"),
        ("fetch.1", "b"),
        ("fetch.1", "c"),
        ("read.1", "mem_a"),
        ("read.1", "mem_b"),
        ("write.0", "result"),
        ("next_pc.5", "next_pc"),
        ("branch.1", "branch"),
    ),
    "paper": (
        ("fetch.1", "a"),
        ("fetch.1", "b"),
        ("fetch.1", "c"),
        ("read.1", "mem_a"),
        ("read.1", "mem_b"),
        ("subtract.6", "result"),
        ("next_pc.5", "next_pc"),
        ("branch.1", "branch"),
    ),
}


@dataclass
class Divergence:
    step: int  # steps completed before the diverging pass
    field: str
    network: object
    reference: object
    layer: str | None = None  # the first layer whose decoded fields disagree with the micro-operations

    def __str__(self) -> str:
        where = f", first wrong after layer {self.layer}" if self.layer else ""
        return (
            f"step {self.step}: {self.field} is {self.network} on the network, {self.reference} in the reference{where}"
        )


def state_diff(d: Decoded, ref: reference.Subleq | reference.Paper, output: bytes, m: Micro) -> tuple | None:
    """The first field where a decoded network state differs from the reference: (field, network, ref)."""
    checks = [
        ("pc", d.pc, ref.pc),
        ("halted", d.halted, ref.halted),
        ("fault", d.fault, ref.fault),
        ("executed", d.executed, m.is_step),
        ("output", output, bytes(ref.output)),
    ]
    for name, got, want in checks:
        if got != want:
            return name, got, want
    wrong = np.flatnonzero(d.mem != np.asarray(ref.mem))
    if len(wrong):
        i = int(wrong[0])
        return f"mem[{i}]", int(d.mem[i]), ref.mem[i]
    for name in ("a", "b", "c", "mem_a", "mem_b", "result", "branch", "next_pc"):
        want = getattr(m, name)
        if want is not None and d.registers[name] != int(want):
            return name, d.registers[name], int(want)
    return None


def first_bad_layer(
    config: Config, layouts: list[Layout], names: list[str], trace: list[np.ndarray], m: Micro, row: int = 0
) -> str | None:
    """The first checkpoint layer whose decoded field disagrees with the micro-operation (machine ``row``)."""
    for layer, field in CHECKPOINTS[config.machine]:
        want = getattr(m, field)
        k = names.index(layer)
        if want is not None and register(layouts[k], config, trace[k][row], field) != int(want):
            return layer
    return None


class Lockstep:
    """One program on an engine and on the reference; ``step()`` advances both and compares them."""

    def __init__(self, engine: Engine, config: Config, words: list[int], slots=None, data: bytes = b""):
        self.engine, self.config = engine, config
        self.ref = reference.load(config, words, slots)
        self.ref_input = Input(data)
        self.computer = Computer(engine, encode(engine.state, config, words, slots), [Input(data)])

    @property
    def stopped(self) -> bool:
        return not len(self.computer.ids)

    def step(self) -> Divergence | None:
        before = self.computer.x.copy()
        self.computer.step()
        return _compare(self.engine, self.config, self.computer, 0, self.ref, self.ref_input, before)

    def run(self, max_steps: int) -> tuple[int, Divergence | None]:
        """Steps until both stop or ``max_steps``; returns the steps checked and the first divergence."""
        while not self.stopped and self.ref.steps < max_steps:
            div = self.step()
            if div is not None:
                return self.ref.steps, div
        return self.ref.steps, None


class BatchLockstep:
    """Many programs of one configuration as one batch on an engine (one pass advances all of them), each
    compared with its own reference interpreter after every pass. ``programs``: (words, slots, input)."""

    def __init__(self, engine: Engine, config: Config, programs: list[tuple[list[int], list | None, bytes]]):
        self.engine, self.config = engine, config
        self.refs = [reference.load(config, words, slots) for words, slots, _ in programs]
        self.ref_inputs = [Input(data) for _, _, data in programs]
        states = [encode(engine.state, config, words, slots) for words, slots, _ in programs]
        self.computer = Computer(engine, states, [Input(data) for _, _, data in programs])
        self.divergences: dict[int, Divergence] = {}  # by program, the first one only

    def step(self) -> None:
        running, before = list(self.computer.ids), self.computer.x.copy()
        self.computer.step()
        for row, mid in enumerate(running):
            div = _compare(
                self.engine,
                self.config,
                self.computer,
                int(mid),
                self.refs[mid],
                self.ref_inputs[mid],
                before[row : row + 1],
            )
            if div is not None and mid not in self.divergences:
                self.divergences[int(mid)] = div

    def run(self, max_passes: int) -> dict[int, Divergence]:
        """Passes until every machine stopped or ``max_passes``; returns the divergences by program."""
        for _ in range(max_passes):
            if not len(self.computer.ids):
                break
            self.step()
        return self.divergences


def _compare(
    engine: Engine, config: Config, computer: Computer, mid: int, ref, ref_input: Input, before: np.ndarray
) -> Divergence | None:
    """Steps machine ``mid``'s reference after a network pass and compares the two; ``before`` is the
    machine's state before the pass (a batch of one), re-run with a trace to locate a divergence."""
    m = ref.step(ref_input)
    d = decode(engine.state, config, computer.state_of(mid))
    diff = state_diff(d, ref, bytes(computer.outputs[mid]), m)
    if diff is None:
        return None
    trace: list[np.ndarray] = []
    engine.run_pass(before.copy(), trace)
    layer = first_bad_layer(config, engine.layouts, engine.layer_names, trace, m)
    return Divergence(ref.steps - m.is_step, *diff, layer=layer)
