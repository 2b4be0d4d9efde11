"""The debugger as a library (``mlpvm.Debugger``): the same session as the REPL, driven from Python."""

from __future__ import annotations

import pytest

from mlpvm import Debugger
from mlpvm.debug.records import DebugError
from mlpvm.machines import reference
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from tests.conftest import ROOT
from tests.helpers import TWICE

GCD = ROOT / "programs" / "gcd.asq"


def test_break_continue_read_and_go_back_on_gcd():
    d = Debugger(GCD)
    bp = d.break_at("gcd")
    stop = d.cont()
    assert stop.reason == "breakpoint" and stop.breakpoint.number == bp.number and d.pc == bp.address
    assert d.registers["pc"] == d.pc and d.session.frames  # inside the CALL
    image = load_image(GCD)
    ref = reference.load(d.session.config, image.words, image.slots)
    for _ in range(d.session.steps):
        ref.step(Input(b""))
    labels = image.source_map.labels
    named = {n: a for n, a in labels.items() if n.isidentifier() and a < len(ref.mem)}
    assert len(named) > 10 and all(d[name] == ref.mem[address] for name, address in named.items())
    assert all(d[address] == ref.mem[address] for address in range(len(ref.mem)))
    passes = d.session.passes
    d.back(5)
    assert d.session.passes == passes - 5
    assert d.cont().reason == "breakpoint" and d.session.passes == passes
    d.session.delete()
    assert d.cont().reason == "halt"
    assert d.output == b"gcd(1071, 462) = 21\ngcd(48, 18) = 6\ngcd(17, 5) = 1\ngcd(100, 75) = 25\n"


def test_source_text_lines_layers_and_views():
    d = Debugger.from_source(TWICE, "twice.asq")
    d.break_at("7")  # ADD n, n: a source line of the main file
    assert d.cont().reason == "breakpoint" and d["n"] == 16
    d.step()
    fields = d.layer("write.1")
    assert set(fields) >= {"mem", "result", "pc"} and d.layer(12) == fields
    assert d.evaluate("n") == d["n"]
    assert d.cont().reason == "breakpoint" and d["n"] == 32
    d.session.delete()
    assert d.cont().reason == "halt" and d.output == b"@" and d["n"] == 64
    html = d._repr_html_()
    assert "<pre" in html and "pass" in html
    with pytest.raises(DebugError):
        d.layer("nonsense")
