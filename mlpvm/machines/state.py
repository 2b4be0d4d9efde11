"""Encoding programs into the state vector and decoding it back: words <-> bits, LSB first.

Decoding is for display and results only; nothing decoded here ever flows back into a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.machines.config import Config

# Registers a pass leaves in the state for display: the instruction it executed and what it computed.
REGISTERS = ("a", "b", "c", "mem_a", "mem_b", "result", "branch", "next_pc")
# What the views (debugger, trace) call each register, where the construction's name would mislead: its
# next_pc field holds the adder's output, the successor when the branch is not taken (PC + 3; PC + 1 on the
# paper machine); "next_pc" in a view is where execution goes next.
SHOWN = {"next_pc": "fallthrough"}
DATA_WORDS = ("mem_a", "mem_b", "result")


def register_fields(operand: int, target: int, word: int) -> list[tuple[str, tuple[int, ...]]]:
    """The registers' fields in a state layout: A and B address cells (``operand`` bits), C and next PC are
    jump targets (``target`` bits), mem[A], mem[B] and the result are words; the branch flag is one unit."""
    shapes = {"a": (operand,), "b": (operand,), "c": (target,), "mem_a": (word,), "mem_b": (word,),
              "result": (word,), "branch": (), "next_pc": (target,)}  # fmt: skip
    return [(name, shapes[name]) for name in REGISTERS]


def to_bits(values, bits: int) -> np.ndarray:
    """(..., bits) array of 0/1, least significant first, of the two's-complement words."""
    v = np.asarray(values, np.int64) & ((1 << bits) - 1)
    return ((v[..., None] >> np.arange(bits)) & 1).astype(np.uint8)


def from_bits(bits: np.ndarray, signed: bool = True) -> np.ndarray:
    """Words from (..., bits) arrays of 0/1; rounds, so a float state decodes exactly."""
    b = np.rint(np.asarray(bits)).astype(np.int64)
    n = b.shape[-1]
    v = (b << np.arange(n)).sum(axis=-1)
    if signed and n:
        v = v - (b[..., -1] << n)
    return v


@dataclass
class Decoded:
    """A machine state read back from the vector."""

    mem: np.ndarray  # signed words, all cells
    pc: int
    halted: bool
    fault: bool
    executed: bool
    registers: dict[str, int] = field(default_factory=dict)
    io: dict[str, int] = field(default_factory=dict)
    slots: list[tuple[int, int, int]] | None = None  # paper


def encode(state: Layout, config: Config, words, slots=None, dtype=np.float32) -> np.ndarray:
    """The state vector of a machine with ``words`` loaded at address 0, PC 0, and nothing else set."""
    x = np.zeros(state.size, dtype)
    put(state, x, "mem", to_bits(words, config.bits), rows=len(words))
    if slots is not None:
        put(
            state,
            x,
            "ins",
            to_bits(np.asarray(slots, np.int64).reshape(-1, 3), config.ins_bits),
            rows=len(slots),
        )
    return x


def put(state: Layout, x: np.ndarray, name: str, bits: np.ndarray, rows: int | None = None) -> None:
    """Writes bits into a field of one state vector ``x``, or into the field's first ``rows`` rows."""
    view = state.view(x, name)
    if rows is None:
        view[...] = bits
    elif rows:
        view[:rows] = bits


def word(state: Layout, x: np.ndarray, name: str, signed: bool = True) -> int:
    """A field's value: a word from its bits, or 0/1 for a one-unit flag."""
    if not state[name].shape:
        return int(flag(state, x, name))
    return int(from_bits(state.view(x, name), signed))


def flag(state: Layout, x: np.ndarray, name: str) -> bool:
    return bool(state.view(x, name) > 0.5)


def register(state: Layout, config: Config, x: np.ndarray, name: str) -> int:
    """A register's value (see ``signed_field``); one-bit flags are 0 or 1."""
    return word(state, x, name, signed=signed_field(config, name))


def signed_field(config: Config, name: str) -> bool:
    """Data words are signed; addresses as the machine has them (signed words on ``subleq``, unsigned indices
    on ``paper``); flags and the I/O bytes are unsigned."""
    if name.startswith(("in_", "out_")):
        return False
    return name in DATA_WORDS or config.spec.signed_addresses


class Fields:
    """Every field of a state vector but memory (registers, PC, flags, I/O) read at once, with one product:
    what per-pass views need, without decoding memory."""

    def __init__(self, state: Layout, config: Config):
        fields = [f for f in state if f.name not in ("mem", "ins")]
        self.names = [f.name for f in fields]
        self.cols = np.concatenate([f.indices().ravel() for f in fields])
        self.weights = np.zeros((len(self.cols), len(fields)))
        row = 0
        for j, f in enumerate(fields):
            n = f.size
            self.weights[row : row + n, j] = 2.0 ** np.arange(n)
            if n > 1 and signed_field(config, f.name):
                self.weights[row + n - 1, j] = -(2.0 ** (n - 1))
            row += n

    def __call__(self, x: np.ndarray) -> dict[str, int]:
        values = np.rint(x[self.cols]) @ self.weights
        return dict(zip(self.names, (int(v) for v in values)))


def decode(state: Layout, config: Config, x: np.ndarray) -> Decoded:
    values = Fields(state, config)(x)
    regs = {name: values[name] for name in REGISTERS}
    io = {name: v for name, v in values.items() if name.startswith(("in_", "out_"))}
    slots = None
    if "ins" in state:
        abc = from_bits(state.view(x, "ins"), signed=False)
        slots = [tuple(int(v) for v in s) for s in abc]
    return Decoded(
        mem=from_bits(state.view(x, "mem")),
        pc=values["pc"],
        halted=bool(values["halted"]),
        fault=bool(values.get("fault", 0)),
        executed=bool(values["executed"]),
        registers=regs,
        io=io,
        slots=slots,
    )
