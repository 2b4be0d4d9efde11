"""Where the looped transformer is exact: a bound proved from the construction, checked before running, and
the measurement that tests it (``mlpvm compare --exactness``, in ``mlpvm.check.transformer``).

Two things can make a pass inexact. (1) A softmax read is never a hard max: a head's right column scores at
least 2 lambda above every wrong one, so with M wrong columns its weight is at least 1 / (1 + M e^(-2 lambda))
and a read bit is off by at most M e^(-2 lambda) / (1 + M e^(-2 lambda)). The error correction rounds a read
r to 0 below 3/8 and to 1 above 5/8 (exactly, in floating point: ``ffn.Builder.clamp``), so every read is
exact while M e^(-2 lambda) <= 3/5. (2) The feed-forward blocks compute integer sums of bits (carries,
borrows, comparisons, gates); each is exact while the unit's ``sum |w| + |b|`` is within the integers the
float type holds (2^24 in float32, 2^53 in float64). Within both bounds every pass ends on an exact {0,1}
state, so nothing accumulates; the measurement shows where exactness really ends (the read bound is a worst
case: random programs stay exact somewhat beyond it).
"""

from __future__ import annotations

import math

import numpy as np

from mlpvm.errors import ConfigError
from mlpvm.network.exactness import exact_range
from mlpvm.transformer.ffn import FFN
from mlpvm.transformer.network import Transformer

READ_MARGIN = 3 / 5  # M e^(-2 lambda) at most this: every read within 3/8 of its bit


def min_lambda(cells: int) -> float:
    """The smallest temperature at which every read of a machine with ``cells`` cells is proved exact."""
    return math.log(cells / READ_MARGIN) / 2


def largest_sum(net: Transformer) -> int:
    """The largest ``sum |w| + |b|`` of a feed-forward unit: the integers its sums can reach."""
    worst = 0.0
    for layer in net.layers:
        if isinstance(layer, FFN):
            worst = max(worst, float((np.abs(layer.w1).sum(axis=1) + np.abs(layer.b1)).max(initial=0)))
    return math.ceil(worst)


def refusal(net: Transformer) -> str | None:
    """Why ``net`` is outside the proved exact region (one line), or None."""
    cfg, name = net.config, np.dtype(net.dtype).name
    need = min_lambda(cfg.cells)
    if net.lam < need:
        where = "docs/transformer.md"
        return f"the transformer is exact at {cfg.cells} cells from --lambda {need:.2f}, not {net.lam:g} ({where})"
    if largest_sum(net) > exact_range(net.dtype):
        return (f"the transformer is not exact in {name} at {cfg.bits}-bit words: a feed-forward sum reaches "
                f"{largest_sum(net):,}, beyond the {exact_range(net.dtype):,} that {name} holds exactly")  # fmt: skip
    if not math.isfinite(float(net.dtype(net.lam * 2 * cfg.addr_bits + 2))):
        return f"--lambda {net.lam:g} overflows {name} in the attention scores"
    return None


def check(net: Transformer) -> None:
    wrong = refusal(net)
    if wrong:
        raise ConfigError(wrong)
