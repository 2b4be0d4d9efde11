"""``mlpvm asm`` assembles sqasm source (or paper assembly); ``mlpvm disasm`` lists an image as instructions,
or as source."""

from __future__ import annotations

import json

import click

from mlpvm.cli.options import MAX_CELLS, bounded
from mlpvm.errors import shown as shown_name
from mlpvm.files import atomic_write, outputs
from mlpvm.machines.config import DEFAULT_BITS, MAX_BITS, MIN_BITS
from mlpvm.program import asm as assembler
from mlpvm.program import image as images
from mlpvm.program import sourcemap
from mlpvm.program.asm import Instruction
from mlpvm.program.load import load_image

WORDS_COLUMN = 22  # the widest words column of a listing; longer data rows are cut with "..."
MIN_WORDS_COLUMN = 14


@click.command()
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the image here (default: stdout).")
@click.option("--map", "map_path", type=click.Path(dir_okay=False), help="Write the source map (JSON) here.")
@click.option(
    "--bits",
    type=bounded(MIN_BITS, MAX_BITS),
    default=DEFAULT_BITS,
    show_default=True,
    help="Word width N, 4..32: every value must fit a word of this many bits (signed or unsigned).",
)
@click.option(
    "--cells", type=bounded(1, MAX_CELLS), help="Memory cells the program must fit, any number (default 2**bits)."
)
def asm(source, output, map_path, bits, cells) -> None:
    """Assemble SOURCE (sqasm syntax) into an image of signed decimal words; a .pasq SOURCE (paper
    assembly) into a paper JSON image.

    \b
    One instruction per line (or separated by ';'): 'A B C', 'A B' (= A B ?),
    'A' (= A A ?). 'label:' before any item; '?' is the address of the next
    cell; '#' starts a comment. A line starting with '.' is data: each item one
    cell, "strings" one cell per character. Items are expressions: p a -1 is
    the two items p and a-1; write p a (-1), or p, a, -1. NAME = value defines
    a constant; .include "file" or <std> (the macro library); .macro NAME
    params ... .endm defines a macro, called as NAME arg1, arg2.
    """
    program = assembler.assemble_file(source, bits, cells)
    smap = program.source_map
    images.require_code(program)
    shown = program.spec.listing
    text, size = shown.image_text(program, smap, bits), shown.size(program)
    outputs(output, map_path, inputs=(source,))  # both checked before either is written
    if map_path:
        sourcemap.save(smap, map_path, inputs=(source,))
    if output:
        atomic_write(
            output, lambda f: f.write(text.encode("utf-8")), inputs=(source, *((map_path,) if map_path else ()))
        )
        click.echo(f"wrote {shown_name(output)}: {size}, {len(smap.labels) + len(smap.slot_labels)} labels", err=True)
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--map", "map_path", type=click.Path(dir_okay=False), help="Source map (from `mlpvm asm --map`).")
@click.option("--asm", "as_asm", is_flag=True, help="Print sqasm source that reassembles to the same words.")
@click.option("--bits", type=bounded(MIN_BITS, MAX_BITS), help="Word width N, 4..32 (default 16).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def disasm(image, map_path, as_asm, bits, as_json) -> None:
    """List IMAGE one instruction per line: address, words, labels and the idiom.

    \b
    Idioms: IN b (-1 b), OUT a (a -1), HALT (x x c, c < 0), CLR a (a a ?),
    JMP c (x x c), SUB a, b (a b ?), SUBLEQ a, b, c; DATA for data words.
    IMAGE may be an .asq source: its own source map names labels and lines.
    Without a map, code is what is reachable from address 0 (and, in a file
    written one instruction per line, every line of three words).
    A paper program (.json, .pasq) lists its slots, then its data; its HALT
    is a a self (it stops once mem[a] is 0).
    """
    if as_asm and as_json:
        raise click.UsageError("--asm and --json are alternatives")
    program = load_image(image)
    config = images.config_for(program, bits)
    images.check_fits(program, config)
    smap = sourcemap.load(map_path) if map_path else program.source_map
    shown = config.spec.listing
    if as_asm:
        click.echo(shown.source(program, config, smap, image), nl=False)
    elif as_json:
        click.echo(json.dumps({"image": image, **shown.doc(program, config, smap)}, default=_row_json))
    else:
        sections = shown.sections(program, config, smap)
        click.echo("".join((f"# {head}\n" if head else "") + listing(rows) for head, rows in sections), nl=False)


def _row_json(row: Instruction) -> dict:
    o = row.origin
    origin = {"file": o.file, "line": o.line, "col": o.col, "text": o.text} if o else None
    if o and o.macro:
        origin["macro"] = o.macro
    return {
        "address": row.address,
        "words": list(row.words),
        "kind": row.kind,
        "text": row.text,
        "labels": list(row.labels),
        "origin": origin,
    }


def listing(rows: list[Instruction]) -> str:
    """The rows as text: ``label:`` lines, then address, words, idiom and source line of each row."""
    width = len(str(rows[-1].address)) if rows else 1
    cut = min(WORDS_COLUMN, max([len(_words(r)) for r in rows if r.kind != "data"] + [MIN_WORDS_COLUMN]))
    idiom = max((len(r.text) for r in rows if r.kind != "data"), default=0)
    out = []
    for r in rows:
        out += [f"{name}:" for name in r.labels]
        words = _words(r)
        words = words if len(words) <= cut else words[: cut - 3] + "..."
        line = f"  {r.address:>{width}}  {words:<{cut}}  {r.text:<{idiom}}"
        if r.origin:
            line += f"  {r.origin.describe()}"
        out.append(shown_name(line.rstrip()))  # a file name or label from the source: escaped
    return "".join(line + "\n" for line in out)


def _words(row: Instruction) -> str:
    return " ".join(map(str, row.words))
