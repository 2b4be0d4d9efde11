"""The program's input: a byte queue shared by the network's host loop and the reference interpreter.

``peek()`` answers what an input instruction would read now: a byte 0..255, ``EOF`` once the input is closed
and drained, or ``None`` while more may still arrive (an interactive terminal, the debugger's ``input``).

Input text (``--input TEXT`` of every command, a batch file's ``--input``, the debugger's ``input``) is UTF-8
with five escapes, decoded by ``unescape`` alone: ``\\n`` ``\\r`` ``\\t`` ``\\\\`` and ``\\xHH`` (any byte).

The end-of-input rule: a program that keeps reading after its input ended (eForth does: it ignores the -1 and
asks again) would never stop. An ``Input`` made with ``eof_reads=N`` gives the end (-1) N times; after that
it offers nothing, so the next read stops the program with reason ``eof``: its input is done, exit code 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EOF = -1
EOF_READS = 8  # how often ``mlpvm run`` lets a program read the end of its input before stopping it

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[nrt\\])|\\(x.{0,2}|.|$)", re.DOTALL)
_SIMPLE = {"n": 10, "r": 13, "t": 9, "\\": 92}


def unescape(text: str) -> bytes:
    """Input text as bytes: UTF-8 (or whatever bytes the shell passed, through Python's surrogate escapes), with
    ``\\n`` ``\\r`` ``\\t`` ``\\\\`` ``\\xHH``; any other backslash is a ``ValueError`` naming it."""
    out = bytearray()
    at = 0
    for m in _ESCAPE.finditer(text):
        out += text[at : m.start()].encode("utf-8", "surrogateescape")
        if m.group(2) is not None:
            raise ValueError(f"bad escape '\\{m.group(2)}' (use \\n, \\r, \\t, \\\\ or \\xHH)")
        code = m.group(1)
        out.append(int(code[1:], 16) if code[0] == "x" else _SIMPLE[code])
        at = m.end()
    return bytes(out + text[at:].encode("utf-8", "surrogateescape"))


def escape(data: bytes) -> str:
    """``data`` as input text that ``unescape`` turns back into exactly these bytes: printable ASCII as it is,
    the five escapes for the rest (so a command line that carries it is plain ASCII, safe to show and paste)."""
    out = []
    for byte in data:
        if byte == 92:
            out.append("\\\\")
        elif byte in _NAMED:
            out.append("\\" + _NAMED[byte])
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


_NAMED = {10: "n", 13: "r", 9: "t"}


class Input:
    def __init__(
        self,
        data: bytes = b"",
        closed: bool = True,
        more: Callable[[], bytes] | None = None,
        eof_reads: int | None = None,
    ):
        """``more`` is called to wait for further bytes; it returns b"" at end of input. ``eof_reads``: how
        often the end may be read (None: forever)."""
        self._data = bytearray(data)
        self._pos = 0
        self.closed = closed
        self._more = more
        self.eof_reads = eof_reads
        self.ends_read = 0

    @property
    def ended(self) -> bool:
        """The program has read the end as often as it may: nothing more will be offered."""
        return self.eof_reads is not None and self.ends_read >= self.eof_reads

    def peek(self) -> int | None:
        if self._pos < len(self._data):
            return self._data[self._pos]
        return EOF if self.closed and not self.ended else None

    def take(self) -> None:
        if self._pos < len(self._data):
            self._pos += 1
        elif self.closed:
            self.ends_read += 1

    def feed(self, data: bytes) -> None:
        self._data += data

    def close(self) -> None:
        self.closed = True

    def wait(self) -> bool:
        """Block for more input when a source can give it; False if nothing can ever arrive this way."""
        if self.peek() is not None:
            return True
        if self._more is None or self.closed:
            return False
        chunk = self._more()
        if chunk:
            self.feed(chunk)
        else:
            self.close()
        return True

    @property
    def consumed(self) -> int:
        return self._pos

    def seek(self, consumed: int) -> None:
        """Back to ``consumed`` bytes taken: stepping backwards restores the input too."""
        self._pos = min(consumed, len(self._data))
        if self._pos < len(self._data):
            self.ends_read = 0

    def pending(self) -> bytes:
        return bytes(self._data[self._pos :])

    def copy(self) -> Input:
        other = Input(bytes(self._data), self.closed, self._more, self.eof_reads)
        other._pos, other.ends_read = self._pos, self.ends_read
        return other
