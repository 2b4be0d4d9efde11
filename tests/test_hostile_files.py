"""Crashes of issue 26 (class 4), each tested as a class: dense weight files and their memory budget, numeric
options (every one the command tree has), hostile dumps, breakpoint commands that resume, and history files
that are not regular files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import zipfile
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from prompt_toolkit.history import InMemoryHistory
from rich.console import Console

import mlpvm
from mlpvm import resources
from mlpvm.cli import COMMANDS, cli
from mlpvm.cli.options import Bounded
from mlpvm.debug import views
from mlpvm.debug.commands import Debugger
from mlpvm.debug.repl import history_store
from mlpvm.debug.session import Session
from mlpvm.engines import NEURAL
from mlpvm.errors import MlpvmError, WeightsError
from mlpvm.files import MAX_TEXT
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.network import weights as weightfile
from mlpvm.program.image import config_for
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from tests.conftest import ROOT

HELLO_SQ = str(ROOT / "programs" / "hello.sq")
HELLO_ASQ = str(ROOT / "programs" / "hello.asq")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_line_error(result, pattern: str) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and pattern in lines[0], lines
    return lines[0]


# -- build --dense: read back by the loader ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dense_and_sparse(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dense")
    paths = root / "dense.npz", root / "sparse.npz"
    for path, extra in zip(paths, (["--dense"], [])):
        result = invoke("build", "--bits", "8", "--cells", "64", "-o", str(path), *extra)
        assert result.exit_code == 0, result.output
    return paths


def test_a_dense_weight_file_loads_as_the_same_matrices(dense_and_sparse):
    dense, sparse = (weightfile.load(p) for p in dense_and_sparse)
    assert dense.config == sparse.config == Config("subleq", 8, 64)
    for a, b in zip(dense.layers, sparse.layers):
        assert a.W.shape == b.W.shape and a.outputs == b.outputs
        assert np.array_equal(a.W.indptr, b.W.indptr) and np.array_equal(a.W.indices, b.W.indices)
        assert np.array_equal(a.W.data, b.W.data) and np.array_equal(a.b, b.b)


@pytest.mark.parametrize("engine", ["sparse", "dense"])
def test_a_program_runs_on_a_dense_weight_file(dense_and_sparse, engine):
    result = invoke("run", "--weights", str(dense_and_sparse[0]), "--engine", engine, HELLO_SQ)
    assert result.exit_code == 0, result.output
    ref = reference.load(Config("subleq", 8, 64), [int(w) for w in load_image(HELLO_SQ).words])
    reference.run(ref, Input())
    assert result.stdout == bytes(ref.output).decode() == "Hello, world!\n"


def test_a_dense_weight_file_is_verified_against_the_reference(dense_and_sparse):
    result = invoke("verify", "--weights", str(dense_and_sparse[0]), "--random", "20", "-q")
    assert result.exit_code == 0, result.output


def _dense_need(path: Path) -> int:
    """What loading the dense file needs by the budget's rule: the sparse matrices' budget, and every matrix
    stored dense at its size in the file (one byte an element: int8, as build writes them)."""
    with np.load(path, allow_pickle=False) as z:
        dense = sum(z[k].size * z[k].itemsize for k in z.files if k.startswith("W"))
        assert all(z[k].dtype == np.int8 for k in z.files if k.startswith("W"))
    return resources.estimate(Config("subleq", 8, 64)).bytes("sparse") + dense


def test_a_dense_file_one_byte_past_the_ceiling_is_refused_and_at_it_loads(dense_and_sparse, monkeypatch):
    path = dense_and_sparse[0]
    need = _dense_need(path)
    monkeypatch.setattr(resources, "CEILING", need)
    assert weightfile.load(path).config.cells == 64
    monkeypatch.setattr(resources, "CEILING", need - 1)
    with pytest.raises(WeightsError) as e:
        weightfile.load(path)
    assert str(e.value).startswith(f"{path}: its dense matrices need ") and "\n" not in str(e.value)
    result = invoke("info", "--weights", str(path))
    one_line_error(result, "mlpvm refuses anything above")


# -- numeric options: one type, finite, bounded ---------------------------------------------------------------


def _numeric_options() -> list[tuple[str, str, Bounded]]:
    """(command, option, type) of every option of every command that takes a number."""
    found = []
    for name in COMMANDS:
        command = cli.get_command(None, name)
        for param in command.params:
            if isinstance(param.type, (click.types._NumberParamTypeBase, Bounded)):
                found.append((name, param.opts[0], param.type))
    return found


def test_every_numeric_option_has_the_one_checked_type():
    options = _numeric_options()
    assert {("prove", "--timeout"), ("plot", "--pass"), ("verify", "--seed")} <= {(c, o) for c, o, _ in options}
    loose = [(c, o) for c, o, t in options if not isinstance(t, Bounded)]
    assert loose == [], "numeric options parsed by click's own types (NaN, infinities, huge values get through)"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "-1", "99999999999999999999999999999", "x"])
@pytest.mark.parametrize(("command", "option"), [(c, o) for c, o, _ in _numeric_options()])
def test_a_numeric_option_refuses_what_it_cannot_be_in_one_line(command, option, value):
    kind = next(t for c, o, t in _numeric_options() if (c, o) == (command, option))
    if value == "-1" and kind.min <= -1:
        return  # (--seed takes negative numbers)
    result = invoke(command, option, value)
    one_line_error(result, f"{option} must be")


@pytest.mark.parametrize("value", ["0", "0.5", "1e6"])
def test_prove_timeout_takes_finite_seconds(value, monkeypatch):
    assert Bounded(0, 10**6, real=True).convert(value, None, None) == float(value)


def test_prove_refuses_a_configuration_above_the_memory_ceiling():
    result = invoke("prove", "--bits", "32", "--cells", str(1 << 22))
    one_line_error(result, "mlpvm refuses anything above")


# -- load_dump on hostile files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dump")
    out, layers = root / "t.jsonl", root / "l.npz"
    result = invoke("trace", HELLO_ASQ, "-o", str(out), "--layers", str(layers), "--passes", "2")
    assert result.exit_code == 0, result.output
    return layers


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array(f, array, allow_pickle=allow_pickle)
    return f.getvalue()


def _declared(shape: tuple[int, ...], dtype: str = "|u1", data: bytes = b"\0" * 64) -> bytes:
    """An .npy member whose header declares ``shape`` and that holds only ``data``."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, header)
    return f.getvalue() + data


