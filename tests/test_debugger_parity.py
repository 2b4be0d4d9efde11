"""The debugger against gdb, issue 27: line numbers in the current source file, 80-column views, Ctrl-C in
reverse runs, one-line errors, what a blank line repeats, the missing staples."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tests.test_debugger_gdb import batch, debugger

GCD = str(ROOT / "programs" / "gcd.asq")
PRINTDEC = (ROOT / "programs" / "lib" / "printdec.asq").read_text().splitlines()
GCD_LINES = (ROOT / "programs" / "gcd.asq").read_text().splitlines()


def said(out: str, command: str) -> str:
    """What one command printed in a batch transcript."""
    return out.split(f"(mlpvm) {command}\n", 1)[1].split("(mlpvm) ", 1)[0]


# -- 1. line numbers -------------------------------------------------------------------------------


def test_a_line_number_means_a_line_of_the_main_program_and_file_line_another_file():
    code, out = batch("b 22", "b 24", "b printdec.asq:22", "b lib/printdec.asq:23", program=GCD)
    assert code == 0
    assert "programs/gcd.asq:22" in said(out, "b 22")
    assert "programs/gcd.asq:24" in said(out, "b 24")
    assert "printdec.asq:22" in said(out, "b printdec.asq:22")
    assert "printdec.asq:23" in said(out, "b lib/printdec.asq:23")


def test_a_line_without_code_moves_to_the_next_line_with_code_and_past_the_end_is_an_error():
    code, out = batch("b 28", "b 9999", "b nosuch.asq:3", program=GCD)
    assert "programs/gcd.asq:29" in said(out, "b 28")  # 28 is blank: the PROC on 29
    assert "out of range" in said(out, "b 9999")
    assert "No source file named nosuch.asq" in said(out, "b nosuch.asq:3")
    assert code == 2


def test_the_breakpoint_on_a_line_stops_the_program_there():
    d, _ = debugger(GCD)
    d.execute("b 22")
    d.execute("run")
    file, line = d.session.line()
    assert file.endswith("programs/gcd.asq") and line == 22


def listed(text: str) -> list[tuple[int, str]]:
    rows = [re.match(r"(\d+) +(.*)", line) for line in text.splitlines()]
    return [(int(m.group(1)), m.group(2).rstrip()) for m in rows if m]


def test_list_takes_lines_continues_goes_back_and_takes_files_functions_and_addresses():
    code, out = batch("list 21", "list", "list -", "list printdec.asq:22", "list 5,7", "list gcd", "list *9",
                      program=GCD)  # fmt: skip
    assert code == 0
    assert [n for n, _ in listed(said(out, "list 21"))] == list(range(16, 26))
    assert listed(said(out, "list 21"))[5] == (21, GCD_LINES[20].strip())
    assert [n for n, _ in listed(said(out, "list"))] == list(range(26, 36))
    assert [n for n, _ in listed(said(out, "list -"))] == list(range(16, 26))
    rows = listed(said(out, "list printdec.asq:22"))
    assert [n for n, _ in rows] == list(range(17, 27)) and rows[5][1] == PRINTDEC[21].strip()
    # the current file is now printdec's: 5,7 are its lines
    assert listed(said(out, "list 5,7")) == [(n, PRINTDEC[n - 1].strip()) for n in (5, 6, 7)]
    assert [n for n, _ in listed(said(out, "list gcd"))] == list(range(25, 35))  # gcd's entry is line 30
    assert "is in" in said(out, "list *9") and (22, PRINTDEC[21].strip()) in listed(said(out, "list *9"))


def test_a_stop_makes_its_file_current_and_disassemble_still_shows_instructions():
    code, out = batch("b printdec", "run", "b 30", "disassemble", program=GCD)
    assert code == 0
    assert "printdec.asq:30" in said(out, "b 30")  # stopped in printdec.asq: its line 30
    assert "=>" in said(out, "disassemble")


# -- 4. no internal errors ---------------------------------------------------------------------------


def test_the_five_internal_errors_are_one_clear_line_each(tmp_path):
    lines = ["s 0", "n 0", "si 0", "ni 0", "set $pc = 100000000000000000000000000",
             f"picture {tmp_path}/missing/x.png", f"dump {tmp_path}/f.npz --passes"]  # fmt: skip
    code, out = batch("si", *lines, "p $pc", program=GCD)
    assert "internal error" not in out and "Traceback" not in out
    for line in lines:
        text = said(out, line).strip()
        assert text and "\n" not in text, line
    assert "at least 1" in said(out, "s 0") and "does not fit the 16-bit PC" in out
    assert "missing/x.png (No such file or directory)" in out and "--passes needs a RANGE" in out
    assert "$1 = 6" in said(out, "p $pc")  # nothing ran, nothing changed
    assert not (tmp_path / "missing").exists() and code == 0  # gdb: the status of the last command


def test_end_of_input_at_a_query_answers_yes_as_gdb_and_ctrl_c_no(capsys):
    from mlpvm.debug.repl import ask

    def eof() -> str:
        raise EOFError

    def interrupt() -> str:
        raise KeyboardInterrupt

    answers = iter(["maybe", "n"])
    assert ask("Start it from the beginning? (y or n) ", eof) is True
    assert "EOF [answered Y; input not from terminal]" in capsys.readouterr().out
    assert ask("Again? (y or n) ", interrupt) is False
    assert ask("Again? (y or n) ", lambda: next(answers)) is False
    assert "Please answer y or n." in capsys.readouterr().out


# -- 5. no silent differences ----------------------------------------------------------------------


def test_a_blank_line_repeats_the_last_command_only_when_gdb_would():
    d, out = debugger(GCD)
    d.execute("stepi")
    d.execute("p $pc")
    before = d.session.passes
    d.execute("")  # after print: nothing
    assert d.session.passes == before
    d.execute("x/4d pairs")
    start = out.tell()
    d.execute("")  # x goes on after the cells it showed
    pairs = d.session.source_map.labels["pairs"]
    assert out.getvalue()[start:].startswith(f"{pairs + 4} <pairs+4>: 17 5 100 75")
    d.execute("list 21")
    start = out.tell()
    d.execute("")
    assert [n for n, _ in listed(out.getvalue()[start:])] == list(range(26, 36))
    d.execute("stepi 3")
    d.execute("")
    assert d.session.passes == before + 6


@pytest.mark.parametrize(("expr", "value"), [("-5/2", -2), ("5/-2", -2), ("-5%2", -1), ("7%-3", 1), ("-7%-3", -1),
                                            ("-6/3", -2), ("7/2", 3), ("-(1<<70)/3", -((1 << 70) // 3))])  # fmt: skip
def test_division_truncates_toward_zero_and_the_remainder_goes_with_it_as_in_c(expr, value):
    d, out = debugger(GCD)
    d.execute(f"p {expr}")
    assert out.getvalue().rstrip().endswith(f"= {value}")


def test_continue_n_after_a_temporary_breakpoint_continues_and_after_a_breakpoint_ignores_it():
    code, out = batch("tbreak gcd", "run", "c 3", program=GCD)
    assert "Temporary breakpoint 1, pc=" in said(out, "run")
    assert "Not stopped at any breakpoint; argument ignored." in said(out, "c 3")
    assert "Halted after" in said(out, "c 3") and code == 0
    d, out = debugger(GCD)
    d.execute("break gcd")
    d.execute("run")
    d.execute("c 3")  # the 2nd and 3rd calls are passed over: the 4th stops
    assert d.session.breakpoints[1].hits == 4 and d.session.pc == d.session.source_map.labels["gcd"]
    assert "Will ignore next 2 crossings of breakpoint 1.  Continuing." in out.getvalue()


# -- 10. the adder is named for what it is on every machine ----------------------------------------------


@pytest.mark.parametrize(("program", "fallthrough"), [("programs/paper/gcd.pasq", 1), ("programs/gcd.asq", 3)])
def test_the_panel_names_the_adder_fallthrough_on_every_machine(program, fallthrough):
    """The adder's output is PC + 1 on paper and PC + 3 on subleq: the panel calls it fallthrough on both (issue
    28's one name), never PC+3 on paper (issue 27 point 10); the first instruction's is 0 + stride."""
    code, out = batch("stepi", "regs", program=str(ROOT / program))
    regs = said(out, "regs").replace("\xa0", " ")  # no break inside a name-value pair
    assert code == 0 and f"fallthrough {fallthrough} " in regs and "PC+3" not in regs


# -- 3. reverse-continue: Ctrl-C and the status line --------------------------------------------------


def test_ctrl_c_stops_reverse_continue_at_an_exact_earlier_state_and_the_status_line_runs(tmp_path):
    from mlpvm.debug.session import Session
    from mlpvm.machines import reference
    from mlpvm.program.image import config_for
    from mlpvm.program.inputs import Input
    from mlpvm.program.load import load_image

    loop = tmp_path / "count.dec"
    loop.write_text("5 6 0 0 0 -1 0")  # mem[6] += 1, forever
    image = load_image(str(loop))
    config = config_for(image, None, None, None)
    s = Session(image, config)
    s.cont(300_000)
    s.add_breakpoint("100")  # never reached: the search would go back to the start
    calls = []

    def progress() -> None:  # the status line's tick; the second one is Ctrl-C
        calls.append(s.passes)
        if len(calls) == 2:
            s.interrupt()

    s.progress = progress
    stop = s.reverse_continue()
    assert stop.reason == "interrupt" and len(calls) >= 2
    assert 0 < s.passes < 300_000
    ref = reference.load(config, image.words, image.slots)  # the state is the exact one after that many passes
    data = Input(b"", closed=False)
    for _ in range(s.passes):
        ref.step(data)
    assert s.pc == ref.pc and list(s.memory()) == list(ref.mem)
    s.progress = None
    assert s.reverse_continue().reason == "history" and s.passes == 0  # not interrupted: all the way back


def test_reverse_continue_shows_the_status_line_as_continue_does(tmp_path, monkeypatch):
    d, _ = debugger(str(ROOT / "programs" / "gcd.asq"))
    shown = []
    d.status.disable = False
    monkeypatch.setattr(d.status, "due", lambda: True)
    monkeypatch.setattr(d.status, "show", shown.append)
    d.execute("continue")
    d.session.slow = True  # one pass at a time: a tick after each
    d.execute("reverse-continue")
    assert shown and all(text.startswith("running: ") for text in shown)


# -- 2. every view fits 80 and 60 columns, no word broken, no value cut --------------------------------

BORDER = re.compile(r"[│╭╮╰╯─]")
EFORTH = str(ROOT / "programs" / "external" / "howerj-subleq-vhdl" / "eforth-8k.dec")
VIEWS = ["disassemble", "x/8i $pc", "info program", "regs", "layers", "layer read.1", "layer write.1", "history 3",
         "x/8x 0", "x/4t 0", "info frame", "bt", "info breakpoints", "help", "help data", "help running",
         "help network", "help x", "flow"]  # fmt: skip


def _transcript(program: str, width: int, lines: list[str]) -> list[str]:
    d, out = debugger(program, width)
    shown = []
    for line in lines:
        start = out.tell()
        d.execute(line)
        shown.append(out.getvalue()[start:])
    return shown


def _words(text: str) -> list[str]:
    return sorted(BORDER.sub(" ", text).split())


@pytest.mark.parametrize(
    ("program", "setup"),
    [(GCD, ["break gcd", "run", "si 3"]), (str(ROOT / "programs" / "hello.asq"), ["si 3"]), (EFORTH, ["si 2000"])],
)
def test_every_view_fits_80_and_60_columns_without_breaking_a_word_or_cutting_a_value(program, setup):
    lines = [*setup, *VIEWS, "diff 2 3"]
    wide = _transcript(program, 200, lines)
    for width in (80, 60):
        for line, text, reference in zip(lines, _transcript(program, width, lines), wide):
            assert all(len(row) <= width for row in text.splitlines()), (width, line, text)
            # wrapping only moves words to other lines: the same words as at 200 columns, none cut or split
            assert _words(text) == _words(reference), (width, line, text)


# -- 6. the staples --------------------------------------------------------------------------------


def test_value_history_numbers_every_print_and_names_them(tmp_path):
    code, out = batch("p 6*7", "p $1 + 1", "p $", "p $$2", "p $$", "p", "p/x $1", "p $9", program=GCD)
    assert [said(out, c).strip() for c in ("p 6*7", "p $1 + 1", "p $", "p $$2", "p $$", "p", "p/x $1")] == [
        "$1 = 42", "$2 = 43", "$3 = 43", "$4 = 42", "$5 = 43", "$6 = 43", "$7 = 0x2a"]  # fmt: skip
    assert "History has not yet reached $9." in said(out, "p $9") and code == 2


def test_display_with_a_format_and_of_the_instruction_at_pc():
    code, out = batch("display/x $pc", "display/i $pc", "si", "info display", "undisplay 1", "si", program=GCD)
    assert said(out, "display/x $pc").strip() == "1: /x $pc = 0x0"
    first = said(out, "si")
    assert "1: /x $pc = 0x6" in first and "2: x/i $pc" in first and re.search(r"=> +6 ", first)
    assert said(out, "info display").split() == ["1:", "/x", "$pc", "2:", "/i", "$pc"]
    assert code == 0


def test_watch_if_stops_only_when_the_condition_holds():
    d, out = debugger(GCD)
    d.execute("watch a if a < 100")
    d.execute("continue")
    s = d.session
    assert s.mem(s.source_map.labels["a"]) == 84  # 1071 -> 609 -> 147 -> 105 -> 84: the first below 100
    assert "Watchpoint 1: mem[" in out.getvalue() and "105 -> 84" in out.getvalue()


def test_echo_decodes_c_escapes_and_source_runs_a_file_until_a_line_fails(tmp_path):
    script = tmp_path / "cmds"
    script.write_text("echo one\\n\np 2+2\nfrobnicate\necho never\\n\n")
    code, out = batch("echo   a\\ b\\101\\x42\\tc\\n", f"source {script}", "echo after\\n", program=GCD)
    assert said(out, "echo   a\\ b\\101\\x42\\tc\\n") == "a bAB\tc\n".expandtabs(8)  # the console expands tabs
    sourced = said(out, f"source {script}")
    assert "one\n" in sourced and "$1 = 4" in sourced and "never" not in out and "cmds:3" in sourced
    assert "after" in out and code == 0  # gdb: the status of the last command (echo), not of the failed source


PREFIXES = [("dis", "disable"), ("disas", "disassemble"), ("en", "enable"), ("wa", "watch"), ("back", "backtrace"),
            ("reverse-f", "reverse-finish")]  # fmt: skip


@pytest.mark.parametrize(("typed", "meant"), PREFIXES)
def test_a_unique_prefix_is_the_command(typed, meant):
    from mlpvm.debug.commands import lookup

    assert lookup(typed).name == meant


def test_an_ambiguous_prefix_says_which_commands_it_could_be():
    code, out = batch("di", "re", program=GCD)
    assert said(out, "di").strip() == 'Ambiguous command "di": diff, disable, disassemble, display.'
    assert said(out, "re").strip().startswith('Ambiguous command "re": regs, reverse-continue, reverse-finish,')
    assert code == 2


def test_frame_up_and_down_select_a_frame_that_info_frame_list_and_finish_follow():
    d, out = debugger(GCD)
    d.execute("break printdec")
    d.execute("run")
    start = out.tell()
    d.execute("up")
    assert out.getvalue()[start:].startswith("#1  main at pc=") and "17   " in out.getvalue()[start:]
    start = out.tell()
    d.execute("info frame")
    assert out.getvalue()[start:].startswith("Stack level 1, main")
    start = out.tell()
    d.execute("list")
    assert [n for n, _ in listed(out.getvalue()[start:])] == list(range(12, 22))  # around gcd.asq:17
    for line, error in (("up", "Initial frame selected"), ("frame 0", None), ("down", "Bottom (innermost) frame")):
        start = out.tell()
        assert d.execute(line) == (error is None)
        assert error is None or error in out.getvalue()[start:]
    ret = d.session.frames[-1].ret
    d.execute("finish")  # from frame 0: out of printdec, to just after the CALL
    assert not d.session.frames and d.session.pc == ret


def test_reverse_next_reverse_step_and_reverse_finish_go_back_by_lines_and_calls():
    d, out = debugger(GCD)
    d.execute("break 22")
    d.execute("run")  # line 22, just after CALL gcd (line 21) returned
    s = d.session
    d.execute("reverse-next")  # back over the whole call: the start of line 21
    assert s.line()[1] == 21 and s.pc == min(a for a, o in s.source_map.cells.items() if o.line == 21
                                             and o.file.endswith("gcd.asq") and a in s.source_map.code)  # fmt: skip
    d.execute("next")
    assert s.line()[1] == 22
    d.execute("reverse-step")  # into the subroutine's last line
    assert len(s.frames) == 1 and s.line()[0].endswith("gcd.asq") and s.line()[1] >= 29
    d.execute("reverse-finish")  # back to the CALL's jump in line 21
    assert not s.frames and s.line()[1] == 21 and "Run back to call of #0 gcd" in out.getvalue()


def test_until_without_an_argument_leaves_a_loop_instead_of_going_round_it():
    d, _ = debugger(GCD)
    d.execute("break 35")  # JMP again: the loop's jump back
    d.execute("run")
    d.execute("delete")
    s = d.session
    d.execute("next")  # next follows the jump back to the top of the loop
    assert s.line()[1] == 30
    d.execute("break 35")
    d.execute("continue")
    d.execute("delete")
    d.execute("until")  # until does not stop at a line before this one: it runs on past the loop
    assert s.line()[1] in (36, 38) and len(s.frames) == 1  # past the loop, still in gcd


def test_info_line_takes_a_line_an_address_and_a_function():
    code, out = batch("info line 22", "info line *295", "info line gcd", "info line printdec.asq:23", program=GCD)
    assert re.match(r'Line 22 of "\S*programs/gcd.asq" starts at address 295 ', said(out, "info line 22"))
    assert re.match(r'Line 22 of "\S*programs/gcd.asq"', said(out, "info line *295"))
    assert re.match(r'Line 30 of "\S*programs/gcd.asq" starts at address 351 <gcd>', said(out, "info line gcd"))
    assert re.match(r'Line 23 of "\S*programs/lib/printdec.asq"', said(out, "info line printdec.asq:23"))
    assert code == 0


def test_tab_completion_after_an_ambiguous_prefix_offers_nothing_and_does_not_fail():
    from mlpvm.debug.repl import candidates

    d, _ = debugger(GCD)
    assert candidates(d, "di ") == [] and "gcd" in candidates(d, "dis") + candidates(d, "b ")


# -- 7. the views reach every pass; --no-check runs in chunks ------------------------------------------


def test_the_layer_views_reach_every_pass_after_a_long_continue(tmp_path):
    from mlpvm.debug import netviews
    from mlpvm.debug.session import Session
    from mlpvm.program.image import config_for
    from mlpvm.program.load import load_image

    d, out = debugger(GCD)
    d.execute("continue")  # 1,310 passes, in chunks: the history holds only the last few
    s = d.session
    for number in (1, 2, 700, 1309, 1310):
        d.execute(f"layers {number}")
        assert f"pass {number}:" in out.getvalue()
        # the state before it is the one a run pass by pass reaches
        image = load_image(GCD)
        slow = Session(image, config_for(image, None, None, None))
        if number > 1:
            slow.step(number - 1)
        assert (netviews.pass_trace(s, number).before == slow.x[0]).all()
    assert s.passes == 1310 and s.halted  # the session stayed where it was


def test_a_pass_that_did_not_run_is_one_clear_line():
    code, out = batch("si 3", "layers 9", "layers 0", program=GCD)
    assert said(out, "layers 9").strip() == "there is no pass 9 (passes 1..3 ran)" and code == 2


SCENARIOS = [
    [("break", "gcd"), ("cont",), ("cont",), ("finish",)],
    [("watch", "b"), ("cont",), ("cont",), ("cont",)],
    [("rwatch", "mem[&pairs+3]"), ("cont",), ("until", "again"), ("cont",)],
    [("break", "printdec"), ("cont",), ("step", 5000), ("cont",)],
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_check_runs_in_chunks_and_stops_exactly_where_the_checked_run_does(scenario):
    from mlpvm.debug.session import Session
    from mlpvm.program.image import config_for
    from mlpvm.program.load import load_image

    image = load_image(GCD)
    config = config_for(image, None, None, None)
    runs = []
    for check in (True, False):
        s = Session(image, config, check=check)
        calls = []
        s.engine.run_until_event = _counting(s.engine.run_until_event, calls)
        seen = []
        for action, *args in scenario:
            if action in ("break", "watch", "rwatch"):
                if action == "break":
                    s.add_breakpoint(args[0])
                else:
                    s.add_watchpoint(args[0], action)
                continue
            if action == "cont":
                stop = s.cont()
            elif action == "finish":
                stop = s.finish()
            elif action == "step":
                stop = s.step(args[0])
            else:
                stop = s.until(s.address(args[0], code=True))
            seen.append((stop.reason, s.passes, s.steps, s.pc, list(s.memory()), bytes(s.output), s.frames))
        runs.append(seen)
        assert calls, "the network ran in chunks"
    assert runs[0] == runs[1]


def _counting(fn, calls):
    def counted(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else 1)
        return fn(*args, **kwargs)

    return counted


# -- 9. --eof-reads N ------------------------------------------------------------------------------------

POLL = """.include <std>
# reads the end of its input 20 times (a program polling for a key), then says so
loop:   IN c
        DEC n
        JGT n, loop
        PUTC '!'
        HALT
