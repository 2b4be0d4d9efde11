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
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlpvm.cli.console import StatusLine, plural, running
from mlpvm.debug import views
from mlpvm.debug.expr import Expr, ExprError, parse_assignment
from mlpvm.debug.records import DebugError, Stop
from mlpvm.debug.session import Session
from mlpvm.errors import MlpvmError
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
    """The command a name or alias means."""
    return _BY_NAME.get(name)


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
        self.displays: dict[int, Expr] = {}
        self._display_numbers = 0
        self._shown_output = 0
        self._last_repeatable: str | None = None
        self.failures = 0  # commands that failed: batch mode's exit status
        self.hooks: dict[int, list[str]] = {}  # ``commands N``: lines run when point N stops the program
        self._recording: tuple[int, list[str]] | None = None
        self._hooks: list[list[str]] | None = None  # while a stop's ``commands`` run: the next stops' ones
        self._stops = 0  # stops shown: a command that changes it resumed the program

    # -- dispatch --------------------------------------------------------------------------------

    def execute(self, line: str) -> bool:
        """Runs one command line; a blank line repeats the last step-like command. False if it failed (the
        error has been shown as one line). Raises ``Quit``; nothing else escapes."""
        if self._recording is not None:
            self._record(line)
            return True
        line = line.strip()
        if not line:
            return self.execute(self._last_repeatable) if self._last_repeatable else True
        if line.startswith("#"):
            return True
        name, arg = _split(line)
        cmd = _BY_NAME.get(name)
        if cmd is None:
            return self.fail(f'Undefined command: "{name}". Try "help".')
        self._last_repeatable = line if cmd.repeats else self._last_repeatable
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
        self.console.print(Text(" ".join(message.split()), style="red"))

    def say(self, message: str) -> None:
        self.console.print(Text(message))

    def show_stop(self, stop: Stop) -> None:
        """After a run: the program's new output, the banner, the auto-displays and the context panel; then
        the ``commands`` of the breakpoint or watchpoint that stopped it."""
        self.show_output()
        self.console.print(views.banner(self.session, stop))
        for number, expr in self.displays.items():
            self.say(f"{number}: {expr.text} = {self._value(expr)}")
        self.console.print(views.context(self.session, stop))
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

    def show_output(self) -> None:
        """Program output produced since the last time, apart from debugger messages."""
        new = bytes(self.session.output[self._shown_output :])
        self._shown_output = len(self.session.output)
        if new:
            for line in new.decode("latin-1").splitlines() or [""]:
                self.console.print(Text("│ ", style="dim") + Text(line, style="green"))

    def _value(self, expr: Expr) -> str:
        try:
            return str(self.session.evaluate(expr))
        except MlpvmError as e:
            return f"<{e}>"

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
        self._lines(_count(arg), over=False)

    @command("next", "n", usage="next [N]", repeats=True, topic="running")
    def next(self, arg: str) -> None:
        """Run to the next source line (N times), stepping over CALLs of subroutines."""
        self._lines(_count(arg), over=True)

    @command("stepi", "si", usage="stepi [N]", repeats=True, topic="running")
    def stepi(self, arg: str) -> None:
        """Run N loop passes (default 1): each pass is one instruction."""
        self._run(lambda: self.session.step(_count(arg)))

    @command("nexti", "ni", usage="nexti [N]", repeats=True, topic="running")
    def nexti(self, arg: str) -> None:
        """Like stepi, but a CALL's jump into a subroutine runs until it returns."""
        self._repeat(_count(arg), self.session.step_over)

    def _lines(self, n: int, over: bool) -> None:
        if self.session.line() is None:
            self.stepi(str(n))
            return
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
        """Run until the current subroutine returns to its caller."""
        s = self.session
        if not s.frames:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        self.say(f"Run till exit from #0 {views.frame_text(s, s.pc, s.frames[-1])}")
        self._run(lambda: s.finish(self.max_steps))

    @command("continue", "c", "cont", "fg", usage="continue [N]", repeats=True, topic="running")
    def cont(self, arg: str) -> None:
        """Run until a breakpoint, watchpoint, halt, fault, input wait, divergence, the step limit or Ctrl-C.
        With N, ignore the breakpoint just stopped at N-1 more times."""
        if arg.strip():
            n = _count(arg)
            last = self._stopped_at()
            if last is None:
                raise DebugError("Not stopped at a breakpoint; argument ignored.")
            last.ignore = n - 1
            self.say(f"Will ignore next {n - 1} crossings of breakpoint {last.number}.  Continuing.")
        self._run(lambda: self.session.cont(self.max_steps))

    def _stopped_at(self):
        s = self.session
        return next((bp for bp in s.breakpoints.values() if bp.address == s.pc and bp.enabled), None)

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

    @command("until", "u", "advance", usage="until LOCATION", topic="running")
    def until(self, arg: str) -> None:
        """Run until PC reaches the location (or another reason to stop comes first)."""
        if not arg:
            raise DebugError("until needs a location: *ADDR, LABEL, LINE or FILE:LINE")
        address = self._location(arg)
        self._run(lambda: self.session.until(address, self.max_steps))

    @command("reverse-step", "rs", "reverse-stepi", "rsi", usage="reverse-step [N]", repeats=True, topic="history")
    def reverse_step(self, arg: str) -> None:
        """Step N passes backwards, restoring the exact earlier state (memory, PC, output, input)."""
        n = _count(arg)
        if n < 1:
            raise DebugError("reverse-step needs a count of at least 1")
        self._run(lambda: self.session.reverse_step(n))

    @command("reverse-continue", "rc", usage="reverse-continue", repeats=True, topic="history")
    def reverse_continue(self, arg: str) -> None:
        """Run backwards to the previous breakpoint hit (or the start of the recorded history)."""
        self._run(self.session.reverse_continue)

    @command("quit", "q", "exit", usage="quit", topic="support")
    def quit(self, arg: str) -> None:
        """Leave the debugger."""
        raise Quit

    # -- breakpoints and watchpoints ---------------------------------------------------------------

    def _location(self, spec: str) -> int:
        """gdb's locations: ``*EXPR`` an address, ``LINE`` or ``FILE:LINE`` a source line, a label."""
        spec = spec.strip()
        s = self.session
        if spec.startswith("*"):
            return s.address(spec[1:], code=True)
        m = re.fullmatch(r"(?:(?P<file>[^\s:]+):)?(?P<line>\d+)", spec)
        if m:
            return self._line_address(m.group("file"), int(m.group("line")))
        return s.address(spec, code=True)

    def _line_address(self, file: str | None, line: int) -> int:
        s = self.session
        if not s.source_map:
            raise DebugError(f"No source lines (an image without a map): use *{line} for address {line}.")
        harvard = s.config.spec.harvard
        table = s.source_map.slots if harvard else s.source_map.cells
        code = None if harvard else s.source_map.code
        found = sorted(a for a, o in table.items() if o.line == line and (code is None or a in code)
                       and (file is None or Path(o.file).name == Path(file).name))  # fmt: skip
        if not found:
            raise DebugError(f"No line {line} in {file or 'the program'} with code.")
        return found[0]

    @command("break", "b", "br", usage="break [LOCATION] [if COND]", topic="breakpoints")
    def break_(self, arg: str, temporary: bool = False) -> None:
        """Stop before executing the instruction at LOCATION: *ADDR (an address expression), LINE or FILE:LINE
        (a source line), or LABEL; without LOCATION, here. With COND, only when it holds (checked now)."""
        m = re.fullmatch(r"(?P<where>.*?)(?:\s*\bif\s+(?P<cond>.+))?", arg.strip())
        where = m.group("where").strip()
        address = self._location(where) if where else self.session.pc
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
        point = self.session.point(_count(number, default=None))
        point.ignore = _count(count, default=None)
        kind = "breakpoint" if point.number in self.session.breakpoints else "watchpoint"
        self.say(f"Will ignore next {point.ignore} crossings of {kind} {point.number}.")

    @command("commands", usage="commands [N]  (then lines, then end)", topic="breakpoints")
    def commands(self, arg: str) -> None:
        """Give breakpoint or watchpoint N (default: the last one set) command lines to run when it stops the
        program; the following lines, up to "end", are the commands."""
        s = self.session
        number = _count(arg, default=None) if arg.strip() else s._numbers
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
        bp = self.session.breakpoints.get(_count(number, default=None))
        if bp is None:
            raise DebugError(f"No breakpoint number {number.strip()}.")
        return bp

    @command("enable", usage="enable [N...]", topic="breakpoints")
    def enable(self, arg: str) -> None:
        """Enable breakpoints or watchpoints (all without N)."""
        self._set_enabled(arg, True)

    @command("disable", usage="disable [N...]", topic="breakpoints")
    def disable(self, arg: str) -> None:
        """Disable breakpoints or watchpoints (all without N)."""
        self._set_enabled(arg, False)

    def _set_enabled(self, arg: str, value: bool) -> None:
        points = [self.session.point(_count(n, default=None)) for n in arg.split()] or [
            *self.session.breakpoints.values(), *self.session.watchpoints.values()]  # fmt: skip
        for p in points:
            p.enabled = value

    @command("delete", "d", usage="delete [N...]", topic="breakpoints")
    def delete(self, arg: str) -> None:
        """Delete breakpoints or watchpoints (all without N)."""
        if not arg.strip():
            self.session.delete()
        for n in arg.split():
            self.session.delete(_count(n, default=None))

    @command("watch", usage="watch [-l] EXPR", topic="breakpoints")
    def watch(self, arg: str) -> None:
        """Stop when EXPR's value changes: a label or mem[E] watches that cell (code cells too), START:END a
        range, any other expression its value; with -l, the cell at address EXPR."""
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
        m = re.fullmatch(r"(?:(-l|-location)\s+)?(.*)", arg.strip())
        spec = m.group(2).strip()
        if not spec:
            raise DebugError(f"{kind} needs an expression: a label, mem[E], START:END or -l ADDR")
        wp = self.session.add_watchpoint(spec, kind, location=bool(m.group(1)))
        if wp.expr is not None:
            where = spec
        else:
            where = f"mem[{wp.start}]" if wp.stop == wp.start + 1 else f"mem[{wp.start}..{wp.stop - 1}]"
        name = {"watch": "Hardware watchpoint", "rwatch": "Hardware read watchpoint", "awatch":
                "Hardware access (read/write) watchpoint"}[kind]  # fmt: skip
        self.say(f"{name} {wp.number}: {where}")

    # -- state -----------------------------------------------------------------------------------

    INFO = ("registers", "breakpoints", "watchpoints", "display", "program", "frame", "line", "symbol")

    @command("info", "i", usage="info registers|breakpoints|watchpoints|display|program|frame|line|symbol",
             topic="data")  # fmt: skip
    def info(self, arg: str) -> None:
        """Show registers, breakpoints and watchpoints, auto-displays, the program, the current frame, where a
        source line's code is (info line [LOCATION]) or which label an address is near (info symbol ADDR)."""
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
            for number, expr in self.displays.items():
                self.say(f"{number}: {expr.text}")
        elif "program".startswith(what):
            state = "halted" if s.halted else "running"
            counts = f"{plural(s.steps, 'step')}, {plural(s.passes, 'pass', 'passes')}"
            self.say(f"{s.image.path}: {s.config.describe()}; {state}, pc={s.pc}, {counts}, engine {s.engine.name}")
        elif "frame".startswith(what):
            self.console.print(views.frame(s))
        elif "line".startswith(what):
            self.say(views.line_info(s, self._location(rest) if rest.strip() else s.pc))
        elif "symbol".startswith(what):
            if not rest.strip():
                raise DebugError("Argument required (address).")
            self.say(views.symbol(s, s.address(rest)))
        else:
            raise DebugError(f"info what? ({COMMANDS['info'].usage})")

    @command("regs", usage="regs", topic="data")
    def regs(self, arg: str) -> None:
        """Show PC, A, B, C, mem[A], mem[B], result, branch taken, PC+3, the next PC, halted, fault and the
        step count."""
        self.console.print(views.registers(self.session))

    @command("backtrace", "bt", "where", usage="backtrace", topic="stack")
    def backtrace(self, arg: str) -> None:
        """The chain of standard-library subroutine calls (CALL f ... RET f) that led here, innermost first."""
        self.console.print(views.backtrace(self.session))

    @command("x", usage="x/NFU ADDR", topic="data")
    def examine(self, arg: str) -> None:
        """Examine memory: N units (cells: u may be w, or omitted) from ADDR in format F (d signed, u unsigned,
        x hex, o octal, t binary, c char, s string, i instructions). ADDR is an address expression (labels are
        addresses); without it, PC."""
        m = re.fullmatch(r"(?:/(\d*)([duxotcsi]?)([bhwg]?))?\s*(.*)", arg.strip())
        if not m:
            raise DebugError(f"bad format: x{arg.strip()} (x/NFU ADDR, F one of d u x o t c s i)")
        count, fmt, unit, where = int(m.group(1) or 1), m.group(2) or "d", m.group(3), m.group(4)
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

    @command("print", "p", "inspect", usage="print[/F] EXPR", topic="data")
    def print_(self, arg: str) -> None:
        """Evaluate an expression: labels are their cells' values (&label the address), mem[i], $pc and the
        registers, the step count. /F: x hex, d signed, u unsigned, o octal, t binary, c char (as words)."""
        fmt, text = _format(arg)
        self.say(f"{text} = {self._formatted(self.session.evaluate(text), fmt)}")

    @command("output", usage="output [EXPR]", topic="data")
    def output(self, arg: str) -> None:
        """Print EXPR's value and nothing else; without EXPR, everything the program has output so far."""
        if arg.strip():
            fmt, text = _format(arg)
            self.console.print(self._formatted(self.session.evaluate(text), fmt), end="")
            return
        self._shown_output = len(self.session.output)
        self.console.print(Text(bytes(self.session.output).decode("latin-1"), style="green"))

    def _formatted(self, value: int, fmt: str) -> str:
        bits = self.session.config.bits
        word = value & ((1 << bits) - 1) if -(1 << bits) < value < (1 << bits) else value
        return {"": str(value), "d": str(value), "u": str(word), "x": hex(word), "o": oct(word),
                "t": bin(word)[2:], "c": f"{value} {chr(word & 0xFF)!r}"}[fmt]  # fmt: skip

    @command("display", usage="display EXPR", topic="data")
    def display(self, arg: str) -> None:
        """Show EXPR after every stop (without EXPR: show all now)."""
        if not arg.strip():
            for number, expr in self.displays.items():
                self.say(f"{number}: {expr.text} = {self._value(expr)}")
            return
        expr = Expr(arg)
        expr.check_names(self.session.env())
        self._display_numbers += 1
        self.displays[self._display_numbers] = expr
        self.say(f"{self._display_numbers}: {expr.text} = {self._value(expr)}")

    @command("undisplay", usage="undisplay [N...]", topic="data")
    def undisplay(self, arg: str) -> None:
        """Stop showing auto-display N (all without N)."""
        if not arg.strip():
            self.displays.clear()
        for n in arg.split():
            if self.displays.pop(_count(n, default=None), None) is None:
                raise DebugError(f"No display number {n}.")

    SETTINGS = ("var", "mem", "$pc", "max-steps")

    @command("set", usage="set [var] LABEL|mem[i]|$pc = V | set max-steps N", topic="data")
    def set_(self, arg: str) -> None:
        """Change a labelled cell, a memory cell or PC in the network's state (as bits; the reference follows),
        with a warning when V does not fit in a word. set max-steps N: continue stops after N more steps
        (0: no limit)."""
        text = re.sub(r"^(var|variable)\s+", "", arg.strip())
        m = re.fullmatch(r"max-steps\s+(\S+)", text)
        if m:
            self.max_steps = _count(m.group(1), default=None) or None
            self.say(f"continue now stops after {plural(self.max_steps, 'more step')}." if self.max_steps
                     else "continue now has no step limit.")  # fmt: skip
            return
        target, index, value = parse_assignment(text)
        s = self.session
        v = s.evaluate(value)
        if target in ("pc", "$pc"):
            s.set_pc(v)
            self.say(f"$pc = {s.pc}")
            return
        labels = s.source_map.labels if s.source_map else {}
        if target == "mem":
            address = s.evaluate(index)
        elif target in labels:
            address = labels[target]
        else:
            raise ExprError(f'No symbol "{target}" in current context (set a label, mem[i] or $pc).')
        word = s.config.wrap(v)
        if word != v:
            self.say(f"warning: {v} does not fit in a {s.config.bits}-bit word; stored as {word}")
        s.set_mem(address, v)
        self.say(f"mem[{address}] = {s.mem(address)}")

    # -- code ------------------------------------------------------------------------------------

    @command("disassemble", "disas", "l", "list", usage="disassemble [ADDR [N]]", topic="code")
    def disassemble(self, arg: str) -> None:
        """Instructions from live memory around PC (or from ADDR), with labels and source lines; => marks PC."""
        parts = arg.split()
        step = self.session.config.spec.stride
        count = _count(parts[1], default=None) if len(parts) > 1 else 8
        start = self.session.address(parts[0]) if parts else max(0, self.session.pc - 2 * step)
        if not 0 <= start < self.session.config.cells:
            raise DebugError(f"Cannot access memory at address {start}")
        self.console.print(views.disassembly(self.session, start, count))

    # -- time and I/O ------------------------------------------------------------------------------

    @command("history", "hist", usage="history [N]", topic="history")
    def history(self, arg: str) -> None:
        """The last N passes (default 10): step, PC, A, B, C, and old and new mem[B]."""
        self.console.print(views.history(self.session.records(_count(arg, default=10))))

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
            cmd = _BY_NAME.get(name)
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
                     "full documentation. A blank line repeats the last step-like command; Ctrl-C stops a run; "
                     "Ctrl-D or quit leaves.")  # fmt: skip


def _format(arg: str) -> tuple[str, str]:
    """``/x expr`` -> ("x", "expr"): print's format letter."""
    m = re.fullmatch(r"(?:/([duxotc]))?\s*(.*)", arg.strip(), re.S)
    if not m or not m.group(2):
        raise DebugError("expected [/F] EXPR, F one of d u x o t c")
    return m.group(1) or "", m.group(2)


# The commands on the network (layers, layer, diff, flow, picture, dump) live in their own module.
from mlpvm.debug import netcommands  # noqa: E402, F401


def _split(line: str) -> tuple[str, str]:
    """``x/4d 12`` -> ("x", "/4d 12"); ``b loop`` -> ("b", "loop")."""
    m = re.match(r"([A-Za-z?][\w-]*)(.*)", line)
    if not m:
        return line, ""
    return m.group(1), m.group(2).strip() if not m.group(2).startswith("/") else m.group(2)


def _count(text: str, default: int | None = 1) -> int:
    text = text.strip()
    if not text:
        if default is None:
            raise DebugError("a number is needed")
        return default
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise DebugError(f"expected a number, not {text!r}")
    return int(text)
