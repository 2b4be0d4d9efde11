"""Rich renderables for the debugger: small pieces, each showing one thing the session knows."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlpvm.debug.session import Pass, Session, Stop
from mlpvm.program.asm.disasm import Instruction

NAMES = {"a": "A", "b": "B", "c": "C", "mem_a": "mem[A]", "mem_b": "mem[B]", "result": "result", "pc": "PC",
         "next_pc": "next PC", "branch": "branch"}  # fmt: skip


# -- stops ---------------------------------------------------------------------------------------


def banner(session: Session, stop: Stop) -> Text:
    """One line saying why the run stopped."""
    where = _where(session, stop.pc)
    r = stop.reason
    if r == "breakpoint":
        bp = stop.breakpoint
        return Text(f"Breakpoint {bp.number}, {where}", style="bold yellow")
    if r == "watchpoint":
        parts = []
        for wp, address, access, old, new in stop.watch:
            cell = _cell_name(session, address)
            parts.append(f"Watchpoint {wp.number}: {cell} {old} -> {new}" if access == "write"
                         else f"Watchpoint {wp.number}: {cell} read (= {old})")  # fmt: skip
        return Text("; ".join(parts) + f", now {where}", style="bold yellow")
    if r == "halt":
        return Text(f"Halted after {session.steps} steps ({session.passes} passes), {where}", style="bold green")
    if r == "fault":
        last = stop.last
        ops = f" (A={last.a}, B={last.b})" if last else ""
        return Text(f"Fault at {where}{ops}: an operand is outside memory", style="bold red")
    if r == "divergence":
        return Text(f"Divergence from the reference at {stop.divergence}", style="bold red")
    if r == "wait":
        return Text(f"Waiting for input at {where}: queue some with `input TEXT` (or `eof`)", style="bold cyan")
    text = {"limit": "Step limit reached", "interrupt": "Interrupted", "until": "Reached",
            "history": "At the start of the recorded history", "step": "Stepped to"}[r]  # fmt: skip
    return Text(f"{text}: {where}", style="bold")


def _where(session: Session, pc: int) -> str:
    labels = session.source_map.labels_at(pc, session.config.spec.harvard) if session.source_map else []
    return f"pc={pc}" + (f" <{labels[0]}>" if labels else "")


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


def disassembly(session: Session, start: int, count: int) -> Table:
    """``count`` rows from the one holding ``start``, the current instruction marked =>."""
    table = Table.grid(padding=(0, 1))
    for col in ("mark", "addr", "labels", "words", "text"):
        table.add_column(col, style={"addr": "cyan", "labels": "magenta", "words": "dim"}.get(col))
    table.add_column("source", style="dim", no_wrap=True, overflow="ellipsis", max_width=60)
    harvard = session.config.spec.harvard  # a row is one slot, or as many cells as it has words
    listing = [r for r in rows(session) if r.address + (1 if harvard else max(r.size, 1)) > start][:count]
    for ins in listing:
        mark = "=>" if ins.address == session.pc and ins.kind != "data" else ""
        source = f"{ins.origin.line}: {ins.origin.text.strip()}" if ins.origin else ""
        table.add_row(mark, f"{ins.address:>5}", ",".join(ins.labels) + (":" if ins.labels else ""),
                      " ".join(str(w) for w in ins.words), ins.text, source)  # fmt: skip
    return table


# -- state ---------------------------------------------------------------------------------------


def registers(session: Session) -> Table:
    """PC and flags now, and the registers the last pass computed (they describe the instruction it ran)."""
    regs = session.registers()
    last = session.last
    table = Table.grid(padding=(0, 2))
    now = ["pc", "halted", "fault", "step", "passes"]
    table.add_row(
        Text("now", style="bold"), *(Text.assemble((f"{NAMES.get(k, k)} ", "dim"), str(regs[k])) for k in now)
    )
    if last is not None and last.kind == "idle":
        table.add_row(Text(f"last pass (pc {last.pc})", style="bold"), Text("executed nothing", style="dim"))
        return table
    ran = f"last pass (pc {last.pc})" if last else "last pass"
    keys = ["a", "b", "c", "mem_a", "mem_b", "result", "branch", "next_pc"]
    cells = [Text.assemble((f"{NAMES.get(k, k)} ", "dim"), str(regs[k])) for k in keys]
    table.add_row(Text(ran, style="bold"), *cells[:5])
    table.add_row("", *cells[5:])
    return table


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
    for base, row in sorted(rows.items()):
        table.add_row(f"{base:>5}:", *row)
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
    show = {"d": str, "u": lambda v: str(v & mask), "x": lambda v: hex(v & mask),
            "c": lambda v: repr(chr(v & 0xFF))}[fmt]  # fmt: skip
    table = Table.grid(padding=(0, 1))
    for base in range(address, end, 8):
        table.add_row(Text(f"{base:>5}:", style="cyan"), *(show(int(mem[a])) for a in range(base, min(end, base + 8))))
    return table


def breakpoints(session: Session) -> Table:
    table = Table("Num", "Type", "Enb", "Where", "Hits", "Condition", box=None, header_style="bold")
    for bp in session.breakpoints.values():
        extra = f" (ignore {bp.ignore})" if bp.ignore else ""
        kind = "tbreak" if bp.temporary else "breakpoint"
        table.add_row(str(bp.number), kind, "y" if bp.enabled else "n", f"{bp.address} ({bp.spec})", str(bp.hits),
                      (bp.condition.text if bp.condition else "") + extra)  # fmt: skip
    for wp in session.watchpoints.values():
        where = f"{wp.start}" if wp.stop == wp.start + 1 else f"{wp.start}..{wp.stop - 1}"
        table.add_row(str(wp.number), wp.kind, "y" if wp.enabled else "n", f"{where} ({wp.spec})", str(wp.hits), "")
    return table


def history(records: list[Pass]) -> Table:
    table = Table("pass", "step", "PC", "A", "B", "C", "mem[B] old", "new", "", box=None, header_style="bold")
    for r in records:
        note = {"in": "input", "out": f"output {r.out}", "idle": "no step"}.get(r.kind, "branch" if r.branch else "")
        table.add_row(str(r.number), str(r.step), str(r.pc), str(r.a), str(r.b), str(r.c),
                      "" if r.old is None else str(r.old), "" if r.new is None else str(r.new), note)  # fmt: skip
    return table
