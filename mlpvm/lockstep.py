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
        m = self.ref.step(self.ref_input)
        self.computer.step()
        x = self.computer.state_of(0)
        d = decode(self.engine.state, self.config, x)
        diff = state_diff(d, self.ref, bytes(self.computer.outputs[0]), m)
        if diff is None:
            return None
        return Divergence(self.ref.steps - m.is_step, *diff, layer=self._locate(before, m))

    def _locate(self, before: np.ndarray, m: Micro) -> str | None:
        """Re-runs the diverging pass with a trace to find where it first went wrong."""
        trace: list[np.ndarray] = []
        self.engine.run_pass(before, trace)
        return first_bad_layer(self.config, self.engine.layouts, self.engine.layer_names, trace, m)

    def run(self, max_steps: int) -> tuple[int, Divergence | None]:
        """Steps until both stop or ``max_steps``; returns the steps checked and the first divergence."""
        while not self.stopped and self.ref.steps < max_steps:
            div = self.step()
            if div is not None:
                return self.ref.steps, div
        return self.ref.steps, None
