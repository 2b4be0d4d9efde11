"""The host loop of the looped transformer (mlpvm.transformer): the same duties as for the MLP
(mlpvm.protocol): place the next input byte, take the output byte, stop on halt, wait or the step limit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpvm.host.computer import Outcome
from mlpvm.program.inputs import Input
from mlpvm.transformer.faults import NotExact, first_inexact_layer
from mlpvm.transformer.network import Transformer
from mlpvm.transformer.state import State, decode, encode, inexact, place_input


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


def start(net: Transformer, words: list[int], inp: Input, pc: int = 0, halted: bool = False,
          fault: bool = False) -> Machine:  # fmt: skip
    return Machine(net, encode(net, words, pc, halted, fault), inp)


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
