"""Program images: what ``mlpvm run`` loads.

- ``.dec``, ``.sq``, ``.txt`` (and anything else that is text): signed decimal words separated by whitespace
  and/or commas, loaded at address 0 of a ``subleq`` machine. ``#`` starts a comment.
- ``.json``: a ``paper`` program, ``{"machine": "paper", "slots": [[a, b, c], ...], "data": [...]}``,
  optionally with ``"bits"``, ``"cells"`` and ``"slots_count"``.
- ``.asq``: sqasm source, assembled on the fly (``mlpvm.program.asm``); the image keeps its source map.
- ``.pasq``: assembly source for the ``paper`` machine (instruction slots and data), assembled likewise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlpvm import machines
from mlpvm.errors import ConfigError, ImageError
from mlpvm.machines.base import harvard_names
from mlpvm.machines.config import DEFAULT_BITS, MAX_BITS, MIN_BITS, Config, fits
from mlpvm.program.sourcemap import SourceMap

_TOKEN = re.compile(r"[^\s,]+")
_DECIMAL = re.compile(r"[+-]?[0-9]+")  # ASCII only: int() alone would also take "1_000" and other scripts' digits


@dataclass
class Image:
    """A program ready to load: memory words, or (on a Harvard machine) slots plus data words."""

    machine: str  # its name; ``spec`` is the machine
    words: list[int]
    slots: list[tuple[int, int, int]] | None = None
    path: str = "<image>"
    hints: dict = field(default_factory=dict)  # configuration the file asks for (bits, cells, slots)
    where: list[tuple[int, int]] | None = None  # (line, column) of each word, when read from text
    source_map: SourceMap | None = None  # set by the assembler: file, line and label of every word

    @property
    def spec(self) -> machines.Machine:
        return machines.get(self.machine)

    def locate(self, i: int) -> tuple[int | None, int | None]:
        return self.where[i] if self.where and i < len(self.where) else (None, None)


def parse_words(text: str, path: str = "<image>") -> tuple[list[int], list[tuple[int, int]]]:
    """Signed decimal words and where each stands; errors name the line and column of the bad token."""
    words, where = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0]
        for m in _TOKEN.finditer(body):
            tok = m.group()
            if not _DECIMAL.fullmatch(tok):
                raise ImageError(f"not a decimal word: {tok!r}", path, lineno, m.start() + 1, line)
            try:
                words.append(int(tok, 10))
            except ValueError:  # more digits than Python converts
                raise ImageError(
                    f"a word of {len(tok):,} digits is far too large", path, lineno, m.start() + 1, line
                ) from None
            where.append((lineno, m.start() + 1))
    return words, where


def require_code(image: Image) -> None:
    """Refuses an assembled program without instructions (on a Harvard machine) or without words."""
    if image.spec.harvard and not image.slots:
        raise ImageError("empty program: no instructions", image.path)
    if not image.spec.harvard and not image.words:
        raise ImageError("empty program: no words", image.path)


def config_for(image: Image, bits: int | None = None, cells: int | None = None, slots: int | None = None) -> Config:
    """The configuration to run ``image`` on: what the user asked for, else what the file asks for, else
    the defaults (16 bits; the machine's ``config_for`` says the memory and slots). --slots for a machine
    without slots is refused as ``Config`` refuses it, never dropped in silence."""
    if slots is not None and not image.spec.harvard:
        raise ConfigError(f"--slots applies to the {' and '.join(harvard_names())} machine only")
    return image.spec.config_for(image, bits or image.hints.get("bits") or DEFAULT_BITS, cells, slots)


def _wider(words: list[int]) -> str:
    """The --bits that would hold every word with its value (signed: 72 read as a 7-bit word would be -56), else
    the widest that holds them at all; only a width mlpvm has (MIN_BITS..MAX_BITS): a hint must never suggest a
    value the option refuses."""
    signed = max(MIN_BITS, *((int(v) if v >= 0 else ~int(v)).bit_length() + 1 for v in words))
    need = signed if signed <= MAX_BITS else MAX_BITS if all(fits(int(v), MAX_BITS) for v in words) else None
    if need is None:
        return f"no word width mlpvm has ({MIN_BITS}..{MAX_BITS} bits) holds every word"
    return f"--bits {need} would hold every word"


def check_fits(image: Image, config: Config) -> None:
    """Refuses an image that does not fit the configuration, naming the first problem."""
    where = image.path
    if image.machine != config.machine:
        raise ImageError(f"a {image.machine} program cannot run on the {config.machine} machine", where)
    if len(image.words) > config.cells:
        raise ImageError(f"{len(image.words)} words do not fit in {config.cells} cells", where)
    for i, w in enumerate(image.words):
        if not fits(w, config.bits):
            origin = image.source_map.origin(i) if image.source_map else None
            text = origin.text if origin else None
            message = f"word {i} ({w}) does not fit in {config.bits} bits; {_wider(image.words)}"
            raise ImageError(message, where, *image.locate(i), text)
    if image.slots is not None:
        if len(image.slots) > config.slots:
            raise ImageError(f"{len(image.slots)} instructions do not fit in {config.slots} slots", where)
        for i, (a, b, c) in enumerate(image.slots):
            origin = image.source_map.origin(i, slots=True) if image.source_map else None
            at = (origin.line, origin.col, origin.text) if origin else ()
            if not (0 <= a < config.cells and 0 <= b < config.cells):
                message = f"slot {i}: operands a={a}, b={b} must address cells 0..{config.cells - 1}"
                raise ImageError(message, where, *at)
            if not 0 <= c < config.slots:
                raise ImageError(f"slot {i}: jump target c={c} must be a slot 0..{config.slots - 1}", where, *at)
