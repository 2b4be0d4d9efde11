"""What a new user trips on (issue 28): ending input on a terminal, exit codes, reproductions, names, help."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_run_input import _pty_run, _read_until

from mlpvm.cli import cli
from mlpvm.host.terminal import EndKey


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.mark.parametrize(
    ("typed", "seen", "ended"),
    [
        (b"\x04", b"", True),  # at the start of the input
        (b"ab\n\x04zz", b"ab\n", True),  # at the start of a line; what follows is dropped
        (b"ab\x04", b"ab", False),  # mid-line: flushes the line, which was sent key by key already
        (b"ab\x04\x04", b"ab", True),  # a second Ctrl-D in a row
        (b"ab\x04c\x04", b"abc", False),  # not in a row: each only flushes
    ],
)
def test_ctrl_d_has_the_meaning_of_canonical_mode(typed, seen, ended):
    key = EndKey()
    assert key.take(typed) == seen and key.ended == ended


def _keys_mode(fd: int) -> bytes:
    """Waits until the program has taken the terminal key by key (line editing off), what it showed meanwhile."""
    seen, end = b"", time.monotonic() + 60
    while termios.tcgetattr(fd)[3] & termios.ICANON and time.monotonic() < end:
        seen += _read_until(fd, b"never", timeout=0.2)
    return seen


def _typed(program: str, keys: list[bytes], wanted: bytes) -> tuple[int, bytes]:
    """Runs ``program`` on a pseudo-terminal, types ``keys`` one write at a time, and returns the exit code and
    all that the terminal showed."""
    proc, fd = _pty_run(["-q", "--engine", "sparse", program])
    try:
        seen = _keys_mode(fd)
        for key in keys:
            os.write(fd, key)
            seen += _read_until(fd, b"never", timeout=1.5)
        seen += _read_until(fd, wanted, timeout=120)
        code = proc.wait(timeout=60)
        return code, seen + _read_until(fd, b"never", timeout=0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(fd)


def test_a_line_and_ctrl_d_end_echo_on_a_terminal():
    code, seen = _typed("programs/echo.asq", [b"hello\n", b"\x04"], b"hello\r\n")
    assert code == 0, seen
    assert seen == b"hello\r\n", seen  # the program's copy, once; nothing after it, no traceback


def test_ctrl_d_at_line_start_and_twice_mid_line_end_wc_on_a_terminal():
    code, seen = _typed("programs/wc.asq", [b"one two\n", b"three\n", b"\x04"], b"2 3 14\r\n")
    assert code == 0 and seen.endswith(b"2 3 14\r\n"), seen
    code, seen = _typed("programs/wc.asq", [b"one two\n", b"three", b"\x04", b"\x04"], b"1 3 13\r\n")
    assert code == 0 and seen.endswith(b"1 3 13\r\n"), seen


READER = "programs/echo.asq"


def test_a_program_whose_input_is_done_exits_0_silently_everywhere(tmp_path):
    """python, bc and gforth exit 0 at the end of piped input: so does a program that read all of its input and
    asked again (eForth), in run (pipe, --input, a batch), trace and debug alike; -v still names the stop."""
    forever = tmp_path / "forever.asq"  # reads and echoes, ignoring the end of its input, like eForth
    forever.write_text("loop: (-1) c\n Z Z loop\n. c: 0 Z: 0\n")
    piped = invoke("run", str(forever), input="2 2\n")
    assert (piped.exit_code, piped.stdout, piped.stderr) == (0, "", "")
    told = invoke("run", "-v", "--input", "ab", str(forever))
    assert told.exit_code == 0 and told.stderr.startswith("mlpvm: input ended after ")
    both = invoke("run", "--input", "ab", str(forever), READER)
    assert both.exit_code == 0, both.stderr
    looping = tmp_path / "loop.dec"
    looping.write_text("0 0 0")
    worst = invoke("run", "--max-steps", "5", "--input", "ab", str(forever), str(looping))
    assert worst.exit_code == 3  # a step limit is worse than an input that is done
    traced = invoke("trace", "--input", "ab", str(forever), "-o", str(tmp_path / "t.jsonl"))
    assert traced.exit_code == 0 and "input ended" in traced.stderr


@pytest.mark.parametrize(
    ("commands", "status"),
    [
        (["nosuchcommand", "info registers", "quit"], 0),  # quit: 0, whatever came before (gdb)
        (["nosuchcommand", "quit 7"], 7),  # quit N: N
        (["print 1", "nosuchcommand"], 2),  # no quit: the status of the last command
        (["nosuchcommand", "print 1"], 0),
    ],
)
def test_the_debuggers_exit_status_is_gdbs(commands, status):
    args = ["debug", READER, "--batch"]
    for line in commands:
        args += ["--ex", line]
    assert invoke(*args).exit_code == status
    piped = invoke("debug", READER, input="\n".join(commands) + "\n")  # commands on a pipe, as typed
    assert piped.exit_code == status


def test_quit_refuses_a_status_a_process_cannot_have():
    result = invoke("debug", READER, "--ex", "quit 300", "--batch")
    assert result.exit_code == 2 and "quit N needs a status of 0..255, not 300" in result.stdout


def _planted(tmp_path) -> tuple[str, str]:
    """A small weight file that loses bit 0 of every byte written to cell 9, and a program that reads a byte
    into cell 9 and prints it: any odd input byte makes the network diverge from the reference."""
    from mlpvm.check.mutate import Mutant, plant
    from mlpvm.machines.config import Config
    from mlpvm.network import build
    from mlpvm.network.weights import compile_network, save

    weights = compile_network(build(Config("subleq", 8, 32)))
    k = [layer.name for layer in weights.layers].index("write.1")
    row = weights.layers[k].outputs["mem"].offset + 9 * 8
    bad = tmp_path / "bad.npz"
    save(plant(weights, Mutant(k, row, "mem[72]", "drop")), bad)
    program = tmp_path / "one.asq"
    program.write_text("(-1) c\nc (-1)\nZ Z (-1)\n. c: 0 Z: 0\n")
    return str(bad), str(program)


@pytest.mark.parametrize("extra", [[], ["--engine", "dense", "--max-steps", "50"]])
def test_verifys_reproduction_reproduces_the_divergence(tmp_path, extra):
    """The "check it alone" command of a divergence, run as printed, diverges the same way: it carries the
    weight file, the input byte for byte (a non-ASCII, a control and a quote byte), the engine and the limit."""
    bad, program = _planted(tmp_path)
    args = ["verify", "--weights", bad, program, "--input", r"\xff'\x03", *extra]
    first = invoke(*args, "--json")
    fail = json.loads(first.stdout)["failure"]
    assert first.exit_code == 1 and fail["field"] == "mem[9]" and fail["layer"] == "write.1", first.stdout
    text = invoke(*args)
    line = next(line for line in text.stdout.splitlines() if "check it alone:" in line)
    command = line.split("check it alone: ", 1)[1]
    assert command == fail["reproduce"] and "--weights" in command and ("--engine dense" in command) == bool(extra)
    words = shlex.split(command)
    assert words[:2] == ["mlpvm", "verify"]
    again = subprocess.run([sys.executable, "-m", "mlpvm", *words[1:], "--json"], capture_output=True, text=True)
    assert again.returncode == 1, again.stdout + again.stderr
    redo = json.loads(again.stdout)["failure"]
    assert {k: redo[k] for k in ("step", "field", "network", "reference", "layer")} == {
        k: fail[k] for k in ("step", "field", "network", "reference", "layer")
    }


# Without the fast extra: numba and llvmlite hidden (an entry of None in sys.modules makes their import fail and
# find_spec answer None), not uninstalled.
NO_FAST = "import sys; sys.modules['numba'] = sys.modules['llvmlite'] = None; from mlpvm.cli import main; main()"
EFORTH = "programs/external/howerj-subleq-vhdl/eforth-8k.dec"


def _no_fast(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", NO_FAST, *args], capture_output=True, text=True, env=env, **kw)


def test_bench_quick_without_the_fast_extra_stays_well_under_a_minute_and_says_what_it_left_out():
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = _no_fast("bench", "--quick", timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert done.returncode == 0, done.stderr
    assert cpu < 40, cpu  # processor time: the wall clock of a shared machine says more about the others
    out = done.stdout
    assert out.count("(pip install 'mlpvm[fast]')") == 2  # the unrolled and compiled cells, [fast] not eaten
    assert "leaves out eForth" in out.replace("\n", " ") and "Debugger history" not in out
    assert "neural = structured; numba not installed" in out
    assert "│ 2,048 │" not in out and "│ 1,024 │" in out  # smaller sizes
    assert " 0.00 " not in out  # the ratios to the reference keep their digits


def test_the_x_reference_column_keeps_significant_digits():
    from mlpvm.cli.bench import _times

    assert [_times(x) for x in (0.00188, 0.000498, 0.181, 1, 12.34, 1234.5)] == [
        "0.00188", "0.000498", "0.181", "1", "12.3", "1,234"
    ]  # fmt: skip


def test_a_large_program_on_numpy_alone_hints_at_the_fast_extra_once():
    slow = _no_fast("run", "--max-steps", "3", EFORTH, timeout=300)
    assert slow.returncode == 3
    hints = [line for line in slow.stderr.splitlines() if "mlpvm[fast]" in line]
    assert hints == ["mlpvm: hint: slow on numpy alone at this size; pip install 'mlpvm[fast]'"]
    assert len(hints[0]) <= 80
    quiet = _no_fast("run", "-q", "--max-steps", "3", EFORTH, timeout=300)
    assert "mlpvm[fast]" not in quiet.stderr
    small = _no_fast("run", "programs/hello.sq", timeout=300)
    assert small.returncode == 0 and small.stderr == ""  # a small program is fast enough on numpy


def test_one_name_one_meaning_fallthrough_and_next_pc(tmp_path):
    """At 12 hello.asq's instruction branches to done (18): its fallthrough (the adder's PC + 3) is 15, and the
    next PC, where execution goes, 18: in the panel, in expressions and in trace's fields alike."""
    args = ["debug", "programs/hello.asq", "--batch", "--ex", "until done", "--ex", "stepi", "--ex", "reverse-step"]
    out = invoke(*args, "--ex", "p $fallthrough", "--ex", "p $next_pc", "--ex", "p $pc", "--ex", "regs").stdout
    # p prints gdb's value history: $1, $2, $3 in the order asked
    assert "$1 = 15" in out and "$2 = 18" in out and "$3 = 18" in out
    regs = out.split("(mlpvm) regs")[1]
    assert "fallthrough\xa015" in regs and "next\xa0PC\xa018" in regs and "PC+3" not in regs
    path = tmp_path / "t.jsonl"
    assert invoke("trace", "programs/hello.asq", "-o", str(path)).exit_code == 0
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert all("next_pc" not in line for line in lines)  # the old name, with the other meaning, is gone
    branched = [line for line in lines if line["branch"] and line["pc"] == 18]
    assert branched and all(line["fallthrough"] == 15 for line in branched)
    paper = invoke("debug", "programs/paper/gcd.pasq", "--batch", "--ex", "stepi", "--ex", "p $fallthrough")
    assert "$1 = 1" in paper.stdout  # the paper machine's adder: PC + 1


