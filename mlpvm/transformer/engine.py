"""The looped transformer as an engine of the machine's state vector (``mlpvm.engines.base.Engine``), so that
what runs an engine (the debugger's session, ``mlpvm trace``, the host's ``Computer``) runs the transformer.

The state vector is the ``subleq`` machine's, field for field the MLP's (memory, PC, flags, the host's I/O
fields, and the registers a pass leaves for display). A pass embeds it into the punchcard (a fixed map:
memory bits into the memory columns' ``val`` rows, PC, flags and I/O into the scratchpad, the constant rows
and positional encodings beside them, every scratch row 0), runs the 16 layers, and reads the punchcard's
persistent rows back: a relabelling of bits, lossless because a pass ends on an exact state whose scratch
rows are 0 (checked: else a ``NetworkFault``). The registers (A, B, C, mem[A], mem[B], the written word, the
branch, PC + 3) are copied from the scratch rows of the layers that computed them, for display only: the
next pass's embedding never reads them. Each layer's activations, for ``run_pass(x, trace)``, are the whole
punchcard, flattened row by row (``punchcard``: each row field a (width, columns) block)."""

from __future__ import annotations

import numpy as np

from mlpvm.craft.layout import Layout
from mlpvm.engines.base import Engine, record_columns
from mlpvm.errors import NetworkFault
from mlpvm.transformer.faults import first_departure, first_inexact_layer
from mlpvm.transformer.network import Transformer
from mlpvm.transformer.state import encode, inexact
from mlpvm.transformer.subleq import PERSISTENT

# Each register of the state and the (layer, scratch field) of column 0 that holds it during the pass.
REGISTER_ROWS = {"a": ("fetch.round", "a"), "b": ("fetch.round", "b"), "c": ("fetch.round", "c"),
                 "mem_a": ("read.round", "ma"), "mem_b": ("read.round", "mb"), "result": ("branch", "wd"),
                 "branch": ("branch", "take"), "next_pc": ("pc.sum", "pc3")}  # fmt: skip
CONSTANT = ("one", "is_mem", "is_scr", "pos", "val")  # persistent rows that are not the scratchpad's state


def punchcard(net: Transformer) -> Layout:
    """The layout of a flattened punchcard: every row field of ``net.rows`` as a (width, columns) block."""
    return Layout([(name, (len(rows), net.columns)) for name, rows in net.rows.fields.items()])


class TransformerEngine(Engine):
    name = "transformer"

    def __init__(self, net: Transformer):
        card = punchcard(net)
        super().__init__(net.config, [(layer.name, card) for layer in net.layers])
        self.net, self.card = net, card
        self.dtype = np.dtype(net.dtype)
        self.state = Layout(net.config.spec.state_fields(net.config))
        self.record_columns = record_columns(self.state)
        self.lam = net.dtype(net.lam)
        names = [layer.name for layer in net.layers]
        self._registers = [(reg, names.index(layer), net.rows[row]) for reg, (layer, row) in REGISTER_ROWS.items()]
        self._scratch = [n for n, _ in PERSISTENT if n not in CONSTANT]
        self._blank = encode(net, [])  # every state field 0: the constant rows and positions only

    def embed(self, state: np.ndarray) -> np.ndarray:
        """The punchcard of one state vector."""
        r, s = self.net.rows, self.state
        x = self._blank.copy()
        x[r["val"].start : r["val"].stop, 1:] = s.view(state, "mem").T
        for name in self._scratch:
            x[r[name].start : r[name].stop, 0] = s.view(state, name).ravel()
        return x

    def read_out(self, x: np.ndarray, layers: list[np.ndarray], into: np.ndarray) -> None:
        """The state vector of the punchcard ``x`` at the end of a pass whose layer outputs are ``layers``."""
        r, s = self.net.rows, self.state
        s.view(into, "mem")[...] = x[r["val"].start : r["val"].stop, 1:].T
        for name in self._scratch:
            s.view(into, name)[...] = x[r[name].start : r[name].stop, 0].reshape(s[name].shape)
        for reg, k, rows in self._registers:
            s.view(into, reg)[...] = layers[k][rows.start : rows.stop, 0].reshape(s[reg].shape)

    def layers_of(self, card: np.ndarray) -> list[np.ndarray]:
        """Every layer's output punchcard for the pass from the punchcard ``card``."""
        trace: list = []
        self.net.run_pass(card, trace)
        return [x for _, x in trace]

    def first_bad_layer(self, before: np.ndarray) -> str | None:
        """For a pass (from ``before``, a batch of one) that disagreed with the reference: the first layer
        that departs from hard-max attention (``faults.first_departure``), None if none does."""
        return first_departure(self.net, self.embed(before[0]))

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None) -> None:
        outputs = []
        for machine in range(len(x)):
            start = self.embed(x[machine])
            layers = self.layers_of(start)
            if self.guard and inexact(self.net, layers[-1]):
                detail = f"{inexact(self.net, layers[-1])} (machine {machine})"
                raise NetworkFault(first_inexact_layer(self.net, start), detail, machine)
            self.read_out(layers[-1], layers, x[machine])
            outputs.append(layers)
        if trace is not None:
            for k in range(len(self.layer_names)):
                trace.append(np.stack([layers[k].ravel() for layers in outputs]))
