"""The debugger as a gdb user expects it (issue 11), driven in batch mode: it never dies, commands mean what
gdb's mean, source-level stepping over the standard library's CALL/RET, 80-column views, completion, batch
exit status, and a weight file with a planted fault."""

from __future__ import annotations

import io
import re

import pytest
from click.testing import CliRunner
from rich.console import Console

from mlpvm.cli import cli
from mlpvm.debug.commands import Debugger
from mlpvm.debug.repl import SafeHistory, candidates
from mlpvm.debug.session import Session
from mlpvm.machines import reference
from mlpvm.network import LAYER_NAMES
from mlpvm.program.image import config_for
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from tests.conftest import ROOT
from tests.helpers import TWICE

HELLO = str(ROOT / "programs" / "hello.asq")
GCD = str(ROOT / "programs" / "gcd.asq")


def batch(*commands: str, program: str = HELLO, extra: tuple[str, ...] = ()) -> tuple[int, str]:
    args = ["debug", program, *extra, "--batch"]
    for c in commands:
        args += ["--ex", c]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def debugger(program: str, width: int = 80) -> tuple[Debugger, io.StringIO]:
    image = load_image(program)
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, markup=False, color_system=None)
    return Debugger(Session(image, config_for(image, None, None, None)), console), out


def twice(tmp_path) -> str:
    path = tmp_path / "twice.asq"
    path.write_text(TWICE)
    return str(path)


# -- 1. never dies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["reverse-step 0", "dump --passes", "p 1<<(1<<40)", "p " + "1+" * 400 + "1", "p " + "(" * 300 + "1" + ")" * 300,
     "p " + "9" * 1500 + " * " + "9" * 400, "x/4d -1", "x/4d 10000", "x/0d 0", "break nowhere", "p mem[99999]",
     "watch 3", "condition 9 pc", "ignore 1 x", "advance", "set mem[-1] = 3", "info nonsense", "layer 99",
     "frobnicate", "p 1/0", "p 'ab'"],
)  # fmt: skip
def test_a_failing_command_is_one_line_and_the_session_goes_on(line):
    code, out = batch("stepi 5", line, "reverse-stepi 2", "p $pc")
    said = out.split(f"(mlpvm) {line}")[1].split("(mlpvm) reverse-stepi 2")[0].strip()
    assert said and "\n" not in said and "Traceback" not in out
    assert re.search(
        r"\$\d+ = 9\n", out
    )  # the history survived: 5 passes, back 2 (hello's first instructions are 3 cells)
    assert code == 0  # gdb's rule: the status of the last command (p $pc), not of any before it


def test_batch_mode_succeeds_with_zero_and_a_script_stops_at_its_first_failing_line(tmp_path):
    assert batch("stepi", "p $pc")[0] == 0
    script = tmp_path / "cmds"
    script.write_text("stepi\nprint nosuchname\nprint 4242 + 1\n")
    result = CliRunner().invoke(cli, ["debug", HELLO, "-x", str(script), "--batch"])
    assert result.exit_code == 2 and 'No symbol "nosuchname"' in result.output and "4243" not in result.output


def test_a_script_that_is_not_utf8_is_bad_input_named_by_line(tmp_path):
    script = tmp_path / "cmds"
    script.write_bytes(b"stepi\nprint \xff\n")
    result = CliRunner().invoke(cli, ["debug", HELLO, "-x", str(script), "--batch"])
    assert result.exit_code == 2 and f"{script}:2: not UTF-8" in result.output and "Traceback" not in result.output


def test_an_unwritable_history_file_only_warns(tmp_path, capsys):
    class Broken(SafeHistory):
        pass

    class Failing:
        def load_history_strings(self):
            raise PermissionError(13, "Permission denied", "/h")

        def store_string(self, string):
            raise PermissionError(13, "Permission denied", "/h")

    history = Broken(Failing())
    assert list(history.load_history_strings()) == []
    history.store_string("break loop")
    history.store_string("continue")
    assert capsys.readouterr().out.count("not saved") == 1


# -- 2. gdb's meanings -----------------------------------------------------------------------------


