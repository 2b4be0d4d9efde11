"""The stored layers as solver formulas over {0,1} activations.

Each unit computes ``y = ReLU(s)``, ``s = W x + b``. For {0,1} inputs, ``y`` is in {0,1} exactly when ``s <= 1``
(the *binary obligation*), and then ``y = (s >= 1)``: a Boolean (pseudo-Boolean) formula of the inputs. A unit
whose ``s`` cannot exceed 1 for any inputs (its bias plus its positive weights) has no obligation; every other
unit's obligation must be proved. The encoding of layer k is faithful once the obligations of layers 0..k
hold, so proving all obligations at once (one query, unsatisfiable) proves every layer binary by induction.
Nothing here reads the construction: only the matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlpvm.network.weights import WeightLayer

from . import require_z3


@dataclass
class Encoded:
    """The activations of some layers as formulas, and the binary obligations they rest on."""

    layers: list[list] = field(default_factory=list)  # per layer: a formula (or True/False) per unit
    obligations: list[list] = field(default_factory=list)  # per layer: (unit, formula that must be False)


def unit(z3, inputs: list, cols: np.ndarray, weights: np.ndarray, bias: int):
    """One unit: (its activation as a formula, the formula of ``s >= 2`` or None when impossible)."""
    terms, b = [], int(bias)
    for c, w in zip(cols, weights):
        x, w = inputs[int(c)], int(w)
        if w == 0 or x is False:
            continue
        if x is True:
            b += w
        else:
            terms.append((x, w))
    hi = b + sum(w for _, w in terms if w > 0)
    lo = b + sum(w for _, w in terms if w < 0)
    if hi <= 0:
        return False, None
    if lo >= 1:
        return True, (None if hi <= 1 else z3.PbGe(terms, 2 - b))
    over = None if hi <= 1 else z3.PbGe(terms, 2 - b)
    return _activation(z3, terms, b), over


def _activation(z3, terms: list, b: int):
    """``s >= 1`` in the plainest form the solver gets: the input, its negation, AND, OR, else a PB sum."""
    xs = [x for x, _ in terms]
    if all(w == 1 for _, w in terms):
        if b == 0:
            return xs[0] if len(xs) == 1 else z3.Or(xs)
        if b == 1 - len(xs):
            return xs[0] if len(xs) == 1 else z3.And(xs)
    if len(terms) == 1 and terms[0][1] == -1 and b == 1:
        return z3.Not(xs[0])
    return z3.PbGe(terms, 1 - b)


def layers(inputs: list, stored: list[WeightLayer]) -> Encoded:
    """The formulas of ``stored`` layers applied one after another to ``inputs`` (formulas or constants)."""
    z3 = require_z3()
    enc = Encoded()
    x = inputs
    for layer in stored:
        W, b = layer.W, layer.b
        out, obligations = [], []
        for r in range(W.shape[0]):
            lo, hi = W.indptr[r], W.indptr[r + 1]
            y, over = unit(z3, x, W.indices[lo:hi], W.data[lo:hi], b[r])
            out.append(y)
            if over is not None:
                obligations.append((r, over))
        enc.layers.append(out)
        enc.obligations.append(obligations)
        x = out
    return enc
