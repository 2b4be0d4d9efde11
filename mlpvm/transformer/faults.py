"""Where a pass of the looped transformer leaves exactness: the first layer whose output leaves {0,1}, and
the first layer that departs from the same pass with hard-max attention (the construction's intent). Both
re-run the pass on the network's own layers; the host and the checks ask, this module never runs a program."""

from __future__ import annotations

import numpy as np

from mlpvm.transformer.network import Transformer


class NotExact(Exception):
    """A pass left the punchcard outside {0,1} (a softmax read the error correction could not round)."""


def outside_raw(net: Transformer) -> np.ndarray:
    """A mask of the rows that are not raw softmax reads (which always differ from a hard max a little)."""
    keep = np.ones(net.rows.size, bool)
    keep[[r for name in net.rows.fields if name.startswith("raw_") for r in net.rows[name]]] = False
    return keep


def first_departure(net: Transformer, x: np.ndarray) -> str | None:
    """The first layer whose output (outside the raw softmax reads) differs from the same pass with
    hard-max attention; None if the whole pass agrees with it."""
    keep = outside_raw(net)
    soft: list = []
    hard: list = []
    net.run_pass(x, soft)
    net.run_pass(x, hard, hard=True)
    for (name, a), (_, b) in zip(soft, hard, strict=True):
        if not np.array_equal(a[keep], b[keep]):
            return name
    return None


def first_inexact_layer(net: Transformer, x: np.ndarray) -> str:
    """The first layer whose output leaves {0,1} outside the rows that hold raw softmax reads."""
    keep = outside_raw(net)
    trace: list = []
    net.run_pass(x, trace)
    for name, y in trace:
        if ((y[keep] != 0) & (y[keep] != 1)).any():
            return name
    return trace[-1][0]
