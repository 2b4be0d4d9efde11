"""The assembler's extensions: constants, commas, .include, macros, the <std> libraries, paper assembly."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from mlpvm.cli import cli
from mlpvm.errors import AsmError
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.program import image as images
from mlpvm.program import sourcemap
from mlpvm.program.asm import assemble, assemble_file, describe_slot, to_pasq
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import Origin


def words(text: str, **kw) -> list[int]:
    return assemble(text, "t.asq", **kw).words


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def run_ref(img, data: bytes = b"", steps: int = 10_000):
    """The reference machine after running ``img`` to its halt."""
    config = images.config_for(img)
    ref = reference.load(config, img.words, img.slots)
    assert reference.run(ref, Input(data), steps) == "halt"
    return ref


# --- constants and commas -------------------------------------------------------------------------------------


def test_constants_by_equals_and_define_may_use_labels_and_each_other():
    src = "SIZE = end - buf\n.define TWICE SIZE + SIZE\n. buf: 1 2 3 end:\n. SIZE TWICE (-TWICE) LATER\nLATER = 'A'"
    img = assemble(src, "t.asq")
    assert img.words == [1, 2, 3, 3, 6, -6, 65]
    assert img.source_map.labels == {"buf": 0, "end": 3}  # constants are not places


def test_commas_separate_items_and_defuse_the_minus_trap():
    assert words("p, a, -1\n. p:5 a:6") == [3, 4, -1, 5, 6]
    assert words("p a -1\n. p:5 a:6") == [3, 3, 3, 5, 6]  # without commas, sqasm's reading is kept
    assert words(". 1, -1, 2-3") == [1, -1, -1]


CONSTANT_ERRORS = [
    ("A = B\nB = A + 1", 1, 1, "constant 'A' is defined in terms of itself (A -> B -> A)"),
    ("A = ?", 1, 5, "'?' (the next cell) means nothing in a constant"),
    ("A = 1\n. A: 2", 2, 3, "duplicate label 'A' (first defined at t.asq:1:1)"),
    (". A: 2\nA = 1", 2, 1, "duplicate constant 'A' (first defined at t.asq:1:3)"),
    ("A = nothing", 1, 5, "undefined label 'nothing'"),  # reported even though A is never used
    ("A = 1 2", 1, 7, "a constant's value is one expression: this is more"),
    ("A =", 1, 1, "constant 'A' needs a value"),
    ("x: A = 1", 1, 1, "a label cannot name a constant"),
    (".define 5", 1, 9, "a constant is defined as NAME = value, or .define NAME value"),
    (". 1 = 2", 1, 5, "'=' defines a constant: NAME = value, a statement of its own"),
    ("a b,", 1, 4, "',' separates items: an item must follow it"),
    (". 1,,2", 1, 5, "',' must follow an item"),
    ("a <std>", 1, 3, "<std> names a library: write .include <std>"),
]


# --- .include -------------------------------------------------------------------------------------------------


def test_include_is_relative_to_the_including_file_and_happens_once(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/a.asq").write_text('.include "b.asq"\n. A: 1\n')
    (tmp_path / "lib/b.asq").write_text(". B: 2\n")
    (tmp_path / "main.asq").write_text('.include "lib/a.asq"\n.include "lib/b.asq"\n. A B\n')
    img = assemble_file(tmp_path / "main.asq")
    assert img.words == [2, 1, 1, 0]  # b.asq once, through a.asq
    assert img.source_map.cells[0].file == str(tmp_path / "lib/b.asq")


def test_include_cycle_names_the_chain(tmp_path):
    (tmp_path / "a.asq").write_text('.include "b.asq"\n')
    (tmp_path / "b.asq").write_text('\n.include "a.asq"\n')
    result = invoke("asm", str(tmp_path / "a.asq"))
    a, b = tmp_path / "a.asq", tmp_path / "b.asq"
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"{b}:2:1: error: include cycle: {a} -> {b} -> {a}"


def test_include_errors(tmp_path):
    src = tmp_path / "m.asq"
    for text, message in [
        ('.include "missing.asq"', f"cannot include {tmp_path / 'missing.asq'}: no such file"),
        ('.include "."', f"cannot include {tmp_path}: is a directory, not an image"),
        (".include <nope>", "no library <nope> for the subleq machine (known: <std>)"),
        (".include", '.include takes one "file" (relative to this one) or <library>'),
        ('.include ""', ".include needs a file name"),
    ]:
        src.write_text(text)
        with pytest.raises(AsmError) as e:
            assemble_file(src)
        assert e.value.message == message and e.value.line == 1


# --- macros ---------------------------------------------------------------------------------------------------

TWICE = ".macro TWICE a, b\n a b\n a b\n.endm\n"


def test_a_macro_call_is_its_body_with_the_arguments_in():
    assert words(TWICE + "TWICE x, y\n. x:1 y:5") == [6, 7, 3, 6, 7, 6, 1, 5]
    assert words(TWICE + "TWICE x y\n. x:1 y:5") == [6, 7, 3, 6, 7, 6, 1, 5]  # commas are optional
    # an argument is a value as a whole: -b with b = y+1 is -(y+1)
    assert words(".macro NEGD b\n. -b\n.endm\nNEGD y+1\n. y: 3") == [-2, 3]


def test_local_labels_are_unique_per_expansion_and_parameters_may_be_labels():
    src = ".macro SKIP\n Z Z over\nover:\n.endm\n.macro AT name\nname: . 7\n.endm\nSKIP\nSKIP\nAT here\n. Z: 0"
    img = assemble(src, "t.asq")
    assert img.words == [7, 7, 3, 7, 7, 6, 7, 0]
    assert img.source_map.labels == {"over@SKIP1": 3, "over@SKIP2": 6, "here": 6, "Z": 7}


def test_labels_before_and_after_a_call_and_nested_calls():
    src = TWICE + ".macro FOUR a, b\n TWICE a, b\n TWICE a, b\n.endm\nstart: FOUR x, x end:\n. x: 0"
    img = assemble(src, "t.asq")
    assert len(img.words) == 13 and img.source_map.labels == {"start": 0, "end": 12, "x": 12}


def test_string_and_array_arguments_stand_as_whole_data_items():
    assert words('.macro TEXT s, n\n. s n\n.endm\nTEXT "Hi", [2]') == [72, 105, 0, 0]
    with pytest.raises(AsmError, match="'s' is used in an expression in macro M"):
        assemble('.macro M s\n. s+1\n.endm\nM "Hi"', "t.asq")


def test_macro_cells_map_to_the_call_and_name_the_macro_line(tmp_path):
    src = tmp_path / "m.asq"
    src.write_text(TWICE + "start: TWICE x, y\n. x:1 y:5\n")
    smap = assemble_file(src).source_map
    call = "start: TWICE x, y"
    assert smap.cells[0] == Origin(str(src), 5, 8, call, f"TWICE at {src}:2")
    assert smap.cells[5] == Origin(str(src), 5, 8, call, f"TWICE at {src}:3")
    assert smap.cells[0].describe() == f"{src}:5 (TWICE)"
    path = tmp_path / "m.map.json"
    sourcemap.save(smap, path)
    assert sourcemap.load(path) == smap
    assert json.loads(path.read_text())["cells"]["0"]["macro"] == f"TWICE at {src}:2"
    assert "macro" not in json.loads(path.read_text())["cells"]["6"]


def test_an_error_inside_a_macro_names_the_call_and_the_macro_line(tmp_path):
    lib, src = tmp_path / "lib.asq", tmp_path / "main.asq"
    lib.write_text(".macro OUTER a\n INNER a\n.endm\n.macro INNER a\n a typo\n.endm\n")
    src.write_text('.include "lib.asq"\n  OUTER x\n. x: 0\n')
    result = invoke("asm", str(src))
    head, shown, caret = result.output.splitlines()
    assert result.exit_code == 2
    assert head == f"{src}:2:3: error: undefined label 'typo' (in macro OUTER at {lib}:2 > INNER at {lib}:5)"
    assert (shown, caret) == ("    OUTER x", "    ^")


MACRO_ERRORS = [
    (TWICE + "TWICE x", 5, 1, "macro TWICE takes 2 arguments (a, b), not 1"),
    (TWICE + "TWICE l:x, y", 5, 7, "a label cannot name a macro argument"),
    (TWICE + ".macro TWICE\n.endm", 5, 8, "macro 'TWICE' is already defined (at t.asq:1:1)"),
    (".macro M\n a", 1, 1, "macro 'M' has no '.endm'"),
    (".endm", 1, 1, "'.endm' without a '.macro' to close"),
    (".macro M\n.endm M", 2, 7, "'.endm' takes nothing after it"),
    (
        ".macro M\n.macro N\n.endm\n.endm",
        2,
        1,
        "another macro cannot stand inside macro 'M' (close it with .endm first)",
    ),
    (".macro M\n.include <std>\n.endm", 2, 1, "'.include' cannot stand inside macro 'M' (close it with .endm first)"),
    (".macro\n.endm", 1, 1, ".macro needs a name: .macro NAME param1, param2 ..."),
    (".macro M 5\n.endm", 1, 10, "a macro parameter is a name, not '5'"),
    (".macro M a a\n.endm", 1, 12, "parameter 'a' appears twice"),
    (".macro M\n M\n.endm\nM", 4, 1, "macros call macros more than 64 deep (does M call itself?)"),
    (".macro AT n\nn: . 1\n.endm\nAT 5", 4, 4, "'n' is a label in macro AT: pass a name"),
    (
        "MOVE a, b, c, d",
        1,
        12,
        "an instruction has at most 3 items (A B C); this is a 4th (and no macro is named 'MOVE')",
    ),
]


ERRORS = CONSTANT_ERRORS + MACRO_ERRORS


@pytest.mark.parametrize(("text", "line", "col", "message"), ERRORS, ids=[e[3][:30] for e in ERRORS])
def test_errors_of_the_extensions(text, line, col, message):
    with pytest.raises(AsmError) as e:
        assemble(text, "t.asq")
    assert (e.value.line, e.value.col, e.value.message) == (line, col, message)


def test_a_runaway_expansion_is_an_error_not_a_hang():
    doubling = "".join(f".macro M{k}\n M{k - 1}\n M{k - 1}\n.endm\n" for k in range(1, 40))
    with pytest.raises(AsmError, match="far more statements than memory holds"):
        assemble(".macro M0\n.endm\n" + doubling + "M39", "t.asq", bits=8)


# --- the standard library -------------------------------------------------------------------------------------

VALUES = [-32768, -32767, -2, -1, 0, 1, 2, 32766, 32767]
BRANCHES = {
    "JLE": lambda v: v <= 0,
    "JGT": lambda v: v > 0,
    "JLT": lambda v: v < 0,
    "JGE": lambda v: v >= 0,
    "JEQ": lambda v: v == 0,
    "JNE": lambda v: v != 0,
}


@pytest.mark.parametrize("name", BRANCHES)
def test_std_branches_on_every_edge_value_leave_the_value_and_z_alone(name):
    for v in VALUES:
        src = f".include <std>\n {name} x, yes\n PUTC 'n'\n HALT\nyes: PUTC 'y'\n HALT\n. x: {v}\n"
        img = assemble(src, "t.asq")
        ref = run_ref(img)
        assert bytes(ref.output) == (b"y" if BRANCHES[name](v) else b"n"), v
        assert (ref.mem[img.source_map.labels["x"]], ref.mem[img.source_map.labels["Z"]]) == (v, 0)


def test_std_moves_and_arithmetic():
    src = """.include <std>
        MOV a, b; ADD a, c; SUB a, d; NEG a, e; INC f; DEC g; CLR h
        IN i; OUT a; PUTC '!'; JMP over; PUTC 'x'
