"""Errors a user can cause. The CLI prints each as one line and exits with code 2."""

from __future__ import annotations

import unicodedata


def shown(name: object, lines: bool = False) -> str:
    """``name`` safe to print: control characters (ESC, BEL, CR, bidi overrides such as U+202E, ...) and bytes
    that are not UTF-8 become ``\\xHH`` or ``\\uHHHH`` escapes, so text the user did not type (a file name, a
    source line, a script's line) cannot move the cursor, change colours, retitle the terminal or reorder what
    is shown. With ``lines``, newlines stay (a view of several lines). The one escaping of everything shown."""
    text = str(name)
    if text.isprintable():
        return text
    keep = "\t\n" if lines else "\t"
    return "".join(c if c.isprintable() or c in keep or _space(c) else _escape(c) for c in text)


def _space(c: str) -> bool:
    """A space other than ' ' (a no-break space keeps a view's words together): not printable to Python, but
    harmless."""
    return unicodedata.category(c) == "Zs"


def _escape(c: str) -> str:
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        code -= 0xDC00
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class MlpvmError(Exception):
    """Base of every error that is the input's fault, not a bug."""

    exit_code = 2

    def report(self) -> str:
        """The one line the CLI prints."""
        return f"mlpvm: error: {shown(self)}"


class ConfigError(MlpvmError):
    """A machine configuration that cannot exist (bad width, memory size, ...)."""


class ImageError(MlpvmError):
    """A program image that cannot be loaded; names the file and, where known, line and column.
    Given the source line's ``text`` as well, the report shows it with a caret under the column."""

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        col: int | None = None,
        text: str | None = None,
    ):
        self.path, self.line, self.col, self.message, self.text = path, line, col, message, text
        self.where = ":".join(str(p) for p in (path, line, col) if p is not None)
        super().__init__(f"{self.where}: {message}" if self.where else message)

    def report(self) -> str:
        """The line naming the problem, then the source line and a caret under the column, when known."""
        head = shown(f"{self.where}: error: {self.message}") if self.where else super().report()
        if self.text is None or self.col is None:
            return head
        line = shown(self.text)
        # Keep the line's tabs in the caret's indent so the caret lines up in any terminal (under an escape's
        # first character when the column is a control character).
        indent = "".join(c if c == "\t" else " " for c in shown(self.text[: self.col - 1]))
        return f"{head}\n  {line}\n  {indent}^"


class AsmError(ImageError):
    """An assembly source that cannot be assembled: a syntax error, an undefined or duplicate label, a value
    wider than a word, a program larger than memory."""

    @classmethod
    def at(cls, origin, message: str) -> AsmError:
        """The error at ``origin`` (a ``mlpvm.program.sourcemap.Origin``: file, line, col and the line's text); in a
        macro's expansion, that is the line of the call, and the message names the macro's line."""
        if origin.macro:
            message += f" (in macro {origin.macro})"
        return cls(message, origin.file, origin.line, origin.col, origin.text)


class BatchError(ImageError):
    """A batch file (``mlpvm run --batch-file``) that cannot be read; names the file and line."""


class WeightsError(MlpvmError):
    """A weight file that is corrupt, of another format, or of another configuration."""


class NetworkFault(MlpvmError):
    """The network left {0,1}: the state is corrupt and the run stops rather than continue on it."""

    exit_code = 4

    def __init__(self, layer: str, detail: str = "", machine: int | None = None):
        self.layer = layer
        self.machine = machine  # the row of the batch whose activation left {0,1}, when the engine knows it
        super().__init__(f"network fault after layer {layer}" + (f": {detail}" if detail else ""))
