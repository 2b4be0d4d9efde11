"""Hostile input, from outside: every command and every file format, given what an attacker or an accident
would give it. Each case asserts the exit code, one line naming the problem (a source line and a caret may
follow it), no traceback, and that it ran within a memory limit (``resource.setrlimit`` in the subprocess
that runs it). The cases run in a few subprocesses of many cases each (``tests/hostile_runner.py``), so the
suite takes well under two minutes."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlpvm.errors import MlpvmError
from mlpvm.files import atomic_write
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network, save
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("no_process_left")  # conftest: no test leaves a process behind

RUNNER = Path(__file__).parent / "hostile_runner.py"
HELLO = str(ROOT / "programs/hello.sq")
HELLO_ASQ = str(ROOT / "programs/hello.asq")
PROCESSES = 3  # subprocesses the cases are split over (the machine has two cores)
ESC = "\x1b]0;pwned\x07\x1b[2J"  # a terminal escape: retitle the window and clear the screen


# -- the hostile files ----------------------------------------------------------------------------------------

IMAGES = {  # name: contents (bytes); every one must be refused with the problem named
    "empty.dec": b"",
    "blank.dec": b"   \n\t\n",
    "comment.dec": b"# nothing but a comment\n",
    "nul.dec": b"1 2\x003",
    "latin1.dec": b"1 2 \xe9",
    "letters.dec": b"1 2 three",
    "underscore.dec": b"1_000 2 3",
    "arabic.dec": "1 \u0663 3".encode(),
    "float.dec": b"1.5 2 3",
    "exp.dec": b"1e5 2 3",
    "digits.dec": b"1 " + b"9" * 5000,
    "wide.dec": b"1 2 3 70000",
    "negative-wide.dec": b"1 2 -70000",
    "escape.dec": ("1 2 " + ESC).encode(),
    "bom.dec": b"\xef\xbb\xbf9 -1 3",
    "crlf-junk.dec": b"1\r2\r\x1b",
    "long-line.dec": b"1 " * 300_000 + b"x",
    "huge.dec": b"1 " * 3_000_000,  # 6 MB: above the 4 MiB a text file may be
    "deep.json": b"[" * 100_000,
    "deep-object.json": b'{"a":' * 10_000,
    "bigint.json": b'{"slots": [[0, 1, ' + b"9" * 5000 + b"]]}",
    "bigint-data.json": b'{"slots": [[0, 1, 0]], "data": [' + b"1" * 100 + b"]}",
    "list.json": b"[1, 2, 3]",
    "string.json": b'"slots"',
    "slots-short.json": b'{"slots": [[0, 1]]}',
    "slots-float.json": b'{"slots": [[0, 1, 2.5]]}',
    "slots-null.json": b'{"slots": null}',
    "data-str.json": b'{"slots": [[0, 1, 0]], "data": "abc"}',
    "broken.json": b'{"slots": [',
    "nan.json": b'{"slots": [[0, 1, NaN]]}',
    "latin1.json": b'{"slots": [[0, 1, 0]], "x": "\xe9"}',
}

SOURCES = {  # assembly sources that must be refused
    "undefined.asq": b"Z Z lop\n",
    "duplicate.asq": b"a: 0\na: 0\n",
    "nul.asq": b"Z Z\x00 0\n",
    "latin1.asq": b"# caf\xe9\nZ Z 0\n",
    "include-zero.asq": b'.include "/dev/zero"\n',
    "include-missing.asq": b'.include "no-such.asq"\n',
    "include-dir.asq": b'.include "/"\n',
    "include-self.asq": b'.include "include-self.asq"\n',
    "macro-loop.asq": b".macro M\nM\n.endm\nM\n",
    "huge-reserve.asq": b". [1000000000000]\n",
    "huge-number.asq": b". " + b"9" * 5000 + b"\n",
    "big-word.asq": b". 99999999999999999999999\n",
    "deep-parens.asq": b". " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
    "constant-cycle.asq": b"A = B\nB = A\n. A\n",
    "escape-label.asq": ("Z Z " + ESC + "\n").encode(),
    "huge-string.asq": b'. "' + b"a" * 5_000_000 + b'"\n',  # above 4 MiB
    "bad-escape.asq": b'. "\\q"\n',
    "endm-alone.asq": b".endm\n",
    "unterminated.asq": b'. "abc\n',
    "paper-bad.pasq": b"a b c\n",
}

BATCHES = {  # batch files for `run --batch`
    "empty.batch": b"",
    "bad-line.batch": b"hello.sq --input\n",
    "bad-quote.batch": b"'hello.sq\n",
    "missing.batch": b"no-such.dec\n",
    "bad-escape.batch": b"hello.sq --input '\\x'\n",
    "latin1.batch": b"hello.sq --input \xe9\n",
    "escape.batch": (ESC + ".dec\n").encode(),
    "extra.batch": b"hello.sq --input a b\n",
}

MAPS = {  # source maps for `disasm --map`
    "deep.map.json": b"[" * 100_000,
    "bigint.map.json": b'{"format": "mlpvm-sourcemap/1", "cells": {"' + b"9" * 5000 + b'": {}}}',
    "not-json.map.json": b"not json",
    "list.map.json": b"[]",
    "latin1.map.json": b'{"\xe9": 1}',
}


def _weight_files(root: Path) -> dict[str, Path]:
    """Weight files, each wrong in one way, made from a good one (subleq, 8 bits, 32 cells)."""
    good = root / "good.npz"
    save(compile_network(build(Config("subleq", 8, 32))), good)
    arrays = dict(np.load(good))
    files: dict[str, Path] = {}

    def variant(name: str, **changes) -> None:
        a = {**arrays, **changes}
        for key in [k for k, v in changes.items() if v is None]:
            del a[key]
        np.savez(root / name, **a)
        files[name] = root / name

    meta = json.loads(str(arrays["meta"]))
    variant("pickled.npz", evil=np.array([object()], dtype=object))
    variant("nan.npz", b0=np.full(arrays["b0"].shape, np.nan))
    variant("extreme.npz", b0=np.full(arrays["b0"].shape, 2**62, np.int64))
    variant("huge-weight.npz", W0_data=np.full(arrays["W0_data"].shape, 2**40, np.int64))
    variant("fraction.npz", b0=np.full(arrays["b0"].shape, 0.5))
    variant("no-meta.npz", meta=None)
    variant("no-b5.npz", b5=None)
    variant("meta-number.npz", meta=np.array(5))
    variant("meta-bytes.npz", meta=np.array(b"{}"))
    variant("meta-not-json.npz", meta=np.array("not json"))
    variant("meta-deep.npz", meta=np.array("[" * 100_000))
    variant(
        "meta-bigint.npz", meta=np.array(json.dumps({**meta, "bits": 1}).replace('"bits": 1', '"bits": ' + "9" * 5000))
    )
    variant("format.npz", meta=np.array(json.dumps({**meta, "format": "mlpvm-weights/9"})))
    variant("huge-config.npz", meta=np.array(json.dumps({**meta, "bits": 32, "cells": 1 << 30})))
    variant("wide-layer.npz", meta=np.array(json.dumps({**meta, "layer_outputs": [[["x", [1 << 40]]]] * 23})))
    variant("bad-shape.npz", W3_shape=np.array([5, 5]))
    variant("bad-indptr.npz", W3_indptr=np.full(arrays["W3_indptr"].shape, 1 << 40, np.int64))
    variant("bad-indices.npz", W3_indices=np.full(arrays["W3_indices"].shape, 1 << 30, np.int64))
    variant("complex.npz", b0=arrays["b0"].astype(np.complex64))
    variant("structured.npz", b0=np.zeros(arrays["b0"].shape, [("a", "i4")]))
    variant("strings.npz", b0=np.array(["x"] * len(arrays["b0"])))
    # a member whose header declares a huge shape, never needed: checked by its header, never read
    bomb = root / "bomb.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        with out.open("junk.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (1 << 27,)})
            for _ in range(64):
                f.write(bytes(1 << 24))
    files["bomb.npz"] = bomb
    # a needed member that declares a shape far beyond its layer
    big = root / "big-b0.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename != "b0.npy":
                out.writestr(info, src.read(info))
        with out.open("b0.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False, "shape": (1 << 40,)})
            f.write(bytes(1 << 20))
    files["big-b0.npz"] = big
    for name, data in {
        "text.npz": b"not a zip at all",
        "empty.npz": b"",
        "truncated.npz": good.read_bytes()[:5000],
        "pickle.npz": b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.",
        "empty-zip.npz": b"PK\x05\x06" + bytes(18),
    }.items():
        (root / name).write_bytes(data)
        files[name] = root / name
    return files


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A folder holding every hostile file, the good programs they refer to, and special files."""
    root = tmp_path_factory.mktemp("hostile")
    for table in (IMAGES, SOURCES, BATCHES, MAPS):
        for name, data in table.items():
            (root / name).write_bytes(data)
    (root / "hello.sq").write_bytes(Path(HELLO).read_bytes())
    (root / "hello.asq").write_bytes(Path(HELLO_ASQ).read_bytes())
    (root / "echo.asq").write_bytes((ROOT / "mlpvm/programs/echo.asq").read_bytes())
    (root / "hi.dec").write_bytes((ROOT / "programs/external/howerj-subleq-vhdl/hi.dec").read_bytes())
    os.mkfifo(root / "fifo")
    os.mkdir(root / "dir.dec")
    os.symlink("loop", root / "loop")
    os.symlink("/dev/zero", root / "zero.dec")
    (root / os.fsdecode(b"\xff\xfe.dec")).write_bytes(b"1 2 x")
    (root / (ESC + ".dec")).write_bytes(b"1 2 x")
    for name, data in {
        "zero.x": None,
        "huge-values.x": b"set pc = 100000000000000000000\nset mem[0] = 1 << 100\np 1 << 1000000\n"
        b"x/99999999999999 0\nstep 99999999999999999999999\nbreak 99999999999999999999\n"
        b"p " + b"(" * 5000 + b"1" + b")" * 5000 + b"\nhistory 99999999999999999999\n"
        b"p 9" + b"9" * 5000 + b"\nset mem[100000] = 1\nset pc = 70000\nundisplay 99999999999999999999\n",
        "garbage.x": b"\x1b[2J\nfrobnicate\nbreak\nwatch\nx/\nlayer 99\ndump /dev/full\ninput \\x\n",
        "latin1.x": b"p 1 # caf\xe9\n",
    }.items():
        if data is not None:
            (root / name).write_bytes(data)
    _weight_files(root)
    return root


