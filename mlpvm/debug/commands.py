"""The debugger's commands, with gdb's names and short forms, over a ``Session``; output to a Rich console.

``Debugger.execute(line)`` runs one command line; the REPL and batch mode both feed it lines.
"""

from __future__ import annotations

import codecs
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlpvm.debug import dump as dumps
from mlpvm.debug import views
from mlpvm.debug.expr import Expr, ExprError, parse_assignment
from mlpvm.debug.session import DebugError, Session, Stop
from mlpvm.errors import MlpvmError
from mlpvm.network import LAYER_NAMES


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    help: str
    run: Callable[[Debugger, str], None]
    repeats: bool  # a blank line repeats it


COMMANDS: dict[str, Command] = {}
_BY_NAME: dict[str, Command] = {}


def command(name: str, *aliases: str, usage: str = "", repeats: bool = False):
    """Registers a ``Debugger`` method as a command; its docstring is the help text."""

    def register(fn: Callable[[Debugger, str], None]) -> Callable[[Debugger, str], None]:
        doc = " ".join((fn.__doc__ or "").split())
        cmd = Command(name, aliases, usage or name, doc, fn, repeats)
        COMMANDS[name] = cmd
        for key in (name, *aliases):
            _BY_NAME[key] = cmd
        return fn

    return register


class Quit(Exception):
    """Raised by ``quit``: the REPL or batch run ends."""


