"""Writing layers by hand, one field at a time.

A term is ``(coef, src)`` or ``(coef, src, at)``. Without ``at`` the source must broadcast to the output's
shape (numpy rules: elementwise, a register repeated over rows, a scalar). ``at`` holds flat indices into
``src`` (-1 = none): an array that broadcasts to the output shape picks one element per unit; an array of
shape (*out_shape, k), or (k,) for a scalar output, sums k elements per unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlpvm.craft.blocks import Block, Layer, Map, Reduce, Select, Term
from mlpvm.craft.layout import Layout

TermSpec = tuple  # (coef, src) | (coef, src, at)


class LayerBuilder:
    def __init__(self, name: str, stage: str, inputs: Layout):
        self.name, self.stage, self.inputs = name, stage, inputs
        self._fields: dict[str, tuple[int, ...]] = {}
        self._blocks: list[Block] = []

    def shape(self, name: str) -> tuple[int, ...]:
        return self.inputs[name].shape

    def _add(self, out: str, shape: tuple[int, ...], block: Block) -> None:
        if out in self._fields:
            raise ValueError(f"{self.name}: field {out!r} produced twice")
        self._fields[out] = tuple(shape)
        self._blocks.append(block)

    def _term(self, spec: TermSpec, shape: tuple[int, ...]) -> Term:
        coef, src, *at = spec
        field = self.inputs[src]
        if at:
            index = np.asarray(at[0], np.int64)
            if index.ndim <= len(shape):
                index = np.broadcast_to(index, shape)[..., None]
            else:
                index = np.broadcast_to(index, (*shape, index.shape[-1]))
        else:
            try:  # numpy broadcasting: elementwise, a register repeated over rows, or a scalar
                index = np.broadcast_to(np.arange(field.size).reshape(field.shape), shape)[..., None]
            except ValueError:
                raise ValueError(f"{self.name}: {src}{field.shape} does not fit {shape} without an index") from None
        if index.max(initial=-1) >= field.size:
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

    def carry(self, *names: str) -> None:
        """Copy fields unchanged (ReLU(x) = x for the non-negative activations)."""
        for name in names:
            self.map(name, self.shape(name), (1, name))

    def rename(self, out: str, src: str) -> None:
        self.map(out, self.shape(src), (1, src))

    def build(self, order: Sequence[str] | None = None) -> Layer:
        names = list(order) if order is not None else list(self._fields)
        if sorted(names) != sorted(self._fields):
            missing = set(names) ^ set(self._fields)
            raise ValueError(f"{self.name}: output fields do not match the required order: {sorted(missing)}")
        outputs = Layout((n, self._fields[n]) for n in names)
        return Layer(self.name, self.stage, self.inputs, outputs, tuple(self._blocks))


class Sequencer:
    """Builds layers one after another, each reading the previous one's outputs."""

    def __init__(self, state: Layout):
        self.state = state
        self.layers: list[Layer] = []
        self._open: LayerBuilder | None = None

    def layer(self, name: str, stage: str) -> LayerBuilder:
        self._close()
        inputs = self.layers[-1].outputs if self.layers else self.state
        self._open = LayerBuilder(name, stage, inputs)
        return self._open

    def _close(self, order: Sequence[str] | None = None) -> None:
        if self._open is not None:
            self.layers.append(self._open.build(order))
            self._open = None

    def finish(self) -> list[Layer]:
        """Closes the last layer, whose outputs must be the state again, in the state's order."""
        self._close([f.name for f in self.state])
        return self.layers