over:   HALT
. a: 7  b: 0  c: 5  d: 5  e: 0  f: 9  g: 9  h: 3  i: 0
"""
    img = assemble(src, "t.asq")
    ref = run_ref(img, b"Q")
    cells = {name: ref.mem[img.source_map.labels[name]] for name in "abcdefghi"}
    assert cells == {"a": 7, "b": 7, "c": 12, "d": -2, "e": -7, "f": 10, "g": 8, "h": 0, "i": ord("Q")}
    assert bytes(ref.output) == b"\x07!" and ref.mem[img.source_map.labels["Z"]] == 0


def test_std_call_and_ret():
    src = """.include <std>
        CALL twice; OUT n; CALL twice; OUT n; HALT
        PROC twice
        ADD n, n
        RET twice
. n: 16
"""
    img = assemble(src, "t.asq")
    ref = run_ref(img)
    assert bytes(ref.output) == bytes([32, 64])
    assert ref.steps == 1 + 2 * (3 + 3 + 2 + 1) + 1  # the jump over std's cells; CALL, ADD, RET, OUT; HALT


def test_std_in_paper_programs():
    src = ".include <std>\n MOV a, b\n INC b\n JEQ z0, done\n CLR b\ndone: HALT\n. a: 41  b: 0  z0: 0\n"
    img = assemble(src, "t.pasq", machine="paper")
    ref = run_ref(img)
    assert ref.mem[img.source_map.labels["b"]] == 42 and ref.halted
    assert ref.pc == img.source_map.slot_labels["done"]
    with pytest.raises(AsmError, match="undefined label 'JMP'"):
        assemble("JMP x\n. x: 0", "t.pasq", machine="paper")  # without <std>, JMP is just a name


# --- paper assembly -------------------------------------------------------------------------------------------


def test_paper_code_is_slots_and_data_is_cells():
    src = "top: n acc top\n    n\n    n acc\nend:\n. n: 3 acc: 0\n. last:"
    img = assemble(src, "t.pasq", machine="paper")
    assert img.machine == "paper" and img.slots == [(0, 1, 0), (0, 0, 2), (0, 1, 3)]
    assert img.words == [3, 0]
    assert img.source_map.slot_labels == {"top": 0, "end": 3}
    assert img.source_map.labels == {"n": 0, "acc": 1, "last": 2}
    assert img.source_map.slots[1].line == 2 and img.source_map.cells[1].line == 5


PAPER_ERRORS = [
    ("n top top\ntop:\n. n: 0", 1, 3, "'top' names an instruction slot, but operand b is a data cell"),
    ("n n n\n. n: 0", 1, 5, "'n' names a data cell, but operand c is an instruction slot"),
    ("x y\n. x: 0\n. y: 0", None, None, None),
    ("0 (-1) 0", 1, 3, "operand b is a data cell (0..65535), not -1"),
    ("0 0 (-2)", 1, 5, "operand c is an instruction slot (>= 0), not -2"),
    ("a b: c\n. a: 0", 1, 3, "a label names a whole slot: put it before the instruction"),
]


@pytest.mark.parametrize(("text", "line", "col", "message"), PAPER_ERRORS)
def test_paper_errors(text, line, col, message):
    if message is None:
        assert assemble(text, "t.pasq", machine="paper").slots == [(0, 1, 1)]
        return
    with pytest.raises(AsmError) as e:
        assemble(text, "t.pasq", machine="paper")
    assert (e.value.line, e.value.col, e.value.message) == (line, col, message)


def test_paper_source_assembles_runs_and_disassembles(tmp_path):
    src = tmp_path / "count.pasq"
    src.write_text(".include <std>\nloop: ADD two, acc\n DEC n\n JGT n, loop\n HALT\n. n: 4 two: 2 acc: 0\n")
    out = tmp_path / "count.json"
    assert invoke("asm", str(src), "-o", str(out)).exit_code == 0
    img = load_image(out)
    assert img.slots == assemble_file(src).slots and img.words == [0, 1, -1, 4, 2, 0]
    doc = json.loads(invoke("run", "--json", str(src)).output)
    assert doc["memory"][5] == 8 and doc["reason"] == "halt" and doc["config"]["slots"] == 16
    listing = invoke("disasm", str(src)).output.splitlines()
    assert listing[0] == "# 7 instruction slots" and "loop:" in listing and "# data" in listing
    assert any(line.split()[4:6] == ["SUB", "two,"] and line.endswith("count.pasq:2 (ADD)") for line in listing)
    assert any(line.split()[4:] == ["HALT", f"{src}:5", "(HALT)"] for line in listing)
    again = tmp_path / "again.pasq"
    again.write_text(invoke("disasm", "--asm", str(src)).output)
    assert (assemble_file(again).slots, assemble_file(again).words) == (img.slots, img.words)
    doc = json.loads(invoke("disasm", "--json", str(src)).output)
    assert doc["machine"] == "paper" and doc["slot_labels"]["loop"] == 0 and len(doc["slots"]) == 7


def test_run_summary_of_a_paper_program_names_the_slot(tmp_path):
    src = tmp_path / "spin.pasq"
    src.write_text("top: z z top2\ntop2: z z top\n. z: 1\n")
    result = invoke("run", "--max-steps", "3", str(src))
    assert result.exit_code == 3 and f"pc=1 (top2, {src}:2)" in result.output


def test_describe_slot_idioms():
    slots = [(0, 0, 0), (1, 1, 2), (1, 1, 0), (1, 2, 4), (1, 2, 3)]
    assert [describe_slot(slots, i, count=5).text for i in range(5)] == [
        "HALT",
        "CLR 1",
        "JMP 0",
        "SUB 1, 2",
        "SUBLEQ 1, 2, 3",
    ]
    assert describe_slot(slots, 3, count=4).text == "SUBLEQ 1, 2, 4"  # slot 3 of 4 goes on to slot 0
    assert describe_slot([(1, 2, 0)], 0, count=1).text == "SUB 1, 2"


@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=30),
    st.lists(st.integers(-(1 << 15), (1 << 16) - 1), max_size=30),
)
def test_pasq_output_reassembles_any_paper_program(slots, data):
    img = assemble(to_pasq(slots, data, None, 16), "r.pasq", machine="paper")
    assert (img.slots, img.words) == (slots, data)


def test_paper_reference_run_of_an_assembled_image_matches_the_config():
    img = assemble(".include <std>\nHALT", "t.pasq", machine="paper")
    assert images.config_for(img) == Config("paper", 16, 16, 16)
