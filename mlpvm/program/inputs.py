"""The program's input: a byte queue shared by the network's host loop and the reference interpreter.

``peek()`` answers what an input instruction would read now: a byte 0..255, ``EOF`` once the input is closed
and drained, or ``None`` while more may still arrive (an interactive terminal, the debugger's ``input``).
"""

from __future__ import annotations

from collections.abc import Callable

EOF = -1


class Input:
    def __init__(self, data: bytes = b"", closed: bool = True, more: Callable[[], bytes] | None = None):
        """``more`` is called to wait for further bytes; it returns b"" at end of input."""
        self._data = bytearray(data)
        self._pos = 0
        self.closed = closed
        self._more = more

    def peek(self) -> int | None:
        if self._pos < len(self._data):
            return self._data[self._pos]
        return EOF if self.closed else None

    def take(self) -> None:
        if self._pos < len(self._data):
            self._pos += 1

    def feed(self, data: bytes) -> None:
        self._data += data

    def close(self) -> None:
        self.closed = True

    def wait(self) -> bool:
        """Block for more input when a source can give it; False if nothing can ever arrive this way."""
        if self.peek() is not None:
            return True
        if self._more is None:
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

    def pending(self) -> bytes:
        return bytes(self._data[self._pos :])

    def copy(self) -> Input:
        other = Input(bytes(self._data), self.closed, self._more)
        other._pos = self._pos
        return other
