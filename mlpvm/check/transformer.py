"""Checking the looped transformer (mlpvm.transformer) against the reference interpreter: lockstep on the
whole state after every pass, and the measurement of where it stays exact (``mlpvm compare --exactness``)
against the bound that ``mlpvm.transformer.exactness`` proves."""

from __future__ import annotations

from dataclasses import dataclass

from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Program
from mlpvm.host.transformer import Machine, start
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.transformer.exactness import refusal
from mlpvm.transformer.faults import NotExact, first_departure
from mlpvm.transformer.network import Transformer, build
from mlpvm.transformer.state import State


@dataclass
class Divergence:
    step: int
    passes: int
    field: str
    network: object
    reference: object
    layer: str | None = None  # the first layer that departs from hard-max attention

    def describe(self) -> str:
        if self.field == "exactness":
            return f"the pass was not exact: {self.network}"
        return f"{self.field} is {self.network} on the transformer, {self.reference} in the reference"


def lockstep(net: Transformer, program: Program, max_steps: int) -> tuple[Divergence | None, int, str]:
    """Runs ``program`` on the transformer and the reference together, comparing memory, PC, the halt and
    fault flags, the I/O handshake, the output and the steps after every pass. Returns (the first
    divergence or None, steps checked, how it stopped)."""
    cfg = net.config
    ref, ref_inp = reference.load(cfg, program.words, program.slots), program.input()
    ref.pc, ref.halted, ref.fault = cfg.wrap(program.pc), program.halted or program.fault, program.fault
    m = start(net, program.words, program.input(), program.pc, program.halted, program.fault)
    while m.steps < max_steps:
        step = ref.steps  # the step this pass executes, counted from 0
        micro = ref.step(ref_inp)
        try:
            s = m.step()
        except NotExact as e:
            return Divergence(step, m.passes, "exactness", str(e), "an exact {0,1} state"), m.steps, "diverged"
        wrong = _compare(s, m, ref, micro)
        if wrong:
            layer = first_departure(net, m.before)
            return Divergence(step, m.passes, *wrong, layer), m.steps, "diverged"
        if ref.halted:
            return None, m.steps, "fault" if ref.fault else "halt"
        if micro.kind == "wait" and not ref_inp.wait():
            return None, m.steps, "wait"
        m.inp.wait()
    return None, m.steps, "limit"


def _compare(s: State, m: Machine, ref, micro) -> tuple[str, object, object] | None:
    expected = {
        "pc": ref.pc, "halted": int(ref.halted), "fault": int(ref.fault), "in_ack": int(micro.kind == "in"),
        "in_wait": int(micro.kind == "wait"), "out_valid": int(micro.kind == "out"),
        "executed": int(micro.is_step), "steps": ref.steps, "output": bytes(ref.output),
    }  # fmt: skip
    got = {"pc": s.pc, **s.flags, "steps": m.steps, "output": bytes(m.output)}
    for name, want in expected.items():
        if got[name] != want:
            return name, got[name], want
    for i, (a, b) in enumerate(zip(s.mem, ref.mem, strict=True)):
        if a != b:
            return f"mem[{i}]", a, b
    return None


@dataclass
class Cell:
    """One measured configuration."""

    dtype: str
    lam: float
    bits: int
    cells: int
    proved: bool  # inside the proved region
    exact: bool  # every program stayed exact and equal to the reference
    steps: int
    failure: str = ""


def measure(config: Config, lam: float, dtype: str, programs: int, max_steps: int, seed: int = 0) -> Cell:
    """Runs ``programs`` random programs in lockstep with the reference; exact if none diverged."""
    net = build(config, lam, dtype)
    steps = 0
    for i in range(programs):
        d, n, _how = lockstep(net, random_program(config, seed + i), max_steps)
        steps += n
        if d is not None:
            failure = f"seed {seed + i}, step {d.step}: {d.describe()}"
            return Cell(dtype, lam, config.bits, config.cells, refusal(net) is None, False, steps, failure)
    return Cell(dtype, lam, config.bits, config.cells, refusal(net) is None, True, steps)
