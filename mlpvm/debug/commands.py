"""The debugger's commands, with gdb's names, short forms and meanings, over a ``Session``; output to a Rich
console.

``Debugger.execute(line)`` runs one command line and says whether it succeeded; the REPL and batch mode both
feed it lines. No command error ends the session: each is one line, and the session goes on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlpvm.cli.console import StatusLine, output_lines, plural, running
from mlpvm.debug import gdbargs, views
from mlpvm.debug.expr import Expr
from mlpvm.debug.gdbargs import script_lines
from mlpvm.debug.records import DebugError, Stop
from mlpvm.debug.session import Session
from mlpvm.errors import MlpvmError, shown
from mlpvm.program.inputs import unescape

TOPICS = {
    "running": "Running the program",
    "breakpoints": "Making the program stop at certain points",
    "data": "Examining and changing data",
    "stack": "Subroutines (the standard library's CALL/RET)",
    "code": "Code and source lines",
    "history": "Going back, and the program's input and output",
    "network": "The network's layers",
    "support": "The debugger itself",
}
# commands registered without a topic (the network's, in netcommands)
_TOPIC_OF = dict.fromkeys(("layers", "layer", "dump", "diff", "flow", "picture"), "network")


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    help: str
    run: Callable[[Debugger, str], None]
    repeats: bool  # a blank line repeats it
    topic: str


COMMANDS: dict[str, Command] = {}
_BY_NAME: dict[str, Command] = {}


def command(name: str, *aliases: str, usage: str = "", repeats: bool = False, topic: str = ""):
    """Registers a ``Debugger`` method as a command; its docstring is the help text."""

    def register(fn: Callable[[Debugger, str], None]) -> Callable[[Debugger, str], None]:
        doc = " ".join((fn.__doc__ or "").split())
        cmd = Command(name, aliases, usage or name, doc, fn, repeats, topic or _TOPIC_OF.get(name, "support"))
        COMMANDS[name] = cmd
        for key in (name, *aliases):
            _BY_NAME[key] = cmd
        return fn

    return register


def lookup(name: str) -> Command | None:
    """The command a name, an alias or a unique prefix of them means (gdb's abbreviations); None if none.
    Raises ``DebugError`` for a prefix of several commands, naming them as gdb does."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    found = sorted(key for key in _BY_NAME if key.startswith(name))
    commands = {_BY_NAME[key].name for key in found}
    if len(commands) > 1:
        raise DebugError(f'Ambiguous command "{name}": {", ".join(sorted(commands))}.')
    return _BY_NAME[found[0]] if found else None


FAILED = 2  # the exit status after a command that failed (bad input), as gdb exits non-zero


class Quit(Exception):
    """Raised by ``quit``: the REPL or batch run ends."""


class Debugger:
    def __init__(
        self, session: Session, console: Console, max_steps: int | None = None,
        confirm: Callable[[str], bool] | None = None, status: bool = False,
    ):  # fmt: skip
        """``confirm`` asks a yes/no question (the REPL); without it the answer is yes, as in gdb's batch mode.
        ``status``: a live status line on stderr (when it is a terminal) while a command runs the program."""
        self.session, self.console, self.max_steps = session, console, max_steps
        self.status = StatusLine(quiet=not status)
        self.confirm = confirm or (lambda question: True)
        self.displays: dict[int, tuple[Expr, str]] = {}  # number -> (expression, format letter or "")
        self.values: list[int] = []  # the value history: $1, $2, ...
        self._display_numbers = 0
        self._shown_output = 0
        self._repeat_line: str | None = None  # what a blank line runs: the last command, if gdb repeats it
        self._last_stop: Stop | None = None
        self.failures = 0  # commands that failed
        self.last_failed = False  # whether the last command failed: gdb's exit status when no quit N ends it
        self.quit_status: int | None = None  # quit N
        self.hooks: dict[int, list[str]] = {}  # ``commands N``: lines run when point N stops the program
        self._recording: tuple[int, list[str]] | None = None
        self._sourcing = 0  # depth of ``source`` files being run
        self.level = 0  # the selected frame of the CALL chain (``frame``, ``up``, ``down``): 0 innermost
        self._raw_arg = ""  # the command's argument as typed, spaces kept (``echo``)
        self._listed: tuple[str, int, int] | None = None  # the last ``list``: file, first and last line shown
        self._hooks: list[list[str]] | None = None  # while a stop's ``commands`` run: the next stops' ones
        self._stops = 0  # stops shown: a command that changes it resumed the program

    # -- dispatch --------------------------------------------------------------------------------

    @property
    def exit_status(self) -> int:
        """gdb's rule: N after ``quit N``; else 0 after ``quit``, or the status of the last command (FAILED)."""
        if self.quit_status is not None:
            return self.quit_status
        return FAILED if self.last_failed else 0

    def execute(self, line: str) -> bool:
        """Runs one command line; a blank line repeats the last command when gdb repeats it (stepping,
        continuing, ``x`` and ``list``, which go on where they ended; not ``print``), else does nothing. False
        if it failed (the error has been shown as one line). Raises ``Quit``; nothing else escapes."""
        ok = self._execute(line)
        self.last_failed = not ok
        return ok

    def _execute(self, line: str) -> bool:
        if self._recording is not None:
            self._record(line)
            return True
        raw = line.rstrip("\r\n")
        line = line.strip()
        if not line:
            return self.execute(self._repeat_line) if self._repeat_line else True
        if line.startswith("#"):
            return True
        name, arg = gdbargs.split(line)
        try:
            cmd = lookup(name)
        except DebugError as e:
            return self.fail(str(e))
        if cmd is None:
            return self.fail(f'Undefined command: "{name}". Try "help".')
        self._repeat_line = line if cmd.repeats else None  # a command may make it where it ended (x, list)
        self._raw_arg = re.sub(r"^\s*\S+?(?=[\s/]|$)\s?", "", raw, count=1)
        try:
            cmd.run(self, arg)
        except (Quit, KeyboardInterrupt, BrokenPipeError):  # (a closed pipe ends the command: exit 141)
            raise
        except (MlpvmError, ValueError) as e:
            return self.fail(str(e))
        except RecursionError:
            return self.fail("too deeply nested")
        except MemoryError:
            return self.fail("out of memory")
        except Exception as e:  # a bug must not end the session and lose its history: say it in one line
            return self.fail(f"internal error in {cmd.name}: {type(e).__name__}: {e}")
        return True

    def fail(self, message: str) -> bool:
        self.failures += 1
        self.error(message)
        return False

    def error(self, message: str) -> None:
        self.console.print(Text(shown(" ".join(message.split())), style="red"))

    def say(self, message: str) -> None:
        self.console.print(Text(shown(message, lines=True)))  # escaped before Rich drops BEL and CR unseen

    def show_stop(self, stop: Stop) -> None:
        """After a run: the program's new output, the banner, the auto-displays and the context panel; then
        the ``commands`` of the breakpoint or watchpoint that stopped it."""
        self.show_output()
        if self.session.sources.seen(self.session.pc):  # a bare LINE is in its file now
            self._listed = None
        self.console.print(views.banner(self.session, stop))
        self._show_displays()
        self.console.print(views.context(self.session, stop))
        self._last_stop, self.level = stop, 0
        points = [stop.breakpoint] if stop.reason == "breakpoint" and stop.breakpoint else []
        points += [wp for wp, *_ in stop.watch]
        self._stops += 1
        lines = [line for point in points for line in self.hooks.get(point.number, [])]
        if lines:
            self._run_hooks(lines)

    def _run_hooks(self, lines: list[str]) -> None:
        """A stop's ``commands``, as gdb runs them: a command that resumes the program ends the list (the
        rest is not run), and the ``commands`` of the stop it comes to run next, after it, not inside it: a
        breakpoint whose commands end in ``continue`` can stop any number of times without nesting."""
        if self._hooks is not None:  # a command of an earlier stop resumed the program: queued, run after it
            self._hooks.append(lines)
            return
        self._hooks = [lines]
        repeat = self._repeat_line  # a breakpoint's commands do not change what a blank line repeats
        try:
            while self._hooks:
                for line in self._hooks.pop(0):
                    self.console.print(Text(f"> {line}", style="dim"))
                    stops = self._stops
                    self.execute(line)
                    if self._stops != stops:  # it resumed the program: the rest is not run
                        break
        finally:
            self._hooks = None
            self._repeat_line = repeat

    def show_output(self) -> None:
        """Program output produced since the last time, apart from debugger messages."""
        new = bytes(self.session.output[self._shown_output :])
        self._shown_output = len(self.session.output)
        if new:
            for line in output_lines(new) or [""]:
                self.console.print(Text("│ ", style="dim") + Text(line, style="green"))

    def _show_displays(self, numbers: list[int] | None = None) -> None:
        for number in numbers or list(self.displays):
            expr, fmt = self.displays[number]
            try:
                value = self.session.evaluate(expr)
            except MlpvmError as e:
                self.say(f"{number}: {expr.text} = <{e}>")
                continue
            if fmt in ("i", "s"):  # gdb: the memory at the value, as x/i or x/s shows it
                if not 0 <= value < self.session.config.cells:
                    self.say(f"{number}: x/{fmt} {expr.text} <Cannot access memory at address {value}>")
                    continue
                self.say(f"{number}: x/{fmt} {expr.text}")
                self.console.print(views.examine(self.session, value, 1, fmt))
            else:
                self.say(f"{number}: {f'/{fmt} ' if fmt else ''}{expr.text} = {self._formatted(value, fmt)}")

    def _run(self, fn: Callable[[], Stop]) -> None:
        with self._running():
            stop = fn()
        self._shown_output = min(self._shown_output, len(self.session.output))
        self.show_stop(stop)

    @contextmanager
    def _running(self) -> Iterator[None]:
        """A status line while a command runs the program: shown after a second, gone before the stop is shown."""
        s, line = self.session, self.status
        since = (time.monotonic(), s.passes)

        def tick() -> None:
            if line.due():
                took = time.monotonic() - since[0]
                where = s.source_map.where(s.pc, slots=s.config.spec.harvard) if s.source_map else None
                line.show(running(s.passes, (s.passes - since[1]) / max(took, 1e-9), s.pc, where, took))

        line.hide()  # its clock starts now
        s.progress = None if line.disable else tick
        try:
            yield
        finally:
            s.progress = None
            line.hide()

    # -- running ---------------------------------------------------------------------------------

    @command("step", "s", usage="step [N]", repeats=True, topic="running")
    def step(self, arg: str) -> None:
        """Run to the next source line (N times), entering subroutines. One line may be many instructions (a
        macro, a CALL). Without source lines, like stepi. Stops early at breakpoints, watchpoints, halts, faults
        and divergences."""
        self._lines(gdbargs.steps(arg, "step"), over=False)

    @command("next", "n", usage="next [N]", repeats=True, topic="running")
    def next(self, arg: str) -> None:
        """Run to the next source line (N times), stepping over CALLs of subroutines."""
        self._lines(gdbargs.steps(arg, "next"), over=True)

    @command("stepi", "si", usage="stepi [N]", repeats=True, topic="running")
    def stepi(self, arg: str) -> None:
        """Run N loop passes (default 1): each pass is one instruction."""
        self._run(lambda: self.session.step(gdbargs.steps(arg, "stepi")))

    @command("nexti", "ni", usage="nexti [N]", repeats=True, topic="running")
    def nexti(self, arg: str) -> None:
        """Like stepi, but a CALL's jump into a subroutine runs until it returns."""
        self._repeat(gdbargs.steps(arg, "nexti"), self.session.step_over)

    def _lines(self, n: int, over: bool) -> None:
        self._repeat(n, lambda limit: self.session.step_line(over, limit))

    def _repeat(self, n: int, once: Callable[[int | None], Stop]) -> None:
        if n == 0:  # ``next 0``: nothing to run, nothing to show
            return
        for _ in range(n):
            stop = once(self.max_steps)
            if stop.reason != "step":
                break
        self._run(lambda: stop)

    @command("finish", "fin", usage="finish", topic="stack")
    def finish(self, arg: str) -> None:
        """Run until the selected subroutine (frame, up, down; at first the innermost) returns to its caller."""
        s = self.session
        level = self._level()
        if level >= len(s.frames):
            raise DebugError('"finish" not meaningful in the outermost frame.')
        pc, f = views.places(s)[level]
        self.say(f"Run till exit from #{level} {views.frame_text(s, pc, f)}")
        self._run(lambda: s.finish(self.max_steps, level))

    @command("continue", "c", "cont", "fg", usage="continue [N]", repeats=True, topic="running")
    def cont(self, arg: str) -> None:
        """Run until a breakpoint, watchpoint, halt, fault, input wait, divergence, the step limit or Ctrl-C.
        With N, ignore the breakpoint just stopped at N-1 more times."""
        if arg.strip():
            n = gdbargs.steps(arg, "continue")
            last = self._stopped_at()
            if last is None:  # gdb: a temporary breakpoint (now deleted), a step, a watchpoint
                self.say("Not stopped at any breakpoint; argument ignored.")
            else:
                last.ignore = n - 1
                self.say(f"Will ignore next {plural(n - 1, 'crossing')} of breakpoint {last.number}.  Continuing."
                         if n > 1 else f"Will stop next time breakpoint {last.number} is reached.")  # fmt: skip
        self._run(lambda: self.session.cont(self.max_steps))

    def _stopped_at(self):
        """The breakpoint the program last stopped at, if it still exists and the program is still there."""
        stop, s = self._last_stop, self.session
        if stop is None or stop.reason != "breakpoint" or stop.breakpoint is None or stop.pc != s.pc:
            return None
        return s.breakpoints.get(stop.breakpoint.number)

    @command("run", "r", usage="run", topic="running")
    def run(self, arg: str) -> None:
        """Start the program from the beginning (breakpoints stay) and continue; a breakpoint at the entry
        stops there. Asks first when the program has already run (its history is thrown away)."""
        if not self._restart():
            return
        stop = self.session.entry_stop()
        self._run(lambda: stop or self.session.cont(self.max_steps))

    @command("start", usage="start", topic="running")
    def start(self, arg: str) -> None:
        """Start the program from the beginning and stop at its entry (a temporary breakpoint there)."""
        if self._restart():
            entry = self.session.pc
            self.say(f"Temporary breakpoint at {entry}")
            self._run(lambda: Stop("entry", entry))

    @command("starti", usage="starti", topic="running")
    def starti(self, arg: str) -> None:
        """Start the program from the beginning and stop before its first instruction."""
        if self._restart():
            self._run(lambda: Stop("entry", self.session.pc))

    def _restart(self) -> bool:
        if self.session.passes and not self.confirm(
            "The program being debugged has been started already.\nStart it from the beginning? (y or n) "
        ):
            self.say("Program not restarted.")
            return False
        self.session.restart()
        self._shown_output = 0
        return True

    @command("until", "u", usage="until [LOCATION]", repeats=True, topic="running")
    def until(self, arg: str) -> None:
        """Run until PC reaches the location (or another reason to stop comes first). Without one, like next,
        but a jump back does not stop it: it leaves a loop, to a line after the current one."""
        if not arg:
            self._run(lambda: self.session.until_next(self.max_steps))
            return
        address = self.session.location(arg)
        self._run(lambda: self.session.until(address, self.max_steps))

    @command("jump", "j", usage="jump LOCATION", topic="running")
    def jump(self, arg: str) -> None:
        """Resume at LOCATION (*ADDR, LINE, FILE:LINE or LABEL): PC is set there, and the program continues."""
        if not arg.strip():
            raise DebugError("jump needs a location: *ADDR, LABEL, LINE or FILE:LINE")
        s = self.session
        address = self.session.location(arg)
        s.set_pc(address)
        self.say(f"Continuing at {views.where(s, address)}.")
        self._run(lambda: s.cont(self.max_steps))

    @command("advance", usage="advance LOCATION", topic="running")
    def advance(self, arg: str) -> None:
        """Run until PC reaches the location (or another reason to stop comes first)."""
        if not arg:
            raise DebugError("advance needs a location: *ADDR, LABEL, LINE or FILE:LINE")
        self.until(arg)

    @command("reverse-stepi", "rsi", usage="reverse-stepi [N]", repeats=True, topic="history")
    def reverse_stepi(self, arg: str) -> None:
        """Step N passes backwards, restoring the exact earlier state (memory, PC, output, input)."""
        n = gdbargs.steps(arg, "reverse-stepi")
        self._run(lambda: self.session.reverse_step(n))

    @command("reverse-step", "rs", usage="reverse-step [N]", repeats=True, topic="history")
    def reverse_step(self, arg: str) -> None:
        """Back to the start of the previous source line (N times), into the last line of a subroutine it
        called. Without source lines, like reverse-stepi."""
        self._reverse_lines(gdbargs.steps(arg, "reverse-step"), over=False)

    @command("reverse-next", "rn", usage="reverse-next [N]", repeats=True, topic="history")
    def reverse_next(self, arg: str) -> None:
        """Back to the start of the previous source line (N times), going back through the subroutines it
        called."""
        self._reverse_lines(gdbargs.steps(arg, "reverse-next"), over=True)

    def _reverse_lines(self, n: int, over: bool) -> None:
        self._repeat(n, lambda limit: self.session.reverse_line(over))

    @command("reverse-finish", usage="reverse-finish", topic="history")
    def reverse_finish(self, arg: str) -> None:
        """Back to where the current subroutine was called (the CALL in its caller)."""
        s = self.session
        if not s.frames:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        self.say(f"Run back to call of #0 {views.frame_text(s, s.pc, s.frames[-1])}")
        self._run(s.reverse_finish)

    @command("reverse-continue", "rc", usage="reverse-continue", repeats=True, topic="history")
    def reverse_continue(self, arg: str) -> None:
        """Run backwards to the previous breakpoint hit (or the start of the recorded history)."""
        self._run(self.session.reverse_continue)

    @command("quit", "q", "exit", usage="quit [N]", topic="support")
    def quit(self, arg: str) -> None:
        """Leave the debugger, with exit status N (an expression, 0..255) when given, else 0."""
        status = self.session.evaluate(arg) if arg.strip() else 0
        if not 0 <= status <= 255:
            raise DebugError(f"quit N needs a status of 0..255, not {status}")
        self.quit_status = status
        raise Quit

    # -- breakpoints and watchpoints ---------------------------------------------------------------

    @command("break", "b", "br", usage="break [LOCATION] [if COND]", topic="breakpoints")
    def break_(self, arg: str, temporary: bool = False) -> None:
        """Stop before executing the instruction at LOCATION: *ADDR (an address expression), LINE or FILE:LINE
        (a source line), or LABEL; without LOCATION, here. With COND, only when it holds (checked now)."""
        m = re.fullmatch(r"(?P<where>.*?)(?:\s*\bif\s+(?P<cond>.+))?", arg.strip())
        where = m.group("where").strip()
        address = self.session.location(where) if where else self.session.pc
        bp = self.session.add_breakpoint(where or str(address), m.group("cond"), temporary, address)
        kind = "Temporary breakpoint" if temporary else "Breakpoint"
        place = views.where(self.session, bp.address)
        self.say(f"{kind} {bp.number} at {place}" + (f" if {bp.condition.text}" if bp.condition else ""))

    @command("tbreak", "tb", usage="tbreak [LOCATION] [if COND]", topic="breakpoints")
    def tbreak(self, arg: str) -> None:
        """Like break, but deleted when first hit."""
        self.break_(arg, temporary=True)

    @command("condition", usage="condition N [COND]", topic="breakpoints")
    def condition(self, arg: str) -> None:
        """Set (or, without COND, remove) the condition of breakpoint N; its names are checked now."""
        number, _, cond = arg.strip().partition(" ")
        bp = self._breakpoint(number)
        bp.condition = self.session.condition(cond) if cond.strip() else None
        self.say(f"Breakpoint {bp.number} now unconditional." if not cond.strip() else
                 f"Breakpoint {bp.number} now stops if {cond.strip()}")  # fmt: skip

    @command("ignore", usage="ignore N COUNT", topic="breakpoints")
    def ignore(self, arg: str) -> None:
        """Pass over the next COUNT hits of breakpoint or watchpoint N."""
        number, _, count = arg.strip().partition(" ")
        point = self.session.point(gdbargs.count(number, default=None))
        point.ignore = gdbargs.count(count, default=None)
        kind = "breakpoint" if point.number in self.session.breakpoints else "watchpoint"
        self.say(f"Will ignore next {point.ignore} crossings of {kind} {point.number}.")

    @command("commands", usage="commands [N]  (then lines, then end)", topic="breakpoints")
    def commands(self, arg: str) -> None:
        """Give breakpoint or watchpoint N (default: the last one set) command lines to run when it stops the
        program; the following lines, up to "end", are the commands."""
        s = self.session
        number = gdbargs.count(arg, default=None) if arg.strip() else s._numbers
        s.point(number)
        self._recording = (number, [])
        self.say('Type commands for when it stops, one per line. End with a line saying just "end".')

    def _record(self, line: str) -> None:
        number, lines = self._recording
        if line.strip() == "end":
            self.hooks[number] = lines
            self._recording = None
        elif line.strip():
            lines.append(line.strip())

    def _breakpoint(self, number: str):
        bp = self.session.breakpoints.get(gdbargs.count(number, default=None))
        if bp is None:
            raise DebugError(f"No breakpoint number {number.strip()}.")
        return bp

    @command("enable", usage="enable [N...]", topic="breakpoints")
    def enable(self, arg: str) -> None:
        """Enable breakpoints or watchpoints (all without N)."""
        self._set_enabled(arg, True)

    @command("disable", "dis", "disa", usage="disable [N...]", topic="breakpoints")
    def disable(self, arg: str) -> None:
        """Disable breakpoints or watchpoints (all without N)."""
        self._set_enabled(arg, False)

    def _set_enabled(self, arg: str, value: bool) -> None:
        points = [self.session.point(gdbargs.count(n, default=None)) for n in arg.split()] or [
            *self.session.breakpoints.values(), *self.session.watchpoints.values()]  # fmt: skip
        for p in points:
            p.enabled = value

    @command("delete", "d", usage="delete [N...]", topic="breakpoints")
    def delete(self, arg: str) -> None:
        """Delete breakpoints or watchpoints (all without N)."""
        if not arg.strip():
            self.session.delete()
        for n in arg.split():
            self.session.delete(gdbargs.count(n, default=None))

    @command("watch", usage="watch [-l] EXPR [if COND]", topic="breakpoints")
    def watch(self, arg: str) -> None:
        """Stop when EXPR's value changes: a label or mem[E] watches that cell (code cells too), START:END a
        range, any other expression its value; with -l, the cell at address EXPR. With COND, only when it
        holds after the change."""
        self._watch(arg, "watch")

    @command("rwatch", usage="rwatch [-l] CELL", topic="breakpoints")
    def rwatch(self, arg: str) -> None:
        """Stop when the instruction reads the cell: as an operand, or as one of its own three words."""
        self._watch(arg, "rwatch")

    @command("awatch", usage="awatch [-l] CELL", topic="breakpoints")
    def awatch(self, arg: str) -> None:
        """Stop when the instruction reads or writes the cell."""
        self._watch(arg, "awatch")

    def _watch(self, arg: str, kind: str) -> None:
        m = re.fullmatch(r"(?:(-l|-location)\s+)?(.*?)(?:\s*\bif\s+(?P<cond>.+))?", arg.strip())
        spec = m.group(2).strip()
        if not spec:
            raise DebugError(f"{kind} needs an expression: a label, mem[E], START:END or -l ADDR")
        wp = self.session.add_watchpoint(spec, kind, location=bool(m.group(1)), condition=m.group("cond"))
        if wp.expr is not None:
            where = spec
        else:
            where = f"mem[{wp.start}]" if wp.stop == wp.start + 1 else f"mem[{wp.start}..{wp.stop - 1}]"
        name = {"watch": "Hardware watchpoint", "rwatch": "Hardware read watchpoint", "awatch":
                "Hardware access (read/write) watchpoint"}[kind]  # fmt: skip
        self.say(f"{name} {wp.number}: {where}" + (f" if {wp.condition.text}" if wp.condition else ""))

    # -- state -----------------------------------------------------------------------------------

    INFO = ("registers", "breakpoints", "watchpoints", "display", "program", "frame", "line", "symbol", "source")

    @command("info", "i", usage="info registers|breakpoints|watchpoints|display|program|frame|line|symbol|source",
             topic="data")  # fmt: skip
    def info(self, arg: str) -> None:
        """Show registers, breakpoints and watchpoints, auto-displays, the program, the current frame, where a
        source line's code is (info line [LOCATION]), which label an address is near (info symbol ADDR) or the
        current source file (info source)."""
        what, _, rest = arg.strip().partition(" ")
        s = self.session
        if what in ("r", "reg") or (what and "registers".startswith(what)) or not what:
            self.console.print(views.registers(s))
        elif what == "b" or "breakpoints".startswith(what) or "watchpoints".startswith(what):
            if s.breakpoints or s.watchpoints:
                self.console.print(views.breakpoints(s))
            else:
                self.say("No breakpoints or watchpoints.")
        elif "display".startswith(what):
            for number, (expr, fmt) in self.displays.items():
                self.say(f"{number}: {f'/{fmt} ' if fmt else ''}{expr.text}")
        elif "program".startswith(what):
            state = "halted" if s.halted else "running"
            counts = f"{plural(s.steps, 'step')}, {plural(s.passes, 'pass', 'passes')}"
            self.say(f"{gdbargs.relative(s.image.path)}: {s.config.describe()}; {state}, pc={s.pc}, {counts}, "
                     f"engine {s.engine.name}")  # fmt: skip
        elif "frame".startswith(what):
            self.console.print(views.frame(s, self._level()))
        elif "line".startswith(what):
            self.say(views.line_info(s, self.session.location(rest) if rest.strip() else s.pc))
        elif what.startswith("so") and "source".startswith(what):
            file = self.session.sources.file()
            text = s.sources.lines(file)
            self.say(f"Current source file is {file}\nContains {plural(len(text), 'line')}.\n"
                     f"Source language is SUBLEQ assembly ({s.config.spec.source_suffix}).")  # fmt: skip
        elif "symbol".startswith(what):
            if not rest.strip():
                raise DebugError("Argument required (address).")
            self.say(views.symbol(s, s.address(rest)))
        else:
            raise DebugError(f"info what? ({COMMANDS['info'].usage})")

    @command("regs", usage="regs", topic="data")
    def regs(self, arg: str) -> None:
        """Show PC, A, B, C, mem[A], mem[B], result, branch taken, the fallthrough (the adder's PC+3; PC+1 on
        paper), the next PC (where execution went), halted, fault and the step count."""
        self.console.print(views.registers(self.session))

    @command("backtrace", "bt", "where", usage="backtrace", topic="stack")
    def backtrace(self, arg: str) -> None:
        """The chain of standard-library subroutine calls (CALL f ... RET f) that led here, innermost first."""
        self.console.print(views.backtrace(self.session))

    def _level(self) -> int:
        """The selected frame, if the CALL chain still has it (a step may have returned from it)."""
        self.level = min(self.level, len(self.session.frames))
        return self.level

    @command("frame", "f", usage="frame [N]", topic="stack")
    def frame(self, arg: str) -> None:
        """Select frame N of the CALL chain (0 the innermost, as bt numbers them) and show it and its source
        line; without N, show the selected one. info frame and list then look at it."""
        if arg.strip():
            self._select(gdbargs.count(arg, default=None))
        self._show_frame()

    @command("up", usage="up [N]", topic="stack")
    def up(self, arg: str) -> None:
        """Select the frame N calls out (default 1): the caller's."""
        if self._level() >= len(self.session.frames):
            raise DebugError("Initial frame selected; you cannot go up.")
        self._select(min(self._level() + gdbargs.count(arg), len(self.session.frames)))
        self._show_frame()

    @command("down", "do", usage="down [N]", topic="stack")
    def down(self, arg: str) -> None:
        """Select the frame N calls in (default 1): the callee's."""
        if self._level() == 0:
            raise DebugError("Bottom (innermost) frame selected; you cannot go down.")
        self._select(max(self._level() - gdbargs.count(arg), 0))
        self._show_frame()

    def _select(self, level: int) -> None:
        if level > len(self.session.frames):
            raise DebugError(f"No frame at level {level}.")
        self.level = level
        pc, _ = views.places(self.session)[level]
        if self.session.sources.seen(pc):
            self._listed = None

    def _show_frame(self) -> None:
        s = self.session
        pc, f = views.places(s)[self._level()]
        self.say(f"#{self.level:<2} {views.frame_text(s, pc, f)}")
        here = s.line(pc)
        if here is not None:
            text = s.sources.lines(here[0])
            if here[1] <= len(text):
                self.say(f"{here[1]:<4} {text[here[1] - 1].expandtabs(8)}")

    @command("x", usage="x/NFU ADDR", repeats=True, topic="data")
    def examine(self, arg: str) -> None:
        """Examine memory: N units (cells: u may be w, or omitted) from ADDR in format F (d signed, u unsigned,
        x hex, o octal, t binary, c char, s string, i instructions). ADDR is an address expression (labels are
        addresses); without it, PC."""
        count, fmt, unit, where = gdbargs.examine_format(arg)
        if unit in ("b", "h"):
            raise DebugError("a unit is one memory cell (one word): use w or leave it out")
        if count < 1:
            raise DebugError("x needs a count of at least 1")
        s = self.session
        address = s.address(where) if where else s.pc
        cells = s.config.cells
        if not 0 <= address < cells:
            raise DebugError(f"Cannot access memory at address {address} (memory is 0..{cells - 1})")
        if fmt not in "si" and address + count > cells:
            self.say(f"(memory ends at {cells - 1}: showing {cells - address} cells)")
        self.console.print(views.examine(s, address, count, fmt))
        after = views.examined_end(s, address, count, fmt)
        self._repeat_line = f"x/{count}{fmt} {after}" if after < cells else None  # a blank line goes on

    @command("print", "p", "inspect", usage="print[/F] EXPR", topic="data")
    def print_(self, arg: str) -> None:
        """Evaluate an expression: labels are their cells' values (&label the address), mem[i], $pc and the
        registers, the step count. /F: x hex, d signed, u unsigned, o octal, t binary, c char (as words)."""
        fmt, text = gdbargs.print_format(arg, empty_ok=True)
        value = self.session.evaluate(self._history_refs(text)) if text else self._history_value("$")
        self.values.append(value)
        self.say(f"${len(self.values)} = {self._formatted(value, fmt)}")

    def _history_refs(self, text: str) -> str:
        """``$N``, ``$``, ``$$`` and ``$$N`` (gdb's value history) replaced by the values they name."""
        return gdbargs.HISTORY.sub(lambda m: f"({self._history_value(m.group(0))})", text)

    def _history_value(self, ref: str) -> int:
        n = len(self.values)
        if ref.startswith("$$"):
            back = int(ref[2:]) if ref[2:] else 1
            index = n - back
        elif ref[1:]:
            index = int(ref[1:])
        else:
            index = n
        if not self.values and ref in ("$", "$$"):
            raise DebugError("History is empty.")
        if not 1 <= index <= n:
            raise DebugError(f"History has not yet reached ${index}.")
        return self.values[index - 1]

    @command("output", usage="output [EXPR]", topic="data")
    def output(self, arg: str) -> None:
        """Print EXPR's value and nothing else; without EXPR, everything the program has output so far."""
        if arg.strip():
            fmt, text = gdbargs.print_format(arg)
            self.console.print(self._formatted(self.session.evaluate(self._history_refs(text)), fmt), end="")
            return
        self._shown_output = len(self.session.output)
        self.console.print(Text("\n".join(output_lines(bytes(self.session.output))), style="green"))

    def _formatted(self, value: int, fmt: str) -> str:
        return views.formatted(self.session.config, value, fmt)

    @command("display", usage="display[/F] EXPR", topic="data")
    def display(self, arg: str) -> None:
        """Show EXPR after every stop (without EXPR: show all now); /F a format of print, or i (the instruction
        at the address EXPR) or s (the string there), as gdb's display/i $pc."""
        fmt, text = gdbargs.print_format(arg, empty_ok=True, letters="duxotcis")
        if not text:
            self._show_displays()
            return
        expr = Expr(self._history_refs(text))
        expr.check_names(self.session.env())
        self._display_numbers += 1
        self.displays[self._display_numbers] = (expr, fmt)
        self._show_displays([self._display_numbers])

    @command("undisplay", usage="undisplay [N...]", topic="data")
    def undisplay(self, arg: str) -> None:
        """Stop showing auto-display N (all without N)."""
        if not arg.strip():
            self.displays.clear()
        for n in arg.split():
            if self.displays.pop(gdbargs.count(n, default=None), None) is None:
                raise DebugError(f"No display number {n}.")

    SETTINGS = ("var", "mem", "$pc", "max-steps")

    @command("set", usage="set [var] LABEL|mem[i]|$pc = V | set max-steps N | set check on|off", topic="data")
    def set_(self, arg: str) -> None:
        """Change a labelled cell, a memory cell or PC in the network's state (as bits; the reference follows),
        with a warning when V does not fit in a word. set max-steps N: continue stops after N more steps
        (0: no limit). set check off: the network runs on without the reference (as --no-check), also past
        a divergence; set check on: again, at the start only (after run)."""
        text = re.sub(r"^(var|variable)\s+", "", arg.strip())
        m = re.fullmatch(r"check\s+(on|off)", text)
        if m:
            self.session.set_check(m.group(1) == "on")
            self.say(f"The reference check is now {m.group(1)}.")
            return
        m = re.fullmatch(r"max-steps\s+(\S+)", text)
        if m:
            self.max_steps = gdbargs.count(m.group(1), default=None) or None
            self.say(f"continue now stops after {plural(self.max_steps, 'more step')}." if self.max_steps
                     else "continue now has no step limit.")  # fmt: skip
            return
        s = self.session
        address, v = s.assign(text)
        if address is None:
            self.say(f"$pc = {s.pc}")
            return
        if s.mem(address) != v:
            self.say(f"warning: {v} does not fit in a {s.config.bits}-bit word; stored as {s.mem(address)}")
        self.say(f"mem[{address}] = {s.mem(address)}")

    # -- code ------------------------------------------------------------------------------------

    @command("disassemble", "disas", usage="disassemble [ADDR [N]]", topic="code")
    def disassemble(self, arg: str) -> None:
        """Instructions from live memory around PC (or from ADDR), with labels and source lines; => marks PC."""
        parts = arg.split()
        step = self.session.config.spec.stride
        count = gdbargs.count(parts[1], default=None) if len(parts) > 1 else 8
        start = self.session.address(parts[0]) if parts else max(0, self.session.pc - 2 * step)
        if not 0 <= start < self.session.config.cells:
            raise DebugError(f"Cannot access memory at address {start}")
        self.console.print(views.disassembly(self.session, start, count))

    @command("list", "l", usage="list [LINE|FILE:LINE|FUNCTION|*ADDR|FIRST,LAST|-]", repeats=True, topic="code")
    def list_(self, arg: str) -> None:
        """Source lines: ten around LINE (of the current file), FILE:LINE, FUNCTION (a label) or *ADDR (the
        line of that address); FIRST,LAST those lines; with no argument, the ten after the last listed (at
        first: around PC); "-" the ten before them."""
        arg = arg.strip()
        if not arg or arg == "-":
            file, first = self._list_next(arg == "-")
            last = first + 9
        elif "," in arg:
            head, _, tail = arg.partition(",")
            if head.strip():
                file, first = self._list_center(head)
                last = self._list_center(tail)[1] if tail.strip() else first + 9
            else:
                file, last = self._list_center(tail)
                first = max(1, last - 9)
        else:
            file, center = self._list_center(arg)
            first = max(1, center - 5)
            last = first + 9
        self._show_lines(file, first, last)

    def _list_center(self, spec: str) -> tuple[str, int]:
        """The file and line a ``list`` argument names: LINE, FILE:LINE, *ADDR or a label's line."""
        s = self.session
        spec = spec.strip()
        place = s.sources.place(spec)
        if place is not None:
            return place
        address = s.location(spec)
        here = s.line(address)
        if here is None:
            raise DebugError(f"No line number information available for address {address}")
        if spec.startswith("*"):
            self.say(f"{address} is in {views.symbol(s, address)} ({here[0]}:{here[1]}).")
        return here

    def _list_next(self, back: bool) -> tuple[str, int]:
        if self._listed is None:
            here = self.session.line(views.places(self.session)[self._level()][0])
            file = self.session.sources.file()
            center = here[1] if here is not None and here[0] == file else 1
            return file, max(1, center - 5)
        file, first, last = self._listed
        if back:
            if first <= 1:
                raise DebugError("Already at the start of " + file + ".")
            return file, max(1, first - 10)
        return file, last + 1

    def _show_lines(self, file: str, first: int, last: int) -> None:
        s = self.session
        text = s.sources.lines(file)
        if first > len(text):
            raise DebugError(f'Line number {first} out of range; "{file}" has {len(text)} lines.')
        last = min(last, len(text))
        width = len(str(last))
        for n in range(first, last + 1):
            self.console.print(Text(f"{n:<{max(width, 4)}} ") + Text(text[n - 1].expandtabs(8)))
        s.sources.look_at(file)
        self._listed = (file, first, last)
        self._repeat_line = "list"  # a blank line lists the next ten

    # -- time and I/O ------------------------------------------------------------------------------

    @command("history", "hist", usage="history [N]", topic="history")
    def history(self, arg: str) -> None:
        """The last N passes (default 10): step, PC, A, B, C, and old and new mem[B]."""
        self.console.print(views.history(self.session.records(gdbargs.count(arg, default=10))))

    @command("input", usage="input TEXT", topic="history")
    def input(self, arg: str) -> None:
        """Queue bytes for the program's input (escapes: \\n \\r \\t \\\\ \\xHH)."""
        try:
            data = unescape(arg)
        except ValueError as e:
            raise DebugError(str(e)) from None
        self.session.feed(data)
        self.say(f"Queued {len(data)} input bytes.")

    @command("eof", usage="eof", topic="history")
    def eof(self, arg: str) -> None:
        """Close the input: once the queue is empty, input instructions read -1."""
        self.session.close_input()
        self.say("Input closed.")

    @command("echo", usage="echo TEXT", topic="support")
    def echo(self, arg: str) -> None:
        """Print TEXT, with C escapes (\\n a newline, \\t, \\\\, \\", \\NNN octal, \\xHH); no newline of its own,
        as gdb's."""
        # gdb skips leading blanks ("\\ " keeps one)
        self.console.print(Text(gdbargs.c_escapes(self._raw_arg.lstrip())), end="")

    @command("source", usage="source FILE", topic="support")
    def source_(self, arg: str) -> None:
        """Run the debugger commands in FILE, one per line; stops at the first that fails, as gdb does."""
        path = arg.strip()
        if not path:
            raise DebugError("source needs a file name.")
        if self._sourcing >= gdbargs.MAX_SOURCE_DEPTH:
            raise DebugError(f"source nested more than {gdbargs.MAX_SOURCE_DEPTH} deep")
        self._sourcing += 1
        try:
            for number, line in enumerate(script_lines(path), 1):
                if not self.execute(line):
                    raise DebugError(f"{path}:{number}: the commands stop here")
        finally:
            self._sourcing -= 1

    # -- help ------------------------------------------------------------------------------------

    @command("help", "h", "?", usage="help [TOPIC|COMMAND]", topic="support")
    def help(self, arg: str) -> None:
        """List the topics, the commands of a topic, or explain one command."""
        name = arg.strip()
        if name in TOPICS:
            table = Table.grid(padding=(0, 2))
            table.add_column(no_wrap=True, style="bold")
            table.add_column(overflow="fold")
            for cmd in COMMANDS.values():
                if cmd.topic == name:
                    short = f" ({', '.join(cmd.aliases)})" if cmd.aliases else ""
                    table.add_row(cmd.name + short, cmd.help.split(". ")[0].rstrip(".") + ".")
            self.console.print(table)
        elif name:
            cmd = lookup(name)
            if cmd is None:
                raise DebugError(f'Undefined command: "{name}". Try "help".')
            aliases = f"  (also: {', '.join(cmd.aliases)})" if cmd.aliases else ""
            self.say(f"{cmd.usage}{aliases}\n{cmd.help}")
        else:
            self.say("List of classes of commands:\n")
            for topic, title in TOPICS.items():
                names = [c.name for c in COMMANDS.values() if c.topic == topic]
                self.say(f"{topic:<12} {title}: {', '.join(names)}")
            self.say('\nType "help" followed by a class name for its commands, or by a command name for its '
                     "full documentation. A blank line repeats the last command when gdb would (stepping, continue, x, "
                     "list); Ctrl-C stops a run; "
                     "Ctrl-D or quit leaves.")  # fmt: skip


# The commands on the network (layers, layer, diff, flow, picture, dump) live in their own module.
from mlpvm.debug import netcommands  # noqa: E402, F401
