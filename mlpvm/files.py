"""Everything mlpvm reads from or writes to a file goes through here, so that every way a file can be hostile
gets one clean error: readers open only regular files and read at most a bound; writers write a temporary file
beside the target and rename it into place, never replace anything but a regular file, keep its permissions,
refuse to overwrite an input, and leave no temporary file behind, whatever stops them.

The one text rule: files are UTF-8; command-line text is taken as the bytes that were typed, its escapes
decoded (``mlpvm.program.inputs.unescape``); names shown to a terminal have control characters and
undecodable bytes escaped (``shown``).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from mlpvm.errors import ImageError, MlpvmError, shown

MAX_TEXT = 4 << 20  # bytes of an image, source, map or script: the parsers take ~100 bytes of memory per byte
# (the largest image a network within the memory ceiling can hold, 2^18 cells of 16-bit words, is under 2 MiB)
MAX_JSON_DEPTH = 32  # nesting of a JSON document (a paper image, a source map, a weight file's meta)
MAX_JSON_DIGITS = 40  # digits of a JSON integer: every value mlpvm reads fits in far fewer


class WriteError(MlpvmError):
    """A file that cannot be written: not a regular file, one of the inputs, or the write failed (disk full)."""


def read_bytes(path: str | Path, limit: int, what: str = "a file") -> bytes:
    """At most ``limit`` bytes of a regular file; a device, FIFO or socket is refused before it is read."""
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not hang; a regular file reads as usual.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ImageError("no such file", name) from None
    except IsADirectoryError:
        raise ImageError(f"is a directory, not {what}", name) from None
    except OSError as e:
        raise ImageError(f"cannot read ({e.strerror})", name) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ImageError(f"is a directory, not {what}" if stat.S_ISDIR(mode) else
                         f"is a {_kind(mode)}, not a regular file", name)  # fmt: skip
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise ImageError(f"cannot read ({e.strerror})", name) from None
    if len(data) > limit:
        raise ImageError(f"larger than {limit:,} bytes, the most mlpvm reads as {what}", name)
    return data


def read_text(path: str | Path, what: str = "an image") -> str:
    """A UTF-8 text file (an image, a source, a map, a script); ImageError naming the file if it cannot be one."""
    name = str(path)
    data = read_bytes(path, MAX_TEXT, what)
    if b"\0" in data:
        raise ImageError("binary data, not a text image" if what == "an image" else f"binary data, not {what}", name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ImageError(f"not UTF-8 text (byte {e.start})", name) from None


def parse_json(text: str, name: str) -> Any:
    """JSON with bounded nesting and integers of bounded size; ImageError naming the file otherwise."""
    try:
        doc = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise ImageError(f"not JSON: {e.msg}", name, e.lineno, e.colno) from None
    except RecursionError:
        raise ImageError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep", name) from None
    except ValueError as e:  # an integer of too many digits
        raise ImageError(str(e), name) from None
    if _depth(doc) > MAX_JSON_DEPTH:
        raise ImageError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep", name)
    return doc


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_DIGITS:
        raise ValueError(f"a JSON integer of {len(digits):,} digits is far too large")
    return int(digits)


def _depth(doc: Any) -> int:
    """Nesting depth, without recursion (a document may be as deep as the parser allowed)."""
    deepest, todo = 0, [(doc, 1)]
    while todo:
        node, level = todo.pop()
        if isinstance(node, (list, dict)):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                todo += [(child, level + 1) for child in (node.values() if isinstance(node, dict) else node)]
    return deepest


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket")):  # fmt: skip
        if test(mode):
            return kind
    return "special file"


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], inputs: tuple[str | Path, ...] = ()) -> None:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it into place. A symbolic link is
    followed (the file it names is replaced, the link stays); anything but a regular file is refused, and so
    is a file that is one of ``inputs``. An existing file keeps its permissions."""
    name = shown(path)
    target, mode = writable(path, inputs)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:  # no such directory, no permission: the user's to fix, not a traceback
        raise WriteError(f"cannot write {name} ({e.strerror})") from None
    try:
        with _terminate_as_exit():
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write {name} ({e.strerror or e})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def writable(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> tuple[Path, int]:
    """Where ``atomic_write`` would write ``path`` and with what permissions; refuses (``WriteError``) what it
    would refuse, so a command can check its outputs before long work."""
    name = shown(path)
    target = Path(os.path.realpath(path))
    mode = _existing_mode(target, name)
    for source in inputs:
        with suppress(OSError):
            if os.path.samefile(target, source):
                raise WriteError(f"cannot write {name}: it is also an input ({shown(source)}); write elsewhere")
    return target, mode


def _existing_mode(target: Path, name: str) -> int:
    """The permissions to give the new file: the existing one's, else the usual ones (0666 less the umask)."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
    except OSError as e:
        raise WriteError(f"cannot write {name} ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise WriteError(f"cannot write {name}: it is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise WriteError(
            f"cannot write {name}: it is a {_kind(st.st_mode)}, not a regular file; mlpvm replaces only files"
        )
    return stat.S_IMODE(st.st_mode)


class Terminated(SystemExit):
    """SIGTERM, raised where the process was so that cleanup runs (exit code 143, as the signal's)."""


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While a temporary file exists, SIGTERM unwinds (removing it) instead of killing the process outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(128 + signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