def test_labels_are_variables_and_ampersand_gives_the_address():
    image = load_image(HELLO)
    ptr, msg = image.source_map.labels["ptr"], image.source_map.labels["msg"]
    code, out = batch("p ptr", "p &ptr", "p &msg", "p/x &msg", "p/c msg", "output ptr", "p $pc", "x/2d &msg")
    assert code == 0
    assert f"$1 = {image.words[ptr]}\n" in out and f"$2 = {ptr}\n" in out and f"$3 = {msg}\n" in out
    assert f"= {hex(msg)}\n" in out and "= 72 'H'" in out
    assert f"(mlpvm) output ptr\n{image.words[ptr]}(mlpvm)" in out  # output: the value, no newline
    assert f"{msg} <msg>: 72 101" in out  # x: labelled rows, the address expression's cells


def test_watch_an_expression_a_label_and_a_location():
    code, out = batch("watch ptr", "continue", "delete", "watch mem[&ptr]", "continue", "delete", "watch ptr - &msg",
                      "continue", "delete", "watch -l &ptr", "continue")  # fmt: skip
    assert code == 0
    assert out.count("Hardware watchpoint") == 4
    assert "Watchpoint 1: mem[0] <loop> 25 -> 26" in out and "Watchpoint 2: mem[0] <loop> 26 -> 27" in out
    assert "Watchpoint 3: ptr - &msg 2 -> 3" in out and "Watchpoint 4: mem[0] <loop> 28 -> 29" in out


def test_x_checks_its_range_and_formats():
    code, out = batch("x/4d -1", "x/3x 0", "x/2t &msg", "x/4d 254", "x/2c &msg")
    assert "Cannot access memory at address -1" in out and "(memory ends at 255: showing 2 cells)" in out
    assert "0 <loop>: 0x19 0xffff 0x3" in out and "1001000 1100101" in out and "'H' 'e'" in out
    assert code == 0  # gdb's rule: the last command's status (x/2c succeeded)


def test_locations_entry_breakpoints_start_and_run():
    image = load_image(HELLO)
    line = image.source_map.cells[18].line  # the HALT at done
    code, out = batch("break 0", "break *0", f"break {line}", "run", "start", "starti", "tbreak", "stepi",
                      "info breakpoints")  # fmt: skip
    assert "No line 0" in out  # a line without code
    assert "Breakpoint 1 at 0 <loop>" in out and f"Breakpoint 2 at 18 <done>: {HELLO}:{line}" in out
    assert "Breakpoint 1, pc=0 <loop>" in out.split("(mlpvm) run")[1]  # run stops at an entry breakpoint
    assert "At the entry: pc=0" in out.split("(mlpvm) start")[1] and "Temporary breakpoint" in out
    assert code == 0  # break 0 failed, but the last command did not (gdb's rule)


def test_condition_checks_names_and_an_error_while_testing_stops_and_says_so():
    code, out = batch("break loop", "condition 1 foo > 3", "condition 1 mem[ptr + 300] > 0", "continue", "p $pc")
    assert 'No symbol "foo"' in out
    assert "Error in testing condition for breakpoint 1: address" in out and "stopped at pc=0" in out
    assert code == 0  # gdb's rule: the last command (p $pc) succeeded


def test_continue_n_ignore_on_watchpoints_and_commands():
    code, out = batch("break loop", "continue", "continue 3", "p ptr - &msg", "delete", "watch ptr", "ignore 2 2",
                      "commands 2", "p 4242 + 1", "end", "continue")  # fmt: skip
    assert "Will ignore next 2 crossings of breakpoint 1.  Continuing." in out
    assert re.search(r"\$\d+ = 4\n", out)  # stopped at the 1st hit, then ignored 2 more: the 4th
    assert "Will ignore next 2 crossings of watchpoint 2." in out
    assert "Watchpoint 2: mem[0] <loop> 31 -> 32" in out and "= 4243" in out  # 29->30, 30->31 ignored
    assert code == 0