def _cases() -> list[tuple[str, list[str], int, str | None]]:
    """(id, argv, exit code, what the message must contain: a regex, or None for a command that succeeds)."""
    cases = []
    add = lambda id_, argv, code, pattern: cases.append((id_, argv, code, pattern))  # noqa: E731

    # every hostile image, through each command that loads one
    for name in IMAGES:
        add(f"run {name}", ["run", name], 2, re.escape(name))
        if name.endswith(".dec"):
            add(f"verify {name}", ["verify", name], 2, re.escape(name))
        if name.endswith(".json") or name in ("empty.dec", "nul.dec", "latin1.dec", "digits.dec", "huge.dec"):
            add(f"disasm {name}", ["disasm", name], 2, re.escape(name))
            add(f"debug {name}", ["debug", name, "--batch"], 2, re.escape(name))
            add(f"trace {name}", ["trace", name, "-o", "t.jsonl"], 2, re.escape(name))
    # every hostile source, assembled and run
    for name in SOURCES:
        add(f"asm {name}", ["asm", name], 2, re.escape(name.split(".")[0]) + "|dev/zero|/")
        if name in ("include-zero.asq", "huge-reserve.asq", "macro-loop.asq", "latin1.asq", "deep-parens.asq"):
            add(f"run {name}", ["run", name], 2, re.escape(name.split(".")[0]) + "|dev/zero")
    # files that are not regular files, or not there
    for path, what in [
        ("/dev/zero", "character device"), ("/dev/null", "character device"), ("fifo", "FIFO"),
        ("dir.dec", "directory"), ("loop", "cannot read|no such file|symbolic links|does not exist"),
        ("zero.dec", "character device"),
        ("missing.dec", "no such file|does not exist"),
    ]:  # fmt: skip
        add(f"run {path}", ["run", path], 2, what)
        add(f"disasm {path}", ["disasm", path], 2, what)
        add(f"asm {path}", ["asm", path], 2, what)
        add(f"info --weights {path}", ["info", "--weights", path], 2, f"{what}|not a regular file|no such file")
        add(f"run --batch-file {path}", ["run", "--batch-file", path], 2, what)
        add(f"debug -x {path}", ["debug", "hello.sq", "-x", path, "--batch"], 2, what)
    add("disasm --map /dev/zero", ["disasm", "hello.sq", "--map", "/dev/zero"], 2, "character device")
    add("not-utf8 name", ["run", os.fsdecode(b"\xff\xfe.dec")], 2, r"\\xff\\xfe\.dec")
    add("escape name", ["run", ESC + ".dec"], 2, r"\\x1b\]0;pwned\\x07\\x1b\[2J\.dec")
    add("escape name missing", ["run", ESC + "x.dec"], 2, "no such file")
    add("not-utf8 name missing", ["run", os.fsdecode(b"\xff.dec")], 2, r"\\xff\.dec: error: no such file")
    # batch files and source maps
    for name in BATCHES:
        add(f"run --batch-file {name}", ["run", "--batch-file", name], 2, re.escape(name))
    for name in MAPS:
        add(f"disasm --map {name}", ["disasm", "hello.sq", "--map", name], 2, re.escape(name))
    # weight files
    for name, pattern in [
        ("pickled.npz", "pickled objects, which are never loaded"), ("nan.npz", "NaN"),
        ("extreme.npz", "beyond"), ("huge-weight.npz", "beyond"), ("fraction.npz", "non-integer"),
        ("no-meta.npz", "missing array 'meta'"), ("no-b5.npz", "missing array 'b5'"),
        ("meta-number.npz", "not a JSON string"), ("meta-bytes.npz", "holds|not a JSON string"),
        ("meta-not-json.npz", "not JSON"), ("meta-deep.npz", "nested"), ("meta-bigint.npz", "digits"),
        ("format.npz", "mlpvm-weights/9"), ("huge-config.npz", "refuses anything above"),
        ("wide-layer.npz", "wider than|23 layers|another configuration"), ("bad-shape.npz", "W3 has shape"),
        ("bad-indptr.npz", "W3"), ("bad-indices.npz", "W3"), ("complex.npz", "complex64 values, not numbers"),
        ("structured.npz", "not numbers"), ("strings.npz", "expected .* numbers"), ("big-b0.npz", "declares"),
        ("text.npz", "not an .npz archive"), ("empty.npz", "not an .npz archive"),
        ("truncated.npz", "truncated or corrupt"), ("pickle.npz", "not an .npz archive"),
        ("empty-zip.npz", "missing array 'meta'"),
    ]:  # fmt: skip
        add(f"info --weights {name}", ["info", "--weights", name], 2, pattern)
        if name in ("pickled.npz", "extreme.npz", "big-b0.npz", "truncated.npz", "meta-deep.npz"):
            add(f"run --weights {name}", ["run", "--weights", name, "hello.sq"], 2, pattern)
            add(f"verify --weights {name}", ["verify", "--weights", name, "--random", "1"], 2, pattern)
    add("run --weights bomb.npz", ["run", "--weights", "bomb.npz", "--max-steps", "3", "hi.dec"], 3, "step limit")
    add("weights of another width", ["run", "--weights", "good.npz", "--bits", "16", "hello.sq"], 2, "drop --bits")
    # integer options: out of range, not integers, zero where zero means nothing
    for option, values in [
        ("--bits", ["0", "-1", "3", "33", "100000000000000000000", "x", "1e3", "\u0663"]),
        ("--cells", ["0", "3", "-8", "17", str(1 << 40), "9" * 5000]),
        ("--max-steps", ["-1", "100000000000000000000", "1.5"]),
        ("--slots", ["0", "-1", "99999999999999999999"]),
    ]:
        for value in values:
            add(f"run {option} {value[:20]}", ["run", option, value, "hello.sq"], 2, re.escape(option))
    for argv, pattern in [
        (["verify", "--random", "-1"], "--random"), (["verify", "--random", "1" + "0" * 30], "--random"),
        (["verify", "--seed", "1" + "0" * 30, "--random", "1"], "--seed"), (["verify", "--batch", "0"], "--batch"),
        (["verify", "--steps", "-5", "--random", "1"], "--steps"),
        (["verify", "--random", "1", "--cells", "2"], "--cells"),
        (["verify", "--mutants", "--bits", "4", "--cells", "4"], "too small for the mutation battery"),
        (["verify", "--mutants", "--bits", "32", "--cells", "1048576"], "mutation testing would need"),
        (["verify", "--mutants", "--bits", "16", "--cells", "1024"], "mutation testing would need"),
        (["verify", "--random", "10", "--bits", "32", "--cells", str(1 << 28)], "refuses anything above"),
        (["verify", "--dtype", "float8", "--random", "1"], "float8"),
        (["verify"], "nothing to verify"),
        (["build", "-o", "w.npz", "--bits", "32", "--cells", "1048576"], "refuses anything above"),
        (["build", "-o", "w.npz", "--dense", "--cells", "4096"], "refuses anything above"),
        (["build"], "-o"), (["build", "-o", "w.npz", "--machine", "nope"], "--machine"),
        (["info", "--bits", "32", "--cells", str(1 << 24)], "refuses anything above"),
        (["run", "--bits", "32", "--cells", "1048576", "hello.sq"], "refuses anything above"),
        (["run", "--engine", "reference", "--bits", "32", "--cells", str(1 << 32), "hello.sq"], "refuses anything"),
        (["run", "--engine", "dense", "--cells", "4096", "hello.sq"], "refuses anything above"),
        (["run", "--engine", "warp", "hello.sq"], "--engine"), (["run"], "IMAGE"),
        (["run", "--cells", "16", "hello.sq"], "do not fit in 16 cells"),
        (["run", "--machine", "paper", "hello.sq"], "not paper"),
        (["trace", "hello.sq", "-o", "t.jsonl", "--layers", "l.npz", "--passes", "1:1000000000000"], "passes"),
        (["trace", "hello.sq", "-o", "t.jsonl", "--layers", "l.npz", "--passes", "9" * 5000], "pass range"),
        (["trace", "hello.sq", "-o", "t.jsonl", "--layers", "l.npz", "--passes", "5:1"], "empty pass range"),
        (["trace", "hello.sq", "-o", "t.jsonl", "--layers", "l.npz", "--passes", "\u0663"], "pass range"),
        (["asm", "hello.asq", "--bits", "64"], "--bits"), (["asm", "hello.asq", "--cells", "0"], "--cells"),
        (["disasm", "hello.sq", "--bits", "0"], "--bits"), (["disasm", "hello.sq", "--asm", "--json"], "alternatives"),
        (["bench", "--eforth", "huge-reserve.asq"], "huge-reserve"), (["bench", "--eforth-only"], "--eforth"),
        (["bench", "--eforth", "/dev/zero"], "character device|/dev/zero"),
        (["nonsense"], "No such command"), (["run", "--bogus", "hello.sq"], "--bogus"),
    ]:  # fmt: skip
        add(" ".join(argv)[:60], argv, 2, pattern)
    # writes: never over an input or a directory; a device or a FIFO is written as a stream; a failed write is
    # one line
    for argv, code, pattern in [
        (["asm", "hello.asq", "-o", "hello.asq"], 2, "also an input"),
        (["asm", "hello.asq", "--map", "hello.asq"], 2, "also an input"),
        (["asm", "hello.asq", "-o", "/dev/full"], 2, "No space left on device"),
        (["asm", "hello.asq", "-o", "/dev/null"], 0, None),
        (["asm", "hello.asq", "-o", "fifo"], 2, "a FIFO with no reader"),
        (["asm", "hello.asq", "-o", "dir.dec"], 2, "directory"),
        (["asm", "hello.asq", "-o", "no/such/dir/x.sq"], 2, "No such file or directory"),
        (["asm", "hello.asq", "-o", "zero.dec"], 0, None),
        (["build", "--bits", "8", "--cells", "32", "-o", "/dev/full"], 2, "No space left on device"),
        (["build", "--bits", "8", "--cells", "32", "-o", "fifo"], 2, "a FIFO with no reader"),
        (["trace", "hello.sq", "-o", "hello.sq"], 2, "also an input"),
        (["trace", "hello.sq", "-o", "/dev/full"], 2, "No space left on device"),
        (["trace", "hello.sq", "-o", "t.jsonl", "--layers", "/dev/full"], 2, "No space left on device"),
        (["trace", "hello.sq", "-o", "t.jsonl", "--layers", "t.jsonl"], 2, "also another output"),
    ]:
        add(" ".join(argv)[:60], argv, code, pattern)
    # command-line text that is not UTF-8 reaches the program as the bytes typed: echo.asq reads every byte and
    # writes it back (test_non_utf8_input_reaches_the_program_as_typed checks what `run` printed)
    add("run --input latin-1", ["run", "--input", os.fsdecode(b"\xe9\xff"), "echo.asq"], 0, None)
    add("run two --input latin-1", ["run", "--input", os.fsdecode(b"\xe9"), "echo.asq", "echo.asq"], 0, None)
    add("trace --input latin-1", ["trace", "echo.asq", "-o", "t.jsonl", "--input", os.fsdecode(b"\xe9")], 0, None)
    add("debug --input latin-1", ["debug", "echo.asq", "--batch", "--ex", "continue", "--input", os.fsdecode(b"\xe9")],
        0, None)  # fmt: skip
    add("verify --input latin-1", ["verify", "echo.asq", "--input", os.fsdecode(b"\xe9")], 0, None)
    # the debugger, scripted with hostile commands: each is refused in its own line, the session goes on
    for script in ("huge-values.x", "garbage.x", "latin1.x"):
        # like gdb, a -x script stops at its first failing line and the exit status says a command failed
        code, pattern = (2, "latin1.x") if script == "latin1.x" else (2, None)
        add(f"debug -x {script}", ["debug", "hello.sq", "-x", script, "--batch"], code, pattern)
    for command in ["set pc = 1 << 70", "p 1 << 99999999", "x/999999999999 0", "p " + "-" * 5000 + "1",
                    "p " + "(" * 100 + "1" + ")" * 100, "break " + "9" * 5000, "ignore 1 99999999999999999999",
                    "p 'a", "p mem[99999999999999]", "set mem[-1] = 5", "until 99999999999999999999",
                    "reverse-step 99999999999999999999", "watch 0:99999999999", "info " + ESC,
                    "display " + "a" * 2000, "p mem[mem[mem[mem[0]]]]", "p 5 // 0"]:  # fmt: skip
        # refused in one line (exit 2, as gdb's batch mode says a command failed) or, where valid, done (0)
        add(f"debug --ex {command[:30]}", ["debug", "hello.sq", "--batch", "--ex", command], (0, 2), None)
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def results(world) -> dict[str, dict]:
    """Every case, run in a few subprocesses under the runner's memory limit."""
    chunks = [CASES[i::PROCESSES] for i in range(PROCESSES)]
    procs = []
    for chunk in chunks:
        payload = json.dumps([{"argv": argv, "cwd": str(world)} for _, argv, _, _ in chunk])
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=world,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        proc.stdin.write(payload.encode())
        proc.stdin.close()
        procs.append(proc)
    out: dict[str, dict] = {}
    for chunk, proc in zip(chunks, procs):
        doc = json.loads(proc.stdout.read())
        assert proc.wait(timeout=300) == 0
        assert doc["peak_rss"] < 2 << 30
        out.update({case[0]: result for case, result in zip(chunk, doc["results"])})
    if os.environ.get("HOSTILE_TIMES"):
        slow = sorted(out.items(), key=lambda kv: -kv[1]["seconds"])[:25]
        print("\n".join(f"{r['seconds']:6.2f} {name}" for name, r in slow), file=sys.stderr)
    return out


