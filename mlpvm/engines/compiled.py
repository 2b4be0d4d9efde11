"""The compiled engine: the network lowered from its blocks (``mlpvm.engines.lowered``) and run by a numba
kernel (``mlpvm.engines.kernel``), many passes per call. The fastest exact engine when numba is installed.

It computes what the stored matrices compute, layer by layer, on {0,1} states (tests compare every layer
with them on random states of both machines); a trace materialises each layer's activations.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlpvm.engines.base import Engine
from mlpvm.engines.lowered import UPDATE, KernelArrays, Narrow, Override, lower, materialize
from mlpvm.errors import NetworkFault
from mlpvm.network import Network
from mlpvm.protocol import EVENTS, EXECUTED


def _kernel():
    """The kernel module, imported on first use: importing numba takes a noticeable fraction of a second."""
    from mlpvm.engines import kernel

    return kernel


def have_numba() -> bool:
    """Whether the kernel is compiled (numba imports); without it, it would run as plain Python."""
    return _kernel().HAVE_NUMBA


def announce_compile(engine: Engine, say: Callable[[str], None]) -> None:
    """Says so when the kernel is about to be compiled (the first run after installing takes seconds; later
    runs load numba's cache). Quiet when it is cached, or when the cache cannot be inspected. The unrolled
    engine compiles per configuration, when it first needs the code: it is told whom to tell."""
    if hasattr(engine, "announce"):
        engine.announce = say
    if not isinstance(engine, Compiled) or not have_numba():
        return
    try:
        cache = _kernel().run_until_event._cache
        cached = Path(cache._cache_file._index_path).exists()
    except AttributeError:  # numba's cache layout changed: say nothing
        return
    if not cached:
        say("compiling the network kernel (numba); this happens once")


def warm() -> None:
    """Compiles the kernel into numba's cache now (``make`` does this after installing), the unrolled engine's
    code for the default configuration and the debugger's fast references, so that the first ``mlpvm run``
    or ``mlpvm debug`` does not wait for them."""
    if not have_numba():
        return
    from mlpvm.machines.config import Config
    from mlpvm.network import build

    engine = Compiled(build(Config("subleq", 4, 16)))
    x = engine.new_batch(np.zeros(engine.state.size))
    engine.run_until_event(x, 1, np.zeros(1, np.int64))
    engine.run_pass(x, [])
    from mlpvm.engines.unrolled import Unrolled, have_llvm

    if have_llvm():  # the default configuration's code for one machine (others compile on first use)
        Unrolled(build(Config())).code(1)
    from mlpvm.machines import MACHINES, reference

    for machine in MACHINES.values():  # the debugger's fast references
        if machine.fast is not None:
            machine.fast.Fast.beside(reference.load(Config(machine.name, 8, 16), [])).run(0, 1)


TILE = 128  # machines evaluated together: a tile's scratch (slots x TILE) stays in the core's cache


class LoweredEngine(Engine):
    """What the engines that run the lowered network share (this one and ``unrolled``): its arrays in a float
    type, the scratch slots of the flags and the recorded columns after a pass, and where the pass's one
    in-place memory update leaves its write (``write_op``: what the write log reads)."""

    def __init__(self, net: Network, dtype=np.float32, *, overrides: dict[int, dict[int, Override]] | None = None):
        """``overrides``: units computed from a weight file's own weights (``mlpvm.engines.stored``)."""
        super().__init__(net.config, [(layer.name, layer.outputs) for layer in net.layers])
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"the {self.name} engine runs float32 or float64, not {self.dtype}")
        self.lowered = lower(net, overrides)
        self.arrays = self.lowered.kernel_args(self.dtype)
        final = self.lowered.places[-1]
        self.events = np.array([self._slot(final, name) for name in EVENTS if name in final], np.int64)
        self.executed = self._slot(final, EXECUTED)
        self.record_slots = record_slots(self.arrays, self.record_columns)
        self.write_op = write_op(self.arrays, self.state)
        exact = 2 ** (np.finfo(self.dtype).nmant + 1)  # the log holds the cell in the float type
        self.write_log = self.write_op is not None and self.config.cells <= exact

    def check_writes(self, writes: np.ndarray | None, batch: int, passes: int) -> np.ndarray:
        """``writes`` as the kernel takes it: itself (rows: see ``Engine.run_until_event``), or an empty
        array when no write log is asked for."""
        if writes is None:
            return np.zeros((0, 1), self.dtype)
        width = 1 + int(self.write_op[2])
        if batch != 1:
            raise ValueError("a write log is kept for a batch of one machine")
        if writes.shape[0] < passes or writes.shape[1:] != (width,) or writes.dtype != self.dtype:
            raise ValueError(f"a write log needs shape ({passes}, {width}) of {self.dtype}, not {writes.shape}")
        if not writes.flags.c_contiguous:
            raise ValueError("a write log must be a contiguous array")
        return writes

    @staticmethod
    def _slot(places, name: str) -> int:
        place = places[name]
        assert isinstance(place, Narrow) and place.slots.size == 1
        return int(place.slots.ravel()[0])