SHOWS = "(e1) (-1)\n(e2) (-1)\n(bad) (-1)\n(esc) (-1)\nZ Z (-1)\n. e1: 195 e2: 169 bad: 255 esc: 27 Z: 0\n"


def test_program_output_is_the_bytes_it_is(tmp_path):
    """A program printing the UTF-8 bytes of "é", a byte that is not UTF-8 and ESC: stdout (a pipe) gets the
    exact bytes; --json gives UTF-8 text and the exact bytes in base64; the debugger shows "é" and escapes
    the rest, never latin-1 mojibake ("Ã©") nor a raw escape."""
    program = tmp_path / "e.asq"
    program.write_text(SHOWS)
    piped = subprocess.run([sys.executable, "-m", "mlpvm", "run", str(program)], capture_output=True)
    assert piped.stdout == b"\xc3\xa9\xff\x1b" and piped.returncode == 0
    doc = json.loads(invoke("run", "--json", str(program)).stdout)
    assert doc["output"] == "é\ufffd\x1b" and base64.b64decode(doc["output_base64"]) == b"\xc3\xa9\xff\x1b"
    assert doc["engine"]  # the other fields are still there
    shown = invoke("debug", str(program), "--batch", "--ex", "continue", "--ex", "output").stdout
    assert "é\\xff\\x1b" in shown and "Ã" not in shown and "\x1b" not in shown


