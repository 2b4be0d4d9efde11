"""A weight file made runnable by the lowered engines (``compiled``, ``unrolled``), from its stored matrices.

The lowered engines exploit structure that only some weights have: a memory select in which, for {0,1}
inputs, at most the row the address names can be nonzero; copies that take no work; in-place row updates.
That structure is a property of the weights, and the weights of the construction for a configuration have
it (every engine is tested layer by layer against them). So a weight file is lowered like this, from its
matrices, entry by entry:

- the memory selects' one-row property, which lets the kernel evaluate only the addressed row, is proven on
  the stored weights of their layer (``unproven_selects``); where it also needs the earlier layers of the
  pass (the construction's write select does), no unit of those earlier layers may differ;
- each stored layer is compared, unit by unit (its row of ``W`` and its bias), with the same layer of the
  construction for the file's configuration (same layer names and output layouts, else nothing is lowered);
- a unit whose stored weights and bias equal the construction's has exactly the construction's structure:
  it is lowered as the construction is;
- a unit whose weights differ (a planted fault, a retrained weight) is lowered as a plain weighted sum of
  its own stored nonzeros and bias, ``ReLU(b + sum w x)``, which is exact whatever they are, provided that
  each of its inputs has a place of its own at that point of the pass (a scratch slot or a state column) and
  the unit itself is one the kernel computes alone (not a unit of a selected memory row, nor of an in-place
  memory update, whose one-row shortcut would no longer be proven by the weights).

Anything else raises ``NotLowerable`` with the first unit that breaks it; ``engines.make`` then says so in
one line and runs the bits engine (or sparse), which lower any weights as they are.
"""

from __future__ import annotations

import numpy as np

from mlpvm.craft.blocks import Select
from mlpvm.engines.lowered import NotLowerable, Override
from mlpvm.network import Network, build
from mlpvm.network.csr import Csr
from mlpvm.network.weights import WeightLayer, Weights, compile_network


def changed_rows(stored: WeightLayer, built: WeightLayer) -> np.ndarray:
    """The units (rows) whose stored weights or bias differ from the construction's, ascending."""
    if stored.W.shape != built.W.shape:
        raise NotLowerable(f"{stored.name}: a matrix of shape {stored.W.shape}, not {built.W.shape}")
    bias = np.flatnonzero(np.asarray(stored.b) != np.asarray(built.b))
    a, b = stored.W, built.W
    if np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices):
        rows = _entry_rows(a)[np.asarray(a.data) != np.asarray(b.data)]
    else:  # rows whose (column, weight) lists differ: entries that appear in one matrix only
        both = np.concatenate([_entries(a), _entries(b)])
        unique, counts = np.unique(both, axis=0, return_counts=True)
        rows = unique[counts == 1, 0]
    return np.union1d(bias, rows).astype(np.int64)


def _entry_rows(W: Csr) -> np.ndarray:
    return np.repeat(np.arange(W.shape[0]), np.diff(np.asarray(W.indptr)))


def _entries(W: Csr) -> np.ndarray:
    """(row, column, weight) of every stored nonzero (explicit zeros are no entry)."""
    keep = np.asarray(W.data) != 0
    return np.stack([_entry_rows(W)[keep], np.asarray(W.indices)[keep], np.asarray(W.data)[keep]], axis=1)


def _row(layer: WeightLayer, row: int) -> Override:
    lo, hi = int(layer.W.indptr[row]), int(layer.W.indptr[row + 1])
    cols, vals = np.asarray(layer.W.indices[lo:hi], np.int64), np.asarray(layer.W.data[lo:hi], np.int64)
    keep = vals != 0
    return Override(cols[keep], vals[keep], int(layer.b[row]))


def unproven_selects(net: Network, weights: Weights) -> list[tuple[int, str]]:
    """(layer, field) of the memory selects whose one-row property the stored weights of their own layer do
    not prove. Proven: in each unit of row r the address bits carry weights +1 where the code of r ((r -
    shift) mod rows, the row the kernel reads off those bits) has a 1, else -1, and the bias is low enough
    that the unit is 0 for any {0,1} inputs unless the address equals that code (bias + ones - 1 + its other
    positive weights <= 0). Some of the construction's selects need more: that their other inputs, computed
    by earlier layers, are never all 1 together (the write select's result, input and enable bits); their
    property then rests on those earlier layers being the construction's."""
    unproven = []
    for k, layer in enumerate(net.layers):
        W, b = weights.layers[k].W, np.asarray(weights.layers[k].b, np.int64)
        for block in layer.blocks:
            if not isinstance(block, Select):
                continue
            f = layer.outputs[block.out]
            code = np.repeat(block.code_bits(), block.bias.shape[1], axis=0)  # (units, L)
            where = np.full(W.shape[1], -1)
            where[layer.inputs[block.addr].offset + block.addr_index] = np.arange(code.shape[1])
            lo, hi = int(W.indptr[f.offset]), int(W.indptr[f.stop])
            unit = np.repeat(np.arange(f.size), np.diff(np.asarray(W.indptr[f.offset : f.stop + 1])))
            bit, vals = where[np.asarray(W.indices[lo:hi])], np.asarray(W.data[lo:hi], np.int64)
            match = np.zeros(code.shape, np.int64)
            match[unit[bit >= 0], bit[bit >= 0]] = vals[bit >= 0]
            rest = np.bincount(unit[bit < 0], np.maximum(vals[bit < 0], 0), minlength=f.size)
            fires = b[f.offset : f.stop] + code.sum(axis=1) - 1 + rest > 0
            if not np.array_equal(match, 2 * code - 1) or fires.any():
                unproven.append((k, block.out))
    return unproven


def lowerable(weights: Weights) -> tuple[Network, dict[int, dict[int, Override]]]:
    """The construction whose lowering the stored ``weights`` share, and the units that differ from it
    (layer -> row -> its stored weights), for ``lower(net, overrides)``. Raises ``NotLowerable`` when the
    stored layers are not the construction's layers of the same shapes."""
    net = build(weights.config)
    if [(layer.name, layer.outputs) for layer in net.layers] != [(w.name, w.outputs) for w in weights.layers]:
        raise NotLowerable("its layers or their outputs are not those of its configuration's construction")
    unproven = unproven_selects(net, weights)
    built = compile_network(net)
    overrides: dict[int, dict[int, Override]] = {}
    for k, (stored, ours) in enumerate(zip(weights.layers, built.layers)):
        rows = changed_rows(stored, ours)
        if len(rows):
            overrides[k] = {int(r): _row(stored, int(r)) for r in rows}
            later = [(j, name) for j, name in unproven if j > k]
            if later:
                from mlpvm.check.mutate import unit_name  # the one way units are named (it imports the engines)

                j, name = later[0]
                raise NotLowerable(
                    f"{stored.name}: {unit_name(stored.outputs, int(rows[0]))} differs from the construction, and "
                    f"{net.layers[j].name}'s select of {name!r} fires on one row only given the construction's "
                    "earlier layers"
                )
    return net, overrides