. c: 0  n: 20
"""


@pytest.mark.parametrize(
    ("command", "extra"),
    [("run", ["--input", ""]), ("run", ["--input", "", "--engine", "reference"]), ("trace", ["-o", "{tmp}/t.jsonl"]),
     ("verify", ["--max-steps", "200"]), ("debug", ["--ex", "eof", "--ex", "continue", "--batch"])],
)  # fmt: skip
def test_eof_reads_is_one_option_of_every_command_that_runs_programs(tmp_path, command, extra):
    from click.testing import CliRunner

    from mlpvm.cli import cli

    poll = tmp_path / "poll.asq"
    poll.write_text(POLL)
    args = [command, str(poll), *(e.replace("{tmp}", str(tmp_path)) for e in extra)]
    stopped = CliRunner().invoke(cli, args)  # default 8: stopped at the 9th read of the end
    unlimited = CliRunner().invoke(cli, [*args, "--eof-reads", "0"])
    enough = CliRunner().invoke(cli, [*args, "--eof-reads", "20"])
    assert "Traceback" not in stopped.output + unlimited.output + enough.output
    if command == "verify":  # lockstep: both machines stop alike, and the whole run is checked
        assert stopped.exit_code == unlimited.exit_code == 0, stopped.output
        return
    if command == "debug":
        assert "Input ended" in stopped.output and "!" not in stopped.output.split("(mlpvm) continue")[1]
        assert "Halted" in unlimited.output and "│ !" in unlimited.output and "│ !" in enough.output
        return
    assert stopped.exit_code == 0 and "!" not in stopped.stdout  # input done: exit 0, as python or bc
    assert unlimited.exit_code == 0 and enough.exit_code == 0
    if command == "run":  # the end of input is a normal end, said with -v, and how to let the program go on
        said_why = CliRunner().invoke(cli, [*args, "-v"]).output
        assert unlimited.stdout.startswith("!") and "--eof-reads N" in said_why


def test_eof_reads_says_its_default_and_refuses_a_negative_count():
    from click.testing import CliRunner

    from mlpvm.cli import cli

    for command in ("run", "debug", "verify", "trace"):
        shown = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
        assert "--eof-reads N" in shown and "default: 8" in shown, command
    bad = CliRunner().invoke(cli, ["run", "programs/hello.asq", "--eof-reads", "-1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_ctrl_c_stops_reverse_next_and_reverse_finish_too():
    d, _ = debugger(GCD)
    d.execute("break 22")
    d.execute("run")
    s = d.session
    passes = s.passes
    s.progress = s.interrupt  # Ctrl-C at the first tick
    assert s.reverse_line(over=True).reason == "interrupt" and s.passes == passes - 1
    d.execute("next")
    s.progress = None
    d.execute("reverse-step")  # into gcd's last line
    s.progress = s.interrupt
    assert s.reverse_finish().reason == "interrupt" and s.frames


def test_no_check_continue_runs_most_passes_in_chunks_not_one_at_a_time():
    from mlpvm.debug.session import Session
    from mlpvm.program.image import config_for
    from mlpvm.program.load import load_image

    image = load_image(GCD)
    s = Session(image, config_for(image, None, None, None), check=False)
    alone = []
    s.engine.run_pass = _counting(s.engine.run_pass, alone)
    assert s.cont().reason == "halt" and s.passes == 1310
    assert len(alone) < s.passes // 4  # pass by pass only where a pass needs attention (I/O, CALL, RET)


def test_jump_resumes_at_a_location_and_info_source_names_the_current_file():
    code, out = batch("info source", "b 23", "jump 22", "p $pc", program=GCD)
    assert said(out, "info source").startswith("Current source file is ") and "Contains 41 lines." in out
    assert "Continuing at 295" in said(out, "jump 22") and "Breakpoint 1, pc=" in said(out, "jump 22")
    d, _ = debugger(GCD)
    d.execute("b 23")
    d.execute("jump 22")  # PRINT a from the start: prints a's initial 0, then stops at line 23
    assert bytes(d.session.output) == b"0" and d.session.line()[1] == 23
    assert code == 0
