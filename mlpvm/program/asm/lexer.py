"""Tokens of sqasm source: the first stage of the assembler.

Every token carries its ``Origin`` (file, line, column, line text), so every later stage, and a macro
expander that rewrites token lists, can name the exact place of an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpvm.errors import AsmError
from mlpvm.program.sourcemap import Origin

PUNCT = {"+": "plus", "-": "minus", "(": "lparen", ")": "rparen", "?": "here", ":": "colon", ";": "semi"} | {
    "[": "lbracket",
    "]": "rbracket",
    ",": "comma",
    "=": "equals",
}
ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39}
SPACE = " \t\r\f\v"
MAX_DIGITS = 40  # far beyond any word; keeps int() away from its huge-number limits
# Directives. Any other ".name" is a data line whose first item is the name (sqasm's reading of ".x").
DIRECTIVES: frozenset[str] = frozenset({"define", "include", "macro", "endm"})


@dataclass(frozen=True)
class Token:
    kind: str  # name | label | number | char | string | library | directive | dot | plus | minus | lparen
    # | rparen | lbracket | rbracket | comma | equals | here | colon | semi | newline
    text: str  # the source text of the token
    origin: Origin
    value: object = None  # number/char: int; string: tuple of (code, Origin) per character; label, directive,
    # library (``<std>``): the name


def tokenize(text: str, path: str = "<asm>") -> list[Token]:
    """All tokens of ``text``; each line ends with a ``newline`` token. ``#`` starts a comment."""
    tokens: list[Token] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        tokens += _line(line, lineno, path)
        tokens.append(Token("newline", "", Origin(path, lineno, len(line) + 1, line)))
    return tokens


def _line(line: str, lineno: int, path: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(line)

    def at(col: int) -> Origin:
        return Origin(path, lineno, col + 1, line)

    while i < n:
        c = line[i]
        if c in SPACE:
            i += 1
        elif c == "#":
            break
        elif c in PUNCT:
            out.append(Token(PUNCT[c], c, at(i)))
            i += 1
        elif c == ".":
            j = _word_end(line, i + 1)
            if line[i + 1 : j] in DIRECTIVES and not line[j:].startswith(":"):
                out.append(Token("directive", line[i:j], at(i), line[i + 1 : j]))
                i = j
            else:
                out.append(Token("dot", c, at(i)))
                i += 1
        elif c.isascii() and (c.isalpha() or c in "_@"):
            j = _word_end(line, i)
            if line[j : j + 1] == ":":  # "name:" defines a label; sqasm allows no space before the colon
                out.append(Token("label", line[i : j + 1], at(i), line[i:j]))
                j += 1
            else:
                out.append(Token("name", line[i:j], at(i)))
            i = j
        elif c.isascii() and c.isdigit():
            j = _word_end(line, i)
            word = line[i:j]
            if not word.isdigit():
                raise AsmError.at(at(i), f"bad number {word!r} (numbers are decimal digits)")
            if len(word) > MAX_DIGITS:
                raise AsmError.at(at(i), f"number too large ({len(word)} digits)")
            out.append(Token("number", word, at(i), int(word)))
            i = j
        elif c == "'":
            i = _char(line, i, at, out)
        elif c == '"':
            i = _string(line, i, at, out)
        elif c == "<" and (j := _word_end(line, i + 1)) > i + 1 and line[j : j + 1] == ">":
            out.append(Token("library", line[i : j + 1], at(i), line[i + 1 : j]))  # <std>, for .include
            i = j + 1
        else:
            raise AsmError.at(at(i), f"unexpected character {c!r}")
    return out


def _word_end(line: str, i: int) -> int:
    while i < len(line) and line[i].isascii() and (line[i].isalnum() or line[i] in "_@"):
        i += 1
    return i


def _escaped(line: str, i: int, at) -> tuple[int, int]:
    """The code of the (possibly escaped) character at ``i``, and the index after it."""
    if line[i] != "\\":
        return ord(line[i]), i + 1
    if i + 1 >= len(line):
        raise AsmError.at(at(i), "unfinished escape at the end of the line")
    code = ESCAPES.get(line[i + 1])
    if code is None:
        raise AsmError.at(at(i), f"unknown escape '\\{line[i + 1]}' (known: \\n \\t \\r \\0 \\\\ \\\" \\')")
    return code, i + 2


def _char(line: str, i: int, at, out: list[Token]) -> int:
    """``'c'``: one character's code."""
    if i + 1 >= len(line) or line[i + 1] == "'":
        raise AsmError.at(at(i), "empty or unclosed character literal (write 'c', or '\\'' for a quote)")
    code, j = _escaped(line, i + 1, at)
    if j >= len(line) or line[j] != "'":
        raise AsmError.at(at(i), "a character literal holds one character: close it with '")
    out.append(Token("char", line[i : j + 1], at(i), code))
    return j + 1


def _string(line: str, i: int, at, out: list[Token]) -> int:
    """``"text"``: one cell per character, each remembering its own column."""
    chars = []
    j = i + 1
    while True:
        if j >= len(line):
            raise AsmError.at(at(i), 'unclosed string: add the closing "')
        if line[j] == '"':
            break
        code, k = _escaped(line, j, at)
        chars.append((code, at(j)))
        j = k
    out.append(Token("string", line[i : j + 1], at(i), tuple(chars)))
    return j + 1
