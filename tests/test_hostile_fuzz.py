"""Hypothesis fuzzing of every loader (weight files, source maps, batch files, JSON, assembly, debugger scripts)
and of the debugger's command and expression parser: any input gives a result or one clean error (an
``MlpvmError`` whose report is one printable line, or one line with the source line and a caret), never
another exception, and all of it within a memory limit set for this module (``resource.setrlimit``)."""

from __future__ import annotations

import contextlib
import io
import resource
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from mlpvm.debug.commands import _BY_NAME, Debugger, Quit
from mlpvm.debug.session import Session
from mlpvm.engines import DEFAULT
from mlpvm.errors import MlpvmError
from mlpvm.files import parse_json, read_text
from mlpvm.host.batch import read_batch_file
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network import weights as weightfile
from mlpvm.program import sourcemap
from mlpvm.program.asm import assemble
from mlpvm.program.load import load_image
from tests.conftest import ROOT

HEADROOM = 1 << 30  # bytes of address space the fuzzed code may add to what the process already has
FILES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)


@pytest.fixture(scope="module", autouse=True)
def memory_limit():
    """Limits this process's address space to what it has now plus ``HEADROOM`` while the module runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    limit = pages * resource.getpagesize() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def clean(call, *args) -> None:
    """Runs ``call``; only an ``MlpvmError`` with a one-line, printable report may escape it."""
    try:
        call(*args)
    except MlpvmError as e:
        lines = e.report().split("\n")
        assert all(c == "\t" or c.isprintable() for c in "".join(lines)), lines
        assert len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^"), lines


@pytest.fixture(scope="module")
def good_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("w") / "good.npz"
    weightfile.save(weightfile.compile_network(build(Config("subleq", 4, 8))), path)
    return path


@FILES
@given(data=st.data())
def test_weight_files_with_bytes_changed(tmp_path, good_weights, data):
    raw = bytearray(good_weights.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.none() | st.integers(0, len(raw)))
    path = tmp_path / "w.npz"
    path.write_bytes(bytes(raw[:cut]))
    clean(weightfile.load, path)


NPY_HEADERS = st.fixed_dictionaries(
    {
        "descr": st.sampled_from(["<i8", "<f8", "|i1", "<U4", "|O", "<c8", "|b1", "|V8", "<M8[s]", "|S3"]),
        "fortran_order": st.booleans(),
        "shape": st.lists(st.integers(0, 1 << 40), max_size=3).map(tuple),
    }
)


@FILES
@given(data=st.data())
def test_weight_files_with_members_replaced(tmp_path, good_weights, data):
    """A member (needed or not) replaced by an array header declaring any type and shape, and a few bytes."""
    src = good_weights
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
        victim = data.draw(st.sampled_from([*names, "extra.npy"]))
        with zipfile.ZipFile(path, "w") as out:
            for name in names:
                if name != victim:
                    out.writestr(name, z.read(name))
            with out.open(victim, "w") as f:
                np.lib.format.write_array_header_1_0(f, data.draw(NPY_HEADERS))
                f.write(data.draw(st.binary(max_size=64)))
    clean(weightfile.load, path)


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=15,
)


@FILES
@given(doc=JSONISH, junk=st.sampled_from(["", "[" * 5000, "9" * 5000, "\x00", "]", "{"]))
def test_source_maps(tmp_path, doc, junk):
    import json

    path = tmp_path / "m.map.json"
    path.write_text(json.dumps({"format": "mlpvm-sourcemap/1", "cells": doc, "labels": doc}) + junk)
    clean(sourcemap.load, path)
    clean(parse_json, json.dumps(doc) + junk, "doc.json")


BATCH_LINES = st.lists(
    st.one_of(
        st.sampled_from(["hello.sq", "hello.sq --input 'a\\n'", "# c", "", "'", "x --input", "hello.sq --input '\\x'"]),
        st.text(max_size=20),
    ),
    max_size=6,
)


@FILES
@given(lines=BATCH_LINES, raw=st.binary(max_size=20))
def test_batch_files(tmp_path, lines, raw):
    (tmp_path / "hello.sq").write_bytes((ROOT / "programs/hello.sq").read_bytes())
    path = tmp_path / "b.batch"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + raw)
    clean(read_batch_file, path)


ASM_TOKENS = st.one_of(
    st.sampled_from(
        [
            "Z",
            "a:",
            "?",
            "(-1)",
            ".",
            '"ab"',
            "'c'",
            "[3]",
            "[99999999999]",
            ";",
            "\n",
            ",",
            "+",
            "-",
            "(",
            ")",
            ".include <std>",
            '.include "x.asq"',
            ".macro M a\n",
            ".endm\n",
            "M 1\n",
            "A = B\n",
            "B = A\n",
            "99999999999999999999",
            "\\",
            "#",
            ".define X 1\n",
            "@",
            "\x00",
            "\t",
        ]
    ),
    st.integers(-(2**40), 2**40).map(str),
    st.text(max_size=3),
)


@FILES
@given(tokens=st.lists(ASM_TOKENS, max_size=40), paper=st.booleans())
def test_assembly_sources(tokens, paper):
    text = " ".join(tokens)
    clean(assemble, text, "fuzz.pasq" if paper else "fuzz.asq", 16, None, "paper" if paper else "subleq")


@FILES
@given(raw=st.binary(max_size=200), suffix=st.sampled_from([".dec", ".json", ".asq", ".pasq", ".x"]))
def test_any_bytes_in_any_file(tmp_path, raw, suffix):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(raw)
    clean(read_text, path)
    if suffix != ".x":
        clean(load_image, path)


# -- the debugger's command and expression parser -------------------------------------------------------------

EXPRESSIONS = st.recursive(
    st.one_of(
        st.integers(-(2**80), 2**80).map(str),
        st.sampled_from(["pc", "a", "mem_b", "halted", "step", "loop", "msg", "'a'", "'\\n'", "x", "mem[0]", "'"]),
    ),
    lambda inner: st.one_of(
        st.tuples(
            inner, st.sampled_from(["+", "-", "*", "/", "%", "<<", ">>", "&&", "||", "==", "<", "**", "&"]), inner
        ).map(" ".join),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"mem[{e}]"),
        inner.map(lambda e: f"!{e}"),
        inner.map(lambda e: f"-{e}"),
    ),
    max_leaves=12,
)
COMMANDS = st.sampled_from([*sorted(_BY_NAME), "x/4d", "x/99999999999x", "info", "frobnicate", "", "#"])
ARGS = st.one_of(EXPRESSIONS, EXPRESSIONS.map(lambda e: f"pc = {e}"), EXPRESSIONS.map(lambda e: f"mem[1] = {e}"),
                 EXPRESSIONS.map(lambda e: f"loop if {e}"), st.text(max_size=12),
                 st.integers(-(2**70), 2**70).map(str), st.just("0:99999999999"))  # fmt: skip
SKIP = {"quit", "q", "exit", "dump", "run", "r", "restart", "continue", "c", "rc", "reverse-continue", "shell"}


@pytest.fixture(scope="module")
def debugger():
    image = load_image(ROOT / "programs/hello.asq")
    session = Session(image, Config("subleq", 16, 64), b"ab", DEFAULT, check=True)
    return Debugger(session, Console(file=io.StringIO(), width=100), max_steps=50)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(lines=st.lists(st.tuples(COMMANDS, ARGS), min_size=1, max_size=4))
def test_debugger_commands_and_expressions(debugger, lines):
    for name, arg in lines:
        if name in SKIP:
            continue
        with contextlib.suppress(Quit):
            debugger.execute(f"{name} {arg}")