@pytest.mark.parametrize("command", [["run"], ["debug", "--batch"], ["trace", "-o"], ["verify"], ["plot", "-o"]])
def test_slots_on_a_machine_without_slots_is_refused_in_one_line(command, tmp_path):
    if command[-1] == "-o":
        command = [*command, str(tmp_path / ("t.jsonl" if command[0] == "trace" else "p.png"))]
    result = invoke(*command, "--slots", "16", "programs/hello.sq")
    assert result.exit_code == 2 and result.output == "mlpvm: error: --slots applies to the paper machine only\n"
    assert not list(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        (70000, "--bits 18 would hold every word"),  # with its value: as a 17-bit word it would be negative
        (-70000, "--bits 18 would hold every word"),
        (4_000_000_000, "--bits 32 would hold every word"),  # as an unsigned word: the widest there is
        (5_000_000_000, "no word width mlpvm has (4..32 bits) holds every word"),
        (2**100, "no word width mlpvm has (4..32 bits) holds every word"),
    ],
)
def test_a_hint_never_suggests_a_value_the_option_refuses(tmp_path, word, hint):
    program = tmp_path / "w.dec"
    program.write_text(f"0 0 -1 {word}")
    result = invoke("run", str(program))
    assert result.exit_code == 2 and result.output.rstrip().endswith(hint), result.output
    if "--bits" in hint:  # and the value it suggests is taken
        assert invoke("run", hint.split()[1].join(["--bits=", ""]), str(program)).exit_code == 0


