"""Emit: the last stage of the assembler. Evaluates every cell and builds the image with its source map."""

from __future__ import annotations

from mlpvm.asm.expr import evaluate
from mlpvm.asm.layout import Layout
from mlpvm.errors import AsmError
from mlpvm.image import Image
from mlpvm.machine import fits
from mlpvm.sourcemap import SourceMap


def emit(lay: Layout, path: str, bits: int) -> Image:
    """The ``subleq`` image of ``lay``; AsmError at an undefined label or a value that is not a ``bits``-bit
    word (signed or unsigned, as the loader accepts)."""
    symbols = {name: s.value for name, s in lay.symbols.items()}
    words = []
    for cell in lay.cells:
        value = evaluate(cell.expr, symbols, cell.anchor)
        if not fits(value, bits):
            lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
            raise AsmError.at(cell.origin, f"{value} does not fit in a {bits}-bit word ({lo}..{hi})")
        words.append(value)
    source_map = SourceMap(
        cells={c.address: c.origin for c in lay.cells},
        labels=dict(symbols),
        code=set(lay.code),
    )
    where = [(c.origin.line, c.origin.col) for c in lay.cells]
    return Image("subleq", words, path=path, where=where, source_map=source_map)
