"""No output ever replaces an input (issue 26, class 3): every file a command writes goes through
``mlpvm.files.atomic_write``, which refuses a target that is the same file as one the command read (through a
symbolic or a hard link too) or as another of its outputs, writes a temporary file that is flushed to disk and
renamed (a full disk or Ctrl-C leaves the old file), and writes a stream (``-``, ``/dev/stdout``, a pipe, a
device) where it stands, appending where it was opened to append."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mlpvm import files
from mlpvm.cli import COMMANDS, cli
from mlpvm.debug.commands import COMMANDS as DEBUG_COMMANDS
from mlpvm.files import WriteError, atomic_write

ROOT = Path(__file__).resolve().parent.parent

# Every option of every command that names a file, as output or input. A new file option must be added to one
# of the two (test_every_file_option_is_known), so that a new writing command is not forgotten below.
OUTPUT_OPTIONS = {
    ("asm", "output"), ("asm", "map_path"), ("build", "output"), ("export", "output"), ("export", "onnx_output"),
    ("trace", "out"), ("trace", "layers"), ("plot", "out"),
}  # fmt: skip
INPUT_OPTIONS = {
    ("asm", "source"), ("disasm", "image"), ("disasm", "map_path"), ("run", "image"), ("run", "batch_file"),
    ("run", "old_batch_file"), ("run", "weights"), ("run", "input_file"), ("debug", "program"),
    ("debug", "input_file"), ("debug", "scripts"), ("debug", "weights"), ("trace", "program"),
    ("trace", "input_file"), ("info", "weights"), ("export", "weights"), ("verify", "images"),
    ("verify", "weights"), ("verify", "input_file"), ("bench", "eforth_image"), ("prove", "weights"),
    ("plot", "program"), ("plot", "input_file"),
    # a campaign's store is a SQLite database, updated in place as shards finish: a file that is not one (a
    # program, a weight file, through any link) is refused unread and unchanged (tests/test_campaigns.py)
    ("verify", "store"),
}  # fmt: skip
DEBUG_WRITERS = {"picture": "picture {} 1", "dump": "dump {}"}  # the debugger's commands that write a file

PROGRAM = """# prints H, through an included file
.include "part.asq"
"""
PART = """out: H -1 ?
Z Z -1
H: 72
Z: 0
"""
PICTURE = pytest.importorskip  # plot and picture need the extra mlpvm[plot]


def _file_options() -> set[tuple[str, str]]:
    ctx = click.Context(cli)
    return {
        (name, p.name) for name in COMMANDS for p in cli.get_command(ctx, name).params if isinstance(p.type, click.Path)
    }


def test_every_file_option_is_known():
    assert _file_options() == OUTPUT_OPTIONS | INPUT_OPTIONS
    assert not OUTPUT_OPTIONS & INPUT_OPTIONS
    writers = {name for name, cmd in DEBUG_COMMANDS.items() if re.search(r"\bFILE\.", cmd.usage)}
    assert writers == set(DEBUG_WRITERS)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A program (with an included file), an input file, a -x script and a weight file. (A batch file is
    read by ``run`` alone, which writes no file: test_every_file_option_is_known keeps it so.)"""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.asq").write_text(PROGRAM)
    (tmp_path / "part.asq").write_text(PART)
    (tmp_path / "in.txt").write_text("input\n")
    (tmp_path / "script.x").write_text("step\n")
    assert CliRunner().invoke(cli, ["build", "--bits", "8", "--cells", "32", "-o", "w.npz"]).exit_code == 0
    return tmp_path


