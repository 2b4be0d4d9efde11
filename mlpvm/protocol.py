"""The host-network protocol (docs/machines.md, sections 3.4 and 3.5): the fields of the state that the host may touch
between passes, and everything the host does with them.

Before a pass the host places the next input (``place_input``); after it, it reads the stop and handshake
flags, takes the output byte (``output_byte``) and, once an input byte was consumed, places the next one
(``serve``). It never computes anything of the program's data or control flow. The host loop, the engines,
the checks, the debugger and the dumps name these fields through this module (state decoding, which this module
builds on, spells the flags it decodes).
"""

from __future__ import annotations

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.machines.state import flag, from_bits, to_bits
from mlpvm.program.inputs import EOF, Input

BYTE = 8  # bits of in_byte and out_byte

IN_BYTE, IN_READY, IN_EOF = "in_byte", "in_ready", "in_eof"
IN_ACK, IN_WAIT = "in_ack", "in_wait"
OUT_VALID, OUT_BYTE = "out_valid", "out_byte"
EXECUTED = "executed"
HALTED, FAULT = "halted", "fault"

MEANINGS = {
    IN_BYTE: "host -> network: the next input byte, bits least significant first (ignored when in_eof)",
    IN_READY: "host -> network: 1 when in_byte/in_eof hold the next input; 0 makes an input instruction wait",
    IN_EOF: "host -> network: 1 when the input is exhausted (an input instruction then stores -1)",
    IN_ACK: "network -> host: 1 when the pass consumed the input byte; the host then places the next one",
    IN_WAIT: "network -> host: 1 when an input instruction found in_ready = 0; nothing was executed",
    OUT_VALID: "network -> host: 1 when the pass output a byte",
    OUT_BYTE: "network -> host: the output byte (mem[A] mod 256), bits least significant first",
    EXECUTED: "network -> host: 1 when the pass executed an instruction (a step)",
    HALTED: "network -> host: 1 once the machine stopped; further passes leave the state unchanged",
    FAULT: "network -> host: 1 when it stopped on an operand outside memory",
}

INPUTS = (IN_BYTE, IN_READY, IN_EOF)  # what the host writes
EVENTS = (OUT_VALID, IN_ACK, IN_WAIT, HALTED)  # flags after which the host has work to do
KIND_FLAGS = {IN_ACK: "in", IN_WAIT: "wait", OUT_VALID: "out"}  # the flag each kind of pass raises (Micro.kind)


def has_io(state: Layout) -> bool:
    """Whether the machine has input and output (``subleq``) or not (``paper``)."""
    return IN_ACK in state


def placed(value: int | None) -> dict[str, int]:
    """What the host places in the input fields for the next input: a byte, ``EOF``, or None (nothing yet)."""
    return {
        IN_BYTE: 0 if value is None or value == EOF else value,
        IN_READY: int(value is not None),
        IN_EOF: int(value == EOF),
    }


def place_input(state: Layout, x: np.ndarray, value: int | None) -> None:
    """Puts the next input of one machine (a byte, ``EOF``, or None: nothing yet) into its input fields."""
    for name, v in placed(value).items():
        state.view(x, name)[...] = to_bits(v, BYTE) if name == IN_BYTE else v


def output_byte(state: Layout, x: np.ndarray) -> int:
    """The byte in one machine's output field."""
    return int(from_bits(state.view(x, OUT_BYTE), signed=False))


def serve(state: Layout, x: np.ndarray, inp: Input, output: bytearray) -> int | None:
    """The host's duties after a pass of one machine with I/O: takes the output byte (returned, or None), and
    when the pass consumed the input byte places the next one. Waiting for input is the caller's business."""
    out = None
    if flag(state, x, OUT_VALID):
        out = output_byte(state, x)
        output.append(out)
    if flag(state, x, IN_ACK):
        inp.take()
        place_input(state, x, inp.peek())
    return out


def stopped(state: Layout, x: np.ndarray) -> str | None:
    """Why one machine stopped ("halt" or "fault"), or None while it runs."""
    if not flag(state, x, HALTED):
        return None
    return "fault" if FAULT in state and flag(state, x, FAULT) else "halt"