class Debugger:
    def __init__(self, session: Session, console: Console, max_steps: int | None = None):
        self.session, self.console, self.max_steps = session, console, max_steps
        self.displays: dict[int, Expr] = {}
        self._display_numbers = 0
        self._shown_output = 0
        self._last_repeatable: str | None = None

    # -- dispatch --------------------------------------------------------------------------------

    def execute(self, line: str) -> None:
        """Runs one command line; a blank line repeats the last step-like command. Raises ``Quit``."""
        line = line.strip()
        if not line:
            if self._last_repeatable:
                self.execute(self._last_repeatable)
            return
        if line.startswith("#"):
            return
        name, arg = _split(line)
        cmd = _BY_NAME.get(name)
        if cmd is None:
            self.error(f'Undefined command: "{name}". Try "help".')
            return
        self._last_repeatable = line if cmd.repeats else self._last_repeatable
        try:
            cmd.run(self, arg)
        except (MlpvmError, ValueError) as e:
            self.error(str(e))

    def error(self, message: str) -> None:
        self.console.print(Text(message, style="red"))

    def say(self, message: str) -> None:
        self.console.print(Text(message))

    def show_stop(self, stop: Stop) -> None:
        """After a run: the program's new output, the banner, the auto-displays and the context panel."""
        self.show_output()
        self.console.print(views.banner(self.session, stop))
        for number, expr in self.displays.items():
            self.say(f"{number}: {expr.text} = {self._value(expr)}")
        self.console.print(views.context(self.session, stop))

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
        stop = fn()
        self._shown_output = min(self._shown_output, len(self.session.output))
        self.show_stop(stop)

    # -- running ---------------------------------------------------------------------------------

    @command("step", "s", "si", "stepi", "next", "n", usage="step [N]", repeats=True)
    def step(self, arg: str) -> None:
        """Run N loop passes (default 1): each pass is one instruction. Stops early at breakpoints,
        watchpoints, halts, faults and divergences."""
        self._run(lambda: self.session.step(_count(arg)))

    @command("continue", "c", "cont", usage="continue", repeats=True)
    def cont(self, arg: str) -> None:
        """Run until a breakpoint, watchpoint, halt, fault, input wait, divergence or Ctrl-C."""
        self._run(lambda: self.session.cont(self.max_steps))

    @command("run", "r", "restart", usage="run")
    def run(self, arg: str) -> None:
        """Restart the program from the beginning (breakpoints stay) and continue."""
        self.session.restart()
        self._shown_output = 0
        self._run(lambda: self.session.cont(self.max_steps))

    @command("until", "u", "advance", usage="until ADDR|LABEL")
    def until(self, arg: str) -> None:
        """Run until PC reaches the address (or another reason to stop comes first)."""
        if not arg:
            raise DebugError("until needs an address or label")
        address = self.session.address(arg)
        self._run(lambda: self.session.until(address, self.max_steps))

    @command("reverse-step", "rs", "reverse-stepi", usage="reverse-step [N]", repeats=True)
    def reverse_step(self, arg: str) -> None:
        """Step N passes backwards, restoring the exact earlier state (memory, PC, output, input)."""
        self._run(lambda: self.session.reverse_step(_count(arg)))

    @command("reverse-continue", "rc", usage="reverse-continue", repeats=True)
    def reverse_continue(self, arg: str) -> None:
        """Run backwards to the previous breakpoint hit (or the start of the recorded history)."""
        self._run(self.session.reverse_continue)

    @command("quit", "q", "exit", usage="quit")
    def quit(self, arg: str) -> None:
        """Leave the debugger."""
        raise Quit

    # -- breakpoints and watchpoints ---------------------------------------------------------------

    @command("break", "b", "br", usage="break ADDR|LABEL [if COND]")
    def break_(self, arg: str, temporary: bool = False) -> None:
        """Stop before executing the instruction at ADDR (a number, label or expression), optionally only when
        COND holds. COND may use pc, mem[i], the registers, labels and the step count."""
        m = re.fullmatch(r"(?P<where>.*?)(?:\s+if\s+(?P<cond>.+))?", arg.strip())
        if not m.group("where"):
            raise DebugError("break needs an address or label")
        bp = self.session.add_breakpoint(m.group("where"), m.group("cond"), temporary)
        kind = "Temporary breakpoint" if temporary else "Breakpoint"
        self.say(f"{kind} {bp.number} at {bp.address}" + (f" if {bp.condition.text}" if bp.condition else ""))

    @command("tbreak", "tb", usage="tbreak ADDR|LABEL [if COND]")
    def tbreak(self, arg: str) -> None:
        """Like break, but deleted when first hit."""
        self.break_(arg, temporary=True)

    @command("condition", usage="condition N [COND]")
    def condition(self, arg: str) -> None:
        """Set (or, without COND, remove) the condition of breakpoint N."""
        number, _, cond = arg.partition(" ")
        bp = self._breakpoint(number)
        bp.condition = Expr(cond) if cond.strip() else None
        self.say(
            f"Breakpoint {bp.number} " + (f"now stops if {cond.strip()}" if cond.strip() else "is now unconditional")
        )

    @command("ignore", usage="ignore N COUNT")
    def ignore(self, arg: str) -> None:
        """Pass over the next COUNT hits of breakpoint N."""
        number, _, count = arg.partition(" ")
        bp = self._breakpoint(number)
        bp.ignore = _count(count, default=None)
        self.say(f"Will ignore next {bp.ignore} crossings of breakpoint {bp.number}.")

    def _breakpoint(self, number: str):
        bp = self.session.breakpoints.get(_count(number, default=None))
        if bp is None:
            raise DebugError(f"No breakpoint number {number.strip()}.")
        return bp

    @command("enable", usage="enable [N...]")
    def enable(self, arg: str) -> None:
        """Enable breakpoints or watchpoints (all without N)."""
        self._set_enabled(arg, True)

    @command("disable", usage="disable [N...]")
    def disable(self, arg: str) -> None:
        """Disable breakpoints or watchpoints (all without N)."""
        self._set_enabled(arg, False)

    def _set_enabled(self, arg: str, value: bool) -> None:
        points = [self.session.point(_count(n, default=None)) for n in arg.split()] or [
            *self.session.breakpoints.values(), *self.session.watchpoints.values()]  # fmt: skip
        for p in points:
            p.enabled = value

    @command("delete", "d", usage="delete [N...]")
    def delete(self, arg: str) -> None:
        """Delete breakpoints or watchpoints (all without N)."""
        if not arg.strip():
            self.session.delete()
        for n in arg.split():
            self.session.delete(_count(n, default=None))

    @command("watch", usage="watch ADDR|LABEL|START:END")
    def watch(self, arg: str) -> None:
        """Stop when the instruction writes a new value into the cell (or range); code cells too."""
        self._watch(arg, "watch")

    @command("rwatch", usage="rwatch ADDR|LABEL|START:END")
    def rwatch(self, arg: str) -> None:
        """Stop when the instruction reads the cell: as an operand, or as one of its own three words."""
        self._watch(arg, "rwatch")

    @command("awatch", usage="awatch ADDR|LABEL|START:END")
    def awatch(self, arg: str) -> None:
        """Stop when the instruction reads or writes the cell."""
        self._watch(arg, "awatch")

    def _watch(self, arg: str, kind: str) -> None:
        if not arg.strip():
            raise DebugError(f"{kind} needs a cell, label or START:END range")
        wp = self.session.add_watchpoint(arg.strip(), kind)
        where = f"mem[{wp.start}]" if wp.stop == wp.start + 1 else f"mem[{wp.start}..{wp.stop - 1}]"
        self.say(f"{'Hardware watchpoint' if kind == 'watch' else kind.capitalize()} {wp.number}: {where}")

    # -- state -----------------------------------------------------------------------------------

    @command("info", "i", usage="info registers|breakpoints|watchpoints|display|program")
    def info(self, arg: str) -> None:
        """Show registers (info registers, or regs), breakpoints and watchpoints, auto-displays, or the program."""
        what = arg.strip()
        if "registers".startswith(what or "x") or what in ("r", "reg"):
            self.console.print(views.registers(self.session))
        elif "breakpoints".startswith(what) or "watchpoints".startswith(what) or what == "b":
            if self.session.breakpoints or self.session.watchpoints:
                self.console.print(views.breakpoints(self.session))
            else:
                self.say("No breakpoints or watchpoints.")
        elif "display".startswith(what):
            for number, expr in self.displays.items():
                self.say(f"{number}: {expr.text}")
        elif "program".startswith(what):
            s = self.session
            state = "halted" if s.halted else "running"
            self.say(f"{s.image.path}: {s.config.describe()}; {state}, pc={s.pc}, {s.steps} steps, {s.passes} passes, "
                     f"engine {s.engine.name}")  # fmt: skip
        else:
            raise DebugError(f"info what? ({COMMANDS['info'].usage})")

    @command("regs", usage="regs")
    def regs(self, arg: str) -> None:
        """Show PC, A, B, C, mem[A], mem[B], result, branch taken, next PC, halted, fault and the step count."""
        self.console.print(views.registers(self.session))

    @command("x", usage="x/NF ADDR")
    def examine(self, arg: str) -> None:
        """Examine memory: N units in format F (d signed, u unsigned, x hex, c char, s string, i instructions)."""
        m = re.fullmatch(r"(?:/([0-9]{0,9})([duxcsi]?))?\s*(.*)", arg.strip())
        if m is None:
            raise DebugError(f"expected x/NF ADDR, not x{arg}")
        count, fmt, where = int(m.group(1) or 1), m.group(2) or "d", m.group(3)
        address = self.session.address(where) if where else self.session.pc
        if not 0 <= address < len(self.session.memory()):
            raise DebugError(f"Cannot access memory at address {address}")
        self.console.print(views.examine(self.session, address, count, fmt))

    @command("print", "p", "output-value", usage="print EXPR")
    def print_(self, arg: str) -> None:
        """Evaluate an expression over pc, mem[i], registers, labels and the step count."""
        self.say(f"{arg.strip()} = {self.session.evaluate(arg)}")

    @command("display", usage="display EXPR")
    def display(self, arg: str) -> None:
        """Show EXPR after every stop (without EXPR: show all now)."""
        if not arg.strip():
            for number, expr in self.displays.items():
                self.say(f"{number}: {expr.text} = {self._value(expr)}")
            return
        expr = Expr(arg)
        self._display_numbers += 1
        self.displays[self._display_numbers] = expr
        self.say(f"{self._display_numbers}: {expr.text} = {self._value(expr)}")

    @command("undisplay", usage="undisplay [N...]")
    def undisplay(self, arg: str) -> None:
        """Stop showing auto-display N (all without N)."""
        if not arg.strip():
            self.displays.clear()
        for n in arg.split():
            if self.displays.pop(_count(n, default=None), None) is None:
                raise DebugError(f"No display number {n}.")

    @command("set", usage="set mem[i] = V | set pc = V")
    def set_(self, arg: str) -> None:
        """Change a memory cell or PC in the network's state (as bits); the reference follows."""
        target, index, value = parse_assignment(re.sub(r"^var\s+", "", arg.strip()))
        v = self.session.evaluate(value)
        bits = self.session.config.bits
        if not -(1 << (bits - 1)) <= v < 1 << bits:
            raise DebugError(f"{v} does not fit a {bits}-bit word")
        if target == "mem":
            address = self.session.evaluate(index)
            self.session.set_mem(address, v)
            self.say(f"mem[{address}] = {self.session.mem(address)}")
        elif target == "pc":
            self.session.set_pc(v)
            self.say(f"pc = {self.session.pc}")
        else:
            raise ExprError(f"only mem[i] and pc can be set, not {target}")

    # -- code ------------------------------------------------------------------------------------

    @command("disassemble", "disas", "l", "list", usage="disassemble [ADDR [N]]")
    def disassemble(self, arg: str) -> None:
        """Instructions from live memory around PC (or from ADDR), with labels and source lines; => marks PC."""
        parts = arg.split()
        step = self.session.config.spec.stride
        count = _count(parts[1], default=None) if len(parts) > 1 else 8
        start = self.session.address(parts[0]) if parts else max(0, self.session.pc - 2 * step)
        self.console.print(views.disassembly(self.session, start, count))

    # -- the network -------------------------------------------------------------------------------

    @command("layers", usage="layers")
    def layers(self, arg: str) -> None:
        """The 23 layers of the last pass: name, stage, width, active units, and the fields each computed."""
        trace = self._trace()
        if trace is not None:
            self.console.print(views.layers(self.session, trace))

    @command("layer", usage="layer NAME|K")
    def layer(self, arg: str) -> None:
        """One layer of the last pass: its activations grouped by field, memory-wide fields as a heat strip."""
        key = arg.strip()
        k = int(key) if key.isdigit() else (LAYER_NAMES.index(key) if key in LAYER_NAMES else -1)
        if not 0 <= k < len(LAYER_NAMES):
            raise DebugError(f"no layer {key!r}: give 0..22 or a name like read.1")
        trace = self._trace()
        if trace is not None:
            self.console.print(views.layer(self.session, k, trace))

    def _trace(self) -> list[np.ndarray] | None:
        trace = self.session.last_trace()
        if trace is None:
            self.say("No pass yet (or it is no longer in the history): step first.")
        return trace

    @command("dump", usage="dump FILE.npz [--passes RANGE]")
    def dump(self, arg: str) -> None:
        """Save per-layer activations (keys like pass12.read.1) and decoded fields of the last pass, or of the
        passes in RANGE (N, A:B or A-B, still in the history), to a numpy .npz file."""
        words = shlex.split(arg)
        if not words:
            raise DebugError("dump needs a file name")
        passes = dumps.parse_range(words[words.index("--passes") + 1]) if "--passes" in words else None
        path = Path(words[0])
        written = dumps.dump_session(self.session, path, passes)
        self.say(f"Wrote {len(written)} passes ({written[0]}..{written[-1]}) to {path}")

    # -- time and I/O ------------------------------------------------------------------------------

    @command("history", "hist", usage="history [N]")
    def history(self, arg: str) -> None:
        """The last N passes (default 10): step, PC, A, B, C, and old and new mem[B]."""
        self.console.print(views.history(self.session.records(_count(arg, default=10))))

    @command("input", usage="input TEXT")
    def input(self, arg: str) -> None:
        """Queue bytes for the program's input (C escapes such as \\n work)."""
        data = codecs.decode(arg, "unicode_escape").encode("latin-1")
        self.session.feed(data)
        self.say(f"Queued {len(data)} input bytes.")

    @command("eof", usage="eof")
    def eof(self, arg: str) -> None:
        """Close the input: once the queue is empty, input instructions read -1."""
        self.session.close_input()
        self.say("Input closed.")

    @command("output", usage="output")
    def output(self, arg: str) -> None:
        """Everything the program has output so far."""
        self._shown_output = len(self.session.output)
        self.console.print(Text(bytes(self.session.output).decode("latin-1"), style="green"))

    # -- help ------------------------------------------------------------------------------------

    @command("help", "h", "?", usage="help [COMMAND]")
    def help(self, arg: str) -> None:
        """List the commands, or explain one."""
        name = arg.strip()
        if name:
            cmd = _BY_NAME.get(name)
            if cmd is None:
                raise DebugError(f'Undefined command: "{name}".')
            aliases = f"  (also: {', '.join(cmd.aliases)})" if cmd.aliases else ""
            self.say(f"{cmd.usage}{aliases}\n{cmd.help}")
            return
        table = Table.grid(padding=(0, 2))
        for cmd in COMMANDS.values():
            table.add_row(Text(cmd.usage, style="bold"), cmd.help.split(".")[0] + ".")
        self.console.print(table)
        self.say("A blank line repeats the last step-like command; Ctrl-C stops a run; Ctrl-D or quit leaves.")


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