# Each writer: its argv given the output's name, and the kinds of input it reads (the file whose name stands for
# each kind). `run` reads batch files and writes nothing; `build` reads nothing.
RUNS = "--input-file in.txt"
WRITERS = {
    "asm -o": (lambda out: ["asm", "prog.asq", "-o", out], ["prog.asq", "part.asq"]),
    "asm --map": (lambda out: ["asm", "prog.asq", "--map", out], ["prog.asq", "part.asq"]),
    "build -o": (lambda out: ["build", "--bits", "8", "--cells", "32", "-o", out], []),
    "export --onnx": (lambda out: ["export", "--weights", "w.npz", "--onnx", out], ["w.npz"]),
    "export -o": (lambda out: ["export", "--weights", "w.npz", "-o", out], ["w.npz"]),
    "trace -o": (lambda out: ["trace", "prog.asq", *RUNS.split(), "-o", out], ["prog.asq", "part.asq", "in.txt"]),
    "trace --layers": (
        lambda out: ["trace", "prog.asq", *RUNS.split(), "-o", "t.jsonl", "--layers", out],
        ["prog.asq", "part.asq", "in.txt"],
    ),
    "plot -o": (lambda out: ["plot", "prog.asq", *RUNS.split(), "-o", out], ["prog.asq", "part.asq", "in.txt"]),
    **{
        f"debug {name}": (
            lambda out, name=name: [
                "debug",
                "prog.asq",
                *RUNS.split(),
                "--weights",
                "w.npz",
                "-x",
                "script.x",
                "--batch",
                "--ex",
                DEBUG_WRITERS[name].format(out),
            ],
            ["prog.asq", "part.asq", "in.txt", "script.x", "w.npz"],
        )
        for name in DEBUG_WRITERS
    },
}
KINDS = {"prog.asq": "program", "part.asq": "included", "in.txt": "input-file", "script.x": "-x script",
         "w.npz": "weights"}  # fmt: skip


def test_every_writer_is_tried():
    """The table above writes every output option (its argv puts the output's name there) and every debugger
    command that writes."""
    tried = set()
    for argv, _ in WRITERS.values():
        args = argv("OUT")
        command = cli.get_command(click.Context(cli), args[0])
        params = command.make_context(args[0], args[1:], resilient_parsing=True).params
        tried |= {(args[0], key) for key, value in params.items() if value == "OUT"}
    assert tried == OUTPUT_OPTIONS
    assert {name for name in DEBUG_WRITERS if any(f"debug {name}" == w for w in WRITERS)} == set(DEBUG_WRITERS)


def _cases():
    for writer, (_, inputs) in WRITERS.items():
        for source in inputs:
            for how in ("same name", "symlink", "hard link", "symlink ./"):
                yield pytest.param(writer, source, how, id=f"{writer}-{KINDS[source]}-{how}")


def _target(source: str, how: str, suffix: str) -> str:
    """A name for ``source`` (an input), reached as ``how``: the output's name."""
    if how == "same name":
        return source
    if how == "symlink ./":
        return f"./{source}"
    link = f"link-{Path(source).stem}{suffix}"
    (os.symlink if how == "symlink" else os.link)(source, link)
    return link


@pytest.mark.parametrize(("writer", "source", "how"), list(_cases()))
def test_no_command_writes_over_an_input(world, writer, source, how):
    if writer in ("plot -o", "debug picture"):
        PICTURE("matplotlib")
    argv, _ = WRITERS[writer]
    suffix = ".png" if "picture" in writer or "plot" in writer else ""
    target = _target(source, how, suffix)
    before = {p.name: p.read_bytes() for p in world.iterdir() if p.is_file()}
    result = CliRunner().invoke(cli, argv(target))
    assert result.exit_code == 2, result.output
    after = {p.name: p.read_bytes() for p in world.iterdir() if p.is_file() and p.name in before}
    assert after == before, "an input changed"
    assert not [p.name for p in world.iterdir() if p.name.startswith(".")], "a temporary file was left"
    lines = [line for line in result.output.splitlines() if "also an input" in line]
    assert len(lines) == 1, result.output
    assert re.search(r"cannot write \S+: it is also an input \(\S+\); write elsewhere", lines[0]), lines[0]
    if not writer.startswith("debug"):  # the debugger prints its session; a command prints one line
        assert result.stdout == "" and result.stderr == lines[0] + "\n"


