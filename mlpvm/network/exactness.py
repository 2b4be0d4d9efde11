"""Why the float engines compute exactly, read off the stored weights themselves.

Every weight and bias is an integer and every input to a layer is 0 or 1, so every pre-activation, and every
partial sum on the way to it (in any order of summation), is an integer no larger in magnitude than the
row's ``sum |w| + |b|``. A float type holds every integer up to 2^(mantissa bits + 1) exactly (2,048 for
float16, 16,777,216 for float32, 2^53 for float64), so while the largest such bound is within that range no
sum is ever rounded and each layer's output is again exactly 0 or 1 (the engine's guard checks it). Each pass
therefore starts from an exact {0,1} state: nothing accumulates across passes, however long a program runs.
"""

from __future__ import annotations

import numpy as np

from mlpvm.errors import WeightsError
from mlpvm.network.weights import WeightLayer, Weights


def exact_range(dtype) -> int:
    """The largest integer n such that every integer in [-n, n] is exact in the float type ``dtype``."""
    return 1 << (np.finfo(dtype).nmant + 1)


def row_bounds(layer: WeightLayer) -> np.ndarray:
    """``sum |w| + |b|`` of each unit: the largest |partial sum| it can reach on inputs in [0, 1]."""
    sums = np.bincount(layer.W.row_ids(), np.abs(layer.W.data).astype(np.float64), minlength=layer.W.shape[0])
    return (sums + np.abs(layer.b)).astype(np.int64)


def bounds(weights: Weights) -> list[int]:
    """The bound of each layer: the largest over its units."""
    return [int(row_bounds(layer).max(initial=0)) for layer in weights.layers]


def check(weights: Weights, dtype) -> None:
    """Refuses a dtype in which the stored weights could round a sum."""
    worst = max(bounds(weights))
    if worst > exact_range(dtype):
        k = bounds(weights).index(worst)
        raise WeightsError(
            f"{np.dtype(dtype).name} is not exact for these weights: a unit of layer {weights.layers[k].name} can "
            f"sum to {worst:,}, beyond the {exact_range(dtype):,} that {np.dtype(dtype).name} holds exactly"
        )