def test_export_takes_o_and_export_and_plot_run_show_progress_on_stderr_only(tmp_path):
    from test_progress import _run

    code, out, err = _run(["export", "-o", "net.onnx", "--bits", "8", "--cells", "16"], tmp_path)
    assert code == 0 and out.startswith(b"wrote net.onnx") and (tmp_path / "net.onnx").stat().st_size > 0
    assert b"building subleq, 8-bit words, 16 cells" in err and b"\x1b" not in out
    code, out, err = _run(["export", "-q", "--output", "n2.onnx", "--bits", "8", "--cells", "16"], tmp_path)
    assert code == 0 and b"building" not in err
    assert (tmp_path / "n2.onnx").read_bytes() == (tmp_path / "net.onnx").read_bytes()
    (tmp_path / "loop.dec").write_text("3 3 0 0")
    code, out, err = _run(["plot", "--run", "loop.dec", "-o", "r.svg", "--max-steps", "3000"], tmp_path)
    assert code == 0 and out == b"" and (tmp_path / "r.svg").exists()
    assert b"running: pass " in err and b" of at most 3,000" in err, err[-300:]
    code, out, err = _run(["plot", "-q", "--run", "loop.dec", "-o", "r.svg", "--max-steps", "300"], tmp_path)
    assert code == 0 and b"running: pass" not in err


