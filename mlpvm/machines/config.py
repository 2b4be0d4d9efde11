"""Machine configurations and N-bit word arithmetic (docs/machines.md sections 1.1 and 2.1).

A configuration names its machine (``mlpvm.machines.base``: ``subleq``, von Neumann, or ``paper``, the
paper's Harvard layout with instruction slots) and the sizes its network is built for.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpvm.errors import ConfigError
from mlpvm.machines.base import DEFAULT_MACHINE, Machine, get, harvard_names

MIN_BITS, MAX_BITS = 4, 32
MIN_CELLS = 4
DEFAULT_BITS, DEFAULT_CELLS = 16, 256


def is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def log2(n: int) -> int:
    return n.bit_length() - 1


def next_pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def wrap(value: int, bits: int) -> int:
    """``value`` as a signed two's-complement ``bits``-bit word."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def fits(value: int, bits: int) -> bool:
    """True if ``value`` is an N-bit word read as signed or as unsigned."""
    return -(1 << (bits - 1)) <= value < (1 << bits)


@dataclass(frozen=True)
class Config:
    """What the weights depend on: the machine, word width, memory size, and slot count (Harvard machines)."""

    machine: str = DEFAULT_MACHINE  # a name: weight files and JSON carry it; ``spec`` is the machine itself
    bits: int = DEFAULT_BITS
    cells: int = DEFAULT_CELLS
    slots: int = 0  # Harvard machines only; 0 means "as many as cells"

    def __post_init__(self) -> None:
        spec = self.spec
        if not MIN_BITS <= self.bits <= MAX_BITS:
            raise ConfigError(f"--bits must be between {MIN_BITS} and {MAX_BITS}, not {self.bits}")
        if not is_pow2(self.cells) or self.cells < MIN_CELLS:
            raise ConfigError(f"--cells must be a power of two >= {MIN_CELLS}, not {self.cells}")
        if not spec.harvard:  # instructions are words in memory: their operands must address every cell
            if self.cells > 1 << self.bits:
                raise ConfigError(f"{self.cells} cells cannot be addressed by {self.bits}-bit words")
            if self.slots:
                raise ConfigError(f"--slots applies to the {' and '.join(harvard_names())} machine only")
        else:
            if self.slots == 0:
                object.__setattr__(self, "slots", self.cells)
            if not is_pow2(self.slots) or self.slots < 2:
                raise ConfigError(f"--slots must be a power of two >= 2, not {self.slots}")

    @property
    def spec(self) -> Machine:
        """The machine's descriptor: what its state, layers, reference and programs are."""
        return get(self.machine)

    @property
    def addr_bits(self) -> int:
        """Bits that address a memory cell."""
        return log2(self.cells)

    @property
    def slot_bits(self) -> int:
        """Bits that address an instruction slot (Harvard machines)."""
        return log2(self.slots) if self.slots else 0

    @property
    def ins_bits(self) -> int:
        """Width L of each operand in the ``ins`` field of a Harvard machine's state: a, b, c all use L bits."""
        return max(self.addr_bits, self.slot_bits)

    def wrap(self, value: int) -> int:
        return wrap(value, self.bits)

    def describe(self) -> str:
        extra = f", {self.slots} slots" if self.spec.harvard else ""
        return f"{self.machine}, {self.bits}-bit words, {self.cells} cells{extra}"

    def to_meta(self) -> dict:
        meta = {"machine": self.machine, "bits": self.bits, "cells": self.cells}
        if self.spec.harvard:
            meta["slots"] = self.slots
        return meta
