"""The unrolled engine: the lowered network (``mlpvm.engines.lowered``) written out as straight-line LLVM IR,
a few instructions per unit (``mlpvm.engines.codegen``), and compiled to machine code by LLVM through
llvmlite (numba's code generator, installed with the ``fast`` extra). The compiled engine interprets the same
units from index arrays; this one has them in its instructions, which removes the loads of columns, weights
and loop bounds, and the mispredicted loop exits, that cost the compiled engine most of its time.

The machine code is cached (``mlpvm.engines.cache``: checked, and tied to the IR, LLVM and the processor): a
configuration is compiled once (seconds; ``announce_compile`` says so), later runs load it.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable
from functools import cache

import numpy as np

from mlpvm.engines import cache as code_cache
from mlpvm.engines.codegen import source
from mlpvm.engines.compiled import LoweredEngine, record_array
from mlpvm.engines.lowered import Override, materialize
from mlpvm.errors import NetworkFault
from mlpvm.network import Network

PTR, INT = ctypes.c_void_p, ctypes.c_int64
RUN = ctypes.CFUNCTYPE(INT, PTR, INT, INT, PTR, INT, PTR, INT, INT, INT, PTR, PTR, PTR)
LAYER = ctypes.CFUNCTYPE(INT, PTR, PTR, PTR, INT)
WIDTH = 8  # machines per group in a batch: one vector register of float32 (AVX2)
TILE_GROUPS = 8  # groups run pass after pass together in a long call of a large batch: ``_tiled``
LONG = 16  # passes a call must be allowed (and the last one ran) for a large batch to run tile by tile


def have_llvm() -> bool:
    """Whether llvmlite is installed; found without importing it (loading LLVM takes a moment at startup)."""
    return importlib.util.find_spec("llvmlite") is not None


def _key(ir: str) -> str:
    """What the machine code is compiled from: the IR (itself derived from the weights), the LLVM and llvmlite
    versions and the processor it is compiled for (a cache may be shared between hosts)."""
    import llvmlite

    llvm = _llvm()
    return "\n".join([
        "unrolled", ir, llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(),
        str(llvm.llvm_version_info), llvmlite.__version__, llvm.get_default_triple(),
    ])  # fmt: skip


@cache
def _llvm():
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def _machine():
    """A target machine for this processor: each execution engine owns (and frees) its own."""
    llvm = _llvm()
    features = llvm.get_host_cpu_features().flatten()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=features, opt=2)


class Code:
    """A compiled module: ``run`` and ``layer_K`` as ctypes functions. Shared by every engine of one
    configuration and kept for the life of the process (``code``)."""

    def __init__(self, ir: str, key: str, cached: bytes | None):
        """``cached``: the object code from the cache (checked by it), else None: compiled now and stored."""
        llvm, machine = _llvm(), _machine()
        module = llvm.parse_assembly(ir)
        if cached is None:
            options = llvm.create_pipeline_tuning_options(speed_level=2)
            builder = llvm.create_pass_builder(machine, options)
            builder.getModulePassManager().run(module, builder)
        self.engine = llvm.create_mcjit_compiler(module, machine)
        self.engine.set_object_cache(lambda _m, data: code_cache.put(key, data), lambda _m: cached)
        self.engine.finalize_object()
        self.run = RUN(self.engine.get_function_address("run"))
        layers = [n for n in (f.name for f in module.functions) if n.startswith("layer_")]
        self.layers = [LAYER(self.engine.get_function_address(f"layer_{k}")) for k in range(len(layers))]


_LOADED: dict[str, Code] = {}


def code(ir: str, announce: Callable[[], None] | None = None) -> Code:
    """The compiled ``ir``: loaded once per process, from the cache if it holds it, else compiled
    (``announce`` is told first: it takes seconds)."""
    key = _key(ir)
    if key not in _LOADED:
        cached = code_cache.get(key)
        if cached is None and announce is not None:
            announce()
        _LOADED[key] = Code(ir, key, cached)
    return _LOADED[key]


class Unrolled(LoweredEngine):
    name = "unrolled"

    def __init__(self, net: Network, dtype=np.float32, *, overrides: dict[int, dict[int, Override]] | None = None):
        super().__init__(net, dtype, overrides=overrides)
        self._ir: dict[int, str] = {}
        self._scratch: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._code: dict[int, Code] = {}
        self.announce: Callable[[str], None] | None = None  # told before a compilation (seconds)
        self._record_rows: np.ndarray | None = None  # see ``_rows``
        self._long = True  # whether the last call of a large batch ran at least ``LONG`` passes
        self._copy: np.ndarray | None = None  # ``_tiled``'s copy of the batch

    def ir(self, width: int) -> str:
        """The LLVM IR for groups of ``width`` machines (1: one machine)."""
        if width not in self._ir:
            self._ir[width] = source(
                self.arrays, self.dtype, self.events, self.executed, width, self.record_slots, self.write_op
            )
        return self._ir[width]

    def code(self, width: int) -> Code:
        if width not in self._code:
            self._code[width] = code(self.ir(width), lambda: self._announce(width))
        return self._code[width]

    def instructions(self, width: int) -> int:
        """Machine instructions of the layers for groups of ``width`` machines: the layer functions are
        straight-line code, so this is exactly what one pass of a group executes in them (``mlpvm bench``'s
        bound). Compiles the IR again to assembly (seconds, once per process): not for the run itself."""
        return _instructions(self.ir(width))

    def _announce(self, width: int) -> None:
        if self.announce is not None:
            what = "one machine" if width == 1 else f"groups of {width} machines"
            self.announce(f"compiling the network's code for {what} (LLVM); once per configuration")

    def _raise(self, fault: np.ndarray, width: int) -> None:
        if fault[0] >= 0:
            machine = fault[0] * width + (int(fault[2]) & -int(fault[2])).bit_length() - 1
            raise NetworkFault(self.layer_names[fault[1]], f"an activation of machine {machine} left {{0,1}}", machine)

    def _scratches(self, groups: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Each group's scratch and row registers, lane-minor; kept between calls (the host calls often)."""
        have = self._scratch.get(width)
        if have is None or len(have[0]) != groups:
            have = self._scratch[width] = (
                np.zeros((groups, self.lowered.scratch, width), self.dtype),
                np.zeros((groups, max(self.lowered.regs, 1), width), np.int64),
            )
        return have

    def _padded(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """``x`` (or a copy) with rows for whole groups: the last machine repeated, which raises the same
        events and faults as the machine it copies, so the padding never changes an outcome."""
        width = 1 if len(x) == 1 else WIDTH
        y = _contiguous(x, self.dtype)
        extra = -len(y) % width
        if extra:
            y = np.concatenate([y, np.repeat(y[-1:], extra, axis=0)])
        return y, width

    def _run(
        self, y: np.ndarray, width: int, max_passes: int, steps: np.ndarray, fault: np.ndarray,
        record: np.ndarray | None = None,
    ) -> int:  # fmt: skip
        S, R = self._scratches(len(y) // width, width)
        return self.code(width).run(
            y.ctypes.data, len(S), y.shape[1], S.ctypes.data, S[0].size, R.ctypes.data, R[0].size,
            max_passes, int(self.guard), fault.ctypes.data, steps.ctypes.data,
            None if record is None else record.ctypes.data,
        )  # fmt: skip

    def _run_pass(self, x: np.ndarray, trace: list[np.ndarray] | None = None) -> None:
        y, width = self._padded(x)
        fault = np.full(3, -1, np.int64)
        if trace is None:
            self._run(y, width, 1, np.zeros(len(y), np.int64), fault)
        else:
            self._trace(y, width, trace, fault, len(x))
        if y is not x:
            x[...] = y[: len(x)].reshape(x.shape)
        self._raise(fault, width)

    def _trace(self, y: np.ndarray, width: int, trace: list[np.ndarray], fault: np.ndarray, real: int) -> None:
        """Layer by layer, group by group, through the per-layer functions, recording each layer of the
        first ``real`` machines of ``y`` (the rest is padding)."""
        p = self.arrays
        S, R = (np.zeros_like(a) for a in self._scratches(len(y) // width, width))
        s, r = (a.transpose(0, 2, 1).reshape(len(y), -1) for a in (S, R))  # copies: (machines, slots)
        s[:, p.load_s] = y[:, p.load_x]
        bad = np.flatnonzero(((s != 0) & (s != 1)).any(axis=1))  # as ``run``: a state value off {0,1} faults
        if self.guard and len(bad):
            fault[:] = bad[0] // width, 0, 1 << (bad[0] % width)
            return
        S[...] = s.reshape(len(S), width, -1).transpose(0, 2, 1)
        for k, layer in enumerate(self.code(width).layers):
            for g in range(len(S)):
                bad = layer(y[g * width :].ctypes.data, S[g].ctypes.data, R[g].ctypes.data, y.shape[1])
                if bad and self.guard and fault[0] < 0:
                    fault[:] = g, k, bad
            if fault[0] >= 0:
                return
            s, r = (a.transpose(0, 2, 1).reshape(len(y), -1) for a in (S, R))
            trace.append(materialize(self.layouts[k], self.lowered.places[k], y[:real], s[:real], r[:real]))
        y[:, p.store_x] = s[:, p.store_s]

    def _tiles(self, machines: int, width: int, max_passes: int) -> bool:
        """Whether to run tile by tile: a batch of more than a tile, a call allowed ``LONG`` passes, and the
        last such call ran that many (the copy ``_tiled`` makes first costs a few passes of the batch)."""
        return width > 1 and machines > TILE_GROUPS * width and max_passes >= LONG and self._long

    def _tiled(self, y: np.ndarray, width: int, max_passes: int, counted: np.ndarray, fault: np.ndarray) -> int:
        """The passes of ``run`` over the whole batch, done tile by tile: ``TILE_GROUPS`` groups run all their
        passes, then the next tile. Pass after pass over every group, a large batch's scratch and memory rows
        leave the caches between one group's passes (a batch of 4,096 ran at a third of a batch of 256's rate
        per machine); a tile's stay. The same passes: every tile stops at the first pass in which a machine
        of the whole batch raised an event, so a tile that ran past one raised later in another tile is run
        again from a copy to that pass. A fault anywhere runs the whole call again pass after pass, so that
        the fault named is the first of the batch's, as without tiles."""
        S, R = self._scratches(len(y) // width, width)
        if self._copy is None or self._copy.shape != y.shape:
            self._copy = np.empty_like(y)  # kept: a new one would cost its pages' first touch on every call
        before, run, guard = self._copy, self.code(width).run, int(self.guard)
        xs, ss, rs = y.shape[1], S[0].size, R[0].size
        xp, sp, rp, fp, cp = (a.ctypes.data for a in (y, S, R, fault, counted))  # once: each costs microseconds

        def tile(a: int, b: int, cap: int) -> int:  # groups a .. b-1 of the batch
            return run(xp + a * width * y.strides[0], b - a, xs, sp + a * S.strides[0], ss, rp + a * R.strides[0],
                       rs, cap, guard, fp, cp + a * width * counted.strides[0], None)  # fmt: skip

        cap, ran = max_passes, []
        for a in range(0, len(S), TILE_GROUPS):
            b = min(len(S), a + TILE_GROUPS)
            rows = slice(a * width, b * width)
            before[rows] = y[rows]  # just before the tile runs, while it comes into the cache
            done = tile(a, b, cap)
            if fault[0] >= 0:
                y[: rows.stop], counted[...], fault[...] = before[: rows.stop], 0, -1
                return self._run(y, width, max_passes, counted, fault)
            ran.append((a, b, done))
            cap = min(cap, done)
        for a, b, done in ran:
            if done > cap:  # an event elsewhere stopped the batch earlier: this tile again, to that pass
                rows = slice(a * width, b * width)
                y[rows], counted[rows] = before[rows], 0
                tile(a, b, cap)
        self._long = cap >= LONG
        return cap

    def _run_until_event(
        self, x: np.ndarray, max_passes: int, steps: np.ndarray, record: np.ndarray | None = None,
        writes: np.ndarray | None = None,
    ) -> int:  # fmt: skip
        fault = np.full(3, -1, np.int64)
        y, width = self._padded(x)
        counted = np.zeros(len(y), np.int64)
        passes = max(1, max_passes)
        rec = None if record is None else record_array(record, len(x), passes, len(self.record_slots), self.dtype)
        log = self.check_writes(writes, len(x), passes)
        recording = self.write_op is not None and (rec is not None or len(log))
        rows = self._rows(passes) if recording else rec  # the code records both in one row
        if rows is None and self._tiles(len(y), width, max_passes):
            done = self._tiled(y, width, max_passes, counted, fault)
        else:
            done = self._run(y, width, passes, counted, fault, rows)
            if max_passes >= LONG:
                self._long = done >= LONG
        if rows is not None and rows is not record:
            n = len(self.record_slots)
            if record is not None:
                record[:done] = rows[:done, :n]
            if len(log):
                log[:done] = rows[:done, n:]
        steps += counted[: len(x)]
        if y is not x:
            x[...] = y[: len(x)].reshape(x.shape)
        self._raise(fault, width)
        return done

    def _rows(self, passes: int) -> np.ndarray:
        """Where one machine's ``run`` records each pass: its narrow fields, then its write (``write_op``);
        kept between calls (the debugger calls with about as many passes each time)."""
        size = len(self.record_slots) + 1 + int(self.write_op[2])
        if self._record_rows is None or len(self._record_rows) < passes:
            self._record_rows = np.zeros((passes, size), self.dtype)
        return self._record_rows


@cache
def _instructions(ir: str) -> int:
    llvm, machine = _llvm(), _machine()
    module = llvm.parse_assembly(ir)
    options = llvm.create_pipeline_tuning_options(speed_level=2)  # as ``Code`` compiles it
    builder = llvm.create_pass_builder(machine, options)
    builder.getModulePassManager().run(module, builder)
    return count_instructions(machine.emit_assembly(module), "layer_")


def count_instructions(assembly: str, prefix: str) -> int:
    """Instructions in the functions whose names start with ``prefix``, in LLVM's assembly text (each
    instruction a tab-indented mnemonic; directives start with a dot, labels end with a colon)."""
    count, inside = 0, False
    for line in assembly.splitlines():
        if line and not line[0].isspace() and line.endswith(":") and not line.startswith("."):
            inside = line.startswith(prefix)
        elif inside and line.startswith("\t") and not line.startswith("\t."):
            count += 1
    return count


def _contiguous(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x`` itself when the code can work on it in place, else a copy (the caller writes it back)."""
    if x.dtype == dtype and x.flags.c_contiguous and x.ndim == 2:
        return x
    return np.ascontiguousarray(np.atleast_2d(x), dtype)