def _bomb() -> bytes:
    """A layer vector whose npy header is right, followed by 64 MiB of zeros (64 KiB compressed)."""
    return _declared((1,)) + bytes(64 << 20)


HOSTILE = {  # name: (the dump's members changed: key -> bytes, None = removed), words of the refusal)
    "not a zip": ("text", "not an .npz archive"),
    "truncated zip": ("cut", "truncated or corrupt"),
    "member not .npy": (lambda: {"pass2.read.0.npy": b"these are not the bytes of an array"}, "not a numpy array"),
    "meta not .npy": (lambda: {"meta.npy": b"PK\x03\x04 nothing"}, "not a numpy array"),
    "wrong dtype": (lambda: {"pass2.read.0.npy": _npy(np.zeros(3, np.complex64))}, "not numbers"),
    "float activations": (lambda: {"pass2.fetch.0.npy": _npy(np.zeros(1, np.float16))}, "pass2.fetch.0 is float16"),
    "wrong shape": (lambda: {"pass2.read.0.npy": _npy(np.zeros((2, 2), np.uint8))}, "pass2.read.0 is uint8 (2, 2)"),
    "object array": (lambda: {"pass2.read.0.npy": _npy(np.array([object()]), allow_pickle=True)}, "pickled"),
    "pickled meta": (lambda: {"meta.npy": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)}, "pickled"),
    "huge declared shape": (lambda: {"pass2.read.0.npy": _declared((1 << 40,))}, "declares"),
    "huge declared shape beside a 0": (lambda: {"pass2.read.0.npy": _declared((0, 1 << 40))}, "declares"),
    "huge declared meta": (lambda: {"meta.npy": _declared((), "<U100000000")}, "declares"),
    "decompression bomb": (lambda: {"pass2.read.0.npy": _bomb()}, "bytes in the archive"),
    "truncated member": (lambda: {"pass2.read.0.npy": _npy(np.zeros(900, np.uint8))[:-10]}, "pass2.read.0"),
    "no meta": (lambda: {"meta.npy": None}, "missing array 'meta'"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_dump_is_one_error_naming_the_file(tmp_path, dump, name):
    changes, pattern = HOSTILE[name]
    path = tmp_path / "hostile.npz"
    if changes == "text":
        path.write_text("a text file")
    elif changes == "cut":
        data = dump.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        members = {**_members(dump), **changes()}
        _zip(path, {k: v for k, v in members.items() if v is not None})
    with pytest.raises(MlpvmError) as e:
        mlpvm.load_dump(path)
    assert type(e.value) is MlpvmError, type(e.value)
    message = str(e.value)
    assert message.startswith(f"{path}: not a dump: ") and "\n" not in message and pattern in message, message


def test_an_encrypted_member_is_one_error(tmp_path, dump):
    """zipfile asks for a password (a RuntimeError) when a member's encryption flag is set."""
    data = bytearray(dump.read_bytes())
    data[6] |= 1  # the first local header's flags
    at = data.find(b"PK\x01\x02")
    while at != -1:  # and every central directory entry's
        data[at + 8] |= 1
        at = data.find(b"PK\x01\x02", at + 4)
    path = tmp_path / "encrypted.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(MlpvmError, match=r"not a dump: \S+ is encrypted$"):
        mlpvm.load_dump(path)
    with pytest.raises(WeightsError, match=r": \S+ is encrypted$"):
        weightfile.load(path)


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "device"])
def test_a_dump_that_is_not_a_file_is_one_error(tmp_path, kind):
    path = {"missing": tmp_path / "none.npz", "directory": tmp_path, "fifo": tmp_path / "f", "device": "/dev/zero"}
    if kind == "fifo":
        os.mkfifo(path[kind])
    with pytest.raises(MlpvmError, match=r"not a dump: (no such file|is a directory|not a regular file)"):
        mlpvm.load_dump(path[kind])


