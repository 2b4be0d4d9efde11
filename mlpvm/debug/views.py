"""Rich renderables for the debugger: small pieces, each showing one thing the session knows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlpvm.cli.console import plural
from mlpvm.debug.records import Frame, Pass, Stop
from mlpvm.debug.session import Session
from mlpvm.machines.config import Config
from mlpvm.program.asm.disasm import Instruction

NAMES = {"a": "A", "b": "B", "c": "C", "mem_a": "mem[A]", "mem_b": "mem[B]", "result": "result", "pc": "PC",
         "fallthrough": "fallthrough", "next_pc": "next PC", "branch": "branch"}  # fmt: skip


# -- stops ---------------------------------------------------------------------------------------


def banner(session: Session, stop: Stop) -> Text:
    """One line saying why the run stopped."""
    where = _where(session, stop.pc)
    r = stop.reason
    if r == "breakpoint":
        bp = stop.breakpoint
        kind = "Temporary breakpoint" if bp.temporary else "Breakpoint"
        return Text(f"{kind} {bp.number}, {where}", style="bold yellow")
    if r == "watchpoint":
        parts = []
        for wp, address, access, old, new in stop.watch:
            cell = _cell_name(session, address)
            if access == "value":
                parts.append(f"Watchpoint {wp.number}: {wp.spec} {old} -> {new}")
            else:
                parts.append(f"Watchpoint {wp.number}: {cell} {old} -> {new}" if access == "write"
                             else f"Watchpoint {wp.number}: {cell} read (= {old})")  # fmt: skip
        return Text("; ".join(parts) + f", now {where}", style="bold yellow")
    if r == "halt":
        counts = f"{plural(session.steps, 'step')} ({plural(session.passes, 'pass', 'passes')})"
        return Text(f"Halted after {counts}, {where}", style="bold green")
    if r == "fault":
        last = stop.last
        ops = f" (A={last.a}, B={last.b})" if last else ""
        return Text(f"Fault at {where}{ops}: an operand is outside memory", style="bold red")
    if r == "condition":
        number = stop.breakpoint.number if stop.breakpoint else "?"
        return Text(f"Error in testing condition for breakpoint {number}: {stop.error}; stopped at {where}",
                    style="bold red")  # fmt: skip
    if r == "watch-error":
        return Text(f"Error evaluating a watchpoint: {stop.error}; stopped at {where}", style="bold red")
    if r == "divergence":
        return Text(f"Divergence from the reference at {stop.divergence}", style="bold red")
    if r == "diverged":
        return Text(f"Still diverged from the reference (at {stop.divergence}): not running on checked; go "
                    "back before it (reverse-step, run) or `set check off`", style="bold red")  # fmt: skip
    if r == "eof":
        n = session.eof_reads
        return Text(f"Input ended: the program read its end {plural(n, 'time')} and asks again, at {where} "
                    "(--eof-reads N: more; 0: no limit)", style="bold cyan")  # fmt: skip
    if r == "wait":
        return Text(f"Waiting for input at {where}: queue some with `input TEXT` (or `eof`)", style="bold cyan")
    text = {"limit": "Step limit reached (--max-steps N, or set max-steps N; 0: none)",
            "interrupt": "Interrupted", "until": "Reached", "entry": "At the entry",
            "history": "At the start of the recorded history", "step": "Stepped to"}[r]  # fmt: skip
    return Text(f"{text}: {where}", style="bold")


def _where(session: Session, pc: int) -> str:
    labels = session.source_map.labels_at(pc, session.config.spec.harvard) if session.source_map else []
    return f"pc={pc}" + (f" <{labels[0]}>" if labels else "")


def where(session: Session, address: int) -> str:
    """An address for a message: ``12 <loop>: prog.asq:7`` (label and line when the map knows them)."""
    text = _where(session, address)[3:]
    line = session.line(address)
    return text + (f": {line[0]}:{line[1]}" if line else "")


def symbol(session: Session, address: int, code: bool = True) -> str:
    """``info symbol``: the nearest label at or before the address (a slot's, for code on a Harvard machine)."""
    slots = code and session.config.spec.harvard
    table = (session.source_map.slot_labels if slots else session.source_map.labels) if session.source_map else {}
    below = [(a, name) for name, a in table.items() if a <= address]
    if not below:
        return f"No symbol matches {address}."
    a, name = max(below, key=lambda p: p[0])
    return f"{name} + {address - a}" if address > a else name


def formatted(config: Config, value: int, fmt: str) -> str:
    """A value in print's format ``fmt`` (d signed, u unsigned, x hex, o octal, t binary, c char; "": as is),
    the unsigned ones as a word of the machine."""
    bits = config.bits
    word = value & ((1 << bits) - 1) if -(1 << bits) < value < (1 << bits) else value
    return {"": str(value), "d": str(value), "u": str(word), "x": hex(word), "o": oct(word),
            "t": bin(word)[2:], "c": f"{value} {chr(word & 0xFF)!r}"}[fmt]  # fmt: skip


def line_info(session: Session, address: int) -> str:
    """``info line``: which source line the address belongs to and where that line's code starts and ends."""
    line, same = session.line(address), session.sources.span(address)
    if not same:
        return f"No line number information available for address {address}"
    return (f'Line {line[1]} of "{line[0]}" starts at address {_where(session, same[0])[3:]} and ends at '
            f"{_where(session, same[-1] + 1)[3:]}.")  # fmt: skip


def frame_text(session: Session, pc: int, frame: Frame | None) -> str:
    """``in f (prog.asq:12) at pc=14``: a frame's place, for bt and finish."""
    name = session.entries.get(frame.entry, "?") if frame else "main"
    line = session.line(pc)
    return f"{name} at {_where(session, pc)}" + (f" ({line[0]}:{line[1]})" if line else "")


def places(session: Session) -> list[tuple[int, Frame | None]]:
    """The frames of the CALL chain, innermost first: (the PC in it, its subroutine; None for main). Frame
    0 is where the program is; each outer one is at the call site of the one inside it."""
    frames = session.frames
    found = [(session.pc, frames[-1] if frames else None)]
    for k in range(len(frames) - 1, -1, -1):
        found.append((frames[k].site, frames[k - 1] if k else None))
    return found


def backtrace(session: Session) -> Text:
    """``bt``: the current place in the innermost subroutine, then each call site, outermost last."""
    return Text("\n".join(f"#{i:<2} {frame_text(session, pc, f)}" for i, (pc, f) in enumerate(places(session))))


def frame(session: Session, level: int = 0) -> Text:
    """``info frame``: a frame of the CALL chain (default the innermost), where it was called from and where
    it returns to."""
    pc, f = places(session)[level]
    lines = [f"Stack level {level}, {frame_text(session, pc, f)}"]
    if f is not None:
        lines.append(f" called by frame at {_where(session, f.site)}; returns to {_where(session, f.ret)}")
        lines.append(f" subroutine entry {_where(session, f.entry)}, return jump at {f.entry - 3}")
    else:
        lines.append(" outermost frame" + (" (no CALL/RET subroutines known)" if not session.entries else ""))
    return Text("\n".join(lines))


def _cell_name(session: Session, address: int) -> str:
    labels = session.source_map.labels_at(address) if session.source_map else []
    return f"mem[{address}]" + (f" <{labels[0]}>" if labels else "")


# -- code ----------------------------------------------------------------------------------------


def instruction(session: Session, address: int) -> Instruction:
    """The instruction at ``address`` of live memory (or the slot, on a Harvard machine)."""
    return session.config.spec.listing.instruction(session, address)


def rows(session: Session) -> list[Instruction]:
    """Live memory (or slots) as instructions and data rows; the instruction at PC is always shown as one."""
    return session.config.spec.listing.rows(session)


def disassembly(session: Session, start: int, count: int) -> Listing:
    """``count`` rows from the one holding ``start``, the current instruction marked =>."""
    harvard = session.config.spec.harvard  # a row is one slot, or as many cells as it has words
    listing = [r for r in rows(session) if r.address + (1 if harvard else max(r.size, 1)) > start][:count]
    return Listing(
        [("=>" if ins.address == session.pc and ins.kind != "data" else "", ins.address,
          ",".join(ins.labels) + (":" if ins.labels else ""), " ".join(str(w) for w in ins.words), ins.text,
          f"{ins.origin.line}: {ins.origin.text.strip()}" if ins.origin else "") for ins in listing],
        len(str(session.config.cells)),
    )  # fmt: skip


class Listing:
    """Disassembly rows (mark, address, labels, words, text, source) in aligned columns when they fit the
    width; a row that does not continues on lines of its own under its labels column, broken between words,
    never cut: the mark and the address always show, and every word and value of the row too."""

    STYLES = ("bold", "cyan", "magenta", "dim", "", "dim")

    def __init__(self, rows: list[tuple[str, int, str, str, str, str]], address_width: int):
        self.rows, self.address_width = rows, address_width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        width = options.max_width
        head = 2 + 1 + self.address_width + 1  # "=> 1234 "
        cols = [max((len(r[k]) for r in self.rows), default=0) for k in (2, 3, 4)]
        aligned = head + sum(c + 1 for c in cols if c)  # where the source column starts
        for mark, address, labels, words, text, source in self.rows:
            line = Text.assemble((f"{mark:<2} ", "bold"), (f"{address:>{self.address_width}} ", "cyan"))
            parts = list(zip((labels, words, text), self.STYLES[2:5], cols))
            source_words = [(w, "dim") for w in source.split()]
            if aligned <= width:  # the columns fit: the source follows, wrapped under itself if there is room
                for part, style, col in parts:
                    if col:
                        line.append(part.ljust(col) + " ", style)
                if aligned + min(len(source), 24) <= width:
                    yield from _fill(line, source_words, width, aligned)
                    continue
                yield _rstrip(line)
                line = Text(" " * head)
                yield from _fill(line, source_words, width, head) if source_words else ()
            else:  # too narrow for columns: the row flows on under its labels
                flow = [(w, style) for part, style, _ in parts for w in part.split()]
                yield from _fill(line, flow + source_words, width, head)


def _fill(line: Text, words: list[tuple[str, str]], width: int, indent: int) -> Iterator[Text]:
    """``line`` then the words, a space apart, onto lines that start ``indent`` columns in when the width is
    full: broken between words, never inside one (a word wider than a whole line is folded by the console)."""
    used = len(line.plain)
    for word, style in words:
        if used > indent and used + len(word) > width:
            yield _rstrip(line)
            line, used = Text(" " * indent), indent
        line.append(word + " ", style)
        used += len(word) + 1
    yield _rstrip(line)


def _rstrip(text: Text) -> Text:
    text.rstrip()
    return text


# -- state ---------------------------------------------------------------------------------------


def registers(session: Session) -> Text:
    """PC and flags now, and the registers the last pass computed (they describe the instruction it ran). Lines
    of ``name value`` pairs that wrap between pairs, never inside one: readable at 80 columns."""
    regs = session.registers()
    last = session.last

    def pairs(items: list[tuple[str, object]]) -> Text:
        nb = "\u00a0"  # no break inside a pair
        return Text("  ").join(
            Text.assemble((f"{name.replace(' ', nb)}{nb}", "dim"), str(value)) for name, value in items
        )

    now = pairs([(NAMES.get(k, k), regs[k]) for k in ("pc", "halted", "fault", "step", "passes")])
    lines = [Text.assemble(("now  ", "bold"), now)]
    ran = f"last pass (pc {last.pc})" if last else "last pass"
    if last is None:
        lines.append(Text.assemble((ran, "bold"), ("  nothing yet", "dim")))
    elif last.kind == "idle":
        lines.append(Text.assemble((ran, "bold"), ("  executed nothing", "dim")))
    else:
        ops = pairs([(NAMES[k], regs[k]) for k in ("a", "b", "c", "mem_a", "mem_b")])
        lines.append(Text.assemble((ran + "  ", "bold"), ops))
        # fallthrough is the machine's adder (PC + 3; PC + 1 on paper), one name on every machine as in $fallthrough
        # and trace's field; next PC is where execution went: the jump target when the branch was taken
        flow = [("result", regs["result"]), ("branch", regs["branch"]), ("fallthrough", regs["fallthrough"]),
                ("next PC", last.new_pc)]  # fmt: skip
        lines.append(Text.assemble("     ", pairs(flow)))
    return Text("\n").join(lines)


def memory(session: Session, addresses: list[int], changed: set[int] = frozenset()) -> Table:
    """The given cells, eight to a row, changed ones highlighted."""
    mem = session.memory()
    table = Table.grid(padding=(0, 1))
    table.add_column("addr", style="cyan")
    for _ in range(8):
        table.add_column(justify="right")
    cells = sorted({a for a in addresses if 0 <= a < len(mem)})
    table.add_row(Text("", style="dim"), *(Text(f"+{i}", style="dim") for i in range(8)))
    rows: dict[int, list[Text]] = {}
    for a in cells:
        base = a - a % 8
        row = rows.setdefault(base, [Text("") for _ in range(8)])
        row[a - base] = Text(str(int(mem[a])), style="bold reverse" if a in changed else "")
    labels = session.source_map.labels if session.source_map else {}
    for base, row in sorted(rows.items()):
        table.add_row(f"{base:>5}:", *row)
        named = [f"{name}@{a}" for name, a in labels.items() if base <= a < base + 8 and a in cells and "@" not in name]
        if named:
            table.add_row("", Text(" ".join(named), style="magenta dim"))  # wrapped between labels, never cut
    return table


def context(session: Session, stop: Stop | None = None) -> Panel:
    """The compact panel after a stop: the instruction at PC and its source, registers, touched memory."""
    cfg, pc = session.config, session.pc
    runnable = pc in cfg.spec.pcs(cfg)
    parts: list[RenderableType] = [disassembly(session, pc, 1) if runnable else Text(f"PC {pc}: nothing to run")]
    parts.append(registers(session))
    last = stop.last if stop else session.last
    if last is None or last.kind == "idle":
        pass
    elif not cfg.spec.harvard:  # the instruction's own cells too
        touched = set(last.reads) | ({last.written} if last.written is not None else set())
        near = {a + d for a in touched for d in (-1, 0, 1)}
        changed = {last.written} if last.written is not None and last.old != last.new else set()
        parts.append(memory(session, sorted(near), changed))
    elif last is not None and last.written is not None:
        parts.append(memory(session, [last.written], {last.written} if last.old != last.new else set()))
    return Panel(Group(*parts), title=f"pass {session.passes}, step {session.steps}", title_align="left")


def examine(session: Session, address: int, count: int, fmt: str) -> RenderableType:
    """``x/NF ADDR``: d signed, u unsigned, x hex, c char, s string, i instructions."""
    if fmt == "i":
        return disassembly(session, address, count)
    mem = session.memory()
    end = min(len(mem), address + count)
    if fmt == "s":
        chars = []
        for a in range(address, len(mem)):
            if mem[a] == 0 or len(chars) >= max(count, 1) * 80:
                break
            chars.append(chr(int(mem[a]) & 0xFF))
        return Text(f"{address}: {''.join(chars)!r}")
    mask = (1 << session.config.bits) - 1
    show = {"d": str, "u": lambda v: str(v & mask), "x": lambda v: hex(v & mask), "o": lambda v: oct(v & mask),
            "t": lambda v: bin(v & mask)[2:], "c": lambda v: repr(chr(v & 0xFF))}[fmt]  # fmt: skip
    per_row = {"t": 2, "x": 6, "o": 6}.get(fmt, 8)  # wide formats fewer to a row: 80 columns
    table = Table.grid(padding=(0, 1))
    for base in range(address, end, per_row):
        table.add_row(Text(f"{_label_of(session, base)}:", style="cyan"),
                      *(show(int(mem[a])) for a in range(base, min(end, base + per_row))))  # fmt: skip
    return table


def examined_end(session: Session, address: int, count: int, fmt: str) -> int:
    """The address after what ``x/NF ADDR`` showed: where a repeated ``x`` goes on."""
    if fmt == "i":
        harvard = session.config.spec.harvard
        shown = [r for r in rows(session) if r.address + (1 if harvard else max(r.size, 1)) > address][:count]
        return shown[-1].address + (1 if harvard else max(shown[-1].size, 1)) if shown else address + count
    if fmt == "s":
        mem = session.memory()
        zero = np.flatnonzero(mem[address:] == 0)
        return address + (int(zero[0]) + 1 if len(zero) else len(mem) - address)
    return address + count


def _label_of(session: Session, address: int) -> str:
    """``16 <msg+2>``: an address with the nearest label at or before it, as gdb's x shows."""
    name = symbol(session, address, code=False) if session.source_map else ""
    return f"{address}" + (f" <{name.replace(' ', '')}>" if name and not name.startswith("No symbol") else "")


def breakpoints(session: Session) -> Table:
    table = Table("Num", "Type", "Enb", "Where", "Hits", "Condition", box=None, header_style="bold")
    for bp in session.breakpoints.values():
        extra = f" (ignore {bp.ignore})" if bp.ignore else ""
        kind = "tbreak" if bp.temporary else "breakpoint"
        table.add_row(str(bp.number), kind, "y" if bp.enabled else "n", f"{bp.address} ({bp.spec})", str(bp.hits),
                      (bp.condition.text if bp.condition else "") + extra)  # fmt: skip
    for wp in session.watchpoints.values():
        where = f"{wp.start}" if wp.stop == wp.start + 1 else f"{wp.start}..{wp.stop - 1}"
        table.add_row(str(wp.number), wp.kind, "y" if wp.enabled else "n", f"{where} ({wp.spec})", str(wp.hits),
                      wp.condition.text if wp.condition else "")  # fmt: skip
    return table


def history(records: list[Pass]) -> Table:
    table = Table("pass", "step", "PC", "A", "B", "C", "mem[B] old", "new", "", box=None, header_style="bold")
    for r in records:
        note = {"in": "input", "out": f"output {r.out}", "idle": "no step"}.get(r.kind, "branch" if r.branch else "")
        table.add_row(str(r.number), str(r.step), str(r.pc), str(r.a), str(r.b), str(r.c),
                      "" if r.old is None else str(r.old), "" if r.new is None else str(r.new), note)  # fmt: skip
    return table
