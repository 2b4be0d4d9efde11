"""Running the looped transformer: the host loop (the same duties as for the MLP, mlpvm.protocol: place the
next input byte, take the output byte, stop on halt, wait or the step limit) and lockstep verification
against the reference interpreter on the whole state after every pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpvm.check.lockstep import Program
from mlpvm.host.computer import Outcome
from mlpvm.machines import reference
from mlpvm.program.inputs import Input
from mlpvm.transformer.network import Transformer
from mlpvm.transformer.state import State, decode, encode, inexact, place_input


class NotExact(Exception):
    """A pass left the punchcard outside {0,1} (a softmax read the error correction could not round)."""


@dataclass
class Machine:
    """One program on the transformer: its punchcard, its input and output, and its step count."""

    net: Transformer
    x: np.ndarray
    inp: Input
    output: bytearray = field(default_factory=bytearray)
    steps: int = 0
    passes: int = 0
    before: np.ndarray | None = None  # the punchcard before the last pass

    def step(self) -> State:
        """One pass and the host's duties after it; raises NotExact if the pass was not exact."""
        place_input(self.net, self.x, self.inp.peek())
        before = self.before = self.x
        self.x = self.net.run_pass(self.x)
        self.passes += 1
        wrong = inexact(self.net, self.x)
        if wrong:
            raise NotExact(f"{wrong} after layer {first_inexact_layer(self.net, before)}")
        s = decode(self.net, self.x)
        if s.flags["out_valid"]:
            self.output.append(s.out_byte)
        if s.flags["in_ack"]:
            self.inp.take()
        self.steps += s.flags["executed"]
        return s


def first_departure(net: Transformer, x: np.ndarray) -> str | None:
    """The first layer whose output (outside the raw softmax reads, which always differ a little) differs
    from the same pass with hard-max attention; None if the whole pass agrees with it."""
    keep = _outside_raw(net)
    soft: list = []
    hard: list = []
    net.run_pass(x, soft)
    net.run_pass(x, hard, hard=True)
    for (name, a), (_, b) in zip(soft, hard, strict=True):
        if not np.array_equal(a[keep], b[keep]):
            return name
    return None


def _outside_raw(net: Transformer) -> np.ndarray:
    keep = np.ones(net.rows.size, bool)
    keep[[r for name in net.rows.fields if name.startswith("raw_") for r in net.rows[name]]] = False
    return keep


def first_inexact_layer(net: Transformer, x: np.ndarray) -> str:
    """The first layer whose output leaves {0,1} outside the rows that hold raw softmax reads."""
    keep = _outside_raw(net)
    trace: list = []
    net.run_pass(x, trace)
    for name, y in trace:
        if ((y[keep] != 0) & (y[keep] != 1)).any():
            return name
    return trace[-1][0]


def start(net: Transformer, program: Program | list[int], inp: Input) -> Machine:
    if isinstance(program, Program):
        x = encode(net, program.words, program.pc, program.halted, program.fault)
    else:
        x = encode(net, program)
    return Machine(net, x, inp)


def run(net: Transformer, words: list[int], inp: Input, max_steps: int | None, on_output=None) -> Outcome:
    """A program on the transformer until it stops, with the outcome the MLP's host reports."""
    m = start(net, words, inp)
    while True:
        if max_steps is not None and m.steps >= max_steps:
            reason = "limit"
            break
        s = m.step()
        if s.flags["out_valid"] and on_output:
            on_output(bytes([s.out_byte]))
        if s.flags["halted"]:
            reason = "fault" if s.flags["fault"] else "halt"
            break
        if s.flags["in_wait"] and not inp.wait():
            reason = "eof" if inp.ended else "wait"
            break
    s = decode(net, m.x)
    return Outcome(reason, m.steps, bytes(m.output), s.pc, np.array(s.mem), m.passes, m.x)


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
    m = start(net, program, program.input())
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
