"""The debugger in batch mode (-x FILE, --ex, --batch) and ``mlpvm trace``, checked against the reference."""

from __future__ import annotations

import json
import re
import tracemalloc

import numpy as np
from click.testing import CliRunner

from mlpvm.cli import cli
from mlpvm.debug.trace import trace
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from tests.conftest import EXTERNAL, ROOT, words_of

HELLO = str(ROOT / "programs" / "hello.sq")


def debug(*args: str) -> str:
    result = CliRunner().invoke(cli, ["debug", *args, "--batch"])
    assert result.exit_code == 0, result.output
    return result.output


def test_batch_script_breakpoints_conditions_and_watchpoints(tmp_path):
    script = tmp_path / "cmds"
    script.write_text("break *12 if mem[0] == 27\ncontinue\nprint mem[0]\nwatch mem[0]\ncontinue\ninfo breakpoints\n")
    out = debug(HELLO, "-x", str(script))
    assert "Breakpoint 1, pc=12" in out and "$1 = 27" in out
    assert "Watchpoint 2: mem[0] 27 -> 28" in out
    assert "breakpoint" in out and "watch" in out  # the info table
    assert "│ He" in out  # program output, apart from debugger messages


def test_reverse_steps_restore_the_state_exactly():
    out = debug(HELLO, "--ex", "step 30", "--ex", "x/8d 0", "--ex", "output", "--ex", "step 25",
                "--ex", "reverse-step 25", "--ex", "x/8d 0", "--ex", "output")  # fmt: skip
    first, second = out.split("reverse-step 25")
    dump_before = first.split("x/8d 0")[1].splitlines()[1]
    dump_after = second.split("x/8d 0")[1].splitlines()[1]
    assert dump_before == dump_after
    assert first.split("(mlpvm) output")[1].splitlines()[1] == second.split("(mlpvm) output")[1].splitlines()[1]


def test_run_to_halt_and_layer_views():
    out = debug(HELLO, "--ex", "continue", "--ex", "layers", "--ex", "layer write.0", "--ex", "history 3")
    assert "Halted after 84 steps" in out
    assert "branch.3" in out and "write_new" in out and "computed" in out


def test_dump_reloads_with_numpy_and_matches_the_reference(tmp_path):
    path = tmp_path / "d.npz"
    debug(HELLO, "--ex", "step 10", "--ex", f"dump {path} --passes 4:6")
    ref = reference.load(Config(), words_of(ROOT / "programs" / "hello.sq"))
    micros = [ref.step(Input()) for _ in range(6)]
    with np.load(path, allow_pickle=False) as z:
        for n in (4, 5, 6):
            fields = json.loads(str(z[f"pass{n}.decoded"]))
            m = micros[n - 1]
            assert (fields["a"], fields["b"], fields["c"]) == (m.a, m.b, m.c)
            assert fields["pc"] == ref_pc_after(n)
            assert z[f"pass{n}.branch.3"].dtype == np.uint8


def ref_pc_after(n: int) -> int:
    ref = reference.load(Config(), words_of(ROOT / "programs" / "hello.sq"))
    for _ in range(n):
        ref.step(Input())
    return ref.pc


def test_trace_writes_one_line_per_pass_matching_the_reference(tmp_path):
    out, layers = tmp_path / "t.jsonl", tmp_path / "l.npz"
    path = str(EXTERNAL / "howerj-subleq-vhdl/hi.dec")
    result = CliRunner().invoke(cli, ["trace", path, "-o", str(out), "--layers", str(layers), "--passes", "2:3"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    ref = reference.load(Config(), words_of(EXTERNAL / "howerj-subleq-vhdl/hi.dec"))
    for line in lines[:3]:
        m = ref.step(Input())
        assert (line["a"], line["b"], line["c"], line["out"]) == (m.a, m.b, m.c, m.out)
        assert line["pc"] == ref.pc
    assert len(lines) == 4 and lines[-1]["step"] == 3  # three steps, then the pass that finds the halt
    with np.load(layers, allow_pickle=False) as z:
        assert {"pass2.fetch.0", "pass3.branch.3"} <= set(z.files) and "pass1.fetch.0" not in z.files


def test_trace_step_limit_keeps_a_complete_file(tmp_path):
    loop = tmp_path / "loop.dec"
    loop.write_text("3 4 0 0 0")
    out = tmp_path / "t.jsonl"
    result = CliRunner().invoke(cli, ["trace", str(loop), "-o", str(out), "--max-steps", "50"])
    assert result.exit_code == 3
    assert len(out.read_text().splitlines()) == 50
    assert not list(tmp_path.glob(".t.jsonl*"))  # no temporary left behind


HELLO_ASQ = str(ROOT / "programs" / "hello.asq")


def test_labels_from_the_source_map_in_breakpoints_conditions_and_disassembly():
    out = debug(HELLO_ASQ, "--ex", "break done", "--ex", "tbreak loop if ptr == &msg + 3", "--ex", "continue",
                "--ex", "disassemble", "--ex", "continue", "--ex", "info breakpoints")  # fmt: skip
    assert "Temporary breakpoint 2, pc=0 <loop>" in out  # the tbreak, when ptr points at the 4th character
    assert "│ Hel" in out
    assert re.search(r"=> +0 loop,ptr:", out) and "OUT" in out  # the current instruction, its labels and idiom
    assert "# OUT: print the character" in out  # and its source line
    assert "Breakpoint 1, pc=18 <done>" in out
    info = out.split("info breakpoints")[1]
    assert "18 (done)" in info and "tbreak" not in info  # the temporary breakpoint is gone


def test_watchpoint_on_a_code_cell_by_label():
    commands = ["watch ptr", "continue", "continue", "delete 1", "rwatch done", "continue"]
    out = debug(HELLO_ASQ, *(arg for c in commands for arg in ("--ex", c)))
    assert "Watchpoint 1: mem[0] <loop> 25 -> 26" in out and "Watchpoint 1: mem[0] <loop> 26 -> 27" in out
    assert "Watchpoint 2: mem[18] <done> read" in out  # the instruction at done, read when it is fetched


def test_paper_programs_show_the_slot_at_pc():
    out = debug(str(ROOT / "programs/paper/factorial.pasq"), "--ex", "stepi 3", "--ex", "continue", "--ex", "x/7d 0")
    assert re.search(r"=> +3 +0 0 4 CLR Z", out)  # slot 3 (a slot is one address)
    assert "Halted after 228 steps" in out and re.search(r"=> +21 +0 0 21 HALT", out)  # the fixed point it stopped at
    assert ": 0 1 -1 7 8 5040 720" in out  # 7! and 6!


def test_trace_layers_holds_one_pass_in_memory(tmp_path):
    """Each pass's activations go to the file as they come: tracing 80 passes' layers takes no more memory
    than tracing 8 (it took ten times as much when the run held them all), and the file has all of them."""
    image = load_image(str(ROOT / "programs" / "hello.sq"))
    peaks = []
    for last in (8, 80):
        tracemalloc.start()
        trace(image, Config(), tmp_path / "t.jsonl", layers=tmp_path / "l.npz", passes=range(1, last + 1))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        with np.load(tmp_path / "l.npz", allow_pickle=False) as z:
            assert {f"pass{n}.branch.3" for n in range(1, last + 1)} <= set(z.files)
    assert peaks[1] < 1.5 * peaks[0], peaks