def test_info_symbol_line_frame_set_var_and_max_steps():
    image = load_image(HELLO)
    code, out = batch("info symbol 20", "info line 17", "info frame", "set var ptr = 70000", "p ptr",
                      "set mem[&ptr] = 28", "set max-steps 5", "continue", "continue", "p steps")  # fmt: skip
    assert "done + 2" in out
    assert f'Line 17 of "{HELLO}" starts at address 18 <done>' in out and "outermost frame" in out
    assert "warning: 70000 does not fit in a 16-bit word; stored as 4464" in out and re.search(r"\$\d+ = 4464\n", out)
    assert "Step limit reached" in out and re.search(r"\$\d+ = 10\n", out)  # 5 more steps each time
    assert image.source_map.cells[18].line == 17 and code == 0


def test_the_panel_names_pc_plus_3_and_shows_where_execution_goes():
    code, out = batch("until done", "stepi", "reverse-stepi", "regs")
    assert code == 0
    # the instruction before done, at 12, branches to done: the fallthrough is the adder's PC + 3, next PC the jump
    regs = out.split("(mlpvm) regs")[1]
    assert "fallthrough\xa015" in regs and "next\xa0PC\xa018" in regs


# -- 3. source-level stepping ----------------------------------------------------------------------


def test_next_step_finish_and_bt_over_call_and_ret(tmp_path):
    path = twice(tmp_path)
    smap = load_image(path).source_map
    first = {o.line: a for a, o in sorted(smap.cells.items(), reverse=True) if a in smap.code}  # a line's first
    entry = smap.labels["twice"]
    code, out = batch("next", "p $pc", "next", "p $pc", "p n", "step", "p $pc", "bt", "info frame", "finish",
                      "p $pc", "p n", "next", "p $pc", "p n", "finish", program=path)  # fmt: skip
    pcs = [int(v) for v in re.findall(r"p \$pc\n\$\d+ = (-?\d+)", out)]
    # finish returns to the address after the CALL: the first of line 4
    assert pcs == [first[2], first[3], entry, first[4], first[5]]
    assert re.findall(r"p n\n\$\d+ = (\d+)", out) == ["32", "64", "64"]
    assert re.search(rf"#0  twice at pc={entry} <twice> \(.*:7\)\n#1  main at pc=\d+ \(.*:3\)", out)
    assert f"returns to pc={first[4]}" in out and "Run till exit from #0 twice" in out
    assert '"finish" not meaningful in the outermost frame.' in out and code == 2


def test_step_by_line_runs_a_macro_line_whole_and_stepi_one_instruction(tmp_path):
    path = twice(tmp_path)
    d, _ = debugger(path)
    s = d.session
    ref = reference.load(s.config, load_image(path).words)
    d.execute("next")  # to line 2: CALL twice
    line = s.line()
    d.execute("stepi")
    assert s.line() == line and s.passes == 2  # CALL is three instructions on one line
    d.execute("step")  # the rest of the CALL, into twice
    for _ in range(s.passes):
        ref.step(Input())
    assert s.pc == ref.pc == s.source_map.labels["twice"]
    d.execute("nexti 3")
    assert s.passes == 7


def test_step_into_finish_out_of_and_next_over_gcd():
    d, out = debugger(GCD)
    s = d.session
    d.execute("break 21")  # CALL gcd
    d.execute("run")
    d.execute("step")
    assert s.pc == s.source_map.labels["gcd"] and len(s.frames) == 1
    d.execute("bt")
    assert re.search(r"#0  gcd at pc=\d+ <gcd> .*:30\)\n#1  main at pc=\d+ .*:21\)", out.getvalue())
    d.execute("finish")
    assert s.line()[1] == 22 and not s.frames and bytes(s.output) == b"gcd(1071, 462) = "
    d.execute("continue")
    d.execute("next")
    assert s.line()[1] == 22 and not s.frames and bytes(s.output).endswith(b"gcd(48, 18) = ")
    d.execute("next")
    assert bytes(s.output).endswith(b"gcd(48, 18) = 6")  # PRINT a: the library's own CALLs stepped over


# -- 4. 80 columns, help -----------------------------------------------------------------------------


