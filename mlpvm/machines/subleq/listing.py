"""How ``subleq`` programs are shown: ``mlpvm asm`` writes an image one instruction per line, ``mlpvm disasm``
lists instructions and data rows (``mlpvm.program.asm.disasm``), and the debugger shows live memory as the
same rows. The functions ``Machine`` names for a listing module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpvm.program.asm.disasm import Instruction, describe, disassemble
from mlpvm.program.asm.writer import image_text as rows_text
from mlpvm.program.asm.writer import to_asm

if TYPE_CHECKING:
    from mlpvm.debug.session import Session
    from mlpvm.machines.config import Config
    from mlpvm.program.image import Image
    from mlpvm.program.sourcemap import SourceMap


def image_text(image: Image, smap: SourceMap | None, bits: int) -> str:
    return rows_text(disassemble(image.words, smap, bits), smap)


def size(image: Image) -> str:
    return f"{len(image.words)} words"


def sections(image: Image, config: Config, smap: SourceMap | None) -> list[tuple[str | None, list[Instruction]]]:
    return [(None, disassemble(image.words, smap, config.bits, image.where))]


def doc(image: Image, config: Config, smap: SourceMap | None) -> dict:
    rows = disassemble(image.words, smap, config.bits, image.where)
    return {"bits": config.bits, "labels": smap.labels if smap else {}, "rows": rows}


def source(image: Image, config: Config, smap: SourceMap | None, title: str) -> str:
    return to_asm(image.words, smap, config.bits, image.where, title)


def instruction(live: Session, address: int) -> Instruction:
    """The instruction at ``address`` of live memory, whatever the cells hold."""
    lo = max(0, address)
    words = live.memory()[lo : lo + 3] if address >= 0 else []
    padded = [0] * lo + [int(w) for w in words]
    return describe(padded, address, live.source_map, live.config.bits)


def rows(live: Session) -> list[Instruction]:
    """Live memory as instructions and data rows (the source map, when there is one, says which is which);
    the instruction at PC is always shown as one."""
    cfg, pc = live.config, live.pc
    mem = live.memory()
    listing = disassemble(mem, live.source_map, cfg.bits)
    if 0 <= pc <= cfg.cells - 3 and not any(r.address == pc and r.kind != "data" for r in listing):
        listing = [r for r in listing if r.address + r.size <= pc or r.address >= pc + 3]
        listing.append(describe(mem, pc, live.source_map, cfg.bits))
        listing.sort(key=lambda r: r.address)
    return listing
