"""Loading a program from a file: its suffix says the machine, and whether it is assembly source (assembled
here), a Harvard machine's JSON slots and data, or text words. Above both the image and the assembler, so that
neither imports the other."""

from __future__ import annotations

import json
from pathlib import Path

from mlpvm import machines
from mlpvm.errors import ImageError, shown
from mlpvm.files import parse_json, read_text
from mlpvm.machines.config import MAX_BITS, MIN_BITS, MIN_CELLS, is_pow2
from mlpvm.program.asm import assemble
from mlpvm.program.image import Image, parse_words, require_code


def load_image(path: str | Path) -> Image:
    """The image in a file; its suffix says the machine (``mlpvm.machines.for_path``) and whether it is
    assembly source, a Harvard machine's JSON, or text words."""
    name = str(path)
    text = read_text(path)
    spec = machines.for_path(name)
    if name.endswith(spec.source_suffix):
        # The widest words for the assembler's range checks; check_fits then holds them to the machine's.
        image = assemble(text, name, bits=MAX_BITS, machine=spec.name)
        require_code(image)
        return image
    if spec.harvard:
        return _slots(text, name, spec.name)
    words, where = parse_words(text, name)
    if not words:
        raise ImageError("empty image: no words", name)
    return Image(spec.name, words, path=name, where=where)


def _slots(text: str, path: str, machine: str) -> Image:
    doc = parse_json(text, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("slots"), list):
        raise ImageError(f'a {machine} program is a JSON object with "slots": [[a, b, c], ...]', path)
    slots = []
    for i, s in enumerate(doc["slots"]):
        if not (isinstance(s, list) and len(s) == 3 and all(type(v) is int for v in s)):  # (not true/false)
            raise ImageError(f"slot {i} is not [a, b, c] of integers: {s!r}", path)
        slots.append(tuple(s))
    data = doc.get("data", [])
    if not isinstance(data, list) or not all(type(v) is int for v in data):
        raise ImageError('"data" must be a list of integers', path)
    hints = {name: _hint(doc, key, path) for key, name in HINTS.items() if key in doc}
    return Image(machine, list(data), slots, path, hints)


HINTS = {"bits": "bits", "cells": "cells", "slots_count": "slots"}  # a JSON image's key: the configuration's


def _hint(doc: dict, key: str, path: str) -> int:
    """A configuration the image asks for, checked here so that the error names the file and the key."""
    value = doc[key]
    if type(value) is not int:  # (not true, 8.0, "8" or 1e400)
        raise ImageError(f'"{key}" must be an integer, not {shown(json.dumps(value))[:40]}', path)
    if key == "bits" and not MIN_BITS <= value <= MAX_BITS:
        raise ImageError(f'"bits" must be between {MIN_BITS} and {MAX_BITS}, not {value}', path)
    least = MIN_CELLS if key == "cells" else 2
    if key != "bits" and (not is_pow2(value) or value < least):
        raise ImageError(f'"{key}" must be a power of two >= {least}, not {value}', path)
    return value
