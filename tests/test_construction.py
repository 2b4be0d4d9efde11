"""The construction: the pass-through the sequencer derives leaves the network's function as it was recorded
before (tests/tools/record_network_baseline.py), and the sequencer refuses constructions it cannot lay out."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from mlpvm.craft.builder import Sequencer
from mlpvm.craft.layout import Layout
from mlpvm.network import build
from tests.tools.record_network_baseline import BASELINE, CONFIGS, key, layer_outputs, random_states


@pytest.fixture(scope="module")
def baseline() -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Configuration key -> layer -> field -> packed bits, and ``input`` for the states."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    with np.load(BASELINE) as z:
        for name in z.files:
            cfg, *rest = name.split("/")
            if rest == ["input"]:
                out[cfg]["input"] = z[name]
            else:
                out[cfg][rest[0]][rest[1]] = z[name]
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=key)
def test_every_layer_outputs_what_it_did_before_the_pass_through_was_derived(cfg, baseline):
    recorded = baseline[key(cfg)]
    state_size = build(cfg).state.size
    x = np.unpackbits(recorded["input"], axis=1, count=state_size).astype(np.float32)
    assert np.array_equal(x, random_states(cfg, state_size)), "the recorder no longer makes the recorded states"
    now: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for name, bits in layer_outputs(cfg, x).items():
        layer, field = name.split("/")
        now[layer][field] = bits
    for layer in build(cfg).layers:
        # The same fields, bar empty ones: the adder no longer makes a field of no units (pc1_u of a one-bit PC).
        want = {field: bits for field, bits in recorded[layer.name].items() if bits.size}
        assert set(now[layer.name]) == set(want), layer.name
        for field, bits in want.items():
            assert np.array_equal(now[layer.name][field], bits), f"{layer.name}/{field}"


def test_the_pass_through_is_derived_from_what_later_layers_read():
    net = Sequencer(Layout([("x", (2,)), ("y", ())]))
    net.layer("first", "s").map("t", (), (1, "x", 0), (1, "y"), bias=-1)
    net.layer("second", "s").map("y", (), (1, "t"), (1, "x", 1), bias=-1)
    first, second = net.finish()
    assert [f.name for f in first.outputs] == ["t", "x"]  # y is produced again before anything reads it
    assert [f.name for f in second.outputs] == ["x", "y"]  # the state's order
    assert [b.is_copy(second.inputs) for b in second.ordered()] == [True, False]


@pytest.mark.parametrize(
    ("later", "message"),
    [
        (lambda b: b.map("x", (2,), (1, "x")), r"first: nothing reads \['t'\]"),
        (lambda b: b.map("x", (), (1, "t")), r"not the state"),
    ],
)
def test_the_sequencer_refuses_a_pass_it_cannot_lay_out(later, message):
    net = Sequencer(Layout([("x", (2,))]))
    net.layer("first", "s").map("t", (), (1, "x", 0))
    later(net.layer("second", "s"))
    with pytest.raises(ValueError, match=message):
        net.finish()


def test_a_layer_reads_only_fields_produced_before_it():
    net = Sequencer(Layout([("x", ())]))
    b = net.layer("first", "s")
    b.map("t", (), (1, "x"))
    with pytest.raises(ValueError, match="first: no field 't' to read"):
        b.map("u", (), (1, "t"))  # a layer's own outputs are the next layer's inputs


@pytest.mark.parametrize("cfg", CONFIGS[:2] + CONFIGS[-2:], ids=key)
def test_each_layer_says_which_fields_it_passes_through(cfg):
    """``Layer.passed`` names exactly the identity copies the sequencer added; everything else is computed."""
    for layer in build(cfg).layers:
        by_out = {block.out: block for block in layer.blocks}
        assert set(layer.passed) | set(layer.computed) == {f.name for f in layer.outputs}
        for name in layer.passed:
            block = by_out[name]
            assert block.is_copy(layer.inputs) and block.terms[0].src == name, (layer.name, name)
        assert all(by_out[name].out == name for name in layer.computed)
