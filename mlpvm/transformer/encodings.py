"""Binary codes of the punchcard. A column's position and every word are stored as {0,1} bits (least
significant first, words in two's complement), which the feed-forward blocks compute with; attention matches
the +-1 form of the same bits (``2 b - 1``, a linear map the query and key weights apply), so that two codes
of L bits have inner product L when equal and at most L - 2 otherwise: the margin softmax sharpens."""

from __future__ import annotations

import numpy as np


def to_bits(value: int, width: int) -> np.ndarray:
    """``value`` as ``width`` {0,1} bits, least significant first (negative values in two's complement)."""
    return np.array([(value >> i) & 1 for i in range(width)], dtype=np.int64)


def from_bits(bits, signed: bool = True) -> int:
    """The integer of {0,1} bits, least significant first."""
    value = sum(int(b) << i for i, b in enumerate(bits))
    if signed and len(bits) and int(bits[-1]):
        value -= 1 << len(bits)
    return value


def signs(bits: np.ndarray) -> np.ndarray:
    """The +-1 code of {0,1} bits."""
    return 2 * np.asarray(bits) - 1


def positions(count: int, width: int) -> np.ndarray:
    """The binary positional encodings of ``count`` columns: a (width, count) array of {0,1} bits."""
    return np.stack([to_bits(i, width) for i in range(count)], axis=1)
