"""The debugger's session model: breakpoints, watchpoints, reverse execution, edits, I/O, layers, dumps."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mlpvm.debug.records import DebugError
from mlpvm.debug.session import Session
from mlpvm.engines import Sparse
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, build
from mlpvm.network.weights import compile_network
from mlpvm.program import image as images
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import SourceMap
from tests.conftest import EXTERNAL, ROOT

HELLO = ROOT / "programs" / "hello.sq"
LABELS = {"start": 0, "bump": 3, "test": 12, "loop": 15, "stop": 18, "ptr": 0, "T": 21}


def hello(**kw) -> Session:
    image = load_image(HELLO)
    image.source_map = SourceMap(labels=dict(LABELS))
    return Session(image, images.config_for(image), **kw)


def test_breakpoints_on_addresses_and_labels_with_hit_counts():
    s = hello()
    bp = s.add_breakpoint("test")
    other = s.add_breakpoint("18")
    assert bp.address == 12 and other.address == 18
    stop = s.cont()
    assert (stop.reason, stop.pc, stop.breakpoint) == ("breakpoint", 12, bp)
    assert bytes(s.output) == b"H"
    s.cont()
    assert bp.hits == 2 and bytes(s.output) == b"He"


def test_condition_ignore_and_tbreak():
    s = hello()
    bp = s.add_breakpoint("test", condition="ptr == 30")  # the pointer passed "Hello" (cells 25..29)
    stop = s.cont()
    assert stop.breakpoint is bp and s.mem(0) == 30 and bytes(s.output) == b"Hello"
    s.delete(bp.number)
    ign = s.add_breakpoint("loop")
    ign.ignore = 2
    s.cont()
    assert ign.hits == 3 and bytes(s.output) == b"Hello, "
    s.delete()
    t = s.add_breakpoint("stop", temporary=True)
    assert s.cont().breakpoint is t and t.number not in s.breakpoints
    assert s.cont().reason == "halt" and bytes(s.output) == b"Hello, world!\n"


def test_watchpoints_on_code_cells():
    s = hello()
    w = s.add_watchpoint("ptr")  # cell 0: the A operand of the instruction at 0, rewritten by the program
    stop = s.cont()
    assert stop.reason == "watchpoint" and stop.watch[0][0] is w
    assert stop.watch[0][1:] == (0, "write", 25, 26)
    s.delete()
    r = s.add_watchpoint("0:3", "rwatch")  # the instruction at 0 itself: read when fetched
    stop = s.cont()
    assert stop.watch[0][0] is r and stop.watch[0][2] == "read"
    assert stop.last.pc in (0, 12)  # fetched at 0, or read as an operand at 12


def test_reverse_step_restores_the_exact_state():
    s = hello()
    s.step(20)
    x, out, steps, mem, pc = s.x.copy(), bytes(s.output), s.steps, list(s.ref.mem), s.ref.pc
    s.step(17)
    assert bytes(s.output) != out
    s.reverse_step(17)
    assert np.array_equal(s.x, x) and bytes(s.output) == out and s.steps == steps
    assert s.ref.mem == mem and s.ref.pc == pc
    assert s.cont().reason == "halt" and bytes(s.output) == b"Hello, world!\n"  # and runs on in lockstep


def test_reverse_continue_returns_to_the_previous_breakpoint_hit():
    s = hello()
    s.add_breakpoint("test")
    s.cont()
    s.cont()
    first_output = bytes(s.output)
    s.step(4)
    stop = s.reverse_continue()
    assert stop.reason == "breakpoint" and s.pc == 12 and bytes(s.output) == first_output


def test_edits_go_into_the_network_state_and_the_reference_follows():
    s = hello()
    s.set_mem(25, ord("J"))
    stop = s.cont()
    assert stop.reason == "halt" and bytes(s.output) == b"Jello, world!\n"
    s.restart()
    s.step(2)
    s.set_pc(18)
    assert s.cont().reason == "halt" and s.steps == 3
    with pytest.raises(DebugError):
        s.set_mem(999, 1)


def test_waiting_for_input_then_fed():
    image = load_image(EXTERNAL / "howerj-subleq-vhdl/echo.dec")
    s = Session(image, Config("subleq", 16, 64))
    assert s.cont().reason == "wait"
    s.feed(b"hi")
    s.close_input()
    assert s.cont().reason == "halt" and bytes(s.output) == b"hi"


def test_divergence_names_the_field_and_the_layer():
    cfg = Config("subleq", 16, 256)
    weights = compile_network(build(cfg))
    k = LAYER_NAMES.index("write.1")
    layer = weights.layers[k]
    bias = layer.b.copy()
    bias[layer.outputs["mem"].offset + 21 * 16] += 1  # cell 21, bit 0 always on after the write
    layers = list(weights.layers)
    layers[k] = dataclasses.replace(layer, b=bias)
    engine = Sparse(dataclasses.replace(weights, layers=tuple(layers)))
    engine.guard = False
    image = load_image(HELLO)
    stop = Session(image, cfg, engine=engine).cont()
    assert stop.reason == "divergence"
    assert stop.divergence.field == "mem[21]"


def test_layers_of_the_last_pass_and_dump(tmp_path):
    s = hello()
    assert s.last_trace() is None
    s.step(3)
    trace = s.last_trace()
    assert len(trace) == 23 and trace[-1].shape == s.x.shape
    assert np.array_equal(trace[-1], s.x)  # the stored matrices reproduce the pass the fast engine ran
    from mlpvm.debug.dump import dump_session

    path = tmp_path / "d.npz"
    assert dump_session(s, path, range(2, 4)) == [2, 3]
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert meta["layers"] == list(LAYER_NAMES)
        assert z["pass3.read.1"].shape == (trace[3].shape[1],)
        decoded = json.loads(str(z["pass3.decoded"]))
        assert decoded["pc"] == s.pc and decoded["a"] == s.registers()["a"]
        assert set(z.files) >= {"pass2.fetch.0", "pass2.branch.3", "pass3.fetch.0"}