def test_the_compile_notice_is_said_once_per_process_within_80_columns(monkeypatch):
    from mlpvm.cli import console

    monkeypatch.setattr(console, "_said", set())
    said: list[str] = []
    say = console._once(said.append, "compile")
    for width in ("one machine", "groups of 8 machines"):  # a second configuration: silent
        say(f"compiling the network's code for {width} (LLVM); once per configuration")
    assert len(said) == 1 and all(len("mlpvm: " + line) <= 80 for line in said[0].splitlines())


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("x/4q 0", 'Undefined output format "q".'),  # gdb's words: q is no format or unit letter of gdb's
        ("x/4g 0", "0 <loop>: 25 -1 3 21"),  # g, gdb's giant word: one cell here, as w is
        ("x/2xg 0", "0 <loop>: 0x19 0xffff"),
        ("x/2gx 0", "0 <loop>: 0x19 0xffff"),  # letters in any order, as gdb takes them
        ("x/4z 0", 'Format "z" is gdb\'s, not available here (F one of d u x o t c s i).'),
    ],
)
def test_x_reads_every_letter_after_the_slash_as_gdb_does(command, said):
    result = invoke("debug", "programs/hello.asq", "--batch", "--ex", command)
    assert result.stdout.rstrip().splitlines()[-1] == said
    assert result.exit_code == (0 if said.startswith("0 <loop>") else 2)


README = Path(__file__).parent.parent / "docs" / "verification.md"  # the mutation table


def _readme_mutation_row(layer: str) -> dict[str, list[str]]:
    """The README's mutation-table row of ``layer``: per machine, mutants, caught by, guard, located."""
    line = next(row for row in README.read_text().splitlines() if row.startswith(f"| {layer} |"))
    cells = [c.strip() for c in line.strip("|").split("|")][1:]
    return {"subleq": cells[:4], "paper": cells[4:]}


@pytest.mark.parametrize(("machine", "layer"), [("subleq", "write.0"), ("paper", "subtract.0")])
def test_the_readmes_mutation_table_is_the_commands_output(machine, layer):
    """A row of the README's table, recomputed as `mlpvm verify --mutants` computes it (seed 0), for one
    layer of each configuration (the whole table takes minutes): the numbers in the README are real."""
    from mlpvm.check import mutate
    from mlpvm.network import build
    from mlpvm.network.weights import compile_network

    config = next(c for c in mutate.CONFIGS if c.machine == machine)
    weights = compile_network(build(config))
    battery = mutate.battery(weights, 0)
    index = [w.name for w in weights.layers].index(layer)
    mutants = [m for m in mutate.choose(weights, 0) if m.layer == index]
    row = next(r for r in mutate.summary(weights, list(mutate.run(battery, mutants)), battery.checks)
               if r["layer"] == layer)  # fmt: skip
    caught = ", ".join(f"{k} {v:,}" for k, v in row["caught_by"].items() if v)
    assert _readme_mutation_row(layer)[machine] == [str(row["mutants"]), caught, str(row["guard"]), str(row["located"])]


def test_verifys_summary_wraps_between_words_at_80_columns():
    """On an 80-column terminal the summary is wrapped by mlpvm between words, not by the terminal mid-word:
    the words on the screen are the words written."""
    from test_run_input import Screen

    proc, fd = _pty_run(["-q", "--random", "3", "--max-steps", "5"], command="verify")
    try:
        seen = _read_until(fd, b"never", timeout=3)
        while proc.poll() is None or seen.endswith(b"\n") is False:
            more = _read_until(fd, b"never", timeout=1)
            if not more and proc.poll() is not None:
                break
            seen += more
        assert proc.wait(timeout=60) == 0, seen
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(fd)
    text = re.sub(rb"\x1b\[[0-9;]*m", b"", seen).decode()
    lines = [line for line in Screen().feed(seen).lines() if line.strip()]
    assert any(line.startswith("OK: 3 programs") for line in lines), lines
    assert " ".join(lines).split() == text.split()  # no word cut in two by the terminal's own wrapping
    assert len(text.splitlines()) > 3  # the long lines were wrapped (by mlpvm)


@pytest.mark.parametrize(("leave", "status"), [(b"quit\r", 0), (b"quit 3\r", 3), (b"\x04", 0)])
def test_an_interactive_session_left_after_a_mistyped_command_exits_as_gdb(tmp_path, leave, status):
    from test_debug_repl import PROMPT, Terminal

    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "MLPVM_HISTORY": str(tmp_path / "h")}
    term = Terminal(["debug", "programs/hello.sq"], env)
    term.read_until(PROMPT)
    assert b"Undefined command" in term.command("frobnicate")
    term.read_until(PROMPT)
    os.write(term.fd, leave)
    assert term.wait() == status