@pytest.mark.parametrize(
    ("argv", "same"),
    [
        (["asm", "prog.asq", "-o", "x", "--map", "x"], "x"),
        (["asm", "prog.asq", "-o", "x", "--map", "./x"], "x"),
        (["asm", "prog.asq", "-o", "old", "--map", "old-link"], "old"),
        (["asm", "prog.asq", "-o", "old", "--map", "old-hard"], "old"),
        (["trace", "prog.asq", "-o", "x", "--layers", "x"], "x"),
        (["trace", "prog.asq", "-o", "old-link", "--layers", "old"], "old"),
        (["trace", "prog.asq", "-o", "old", "--layers", "old-hard"], "old"),
        (["trace", "prog.asq", "-o", "-", "--layers", "/dev/stdout"], None),
    ],
)
def test_two_outputs_of_one_command_are_never_one_file(world, argv, same):
    """Refused before anything is written: the one file is as it was (or still absent)."""
    (world / "old").write_bytes(b"old")
    os.symlink("old", world / "old-link")
    os.link(world / "old", world / "old-hard")
    result = CliRunner().invoke(cli, argv)
    pattern = r"mlpvm: error: cannot write \S+: it is also another output \(\S+\); write elsewhere\n"
    assert result.exit_code == 2 and re.fullmatch(pattern, result.stderr), result.output
    assert not (world / "x").exists() and (world / "old").read_bytes() == b"old"
    assert result.stdout == ""
    if same is not None:
        assert not (world / "t.jsonl").exists()


def test_both_outputs_are_written_when_they_differ(world):
    result = CliRunner().invoke(cli, ["trace", "prog.asq", "-o", "t.jsonl", "--layers", "l.npz"])
    assert result.exit_code == 0 and (world / "t.jsonl").stat().st_size and (world / "l.npz").stat().st_size


# -- a full disk, Ctrl-C: the old file stays, no temporary file is left ----------------------------------------


@pytest.mark.parametrize("failure", ["write", "fsync"])
def test_a_full_disk_leaves_the_old_file(tmp_path, monkeypatch, failure):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(f):
        f.write(b"new, half")
        if failure == "write":
            full()

    if failure == "fsync":
        monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(WriteError, match=r"^cannot write .*out\.bin \(No space left on device\)$"):
        atomic_write(target, write)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize(
    "argv",
    [
        ["asm", "prog.asq", "-o", "out"],
        ["trace", "prog.asq", "-o", "out"],
        ["trace", "prog.asq", "-o", "t.jsonl", "--layers", "out"],
        ["export", "--weights", "w.npz", "--onnx", "out"],
        ["plot", "prog.asq", "-o", "out.png"],
        ["debug", "prog.asq", "--batch", "--ex", "step", "--ex", "picture out.png"],
        ["debug", "prog.asq", "--batch", "--ex", "step", "--ex", "dump out"],
    ],
    ids=lambda argv: " ".join(argv[:1] + argv[-2:]),
)
def test_commands_on_a_full_disk_keep_the_old_file(world, monkeypatch, argv):
    """Every write is flushed to disk before its rename: a disk that fills at the last moment fails the write in
    one line (exit 2), and the file named keeps its old bytes."""
    if "png" in argv[-1]:
        PICTURE("matplotlib")
    name = "out.png" if "png" in argv[-1] else "out"
    (world / name).write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert f"cannot write {name} (No space left on device)" in result.output
    assert (world / name).read_bytes() == b"old"
    assert not [p.name for p in world.iterdir() if p.name.startswith(".")]


def test_ctrl_c_during_a_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"new, half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


# -- streams: written where they stand ------------------------------------------------------------------------


