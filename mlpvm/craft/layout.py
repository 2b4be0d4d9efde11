"""Named fields of an activation vector: where each register, flag and memory bit lives.

Every layer's output is described by a ``Layout``; the state vector between passes is the output layout of
the last layer (and the input layout of the first). Fields are contiguous, so views are free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from math import prod

import numpy as np


@dataclass(frozen=True)
class Field:
    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def stop(self) -> int:
        return self.offset + self.size

    def indices(self) -> np.ndarray:
        """Indices of this field in the whole vector, in the field's shape."""
        return np.arange(self.offset, self.stop).reshape(self.shape)


class Layout:
    def __init__(self, fields: Iterable[tuple[str, tuple[int, ...]]]):
        self.fields: dict[str, Field] = {}
        offset = 0
        for name, shape in fields:
            if name in self.fields:
                raise ValueError(f"duplicate field {name!r}")
            self.fields[name] = f = Field(name, tuple(shape), offset)
            offset = f.stop
        self.size = offset

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(tuple(self.spec()))

    def spec(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(f.name, f.shape) for f in self]

    def view(self, x: np.ndarray, name: str) -> np.ndarray:
        """The field as a view of ``x`` (shape ``(..., size)``), reshaped to ``(..., *field.shape)``."""
        f = self.fields[name]
        return x[..., f.offset : f.stop].reshape(x.shape[:-1] + f.shape)

    def to_meta(self) -> dict[str, list]:
        """``fields`` of the weight-file meta: each name to a nested list of indices."""
        return {f.name: f.indices().tolist() for f in self}
