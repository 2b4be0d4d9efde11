"""How ``paper`` programs are shown: ``mlpvm asm`` writes the JSON image, ``mlpvm disasm`` lists the slots
(named as subleq's instructions are: HALT, CLR, JMP, SUB, SUBLEQ) and then the data, and the debugger shows
the live slots. The functions ``Machine`` names for a listing module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpvm.program.asm.disasm import Instruction, describe_slot, disassemble_paper
from mlpvm.program.asm.writer import paper_json, to_pasq

if TYPE_CHECKING:
    from mlpvm.debug.session import Session
    from mlpvm.machines.config import Config
    from mlpvm.program.image import Image
    from mlpvm.program.sourcemap import SourceMap


def image_text(image: Image, smap: SourceMap | None, bits: int) -> str:
    return paper_json(image.slots, image.words)


def size(image: Image) -> str:
    return f"{len(image.slots)} slots, {len(image.words)} data words"


def sections(image: Image, config: Config, smap: SourceMap | None) -> list[tuple[str | None, list[Instruction]]]:
    slots, data = disassemble_paper(image.slots, image.words, smap, config.bits, config.slots)
    return [(f"{len(slots)} instruction slots", slots), ("data", data)]


def doc(image: Image, config: Config, smap: SourceMap | None) -> dict:
    slots, data = disassemble_paper(image.slots, image.words, smap, config.bits, config.slots)
    labels = {"labels": smap.labels, "slot_labels": smap.slot_labels} if smap else {"labels": {}, "slot_labels": {}}
    return {"machine": config.machine, "bits": config.bits, **labels, "slots": slots, "rows": data}


def source(image: Image, config: Config, smap: SourceMap | None, title: str) -> str:
    return to_pasq(image.slots, image.words, smap, config.bits, title)


def instruction(live: Session, address: int) -> Instruction:
    """The instruction in slot ``address``, with labels."""
    return describe_slot({address: live.slot(address)}, address, live.source_map, live.config.slots)


def rows(live: Session) -> list[Instruction]:
    return [instruction(live, s) for s in range(live.config.slots)]
