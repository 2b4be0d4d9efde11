"""Writing layers by hand, one field at a time; the pass-through is derived, not written.

A stage adds to a layer only the units it computes. ``Sequencer.finish`` then works out, backwards from the
state, which fields each layer must also copy unchanged (they are read later, or belong to the state the
pass returns) and adds those identity units itself.

A term is ``(coef, src)`` or ``(coef, src, at)``. Without ``at`` the source must broadcast to the output's
shape (numpy rules: elementwise, a register repeated over rows, a scalar). ``at`` holds flat indices into
``src`` (-1 = none): an array that broadcasts to the output shape picks one element per unit; an array of
shape (*out_shape, k), or (k,) for a scalar output, sums k elements per unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import prod

import numpy as np

from mlpvm.craft.blocks import Block, Layer, Map, Reduce, Select, Term
from mlpvm.craft.layout import Layout

TermSpec = tuple  # (coef, src) | (coef, src, at)


class LayerBuilder:
    """The units one layer computes, reading the fields (name -> shape) available before it."""

    def __init__(self, name: str, stage: str, available: Mapping[str, tuple[int, ...]]):
        self.name, self.stage, self.available = name, stage, available
        self.fields: dict[str, tuple[int, ...]] = {}
        self.blocks: list[Block] = []

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.available:
            raise ValueError(f"{self.name}: no field {name!r} to read")
        return self.available[name]

    def _add(self, out: str, shape: tuple[int, ...], block: Block) -> None:
        if out in self.fields:
            raise ValueError(f"{self.name}: field {out!r} produced twice")
        self.fields[out] = tuple(shape)
        self.blocks.append(block)

    def _term(self, spec: TermSpec, shape: tuple[int, ...]) -> Term:
        coef, src, *at = spec
        src_shape = self.shape(src)
        size = prod(src_shape)
        if at:
            index = np.asarray(at[0], np.int64)
            if index.ndim <= len(shape):
                index = np.broadcast_to(index, shape)[..., None]
            else:
                index = np.broadcast_to(index, (*shape, index.shape[-1]))
        else:
            try:  # numpy broadcasting: elementwise, a register repeated over rows, or a scalar
                index = np.broadcast_to(np.arange(size).reshape(src_shape), shape)[..., None]
            except ValueError:
                raise ValueError(f"{self.name}: {src}{src_shape} does not fit {shape} without an index") from None
        if index.max(initial=-1) >= size:
            raise ValueError(f"{self.name}: index out of range for {src}")
        return Term(int(coef), src, np.ascontiguousarray(index))

    def map(self, out: str, shape: tuple[int, ...], *terms: TermSpec, bias: int | np.ndarray = 0) -> None:
        """``out = ReLU(sum of terms + bias)``."""
        shape = tuple(shape)
        bias = np.broadcast_to(np.asarray(bias, np.int64), shape).copy()
        self._add(out, shape, Map(out, tuple(self._term(t, shape) for t in terms), bias))

    def select(
        self,
        out: str,
        shape: tuple[int, int],
        addr: tuple[str, Sequence[int]],
        shift: int,
        *terms: TermSpec,
        bias: int = 0,
    ) -> None:
        """Row ``i`` of ``out`` is ``ReLU(terms + bias)`` when address ``addr`` equals ``i - shift`` (mod rows),
        and 0 otherwise, provided the terms and bias sum to at most 1 on other rows."""
        shape = tuple(shape)
        name, bits = addr
        block = Select(
            out,
            tuple(self._term(t, shape) for t in terms),
            np.full(shape, bias, np.int64),
            name,
            np.asarray(bits, np.int64),
            shift,
        )
        if (1 << len(block.addr_index)) != shape[0]:
            raise ValueError(f"{self.name}: {len(block.addr_index)} address bits for {shape[0]} rows")
        self._add(out, shape, block)

    def reduce(self, out: str, src: str) -> None:
        """``out[t] = ReLU(sum_i src[i, t])``: reads out the one row a ``select`` let through."""
        shape = self.shape(src)
        self._add(out, shape[1:], Reduce(out, src, shape))

    def rename(self, out: str, src: str) -> None:
        """``out`` is a copy of ``src`` under a new name: a computed field, unlike the pass-through."""
        self.map(out, self.shape(src), (1, src))


def identity(name: str, shape: tuple[int, ...]) -> Map:
    """The block that passes field ``name`` through a layer unchanged (ReLU(x) = x for x >= 0)."""
    index = np.arange(prod(shape), dtype=np.int64).reshape(*shape, 1)
    return Map(name, (Term(1, name, index),), np.zeros(shape, np.int64))


class Sequencer:
    """Builds a pass: stages add layers, one after another, each holding only the units it computes;
    ``finish`` adds the pass-through and lays out every layer's inputs and outputs."""

    def __init__(self, state: Layout):
        self.state = state
        self._built: list[LayerBuilder] = []
        self._available = {f.name: f.shape for f in state}  # the latest version of every field, by name

    def layer(self, name: str, stage: str) -> LayerBuilder:
        if self._built:
            self._available.update(self._built[-1].fields)
        self._built.append(LayerBuilder(name, stage, dict(self._available)))
        return self._built[-1]

    def finish(self) -> list[Layer]:
        """The layers: each outputs the fields it computes, then those it passes through in its inputs' order;
        the last one outputs the state, in the state's order."""
        layers, inputs = [], self.state
        for b, keep in zip(self._built, self._pass_through()):
            carried = [f.name for f in inputs if f.name in keep]
            order = [f.name for f in self.state] if b is self._built[-1] else [*b.fields, *carried]
            shapes = {**{name: inputs[name].shape for name in carried}, **b.fields}
            outputs = Layout((name, shapes[name]) for name in order)
            blocks = (*b.blocks, *(identity(name, shapes[name]) for name in carried))
            layers.append(Layer(b.name, b.stage, inputs, outputs, blocks, tuple(carried)))
            inputs = outputs
        if inputs != self.state:
            raise ValueError(f"the last layer returns {inputs.spec()}, not the state {self.state.spec()}")
        return layers

    def _pass_through(self) -> list[set[str]]:
        """For each layer, the fields it passes through, by a backward liveness pass. A field is live after a
        layer when a later layer reads it before one produces it again, or when the pass returns it (every
        state field not produced later). A layer passes through the live fields it does not produce. (Nothing
        can be live before the first layer but the state: a layer reads only fields produced before it.)"""
        live = {f.name for f in self.state}
        keep: list[set[str]] = []
        for b in reversed(self._built):
            unread = set(b.fields) - live
            if unread:
                raise ValueError(f"{b.name}: nothing reads {sorted(unread)}")
            keep.append(live - set(b.fields))
            live = keep[-1] | {name for block in b.blocks for name in block.reads()}
        return keep[::-1]
