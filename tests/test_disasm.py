"""The disassembler: idioms, labels, code discovery, and sqasm source that reassembles word for word."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from mlpvm.cli import cli
from mlpvm.engines import make
from mlpvm.host.computer import Computer
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.program.asm import assemble, assemble_file, code_starts, describe, disassemble, to_asm
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from mlpvm.program.sourcemap import SourceMap
from tests.conftest import DATA, EXTERNAL, ROOT, words_of

HELLO_DEC = EXTERNAL / "howerj-subleq-vhdl/hello.dec"
DEMO = EXTERNAL / "davidar-subleq/demo-image.sq"
ESOLANGS_HELLO = DATA / "asm/esolangs-hello.asq"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


# --- describe -------------------------------------------------------------------------------------------------

IDIOMS = [
    ([-1, 5, 3], "in", "IN 5"),
    ([5, -1, 3], "out", "OUT 5"),
    ([5, 5, -1], "halt", "HALT"),
    ([5, 5, 3], "clr", "CLR 5"),
    ([5, 5, 0], "jmp", "JMP 0"),
    ([5, 6, 3], "sub", "SUB 5, 6"),
    ([5, 6, 0], "subleq", "SUBLEQ 5, 6, 0"),
    ([5, 6, -7], "subleq", "SUBLEQ 5, 6, HALT"),
]


@pytest.mark.parametrize(("words", "kind", "text"), IDIOMS, ids=[i[1] + str(n) for n, i in enumerate(IDIOMS)])
def test_describe_names_the_idiom(words, kind, text):
    ins = describe(words, 0)
    assert (ins.address, ins.words, ins.kind, ins.text) == (0, tuple(words), kind, text)
    assert (ins.labels, ins.origin) == ((), None)


def test_describe_substitutes_labels_and_gives_the_origin():
    img = assemble_file(ESOLANGS_HELLO)
    ins = describe(img.words, 12, img.source_map)
    assert (ins.kind, ins.text, ins.labels, ins.origin.line, ins.origin.text) == ("out", "OUT 0", ("a",), 7, "a:0 (-1)")
    assert describe(img.words, 30, img.source_map).text == "SUBLEQ p, a, HALT"
    assert describe(img.words, 21, img.source_map).text == "SUB E, Z"
    assert describe(img.words, 33, img.source_map).text == "JMP 0"


def test_describe_prefers_the_jump_label_for_targets_and_the_cell_label_for_operands():
    img = assemble("loop: ptr: 9 Z\nptr Z loop\n. Z:0", "t.asq")
    assert describe(img.words, 3, img.source_map).text == "SUBLEQ ptr, Z, loop"


def test_describe_reads_live_memory_with_a_word_width():
    mem = np.zeros(16, dtype=np.int64)
    mem[3:6] = [65535, 7, 9]
    assert describe(mem, 3).text == "SUBLEQ 65535, 7, 9"
    assert describe(mem, 3, bits=16).text == "IN 7" and describe(mem, 3, bits=16).words == (65535, 7, 9)
    assert describe(mem, 14).kind == "halt" and describe(mem, -1).words == ()


# --- disassemble ----------------------------------------------------------------------------------------------


def test_code_is_what_is_reachable_without_a_map():
    words = words_of(HELLO_DEC)
    assert code_starts(words) == set(range(0, 36, 3))
    rows = disassemble(words)
    kinds = ["clr", "sub", "sub", "clr", "out", "sub", "clr", "sub", "sub", "clr", "subleq", "jmp"]
    assert [r.kind for r in rows[:12]] == kinds
    assert [r.text for r in rows[12:]] == ["DATA 39 0 (-1)", 'DATA "Hello, World!\\n"', "DATA 53"]
    assert sum(r.size for r in rows) == len(words)


def test_a_file_written_one_instruction_per_line_marks_its_code():
    img = load_image(DEMO)
    starts = code_starts(img.words, bits=32, lines=img.where)
    assert 218 in starts and 218 not in code_starts(img.words, bits=32)  # reached only by a computed return


def test_disassemble_follows_the_source_map():
    img = assemble_file(ESOLANGS_HELLO)
    rows = disassemble(img.words, img.source_map)
    labelled = [(r.address, *r.labels) for r in rows if r.labels]
    assert labelled == [(12, "a"), (36, "p"), (37, "Z"), (38, "m1"), (39, "H"), (53, "E")]
    assert all(r.origin is not None for r in rows)


def test_disasm_command_shows_labels_idioms_and_lines():
    out = invoke("disasm", str(ESOLANGS_HELLO)).output.splitlines()
    assert "a:" in out and "H:" in out
    row = out[out.index("a:") + 1].split()
    assert row[:6] == ["12", "0", "-1", "15", "OUT", "0"] and row[-1] == f"{ESOLANGS_HELLO}:7"
    assert any(line.split()[4:6] == ["JMP", "0"] for line in out)
    assert any('DATA "Hello, World!\\n"' in line for line in out)


def test_disasm_with_a_map_file_names_labels_of_an_image(tmp_path):
    image, mapfile = tmp_path / "h.sq", tmp_path / "h.json"
    assert invoke("asm", str(ESOLANGS_HELLO), "-o", str(image), "--map", str(mapfile)).exit_code == 0
    plain = invoke("disasm", str(image)).output
    mapped = invoke("disasm", "--map", str(mapfile), str(image)).output
    assert "a:" not in plain.splitlines() and "a:" in mapped.splitlines() and "SUBLEQ p, a, HALT" in mapped


def test_disasm_json():
    doc = json.loads(invoke("disasm", "--json", str(ESOLANGS_HELLO)).output)
    assert doc["bits"] == 16 and doc["labels"]["E"] == 53
    row = doc["rows"][4]
    assert row == {
        "address": 12,
        "words": [0, -1, 15],
        "kind": "out",
        "text": "OUT 0",
        "labels": ["a"],
        "origin": {"file": str(ESOLANGS_HELLO), "line": 7, "col": 3, "text": "a:0 (-1)"},
    }


def test_disasm_errors(tmp_path):
    paper = tmp_path / "p.json"
    paper.write_text('{"slots": [[0, 99, 1]], "data": [1, 2]}')  # b = 99 is outside the 16 data cells
    result = invoke("disasm", str(paper))
    assert result.exit_code == 2 and "slot 0: operands a=0, b=99 must address cells 0..15" in result.output
    assert invoke("disasm", "--asm", "--json", str(HELLO_DEC)).exit_code == 2
    result = invoke("disasm", str(DEMO))  # 1000000000 needs --bits 32
    assert result.exit_code == 2 and "does not fit in 16 bits" in result.output
    assert invoke("disasm", "--map", str(tmp_path / "missing.json"), str(HELLO_DEC)).exit_code == 2


# --- sqasm source that reassembles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "bits"),
    [
        (HELLO_DEC, 16),
        (EXTERNAL / "rosetta/hello.sq", 16),
        (EXTERNAL / "howerj-subleq-vhdl/self.dec", 16),
        (ROOT / "programs/hello.sq", 16),
        (ROOT / "programs/hello.asq", 16),
        (ESOLANGS_HELLO, 16),
        (DEMO, 32),
    ],
    ids=lambda p: str(getattr(p, "name", p)),
)
def test_asm_output_reassembles_word_for_word(tmp_path, path, bits):
    source = invoke("disasm", "--asm", "--bits", str(bits), str(path))
    assert source.exit_code == 0, source.output
    src = tmp_path / "again.asq"
    src.write_text(source.output)
    out = tmp_path / "again.sq"
    assert invoke("asm", "--bits", str(bits), str(src), "-o", str(out)).exit_code == 0
    assert words_of(out) == load_image(path).words


def test_asm_output_uses_labels_and_question_marks():
    src = invoke("disasm", "--asm", str(HELLO_DEC)).output.splitlines()
    assert src[1:3] == ["L0:     L12", "        L36 L37"]  # "A A ?" as "A", "A B ?" as "A B"
    assert "L12:    L0 (-1)" in src and "        L36 L12 (-1)" in src
    assert src[-1] == '        . L36:39 L37:0 L38:(-1) "Hello, World!\\n" L53:53'
    mapped = invoke("disasm", "--asm", str(ROOT / "programs/hello.asq")).output.splitlines()
    assert "        nend t done" in mapped and mapped[-1] == "end:"


@given(st.lists(st.integers(-(1 << 15), (1 << 16) - 1), min_size=1, max_size=60), st.booleans())
def test_asm_output_reassembles_any_words(words, one_per_line):
    lines = [(i // 3 + 1, i % 3 + 1) for i in range(len(words))] if one_per_line else None
    assert assemble(to_asm(words, None, 16, lines), "r.asq").words == words


@given(st.lists(st.integers(-40, 40), min_size=3, max_size=40))
def test_asm_output_reassembles_with_a_source_map_of_other_labels(words):
    smap = SourceMap(labels={"x": 0, "y": len(words), "L1": 2, "far": 10_000})
    assert assemble(to_asm(words, smap, 16), "r.asq").words == words


# --- the davidar demo: disassembled, reassembled, run -----------------------------------------------------

MENU = "\nMenu\n1) Bubblesort\n2) Calculator\n3) Factorial\n4) Primes\n5) Halt\n> "
FACTORIAL = "\nFactorial\nEnter a number between 1 and 12: "
TRANSCRIPT = MENU + FACTORIAL + "5! = 120\n" + MENU  # the input is not echoed
DEMO_CONFIG = Config("subleq", 32, 2048)


def test_demo_transcript_is_made_of_the_images_own_strings():
    text = "".join(chr(w) if 0 < w < 128 else "\x00" for w in words_of(DEMO))
    assert MENU in text and FACTORIAL in text  # the strings as stored in the data


def test_demo_runs_to_its_transcript_on_the_reference():
    ref = reference.load(DEMO_CONFIG, words_of(DEMO))
    assert reference.run(ref, Input(b"3\n5\n5\n"), 10_000) == "halt"
    assert (ref.output.decode(), ref.steps) == (TRANSCRIPT, 1515)


def test_demo_reassembled_runs_to_its_transcript_on_the_network(tmp_path):
    """All 1515 steps on the structured engine (about 3 s at 32 bits and 2048 cells), from the source
    that `disasm --asm` wrote."""
    src = tmp_path / "demo.asq"
    src.write_text(invoke("disasm", "--asm", "--bits", "32", str(DEMO)).output)
    program = load_image(src)
    assert program.words == words_of(DEMO)
    eng = make("structured", DEMO_CONFIG)
    x = encode(eng.state, DEMO_CONFIG, program.words)
    outcome = Computer(eng, x, [Input(b"3\n5\n5\n")]).run(10_000)[0]
    assert (outcome.output.decode(), outcome.steps, outcome.reason) == (TRANSCRIPT, 1515, "halt")


def test_data_written_as_data_is_listed_as_data():
    img = assemble(". 5 5 3 1", "d.asq")  # reads like CLR 5 from address 0, but the source says data
    assert [r.text for r in disassemble(img.words, img.source_map)] == ["DATA 5 5 3 1"]
    assert disassemble(img.words)[0].text == "CLR 5"
