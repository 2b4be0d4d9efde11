"""The sqasm assembler and the disassembler.

Assembling is a pipeline of small stages, each its own module:

    text --tokenize--> tokens --parse--> statements --expand--> statements --layout--> cells + labels
         --emit--> Image (+ SourceMap)

``expand`` reads ``.include`` files and replaces macro calls by their bodies; named constants are parsed as
statements of their own, laid out as names and evaluated with the labels. The same pipeline assembles
``paper`` programs (``.pasq``): code statements become instruction slots, data statements data cells.

Disassembling goes the other way: ``describe`` names the single instruction at an address of live memory,
``disassemble`` lists a whole image as instructions and data rows built from it, and ``to_asm`` writes sqasm
source that reassembles to the same words; ``describe_slot``, ``disassemble_paper`` and ``to_pasq`` do the same
for paper programs.
"""

from __future__ import annotations

from pathlib import Path

from mlpvm import machines
from mlpvm.files import read_text
from mlpvm.machines.config import DEFAULT_BITS
from mlpvm.program.asm.disasm import Instruction, code_starts, describe, describe_slot, disassemble, disassemble_paper
from mlpvm.program.asm.emit import emit
from mlpvm.program.asm.expand import expand
from mlpvm.program.asm.layout import Assembly, layout
from mlpvm.program.asm.lexer import Token, tokenize
from mlpvm.program.asm.parser import Statement, parse, parse_tokens
from mlpvm.program.asm.writer import image_text, paper_json, to_asm, to_pasq
from mlpvm.program.image import Image

__all__ = [
    "Assembly",
    "Image",
    "Instruction",
    "Statement",
    "Token",
    "assemble",
    "assemble_file",
    "code_starts",
    "describe",
    "describe_slot",
    "disassemble",
    "disassemble_paper",
    "emit",
    "expand",
    "image_text",
    "layout",
    "machine_of",
    "paper_json",
    "parse",
    "parse_tokens",
    "to_asm",
    "to_pasq",
    "tokenize",
]


def machine_of(path: str | Path) -> str:
    """The machine a source is written for, by its suffix: ``paper`` for ``.pasq`` files, else ``subleq``."""
    return machines.for_path(path).name


def assemble(
    text: str,
    path: str = "<asm>",
    bits: int = DEFAULT_BITS,
    cells: int | None = None,
    machine: str = machines.DEFAULT_MACHINE,
) -> Image:
    """The image of source ``text`` (named ``path`` in errors, in the source map, and as the place that
    ``.include`` paths are relative to), with words of ``bits`` bits in a memory of ``cells`` cells (default:
    all ``2**bits`` that such words can address; on ``paper``, the data cells). Raises ``AsmError`` (an
    ``ImageError``) naming file, line and column."""
    size = cells if cells is not None else 1 << bits
    statements = expand(parse(text, path), path, machine, size)
    return emit(layout(statements, size, machine), path, bits, machine, size)


def assemble_file(path: str | Path, bits: int = DEFAULT_BITS, cells: int | None = None) -> Image:
    """The image of the source file ``path``, for the machine its name says (``machine_of``)."""
    return assemble(read_text(path), str(path), bits, cells, machine_of(path))
