"""The network views of the debugger (layers, layer, diff, flow) and dumps by field name, checked against the
reference interpreter and the machine descriptors, at 80 columns, on hello and on eForth at M = 8192."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from rich.console import Console

import mlpvm
from mlpvm.cli import cli
from mlpvm.debug import netviews
from mlpvm.debug.commands import Debugger
from mlpvm.debug.session import Session
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.network import LAYER_NAMES, build
from mlpvm.program import image as images
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import SourceMap
from tests.conftest import EXTERNAL, ROOT, words_of

HELLO = ROOT / "programs" / "hello.sq"
LABELS = {"start": 0, "bump": 3, "test": 12, "loop": 15, "stop": 18, "ptr": 0, "T": 21}
SCREEN = 60  # lines: what "one screen" means here


def hello_debugger(passes: int) -> tuple[Debugger, Console]:
    image = load_image(HELLO)
    image.source_map = SourceMap(labels=dict(LABELS))
    console = Console(width=80, record=True, color_system=None)
    debugger = Debugger(Session(image, images.config_for(image)), console)
    debugger.execute(f"step {passes}")
    console.export_text()  # forget the stop panel
    return debugger, console


def shown(debugger: Debugger, console: Console, line: str) -> str:
    debugger.execute(line)
    return console.export_text()


def micros(n: int):
    ref = reference.load(Config(), words_of(HELLO))
    return [ref.step(Input()) for _ in range(n)]


@pytest.mark.parametrize("cfg", [Config("subleq", 8, 16), Config("paper", 8, 16, 4)], ids=["subleq", "paper"])
def test_every_field_has_one_meaning_and_every_meaning_a_field(cfg):
    net = build(cfg)
    fields = {f.name for lay in net.layers for f in (*lay.inputs, *lay.outputs)}
    means = cfg.spec.meanings(cfg)
    assert fields == set(means)
    assert all(means[name].strip() and "\n" not in means[name] for name in fields)


def test_layers_view_decodes_the_pass_like_the_reference_and_separates_computed_from_carried():
    debugger, console = hello_debugger(12)
    m = micros(12)[-1]
    text = shown(debugger, console, "layers")
    row = {line.split()[1]: line for line in text.splitlines() if re.match(r"\d+ ", line)}
    assert f"a={m.a}; b={m.b}; c={m.c}" in row["fetch.1"]
    assert f"mem_a={m.mem_a}; mem_b={m.mem_b}" in row["read.1"]
    assert f"next_pc={m.next_pc}" in row["next_pc.5"]
    # hello's memory holds well over 100 one bits: carried, so not counted among the units fetch.1 computed
    computed, carried = re.search(r"fetch\.1\s+(\d+)/\d+\s+(\d+)", text).groups()
    assert int(computed) <= 49 < 100 < int(carried)
    assert max(map(len, text.splitlines())) <= 80


def test_a_selected_row_is_named_with_its_label_even_when_its_value_is_0():
    debugger, console = hello_debugger(12)
    m = micros(12)[-1]
    assert m.c == 0 and m.pc == 15
    text = shown(debugger, console, "layer fetch.0")
    assert "fetch_c row 17 = 0" in text and "fetch_a row 15 <loop> = 22" in text
    assert "no row active" not in text
    assert "the row holding C" in text  # its meaning, from the construction
    assert text.index("pc_top") < text.index("carried:") < text.index("mem 256x16")  # computed first


def test_bit_fields_carry_their_value_signed_and_unsigned():
    debugger, console = hello_debugger(11)
    m = micros(11)[-1]
    text = shown(debugger, console, "layer subtract.0")
    na = ~m.mem_a & 0xFFFF
    assert f"{na:016b} = {na}" in text
    assert f"(signed {na - 0x10000})" in text or na < 0x8000


def test_any_pass_from_the_history_and_the_diff_between_two():
    debugger, console = hello_debugger(12)
    ms = micros(12)
    third = shown(debugger, console, "layers 3")
    assert "pass 3" in third and f"a={ms[2].a}; b={ms[2].b}; c={ms[2].c}" in third
    text = shown(debugger, console, "layer read.1 5")
    assert f"mem_a  {ms[4].mem_a}" in text
    diff = shown(debugger, console, "diff 11 12")
    fetch1 = next(line for line in diff.splitlines() if " fetch.1 " in line)
    assert f"a {ms[10].a}->{ms[11].a}" in fetch1 and f"c {ms[10].c}->{ms[11].c}" in fetch1
    layers = shown(debugger, console, "diff read.0 read.1")
    assert re.search(rf"mem_a\s+-\s+{ms[11].mem_a}", layers) and "read_a" in layers
    assert "there is no pass 40 (passes 1..12 ran)" in shown(debugger, console, "layers 40")


def test_flow_is_the_construction_map_in_80_columns():
    debugger, console = hello_debugger(1)
    text = shown(debugger, console, "flow")
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) <= SCREEN
    spec = Config().spec
    columns = {name: 2 * k + lines[2].index(" 0") + 1 for k, name in enumerate(LAYER_NAMES)}
    rows = {line.split()[0]: line for line in lines[3:-1]}
    # where the descriptor says each register and state field first gets its new value
    for layer, field in (*spec.checkpoints, *((v, k) for k, v in spec.produced.items())):
        assert rows[field][columns[layer]] == "#", (field, layer)
    assert rows["mem"][columns["fetch.0"] - 1 : columns["fetch.0"] + 1] == ">-"  # read, and carried on


def test_views_stay_a_screen_on_eforth_at_8192_cells():
    path = EXTERNAL / "howerj-subleq-vhdl/eforth-8k.dec"
    image = load_image(path)
    config = images.config_for(image)
    assert config.cells == 8192
    console = Console(width=80, record=True, color_system=None)
    debugger = Debugger(Session(image, config, b"", "sparse", check=False), console)
    debugger.execute("step 3")
    console.export_text()
    commands = ["layers", "layers 2", "diff 2 3", "diff fetch.0 write.1", "flow"]
    for line in [*commands, *(f"layer {name}" for name in LAYER_NAMES)]:
        text = shown(debugger, console, line)
        lines = text.splitlines()
        assert 3 < len(lines) <= SCREEN and max(map(len, lines)) <= 80, (line, len(lines))
    assert "write_new row 10 = 1" in shown(debugger, console, "layer write.0")


def test_a_dump_loads_with_every_field_by_name(tmp_path):
    debugger, _ = hello_debugger(6)
    path = tmp_path / "d.npz"
    debugger.execute(f"dump {path} --passes 4:6")
    dump = mlpvm.load_dump(path)
    ref = reference.load(Config(), words_of(HELLO))
    for n in range(1, 7):
        before = list(ref.mem)
        m = ref.step(Input())
        if n < 4:
            continue
        read_a = dump[f"pass{n}"]["read.0"]["read_a"]
        assert read_a.shape == (256, 16)
        value = int(sum(int(bit) << i for i, bit in enumerate(read_a[m.a])))
        assert value == before[m.a] & 0xFFFF and read_a.sum() == bin(before[m.a] & 0xFFFF).count("1")
        assert dump[f"pass{n}"]["decoded"]["pc"] == ref.pc
        assert dump[f"pass{n}"]["fetch.1"]["c"].shape == (16,)
    assert dump["meta"]["layers"] == list(LAYER_NAMES)


def test_trace_layers_load_by_field_name(tmp_path):
    out, layers = tmp_path / "t.jsonl", tmp_path / "l.npz"
    result = CliRunner().invoke(cli, ["trace", str(HELLO), "-o", str(out), "--layers", str(layers), "--passes", "2"])
    assert result.exit_code == 0, result.output
    m = micros(2)[-1]
    a = mlpvm.load_dump(layers)["pass2"]["fetch.1"]["a"]
    assert int(sum(int(bit) << i for i, bit in enumerate(a))) == m.a
    bad = tmp_path / "bad.npz"
    bad.write_text("no")
    with pytest.raises(mlpvm.errors.MlpvmError, match="not a dump"):
        mlpvm.load_dump(bad)


def test_netview_commands_reject_bad_arguments():
    debugger, console = hello_debugger(2)
    assert "no layer 'nope'" in shown(debugger, console, "layer nope")
    assert "expected a pass number" in shown(debugger, console, "layers x")
    assert "diff PASS1 PASS2" in shown(debugger, console, "diff 1")
    assert netviews.layer_index("22") == 22


def test_paper_rows_are_slots_and_addresses_unsigned():
    path = ROOT / "programs" / "paper" / "gcd.pasq"
    image = load_image(path)
    config = images.config_for(image)
    console = Console(width=80, record=True, color_system=None)
    session = Session(image, config)
    debugger = Debugger(session, console)
    debugger.execute("stepi 2")
    console.export_text()
    ref = config.spec.reference.load(config, image.words, image.slots)
    m = [ref.step(Input()) for _ in range(2)][-1]
    text = shown(debugger, console, "layer fetch.0")
    assert f"fetch_a row {m.pc}" in text and f"= {m.a}" in text
    assert f"a={m.a}; b={m.b}; c={m.c}" in shown(debugger, console, "layers")