def test_there_are_enough_distinct_cases():
    ids = [case[0] for case in CASES]
    assert len(set(ids)) == len(ids) >= 150


@pytest.mark.parametrize(("name", "argv", "code", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_hostile(results, name, argv, code, pattern):
    r = results[name]
    assert r["traceback"] is None, r["traceback"]
    assert "Traceback" not in r["stderr"] + r["stdout"]
    assert r["code"] in (code if isinstance(code, tuple) else (code,)), (r["code"], r["stderr"][-2000:])
    lines = r["stderr"].splitlines()
    if pattern is not None:
        assert len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^"), r["stderr"]
        assert re.search(pattern, lines[0]), lines[0]
    assert "\x1b" not in r["stderr"], "a terminal escape reached the terminal"


def test_non_utf8_input_reaches_the_program_as_typed(results):
    """The bytes typed come back byte for byte from a program that reads them (the runner shows stdout's bytes
    outside UTF-8 as \\xNN)."""
    assert results["run --input latin-1"]["stdout"] == "\\xe9\\xff"
    two = results["run two --input latin-1"]["stdout"]
    assert two.count("\\xe9") == 2 and "\\xff" not in two and "echo.asq" in two, two
    shown = results["debug --input latin-1"]["stdout"]  # the debugger shows output as UTF-8, other bytes as \\xHH
    assert "│ \\xe9" in shown and "é" not in shown, shown  # the byte that came back, never latin-1 mojibake
    assert results["verify --input latin-1"]["stdout"].startswith("OK: 1 program"), results["verify --input latin-1"]


# -- what needs a real process: stdout closed or full, a broken pipe, signals ---------------------------------


def _mlpvm(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlpvm", *args], capture_output=True, timeout=120, **kw)


def test_stdout_full_closed_and_broken():
    with open("/dev/full", "wb") as devfull:
        full = subprocess.run([sys.executable, "-m", "mlpvm", "asm", HELLO_ASQ], stdout=devfull,
                              stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    assert (full.returncode, full.stderr.decode()) == (
        2, "mlpvm: cannot write to standard output (No space left on device)\n",
    )  # fmt: skip
    closed = subprocess.run([sys.executable, "-m", "mlpvm", "asm", HELLO_ASQ], stderr=subprocess.PIPE, timeout=120,
                            preexec_fn=lambda: os.close(1))  # fmt: skip
    assert closed.returncode == 2 and b"standard output is closed" in closed.stderr
    proc = subprocess.Popen([sys.executable, "-m", "mlpvm", "run", "--max-steps", "0", str(ROOT / "programs/fib.asq")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.read(1)
    proc.stdout.close()  # the reader goes away while the program prints
    assert proc.wait(timeout=120) in (0, 141)
    assert b"Traceback" not in proc.stderr.read()


def test_a_broken_pipe_ends_quietly_with_141(tmp_path):
    prog = tmp_path / "yes.dec"
    prog.write_text("9 -1 3 10 10 0 0 0 0 121 0")  # prints 'y' forever
    proc = subprocess.Popen([sys.executable, "-m", "mlpvm", "run", "--max-steps", "0", str(prog)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout.read(10) == b"y" * 10
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


def test_ctrl_c_outside_the_pass_loop_is_130_not_aborted(monkeypatch, capsys):
    """Ctrl-C while a command loads or assembles (outside the pass loop's own handling): 130, one line."""
    from mlpvm.cli import main
    from mlpvm.program import asm as assembler

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(assembler, "assemble_file", interrupted)
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as e:
            main(["asm", HELLO_ASQ])
    finally:
        signal.signal(signal.SIGINT, handler)  # main ignores a late Ctrl-C once the outcome is decided
    assert e.value.code == 130
    err = capsys.readouterr().err
    assert err.strip() == "mlpvm: interrupted" and "Aborted" not in err


def test_ctrl_c_while_waiting_for_input_stops_with_the_summary():
    """A program blocked reading stdin: one Ctrl-C stops it at once, with its output and summary."""
    proc = subprocess.Popen([sys.executable, "-m", "mlpvm", "run", "--engine", "structured",
                             str(ROOT / "programs/echo.asq")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    proc.stdin.write(b"ab")
    proc.stdin.flush()
    assert proc.stdout.read(2) == b"ab"  # echoed: in a moment it blocks reading more
    time.sleep(1)
    proc.send_signal(signal.SIGINT)  # one Ctrl-C is enough: it used to be ignored until more input came
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (130, b""), err
    assert err.decode().startswith("mlpvm: interrupted after 10 steps, pc=0 (loop, "), err


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"new, half written")
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(SystemExit) as e:
        atomic_write(target, write)
    assert e.value.code == 143
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_writes_keep_permissions_and_follow_links(tmp_path):
    private = tmp_path / "private.sq"
    private.write_bytes(b"old")
    private.chmod(0o600)
    link = tmp_path / "link.sq"
    link.symlink_to(private)
    atomic_write(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and private.read_bytes() == b"new"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(MlpvmError, match="also an input"):
        atomic_write(private, lambda f: f.write(b"x"), inputs=(link,))
    assert private.read_bytes() == b"new"


# -- the compiled-code cache -----------------------------------------------------------------------------------
# Planted, damaged, foreign-owned, world-writable and linked caches: tests/test_hostile_cache.py (each case
# runs ``mlpvm run`` on a cache of its own, so they are a file of their own rather than runner cases here).