def _mlpvm(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlpvm", *args], cwd=cwd, timeout=300, **kw)


@pytest.mark.parametrize("name", ["/dev/stdout", "-", "/dev/fd/1", "/proc/self/fd/1", "stdout-link"])
@pytest.mark.parametrize("command", ["asm", "trace"])
def test_stdout_appended_to_a_log_is_appended(world, name, command):
    """``-o /dev/stdout >> log``: the log keeps what it had, the output follows it; the "wrote" line goes to
    stderr."""
    os.symlink("/dev/stdout", world / "stdout-link")
    log = world / "log"
    log.write_bytes(b"kept\n")
    argv = ["asm", "prog.asq", "-o", name] if command == "asm" else ["trace", "prog.asq", "-o", name]
    with open(log, "ab") as out:
        run = _mlpvm(argv, world, stdout=out, stderr=subprocess.PIPE)
    assert run.returncode == 0, run.stderr
    text = log.read_bytes()
    assert text.startswith(b"kept\n") and len(text) > len(b"kept\n")
    if command == "asm":
        assert text[len(b"kept\n") :] == _mlpvm(["asm", "prog.asq"], world, capture_output=True).stdout
    else:
        assert all(line.startswith(b'{"pass": ') for line in text.splitlines()[1:])
    assert b"wrote" in run.stderr


def test_binary_outputs_to_a_pipe(world):
    run = _mlpvm(["build", "--bits", "8", "--cells", "32", "-o", "-"], world, capture_output=True)
    assert run.returncode == 0 and run.stdout[:2] == b"PK" and run.stderr.startswith(b"wrote -: ")
    assert not list(world.glob("-*"))


def test_a_device_is_written_as_a_stream(world):
    result = CliRunner().invoke(cli, ["asm", "prog.asq", "-o", "/dev/null", "--map", "/dev/null"])
    assert result.exit_code == 0, result.output  # /dev/null twice discards both: nothing is lost
    result = CliRunner().invoke(cli, ["asm", "prog.asq", "-o", "/dev/full"])
    assert (result.exit_code, result.stderr) == (2, "mlpvm: error: cannot write /dev/full (No space left on device)\n")
    os.mkfifo(world / "fifo")
    result = CliRunner().invoke(cli, ["asm", "prog.asq", "-o", "fifo"])  # no reader: refused, never a hang
    assert (result.exit_code, result.stderr) == (2, "mlpvm: error: cannot write fifo (a FIFO with no reader)\n")


def test_stdout_that_is_an_input_is_refused(world):
    """``mlpvm asm prog.asq -o /dev/stdout >> prog.asq``: stdout is the program itself."""
    before = (world / "prog.asq").read_bytes()
    with open(world / "prog.asq", "ab") as out:
        run = _mlpvm(["asm", "prog.asq", "-o", "/dev/stdout"], world, stdout=out, stderr=subprocess.PIPE)
    assert run.returncode == 2 and b"also an input" in run.stderr
    assert (world / "prog.asq").read_bytes() == before


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, bytes, bytes]:
    """Runs mlpvm with stdout a terminal (a pty): its exit code, what the terminal got, stderr."""
    import pty
    import select

    master, slave = pty.openpty()
    run = _mlpvm(args, cwd, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    shown = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the terminal's other end is closed: all was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return run.returncode, shown, run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--bits", "8", "--cells", "32", "-o", "-"],
        ["export", "--weights", "w.npz", "--onnx", "/dev/stdout"],
        ["trace", "prog.asq", "-o", "t.jsonl", "--layers", "-"],
        ["plot", "prog.asq", "-o", "-"],
    ],
    ids=lambda args: args[0],
)
def test_binary_data_is_never_shown_on_a_terminal(world, args):
    """Its bytes would drive the terminal: refused in one line before any is shown, and nothing written."""
    if args[0] == "plot":
        PICTURE("matplotlib")
    code, shown, err = _on_a_terminal(args, world)
    assert code == 2 and shown == b"", shown[:100]
    assert (
        err.decode().endswith(": binary data to a terminal; redirect it to a file or a pipe\n")
        and err.count(b"\n") == 1
    )
    assert not (world / "t.jsonl").exists()


def test_text_is_shown_on_a_terminal(world):
    code, shown, err = _on_a_terminal(["asm", "prog.asq", "-o", "-"], world)
    expected = _mlpvm(["asm", "prog.asq"], world, capture_output=True).stdout
    assert code == 0 and shown.replace(b"\r\n", b"\n") == expected and err.startswith(b"wrote -: ")
