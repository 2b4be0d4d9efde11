"""The sqasm assembler: syntax, the esolangs hello world word for word, source maps, errors, fuzzing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from mlpvm import machines
from mlpvm.cli import cli
from mlpvm.errors import AsmError, ImageError, MlpvmError
from mlpvm.program import sourcemap
from mlpvm.program.asm import assemble, assemble_file, lexer, parse
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import Origin, SourceMap
from tests.conftest import DATA, EXTERNAL, words_of

ESOLANGS_HELLO = DATA / "asm/esolangs-hello.asq"


def words(text: str, **kw) -> list[int]:
    return assemble(text, "t.asq", **kw).words


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- syntax -------------------------------------------------------------------------------------------------


def test_esolangs_hello_world_assembles_to_hello_dec_word_for_word():
    assert assemble_file(ESOLANGS_HELLO).words == words_of(EXTERNAL / "howerj-subleq-vhdl/hello.dec")


def test_one_and_two_items_fill_in_a_and_next():
    # A = A A ?, A B = A B ?, three items as written; ? is the address of the next cell
    assert words("x\nx y\nx y 0\n. x:7 y:8") == [9, 9, 3, 9, 10, 6, 9, 10, 0, 7, 8]
    assert words("x: y: 7") == [7, 7, 3]  # a lone item on a code line is an instruction too


def test_statements_split_by_semicolons_and_comments_ignored():
    assert words("a; Z a # a comment; not code\n# whole line\n. a:0 Z:0") == [6, 6, 3, 7, 6, 6, 0, 0]


def test_the_minus_trap_and_parentheses():
    # "p a -1" is the two items p and a-1; "(-1)" is an item of its own
    assert words("p a -1\n. p:5 a:6") == [3, 3, 3, 5, 6]
    assert words("p a (-1)\n. p:5 a:6") == [3, 4, -1, 5, 6]
    assert words(". 1 -1 2") == [0, 2]  # 1-1, then 2
    assert words(". -1 2 - 3 (-4) --5") == [-1, -1, 1]  # 2-3, then (-4)-(-5): the trap again
    assert words(". (--5) (-(2-7)) 3") == [5, 5, 3]


def test_question_mark_is_the_next_cell_and_minus_question_is_valid():
    assert words(". ? ? ?+1 (-?) ?-?") == [1, 2, 4, -4, 0]
    assert words(". -? ?") == [-1, 2]
    assert words("0 0 ?+3") == [0, 0, 6]


def test_expressions_with_labels_before_definition():
    assert words("end end end+1\n. x:end-x (end) end:") == [5, 5, 6, 2, 5]


def test_data_lines_strings_characters_and_escapes():
    assert words(". \"Hi\\n\" 'A' '\\0'") == [72, 105, 10, 65, 0]
    assert words(". \"\\\\\\\"\\'\\t\\r\" '\\''") == [92, 34, 39, 9, 13, 39]
    assert words('. "a;b#c" 1 # comment') == [97, 59, 98, 35, 99, 1]
    assert words(". 'a'+1 'z'-'a'") == [98, 25]


def test_labels_several_on_one_item_and_on_any_item():
    img = assemble("a: b: x c:y d:z\n. x:1 y:2 z:3 after:", "t.asq")
    assert img.words == [3, 4, 5, 1, 2, 3]
    assert img.source_map.labels == {"a": 0, "b": 0, "c": 1, "d": 2, "x": 3, "y": 4, "z": 5, "after": 6}


def test_trailing_labels_name_the_cell_after_the_statement():
    img = assemble("x y end: ; . end2:\nz: x\n. x:0 y:0", "t.asq")
    assert img.source_map.labels["end"] == 3 and img.source_map.labels["end2"] == 3
    assert img.source_map.labels["z"] == 3 and img.words == [6, 7, 3, 6, 6, 6, 0, 0]


def test_labels_before_the_dot_and_after_it():
    assert assemble("a: . 1 b: 2", "t.asq").source_map.labels == {"a": 0, "b": 1}


def test_unsigned_and_signed_words_both_fit():
    assert words(". 65535 (-32768)", bits=16) == [65535, -32768]
    assert words(". 255", bits=8) == [255]


def test_empty_source_gives_an_empty_image():
    assert words("# nothing\n\n  ; ;") == []


def test_davidar_style_data_lines_and_return_addresses():
    # ".name:" starts data with a label, ".-?" after ";" is a data statement, "-?" negates the next address
    img = assemble(".Z:0 inc:-1\nZ Z f;.-?\nf: Z Z ret:-1\n.inc\n.buffer:-?", "t.asq")
    assert img.words == [0, -1, 0, 0, 6, -6, 0, 0, -1, 1, -11]
    assert img.source_map.labels == {"Z": 0, "inc": 1, "f": 6, "ret": 8, "buffer": 10}


def test_arrays_reserve_zero_cells():
    assert words(". 5 b:[3] 7\nb b") == [5, 0, 0, 0, 7, 1, 1, 8]
    with pytest.raises(AsmError, match="does not fit in 16 cells: this item reaches cell 9999999999"):
        assemble(". [10000000000] 1", cells=16)


def test_names_may_hold_at_signs_and_underscores():
    assert assemble("@a: _b@1\n. _b@1:0", "t.asq").source_map.labels == {"@a": 0, "_b@1": 3}


def test_the_copy_of_a_keeps_the_value_of_question_mark():
    assert words("?") == [1, 1, 3]  # "A" is "A A ?" with A's value, as sqasm copies it
    assert words("x; ?+x\n. x:7") == [6, 6, 3, 10, 10, 6, 7]


def test_parse_gives_statements_for_later_stages(monkeypatch):
    code, data = parse('l: a b\n. 1 "x" [2]', "t.asq")
    assert (code.kind, len(code.items), code.items[0].labels[0].name) == ("code", 2, "l")
    assert (data.kind, len(data.items)) == ("data", 3)
    (directive,) = parse('.include "lib.asq"', "t.asq")
    assert (directive.kind, directive.name, directive.args[0].kind) == ("directive", "include", "string")
    monkeypatch.setattr(lexer, "DIRECTIVES", lexer.DIRECTIVES | {"align"})  # registered, but no stage handles it
    with pytest.raises(AsmError, match=r"unknown directive '\.align'"):
        assemble(".align 4", "t.asq")


# --- source maps ----------------------------------------------------------------------------------------------


def test_source_map_has_file_line_column_text_labels_and_code():
    img = assemble_file(ESOLANGS_HELLO)
    smap, path = img.source_map, str(ESOLANGS_HELLO)
    assert smap.labels == {"a": 12, "p": 36, "Z": 37, "m1": 38, "H": 39, "E": 53}
    assert smap.code == set(range(0, 36, 3))
    assert smap.cells[3] == Origin(path, 6, 4, "a; p Z; Z a; Z")  # "p Z" of line 6
    assert smap.cells[5] == Origin(path, 6, 6, "a; p Z; Z a; Z")  # the implied ? of "p Z"
    assert smap.cells[12].col == 3 and smap.cells[13].col == 5  # a:0 (-1)
    assert smap.cells[40] == Origin(path, 15, 8, '. H: "Hello, World!\\n" E:E')  # the 'e' of the string
    assert smap.cells[52].col == 20  # "\n" stands where its backslash does
    assert img.where[40] == (15, 8) and len(smap.cells) == 54


def test_map_file_round_trips(tmp_path):
    smap = assemble_file(ESOLANGS_HELLO).source_map
    path = tmp_path / "hello.map.json"
    sourcemap.save(smap, path)
    assert sourcemap.load(path) == smap
    assert json.loads(path.read_text())["format"] == "mlpvm-sourcemap/1"


def test_asm_command_writes_image_and_map(tmp_path):
    out, mapfile = tmp_path / "h.sq", tmp_path / "h.json"
    result = invoke("asm", str(ESOLANGS_HELLO), "-o", str(out), "--map", str(mapfile))
    assert result.exit_code == 0, result.output
    assert words_of(out) == words_of(EXTERNAL / "howerj-subleq-vhdl/hello.dec")
    assert sourcemap.load(mapfile) == assemble_file(ESOLANGS_HELLO).source_map
    lines = out.read_text().splitlines()
    assert lines[:2] == ["12 12 3", "36 37 6"] and lines[-1] == "72 101 108 108 111 44 32 87 111 114 108 100 33 10 53"


def test_asm_command_prints_one_instruction_per_line():
    result = invoke("asm", str(ESOLANGS_HELLO))
    assert result.exit_code == 0 and result.output.splitlines()[4] == "0 -1 15"
    assert [int(w) for w in result.output.split()] == words_of(EXTERNAL / "howerj-subleq-vhdl/hello.dec")


def test_unwritable_outputs_are_clean_errors(tmp_path):
    for option in ("-o", "--map"):
        result = invoke("asm", str(ESOLANGS_HELLO), option, str(tmp_path / "missing/dir/out"))
        assert result.exit_code == 2 and result.output.startswith("mlpvm: error: cannot write ")


def test_bad_map_files_are_clean_errors(tmp_path):
    bad = tmp_path / "bad.json"
    for text in ("{", '{"format": "other"}', '{"format": "mlpvm-sourcemap/1", "cells": {"0": {"line": 1}}}'):
        bad.write_text(text)
        with pytest.raises(ImageError):
            sourcemap.load(bad)
    assert SourceMap.from_json({"format": "mlpvm-sourcemap/1"}) == SourceMap()


def test_image_load_assembles_asq_and_keeps_the_map(tmp_path):
    img = load_image(ESOLANGS_HELLO)
    assert img.words == words_of(EXTERNAL / "howerj-subleq-vhdl/hello.dec") and img.source_map.labels["E"] == 53
    empty = tmp_path / "empty.asq"
    empty.write_text("# nothing\n")
    with pytest.raises(ImageError, match="empty program"):
        load_image(empty)


def test_run_accepts_asq_source():
    result = invoke("run", str(ESOLANGS_HELLO))
    assert (result.exit_code, result.output) == (0, "Hello, World!\n")


def test_run_summary_names_the_source_line_and_label(tmp_path):
    src = tmp_path / "fault.asq"
    src.write_text("start: Z Z ?\nloop: Z 300 loop\n. Z:0\n")  # B = 300 is outside 256 cells: a fault at pc 3
    result = invoke("run", str(src))
    assert result.exit_code == 4
    assert f"mlpvm: fault after 1 step, pc=3 (loop, {src}:2); operand B = 300 is outside memory" in result.output
    spin = tmp_path / "spin.asq"
    spin.write_text("top: Z Z ?\n Z Z top\n. Z:0\n")
    result = invoke("run", "--max-steps", "5", str(spin))
    assert result.exit_code == 3 and f"pc=3 (top+3, {spin}:2)" in result.output


# --- errors ---------------------------------------------------------------------------------------------------

ERRORS = [
    ("undefined", "x y\n  Z Z lop\n. x:0 y:0 Z:0", 2, 7, "undefined label 'lop'"),
    ("duplicate", "a: Z\n. Z:0\n  a: 0", 3, 3, "duplicate label 'a' (first defined at {path}:1:1)"),
    ("too wide", "Z\n. Z: 70000", 2, 6, "70000 does not fit in a 16-bit word (-32768..65535)"),
    ("too wide neg", ". 1 (-40000)", 1, 5, "-40000 does not fit in a 16-bit word"),
    ("syntax char", "a b $", 1, 5, "unexpected character '$'"),
    ("syntax paren", "a (b c", 1, 6, "expected ')' to close '('"),
    ("syntax unclosed", ". (", 1, 3, "unclosed '('"),
    ("syntax rparen", "a b)", 1, 4, "')' without '('"),
    ("syntax end", "a b-", 1, 5, "expected a value at the end of the statement"),
    ("syntax colon", ". 1 :2", 1, 5, "':' must follow a label name"),
    ("four items", "a b c d\n. a:0 b:0 c:0 d:0", 1, 7, "an instruction has at most 3 items"),
    ("string in code", 'a "x"', 1, 3, "a string is data"),
    ("bad string", '. "abc', 1, 3, "unclosed string"),
    ("bad escape", '. "a\\q"', 1, 5, "unknown escape '\\q'"),
    ("bad char", ". 'ab'", 1, 3, "a character literal holds one character"),
    ("bad number", ". 12ab", 1, 3, "bad number '12ab'"),
    ("label space", "x : y", 1, 3, "':' must follow a label name, with no space between"),
    ("label in expr", ". 1+x:2", 1, 5, "a label (x:) cannot be part of an expression"),
    ("array in code", "a [2]", 1, 3, "an array [N] is data"),
    ("bad array", ". [x]", 1, 3, "an array is [N], N a number of cells"),
    ("nested dot", "a . b", 1, 3, "'.' (data) may only start a statement"),
]


@pytest.mark.parametrize(("name", "text", "line", "col", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_file_line_column_and_show_a_caret(tmp_path, name, text, line, col, message):
    src = tmp_path / "bad.asq"
    src.write_text(text)
    result = invoke("asm", str(src))
    assert result.exit_code == 2 and "Traceback" not in result.output
    head, shown, caret = result.output.splitlines()
    assert head.startswith(f"{src}:{line}:{col}: error: {message.format(path=src)}")
    assert shown == "  " + text.splitlines()[line - 1]
    assert caret == "  " + " " * (col - 1) + "^"


def test_program_larger_than_memory(tmp_path):
    src = tmp_path / "big.asq"
    src.write_text("Z Z loop\nloop: Z\n. Z: 0 1 2 3 4 5 6 7 8 9\n")  # 16 words
    assert invoke("asm", "--cells", "16", str(src)).exit_code == 0
    result = invoke("asm", "--cells", "15", str(src))
    assert result.exit_code == 2
    message = "the program does not fit in 15 cells: this item reaches cell 15"
    assert result.output.splitlines()[0] == f"{src}:3:24: error: {message}"
    with pytest.raises(AsmError, match="does not fit in 4 cells"):
        assemble("Z Z loop\nloop: Z", cells=4)


def test_caret_keeps_tabs():
    err = AsmError.at(Origin("f.asq", 1, 3, "\ta bad"), "oops")
    assert err.report() == "f.asq:1:3: error: oops\n  \ta bad\n  \t ^"


def test_a_word_too_wide_for_the_run_names_its_line(tmp_path):
    src = tmp_path / "wide.asq"
    src.write_text("Z Z (-1)\n. Z: 1000\n")
    result = invoke("run", "--bits", "8", str(src))
    assert result.exit_code == 2
    error = f"{src}:2:6: error: word 3 (1000) does not fit in 8 bits; --bits 11 would hold every word"
    assert result.output.splitlines()[:2] == [error, "  . Z: 1000"]


# --- fuzzing --------------------------------------------------------------------------------------------------

PIECES = st.sampled_from(
    ["a", "b", "Z", "x1", "_y", "0", "7", "-1", "65535", "99999999", "?", "+", "-", "(", ")", ":", ";", ".", "#",
     "'", '"', "\\", "n", "'c'", '"s"', "\n", " ", "\t", ".data", "a:", "(-1)", "é", "\r",
     "[", "]", "[2]", "@", "x:", "Z:",
     # the extensions: constants, commas, includes, macros and the standard library
     ",", "=", "N = 3", ".define", ".include", "<std>", '"s.asq"', ".macro", ".endm", "M", "M a", "M:",
     "\n.macro M a\n", "\n.endm\n", ".include <std>\n", "MOV", "JEQ", "CALL", "PROC", "HALT", "PUTC"]
)  # fmt: skip


@given(st.one_of(st.text(max_size=80), st.lists(PIECES, max_size=40).map("".join)), st.sampled_from(machines.names()))
def test_any_text_gives_an_image_or_a_clean_error(text, machine):
    try:
        img = assemble(text, "fuzz.asq", machine=machine)
    except MlpvmError as e:
        assert e.report().startswith(("fuzz.asq:", "<std>:"))  # <std>: redefining one of its macros
        return
    assert all(isinstance(w, int) for w in img.words) and len(img.source_map.cells) == len(img.words)
    assert len(img.source_map.slots) == len(img.slots or [])


def test_deep_nesting_and_long_sums_are_not_recursion_errors():
    assert words(". " + "+".join(["1"] * 5000)) == [5000]
    assert words(". " + "-" * 5000 + "1") == [1]
    with pytest.raises(AsmError, match="nested more than"):
        assemble(". " + "(" * 1000 + "1" + ")" * 1000)
    with pytest.raises(AsmError, match="number too large"):
        assemble(". " + "9" * 5000)
