"""The sqasm assembler and the disassembler.

Assembling is a pipeline of small stages, each its own module:

    text --tokenize--> tokens --parse--> statements --layout--> cells + labels --emit--> Image (+ SourceMap)

A later stage (macros, ``.include``, named constants) slots in between ``parse`` and ``layout``: it takes
statements (or the tokens of a directive) and returns statements.

Disassembling goes the other way: ``describe`` names the single instruction at an address of live memory,
``disassemble`` lists a whole image as instructions and data rows built from it, and ``to_asm`` writes sqasm
source that reassembles to the same words.
"""

from __future__ import annotations

from pathlib import Path

from mlpvm.asm.disasm import Instruction, code_starts, describe, disassemble
from mlpvm.asm.emit import emit
from mlpvm.asm.layout import Layout, layout
from mlpvm.asm.lexer import Token, tokenize
from mlpvm.asm.parser import Statement, parse, parse_tokens
from mlpvm.asm.writer import image_text, to_asm
from mlpvm.image import Image, read_text
from mlpvm.machine import DEFAULT_BITS

__all__ = [
    "Image",
    "Instruction",
    "Layout",
    "Statement",
    "Token",
    "assemble",
    "assemble_file",
    "code_starts",
    "describe",
    "disassemble",
    "emit",
    "image_text",
    "layout",
    "parse",
    "parse_tokens",
    "to_asm",
    "tokenize",
]


def assemble(text: str, path: str = "<asm>", bits: int = DEFAULT_BITS, cells: int | None = None) -> Image:
    """The image of sqasm source ``text`` (named ``path`` in errors and in the source map), with words of
    ``bits`` bits in a memory of ``cells`` cells (default: all ``2**bits`` that such words can address).
    Raises ``AsmError`` (an ``ImageError``) naming file, line and column."""
    return emit(layout(parse(text, path), cells if cells is not None else 1 << bits), path, bits)


def assemble_file(path: str | Path, bits: int = DEFAULT_BITS, cells: int | None = None) -> Image:
    return assemble(read_text(path), str(path), bits, cells)