class Compiled(LoweredEngine):
    name = "compiled"

    def __init__(self, net: Network, dtype=np.float32, *, overrides: dict[int, dict[int, Override]] | None = None):
        super().__init__(net, dtype, overrides=overrides)
        self._scratch: tuple[np.ndarray, np.ndarray] | None = None

    def _raise(self, fault: np.ndarray) -> None:
        if fault[0] >= 0:
            machine = int(fault[0])
            raise NetworkFault(self.layer_names[fault[1]], f"an activation of machine {machine} left {{0,1}}", machine)

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        n = len(self.layer_names)
        with _Contiguous(x, self.dtype) as y:
            S, R = self._tiles(len(y))
            fault = np.full(2, -1, np.int64)
            for lo, hi in [(k, k + 1) for k in range(n)] if trace is not None else [(0, n)]:
                _kernel().run_layers(y, S, R, lo, hi, self.guard, self.arrays, fault)
                self._raise(fault)
                if trace is not None:
                    s, r = (a.transpose(0, 2, 1).reshape(-1, a.shape[1])[: len(y)] for a in (S, R))
                    trace.append(materialize(self.layouts[lo], self.lowered.places[lo], y, s, r))

    def _run_until_event(
        self, x: np.ndarray, max_passes: int, steps: np.ndarray, record: np.ndarray | None = None,
        writes: np.ndarray | None = None,
    ) -> int:  # fmt: skip
        fault = np.full(2, -1, np.int64)
        rec = record_array(record, len(x), max_passes, len(self.record_columns), self.dtype)
        log = self.check_writes(writes, len(x), max_passes)
        wop = self.write_op if self.write_op is not None else np.zeros(3, np.int64)
        with _Contiguous(x, self.dtype) as y:
            S, R = self._tiles(len(y))
            counted = np.zeros(len(y), np.int64)
            done = _kernel().run_until_event(
                y, counted, max_passes, self.guard, self.events, self.executed, S, R, fault, self.arrays,
                rec, self.record_slots, log, wop,
            )  # fmt: skip
            if record is not None and rec is not record:
                record[:done] = rec[:done]
            steps += counted
        self._raise(fault)
        return done

    def _tiles(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Scratch for the tiles of a batch, kept between calls (the host calls often with the same batch)."""
        tiles = -(-batch // TILE)
        width = min(batch, TILE)
        if self._scratch is None or self._scratch[0].shape[0] != tiles or self._scratch[0].shape[2] != width:
            self._scratch = (
                np.zeros((tiles, self.lowered.scratch, width), self.dtype),
                np.zeros((tiles, max(self.lowered.regs, 1), width), np.int64),
            )
        return self._scratch


def record_slots(p, columns: np.ndarray) -> np.ndarray:
    """Where each of the state's ``columns`` (narrow fields) is in the scratch after a pass: the slot a
    pass stores it from, or, for a column no pass changes, the slot it was loaded into."""
    slots = np.searchsorted(p.load_x, columns)
    if not np.array_equal(p.load_x[np.minimum(slots, len(p.load_x) - 1)], columns):
        raise ValueError("a recorded column is not a narrow state field")
    stored = dict(zip(p.store_x.tolist(), p.store_s.tolist()))
    return np.array([stored.get(int(c), int(s)) for c, s in zip(columns, slots)], np.int64)


def write_op(p: KernelArrays, state) -> np.ndarray | None:
    """(row register, first state column, row stride) of the pass's in-place update of memory, where the
    write log reads the cell the network wrote (the row its write address selected) and the word it left
    there; None unless the pass has exactly one update, of the whole width of ``mem``'s rows (then memory
    changes nowhere else: only an update writes the state's memory)."""
    ops = np.flatnonzero(p.op_kind == UPDATE)
    if len(ops) != 1 or "mem" not in state:
        return None
    op, mem = int(ops[0]), state["mem"]
    width = mem.shape[-1]
    columns = p.unit_out[p.op_units[op] : p.op_units[op + 1]]
    if not np.array_equal(columns, mem.offset + np.arange(width)) or p.op_stride[op] != width:
        return None
    return np.array([p.op_reg[op], mem.offset, width], np.int64)


def record_array(record: np.ndarray | None, batch: int, passes: int, width: int, dtype) -> np.ndarray:
    """What the kernel writes records into: ``record`` itself when it can, else a buffer (empty: none)."""
    if record is None:
        return np.zeros((0, width), dtype)
    if batch != 1:
        raise ValueError("records are kept for a batch of one machine")
    if record.shape[0] < passes or record.shape[1] != width:
        raise ValueError(f"a record needs shape ({passes}, {width}), not {record.shape}")
    if record.dtype == dtype and record.flags.c_contiguous:
        return record
    return np.zeros((passes, width), dtype)


class _Contiguous:
    """``x`` itself when the kernel can work on it in place, else a copy that is written back."""

    def __init__(self, x: np.ndarray, dtype: np.dtype):
        self.x = x
        self.ok = x.dtype == dtype and x.flags.c_contiguous and x.ndim == 2
        self.y = x if self.ok else np.ascontiguousarray(np.atleast_2d(x), dtype)

    def __enter__(self) -> np.ndarray:
        return self.y

    def __exit__(self, *exc) -> None:
        if not self.ok:
            self.x[...] = self.y.reshape(self.x.shape)
