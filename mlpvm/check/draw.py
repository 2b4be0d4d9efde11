"""Random draws that every machine's generator shares (``mlpvm.machines.<name>.generate``): words that lean
towards the values that break arithmetic, and the subtractions that make every carry of the adder fire."""

from __future__ import annotations

import numpy as np

from mlpvm.machines.config import wrap


def word(rng: np.random.Generator, bits: int) -> int:
    """A signed ``bits``-bit word, often an edge case."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    r = rng.random()
    if r < 0.2:
        return int(rng.integers(-4, 5))
    if r < 0.35:
        return int(rng.choice([lo, lo + 1, hi - 1, hi]))
    if r < 0.5:
        power = 1 << int(rng.integers(0, bits - 1))
        return power if rng.random() < 0.5 else -power
    return int(rng.integers(lo, hi + 1))


def subtractions(bits: int) -> list[tuple[int, int]]:
    """(mem[A], mem[B]) pairs that make every lookahead term of the subtraction's adder fire (mem[B] + NOT
    mem[A] + 1 generates a carry at bit t and propagates it to bit k), and results with one or two bits set
    (just either side of the zero test)."""
    pairs = [
        (wrap(~(1 << t), bits), wrap(((1 << k) - 1) ^ ((1 << t) - 1), bits)) for k in range(1, bits) for t in range(k)
    ]
    pairs += [(-1, wrap((1 << k) - 1, bits)) for k in range(1, bits)]  # the carry-in, propagated to bit k
    ones = [1 << t for t in range(bits)]
    pairs += [(0, wrap(u | v, bits)) for i, u in enumerate(ones) for v in ones[i:]]
    return pairs