def test_members_a_dump_does_not_use_are_never_read(tmp_path, dump):
    """Members that are no pass of a layer in meta are not decompressed: broken ones do no harm."""
    extra = {"junk.npy": b"not an array", "pass2.no-such-layer.npy": b"not an array", "bomb.npy": _bomb()}
    path = _zip(tmp_path / "extra.npz", {**_members(dump), **extra})
    loaded = mlpvm.load_dump(path)
    assert set(loaded) == {"meta", "pass2"} and loaded["pass2"]["decoded"] == mlpvm.load_dump(dump)["pass2"]["decoded"]


# -- breakpoint commands that continue ------------------------------------------------------------------------


def test_commands_that_continue_run_after_the_stop_not_inside_it(tmp_path, monkeypatch):
    """A breakpoint in a loop hit twice as often as Python's recursion limit, whose commands end in
    ``continue``: as in gdb, each stop's commands run after the command that resumed, so this ends (the program
    halts) without nesting; nested, the stops would need more frames than Python allows, even at one each."""
    hits = 2 * sys.getrecursionlimit()  # 2,000 at the default limit
    program = tmp_path / "loop.sq"
    program.write_text(f"9 10 6\n11 11 0\n11 11 -1\n1 {hits} 0\n")  # N -= 1 until N <= 0, then halt
    image = load_image(program)
    monkeypatch.setattr(views, "context", lambda *args: "")  # what is shown at a stop is not under test
    monkeypatch.setattr(views, "banner", lambda *args: "")
    session = Session(image, config_for(image, None, None, None), engine=NEURAL, check=False)  # (the fastest)
    debugger = Debugger(session, Console(file=io.StringIO(), quiet=True))  # (thousands of stops: nothing rendered)
    for line in ["break *0", "commands 1", "p $pc", "continue", "p 12345", "end"]:
        assert debugger.execute(line)
    executed, execute = [], Debugger.execute
    monkeypatch.setattr(Debugger, "execute", lambda self, line: executed.append(line) or execute(self, line))
    assert debugger.execute("run")
    assert debugger.failures == 0  # ("too deeply nested" is a failure)
    assert session.breakpoints[1].hits == hits and session.halted and session.steps == 2 * hits
    assert executed == ["run"] + ["p $pc", "continue"] * hits  # after a resume, the rest is not run


def test_a_stop_without_commands_ends_the_list_too(tmp_path):
    """gdb: a command that resumes ends its list whatever the next stop is (here one without commands)."""
    program = tmp_path / "loop.sq"
    program.write_text("9 10 6\n11 11 0\n11 11 -1\n1 3 0\n")
    image = load_image(program)
    out = io.StringIO()
    debugger = Debugger(Session(image, config_for(image, None, None, None)), Console(file=out, width=80))
    for line in ["break *0", "break *3", "commands 1", "continue", "p 12345", "end", "run"]:
        debugger.execute(line)
    assert "12345" not in out.getvalue() and debugger.session.pc == 3


