"""Several programs in one run: ``mlpvm run A B ...`` and ``--batch FILE`` give each program exactly what it
gives alone, grouped into batches by configuration; the exit code is that of the worst outcome."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

from mlpvm.cli import cli
from mlpvm.errors import BatchError
from mlpvm.host.batch import read_batch_file
from mlpvm.program.inputs import unescape
from tests.conftest import EXTERNAL

HELLO = str(EXTERNAL / "rosetta/hello.sq")
ECHO = str(EXTERNAL / "howerj-subleq-vhdl/echo.dec")
HI = str(EXTERNAL / "howerj-subleq-vhdl/hi.dec")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def alone(path: str, *extra: str) -> dict:
    return json.loads(invoke("run", "--json", *extra, path).output)


@pytest.mark.parametrize("engine", ["neural", "structured", "reference"])
def test_several_images_each_as_if_alone(tmp_path, engine):
    paper = tmp_path / "p.json"
    paper.write_text(json.dumps({"machine": "paper", "slots": [[0, 1, 1], [2, 2, 1]], "data": [3, 10, 0]}))
    paths = [HELLO, ECHO, HI, str(paper), HELLO]
    result = invoke("run", "--json", "--engine", engine, "--input", "ok\n", *paths)
    docs = json.loads(result.output)
    assert result.exit_code == 0 and [d["image"] for d in docs] == paths
    for path, doc in zip(paths, docs):
        want = alone(path, "--engine", engine, "--input", "ok\n")
        assert {k: doc[k] for k in want} == want


def test_text_output_has_a_header_per_program():
    result = invoke("run", HI, HELLO)
    assert result.exit_code == 0
    assert result.output == (
        f"==> {HI} (halted after 3 steps, pc=-1) <==\nHi\n"
        f"==> {HELLO} (halted after 71 steps, pc=-1) <==\nHello, world!\n"
    )


def test_exit_code_is_the_worst_outcome(tmp_path):
    loop, bad = tmp_path / "loop.dec", tmp_path / "fault.dec"
    loop.write_text("0 0 0")
    bad.write_text("300 0 0")
    assert invoke("run", "--max-steps", "50", HELLO, str(loop)).exit_code == 3
    assert invoke("run", "--max-steps", "50", str(loop), str(bad), HELLO).exit_code == 4


def test_batch_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "echo.dec").write_text((EXTERNAL / "howerj-subleq-vhdl/echo.dec").read_text())
    batch = tmp_path / "jobs.txt"
    batch.write_text(
        f"# two echoes and a hello\nsub/echo.dec --input 'a\\tb\\n'\n\n{HELLO}\nsub/echo.dec --input '\\xff'\n"
    )
    docs = json.loads(invoke("run", "--json", "--batch-file", str(batch)).output)
    assert [d["output"] for d in docs] == ["a\tb\n", "Hello, world!\n", "\ufffd"]  # UTF-8 text; 0xff is not
    assert base64.b64decode(docs[2]["output_base64"]) == b"\xff"  # the exact bytes
    both = json.loads(invoke("run", "--json", "--batch-file", str(batch), HI).output)
    assert [d["output"] for d in both] == ["Hi", "a\tb\n", "Hello, world!\n", "\ufffd"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x.dec --input", "expected IMAGE or IMAGE --input TEXT"),
        ('x.dec --input "unclosed', "cannot split the line"),
        ('x.dec --input "\\x4"', "bad escape"),
        ("missing.dec", "missing.dec: no such file"),
        ("# nothing\n", "no programs"),
    ],
)
def test_bad_batch_file_names_the_line(tmp_path, text, problem):
    batch = tmp_path / "jobs.txt"
    batch.write_text(text)
    with pytest.raises(BatchError) as e:
        read_batch_file(batch)
    assert problem in str(e.value) and str(batch) in e.value.report()
    result = invoke("run", "--batch-file", str(batch))
    assert result.exit_code == 2 and problem in result.output and "Traceback" not in result.output


def test_missing_images_are_a_usage_error(tmp_path):
    assert invoke("run").exit_code == 2
    result = invoke("run", HELLO, str(tmp_path / "missing.dec"))
    assert result.exit_code == 2 and "missing.dec" in result.output


def test_unescape():
    assert unescape("a\\nb\\\\c\\x00é") == b"a\nb\\c\x00\xc3\xa9"
