"""What the debugger session reports and keeps: its breakpoints and watchpoints, the CALL chain, what each pass
did, and why a run stopped. Plain records, rendered by the views."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from mlpvm.check.runner import Divergence
from mlpvm.debug.expr import Expr
from mlpvm.errors import MlpvmError


class DebugError(MlpvmError):
    """A command that cannot be carried out (unknown label, bad address, no such breakpoint, ...)."""


class _Counted:
    hits: int
    ignore: int

    def hit(self) -> bool:
        """Counts a hit; False while it is passed over (``ignore N``, ``continue N``)."""
        self.hits += 1
        if self.ignore > 0:
            self.ignore -= 1
            return False
        return True


@dataclass
class Breakpoint(_Counted):
    number: int
    address: int
    spec: str  # as the user wrote it: "loop", "12"
    temporary: bool = False
    condition: Expr | None = None
    ignore: int = 0
    hits: int = 0
    enabled: bool = True


@dataclass
class Watchpoint(_Counted):
    number: int
    start: int
    stop: int  # exclusive
    kind: str  # watch (write) | rwatch (read) | awatch (either)
    spec: str
    hits: int = 0
    enabled: bool = True
    ignore: int = 0
    expr: Expr | None = None  # a value watchpoint (``watch EXPR``): stops when the expression's value changes
    value: int | None = None  # its value when last tested
    condition: Expr | None = None  # ``watch ... if COND``: a change stops the program only when COND holds


@dataclass(frozen=True)
class Frame:
    """An active standard-library subroutine: entered by ``CALL entry``, returns to ``ret``."""

    entry: int
    ret: int
    site: int  # PC of the call's jump


@dataclass(frozen=True)
class Pass:
    """What one pass did, decoded from the state after it (and the memory before it)."""

    number: int  # 1-based pass count
    step: int  # steps completed after this pass
    pc: int  # PC of the instruction the pass looked at
    kind: str  # sub | in | out | idle (halted, waiting, or stopped this pass)
    a: int
    b: int
    c: int
    mem_a: int
    mem_b: int
    result: int
    branch: bool
    fallthrough: int  # the adder's PC + 3 (PC + 1 on paper): the successor when the branch is not taken
    new_pc: int  # where execution went: the debugger's "next PC"
    reads: tuple[int, ...]  # memory cells read: the instruction words, then operands
    written: int | None  # the cell written, if any
    old: int | None  # its value before and after
    new: int | None
    out: int | None  # the byte output, if any
    frames: tuple[Frame, ...] = ()  # the CALL chain after this pass, innermost last


@dataclass
class Stop:
    """Why a run stopped, for the banner."""

    # step | breakpoint | watchpoint | halt | fault | limit | wait | divergence | diverged (refused: still
    # diverged) | interrupt | until | history
    reason: str
    pc: int
    breakpoint: Breakpoint | None = None
    watch: list[tuple[Watchpoint, int, str, int | None, int | None]] = field(default_factory=list)
    divergence: Divergence | None = None
    last: Pass | None = None
    error: str = ""  # why testing a breakpoint's condition failed (reason "condition")


# -- what stops the program: one test, used going forward and back ----------------------------------

Hit = tuple[Watchpoint, int, str, int | None, int | None]  # (watchpoint, cell or -1, write|read|value, old, new)


def breakpoints_at(
    breakpoints: Iterable[Breakpoint], pc: int, holds: Callable[[Breakpoint], bool]
) -> Iterator[Breakpoint]:
    """The enabled breakpoints at ``pc`` whose condition holds (``holds`` tests it), in order, tested lazily;
    hits are the caller's to count (``hit``)."""
    for bp in breakpoints:
        if bp.enabled and bp.address == pc and (bp.condition is None or holds(bp)):
            yield bp


def watch_hits(
    watchpoints: Iterable[Watchpoint], p: Pass, evaluate: Callable[[Expr], int], mem: Callable[[int], int],
    values: dict[int, int | None] | None = None,
) -> list[Hit]:  # fmt: skip
    """What the enabled watchpoints see in pass ``p`` (the state now is after it), their conditions holding;
    hits are the caller's to count. Value watchpoints compare with ``values`` (number -> last value), updated,
    or without it with their own ``value``."""
    hits: list[Hit] = []
    for wp in watchpoints:
        if not wp.enabled:
            continue
        if wp.expr is not None:
            old, new = (wp.value if values is None else values[wp.number]), evaluate(wp.expr)
            if values is None:
                wp.value = new
            else:
                values[wp.number] = new
            if new != old:
                hits.append((wp, -1, "value", old, new))
            continue
        inside = range(wp.start, wp.stop)
        if wp.kind in ("watch", "awatch") and p.written in inside and (p.old != p.new or wp.kind == "awatch"):
            hits.append((wp, p.written, "write", p.old, p.new))
        elif wp.kind in ("rwatch", "awatch"):
            read = next((a for a in p.reads if a in inside), None)
            if read is not None:
                hits.append((wp, read, "read", mem(read), None))
    return [h for h in hits if h[0].condition is None or evaluate(h[0].condition)]
