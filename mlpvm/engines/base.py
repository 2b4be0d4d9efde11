"""What every engine does: one pass of the 23 layers over a batch of states, in place, with a guard.

A batch ``x`` has shape (B, state_size): B independent machines of one configuration. ``run_pass`` may
record each layer's activations (``trace``) as dense (B, width) arrays in the layer's output layout.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.protocol import EVENTS, EXECUTED


def off_binary(h: np.ndarray) -> bool:
    """True if any activation is not exactly 0 or 1."""
    return bool(np.any((h != 0) & (h != 1)))


def first_off_binary_row(h: np.ndarray) -> int:
    """The first machine (row of a batch's activations) with an activation other than 0 or 1."""
    return int(np.flatnonzero(((h != 0) & (h != 1)).any(axis=1))[0])


MEMORY = ("mem", "ins")  # the memory-like state fields, which a pass touches only in selected rows


def record_columns(state: Layout) -> np.ndarray:
    """The state columns outside memory, in state order: PC, flags, I/O fields and registers."""
    return np.concatenate([f.indices().ravel() for f in state if f.name not in MEMORY]).astype(np.int64)


class Engine:
    name = "engine"
    dtype = np.dtype(np.float32)

    def __init__(self, config: Config, layers: list[tuple[str, Layout]]):
        """``layers``: each layer's name and output layout; the last one is the state's."""
        self.config = config
        self.layer_names = [name for name, _ in layers]
        self.layouts = [layout for _, layout in layers]
        self.state = self.layouts[-1]
        self.guard = True
        self.record_columns = record_columns(self.state)

    def _layers(self, h: np.ndarray) -> Iterator[np.ndarray]:
        """Yields each layer's output in turn, starting from the state batch ``h``."""
        raise NotImplementedError

    def run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        """One loop pass over the batch ``x`` (B, state_size), in place; ``trace`` gets each layer's output.
        An empty batch runs nothing (the kernels assume a machine)."""
        if len(x):
            self._run_pass(x, trace)

    write_log = False  # whether ``run_until_event`` can log each pass's write (the lowered engines)

    def run_until_event(
        self, x: np.ndarray, max_passes: int, steps: np.ndarray, record: np.ndarray | None = None,
        writes: np.ndarray | None = None,
    ) -> int:  # fmt: skip
        """Runs up to ``max_passes`` passes over the batch, stopping after the first pass in which any
        machine raised a host-visible event (output, input taken, input wanted, halt). Adds each machine's
        executed instructions to ``steps``; returns the passes run (0 for an empty batch). Engines may do this
        without Python in between passes; the host services the event afterwards. ``record`` (a batch of one
        machine): an array (max_passes, len(record_columns)) whose row i gets the state's ``record_columns``
        after pass i + 1, so that a caller can check every pass of a long run (the debugger). ``writes`` (a
        batch of one machine, on an engine with ``write_log``): an array (max_passes, 1 + bits) of the engine's
        dtype whose row i gets the write of pass i + 1 as the network made it: the memory row its in-place
        update selected (the cell written), then that row's bits as the update left them (the word written).
        Memory changes nowhere else in a pass, so the log and ``record`` together say all a pass did."""
        if not len(x):
            return 0
        if writes is None:
            return self._run_until_event(x, max_passes, steps, record)
        if not self.write_log:
            raise ValueError(f"the {self.name} engine keeps no write log")
        return self._run_until_event(x, max_passes, steps, record, writes)

    # What each engine implements, for a batch of at least one machine.

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None) -> None:
        h = x
        for name, h in zip(self.layer_names, self._layers(x)):
            if self.guard and off_binary(h):
                machine = first_off_binary_row(h)
                raise NetworkFault(name, f"an activation of machine {machine} left {{0,1}}", machine)
            if trace is not None:
                trace.append(np.array(h, copy=True))
        x[...] = h

    def _run_until_event(self, x: np.ndarray, max_passes: int, steps: np.ndarray, record: np.ndarray | None) -> int:
        events = [self.state[name].offset for name in EVENTS if name in self.state]
        executed = self.state[EXECUTED].offset
        for done in range(1, max_passes + 1):
            self.run_pass(x)
            steps += x[:, executed] > 0.5
            if record is not None:
                record[done - 1] = x[0, self.record_columns]
            if (x[:, events] > 0.5).any():
                return done
        return max_passes

    def new_batch(self, states: np.ndarray) -> np.ndarray:
        """A batch in this engine's dtype from encoded states (S,) or (B, S)."""
        return np.array(np.atleast_2d(states), dtype=self.dtype)