def test_every_view_fits_80_columns_and_help_a_40_line_terminal():
    d, out = debugger(GCD, width=80)
    for line in ["break gcd", "run", "next", "next", "x/12d &pairs", "x/8x &pairs", "x/3i $pc", "disassemble",
                 "regs", "info breakpoints", "bt", "history 4", "help running", "help"]:  # fmt: skip
        d.execute(line)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert re.search(r"=> +366 +3 425 372 +SUBLEQ Z, t", text)  # addresses and words intact
    help_page = text.split("List of classes of commands:")[1]
    assert len(help_page.splitlines()) <= 40 and "breakpoints" in help_page and "stack" in help_page


# -- 5. completion -----------------------------------------------------------------------------------


def test_completion_candidates_by_argument():
    d, _ = debugger(HELLO)
    assert "break" in candidates(d, "br") and "done" in candidates(d, "break ")
    assert list(LAYER_NAMES) == candidates(d, "layer re")
    assert "symbol" in candidates(d, "info ") and "max-steps" in candidates(d, "set ")
    assert "breakpoints" in candidates(d, "help ") and "ptr" in candidates(d, "p ptr + ")


# -- 9. weight files with a planted fault ------------------------------------------------------------


def test_debug_a_weight_file_with_a_planted_fault(tmp_path):
    bad = tmp_path / "bad.npz"
    result = CliRunner().invoke(cli, ["build", "-o", str(bad), "--plant", "write.1:0:drop"])
    assert result.exit_code == 0 and "planted fault: write.1 unit mem[0][0]: dropped" in result.output
    code, out = batch("continue", extra=("--weights", str(bad)))
    assert "Divergence from the reference at step 1: mem[0] is 24 on the network, 25 in the reference" in out
    assert CliRunner().invoke(cli, ["build", "-o", str(bad), "--plant", "read.9:0:drop"]).exit_code == 2
    code, out = batch("stepi", "info program", extra=("--engine", "sparse"))
    assert code == 0 and "engine sparse" in out


# -- 8. deep history ---------------------------------------------------------------------------------


@pytest.fixture
def shallow(monkeypatch):
    """A history of 16 recent snapshots and room for 6 checkpoints: going back means replaying, and the
    checkpoints are thinned (every 4 passes, then 8, 16, ...) as the run goes on."""
    from mlpvm.debug import session as sessions

    monkeypatch.setattr(sessions, "HISTORY_BYTES", 0)
    monkeypatch.setattr(sessions, "FIRST_EVERY", 4)
    monkeypatch.setattr(sessions, "CHECKPOINT_BYTES", 6 * 531)  # hello's state packs into 532 bytes


def _fresh(passes: int) -> Session:
    image = load_image(HELLO)
    s = Session(image, config_for(image, None, None, None))
    if passes:
        s.step(passes)
    return s


def test_reverse_step_far_back_replays_to_the_exact_state(shallow):
    d, _ = debugger(HELLO)
    s = d.session
    s.cont()
    assert s.halted and s.passes == 85 and len(s.history) == 16 and s._every > 4
    at = 85
    for back in (1, 16, 17, 40, 3, 30):  # the last goes past the start: to pass 0
        s.reverse_step(back)
        at = max(0, at - back)
        want = _fresh(at)  # the pass asked for, not the one the session says it reached
        assert s.passes == at
        assert (s.x == want.x).all() and bytes(s.output) == bytes(want.output) and s.steps == want.steps
        assert s.last == want.last and s.ref.mem == want.ref.mem and s.ref.pc == want.ref.pc
    s.cont()
    assert bytes(s.output) == b"Hello, world!\n" and s.halted


def test_reverse_continue_honours_watchpoints_and_breakpoints(shallow):
    d, out = debugger(HELLO)
    s = d.session
    s.cont()
    d.execute("watch ptr")
    d.execute("reverse-continue")  # back to just before the last write of ptr: 38 -> 39
    assert "Watchpoint 1: mem[0] <loop> 38 -> 39" in out.getvalue() and s.mem(0) == 38
    assert (s.x == _fresh(s.passes).x).all()
    d.execute("delete")
    d.execute("break done")  # never reached before the halt: back to the start of the history
    d.execute("break loop if ptr == &msg + 2")
    d.execute("reverse-continue")
    assert "Breakpoint 3, pc=0 <loop>" in out.getvalue() and s.mem(0) == 27 and bytes(s.output) == b"He"