# -- the history file -----------------------------------------------------------------------------------------


@pytest.fixture
def alarm():
    """Fails a test that blocks (reading a FIFO with no writer) instead of hanging the suite."""

    def hung(signum, frame):
        raise TimeoutError("blocked")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory", "huge", "link to /dev/zero"])
def test_a_history_that_is_no_small_regular_file_warns_and_is_not_used(tmp_path, capsys, alarm, kind):
    path = tmp_path / "history"
    if kind == "/dev/zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(MAX_TEXT + 1)  # sparse: takes no disk
    else:
        path.symlink_to("/dev/zero")
    store = history_store(path)
    assert isinstance(store, InMemoryHistory) and list(store.load_history_strings()) == []
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "without command history" in lines[0], lines


def test_a_history_file_at_the_limit_is_read(tmp_path, capsys):
    path = tmp_path / "history"
    entry = "\n# 2026\n+break loop\n"  # prompt_toolkit's format: a comment line, then "+" lines
    path.write_text(entry + "\n# 2026\n+" + "x" * (MAX_TEXT - len(entry) - 10) + "\n")
    assert path.stat().st_size == MAX_TEXT
    strings = list(history_store(path).load_history_strings())
    assert strings[-1] == "break loop" and len(strings) == 2 and capsys.readouterr().out == ""


def test_history_lines_are_appended_and_read_back(tmp_path):
    path = tmp_path / "state" / "history"
    history_store(path).store_string("break loop")
    history_store(path).store_string("print 1\nprint 2")
    assert list(history_store(path).load_history_strings()) == ["print 1\nprint 2", "break loop"]


# -- weight-file meta --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("bits", "1e400", "meta field 'bits' must be an integer, not inf"), ("bits", "true", "'bits' must be"),
     ("cells", '"64"', "'cells' must be"), ("io", "[]", "meta field 'io'"), ("io", '"x"', "meta field 'io'"),
     ("io", "null", "meta field 'io'"), ("layers", "7", "meta field 'layers'"), ("machine", "[]", "'machine'")],
)  # fmt: skip
def test_weight_meta_of_the_wrong_json_type_names_the_file_and_field(tmp_path, dense_and_sparse, field, value, words):
    with np.load(dense_and_sparse[1], allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = str(arrays["meta"])
    doc = json.loads(meta)
    text = json.dumps({**doc, field: "@@"}).replace('"@@"', value)
    path = tmp_path / "w.npz"
    np.savez(path, **{**arrays, "meta": np.array(text)})
    line = one_line_error(invoke("info", "--weights", str(path)), words)
    assert line.startswith(f"mlpvm: error: {path}: ")


# -- the debugger's last resort ------------------------------------------------------------------------------

ARGUMENTS = ["", "0", "-1", "99999999999999999999999", "1e400", "nan", "*", "*-1", "*99999999999", "$pc", "x",
             "mem[-1]", "mem[99999999999999]", "1:2", "2:1", "0:0", "/dev/zero", "-", "--passes", "fetch.0 99999",
             "1 2 3 4", "'", '"', "(", "9" * 400, "1<<99999", "$999", "/x", "loop", "hello.asq:0",
             "hello.asq:99999999999999999999", "\x1b[2J", "$pc = 99999999999999999999999",
             "mem[0] = -99999999999999999999"]  # fmt: skip


def test_no_debugger_command_ends_in_an_internal_error(tmp_path, monkeypatch):
    """Every command with every kind of hostile argument: a clear line or a result, never the catch-all's
    "internal error" (which stays only for bugs not yet known)."""
    from mlpvm.debug.commands import COMMANDS, Quit

    monkeypatch.chdir(tmp_path)  # (dump and picture write where they are told)
    image = load_image(HELLO_ASQ)
    out = io.StringIO()
    debugger = Debugger(Session(image, config_for(image, None, None, None)), Console(file=out, width=80))
    debugger.execute("stepi 3")
    found = []
    for name in sorted({c.name for c in COMMANDS.values()} - {"quit", "shell"}):
        for arg in ARGUMENTS:
            out.seek(0)
            out.truncate()
            with contextlib.suppress(Quit):
                debugger.execute(f"{name} {arg}")
            if debugger._recording is not None:
                debugger.execute("end")
            if "internal error" in out.getvalue():
                found.append((name, arg, out.getvalue().strip()[-200:]))
    assert found == []
