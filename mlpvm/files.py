"""Everything mlpvm reads from or writes to a file goes through here, so that every way a file can be hostile
gets one clean error: readers open only regular files and read at most a bound; writers write a temporary file
beside the target, flush it to disk and rename it into place, keep its permissions, leave no temporary file
behind whatever stops them, write a stream (stdout, a pipe, a device) where it stands, and refuse a target that
is a file the command read (its inputs, through any link) or another of its outputs.

The one text rule: files are UTF-8; command-line text is taken as the bytes that were typed, its escapes
decoded (``mlpvm.program.inputs.unescape``); names shown to a terminal have control characters and
undecodable bytes escaped (``shown``).
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
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
    note_input(name, fd)
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
    """Calls ``write(file)`` on a temporary file beside ``path``, flushes it to disk, then renames it into place:
    a full disk, Ctrl-C or SIGTERM leaves the old file (or none), never an empty or partial one. A symbolic link
    is followed (the file it names is replaced, the link stays); an existing file keeps its permissions. A stream
    (``-``, ``/dev/stdout``, ``/dev/fd/N``, a pipe, a character device) is written as it is, appended to where
    it stands. Refused (``WriteError``, nothing written): a directory, a block device, and a file that is one of
    ``inputs`` or that the command read (``reading``)."""
    target = writable(path, inputs)
    if target.stream:
        _write_stream(target, write)
    else:
        _write_file(target, write)


@dataclass(frozen=True)
class Target:
    """Where a write goes: a regular file (replaced by rename, with ``mode``), or a stream (``fd`` or the
    special file at ``path``) written in place."""

    name: str  # as the user wrote it, escaped for showing
    path: Path
    mode: int = 0
    fd: int | None = None  # one of this process's streams (/dev/stdout, /dev/fd/N, -)
    stream: bool = False
    identity: tuple[int, int] | None = None  # (device, inode) of what exists there
    device: bool = False  # a character device (/dev/null, a terminal): two outputs may share it


def writable(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Target:
    """Where ``atomic_write`` would write ``path``; refuses (``WriteError``) what it would refuse, so a command
    can check its outputs before long work (``outputs`` checks several at once)."""
    name = shown(path)
    fd = _stream_fd(path)
    if fd is not None:
        try:
            st = os.fstat(fd)
        except OSError:
            raise WriteError(f"cannot write {name}: that stream is closed") from None
        identity, device = (st.st_dev, st.st_ino), stat.S_ISCHR(st.st_mode)
        target = Target(name, Path(str(path)), fd=fd, stream=True, identity=identity, device=device)
        _not_an_input(target, st, inputs)
        return target
    resolved = Path(os.path.realpath(path))
    try:
        st = os.stat(resolved)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return Target(name, resolved, 0o666 & ~umask)  # the usual permissions: 0666 less the umask
    except OSError as e:
        raise WriteError(f"cannot write {name} ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise WriteError(f"cannot write {name}: it is a directory")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise WriteError(f"cannot write {name}: it is a {_kind(st.st_mode)}; mlpvm writes files and streams only")
    stream, device = not stat.S_ISREG(st.st_mode), stat.S_ISCHR(st.st_mode)
    target = Target(name, resolved, stat.S_IMODE(st.st_mode), None, stream, (st.st_dev, st.st_ino), device)
    _not_an_input(target, st, inputs)
    return target


def outputs(*paths: str | Path | None, inputs: tuple[str | Path, ...] = ()) -> list[Target]:
    """Checks every output of one command before any is written: each ``writable``, and no two the same file
    (through any link), which would lose one of them. ``None`` (an output not asked for) is skipped."""
    targets = [writable(p, inputs) for p in paths if p is not None]
    seen: dict[object, Target] = {}
    for t in targets:
        if t.device:
            continue  # /dev/null twice discards both: nothing is lost
        for key in {t.identity or t.path, t.path}:
            if key in seen:
                raise WriteError(
                    f"cannot write {t.name}: it is also another output ({seen[key].name}); write elsewhere"
                )
            seen[key] = t
    return targets


def _not_an_input(target: Target, st: os.stat_result, inputs: tuple[str | Path, ...]) -> None:
    """Refuses a target that is the same file as an input (same device and inode: through any link)."""
    if not stat.S_ISREG(st.st_mode):
        return  # a pipe, a terminal or /dev/null holds nothing to lose
    read = dict(_read) if _read is not None else {}
    for source in inputs:
        with suppress(OSError):
            s = os.stat(source)
            read.setdefault((s.st_dev, s.st_ino), shown(source))
    source = read.get((st.st_dev, st.st_ino))
    if source is not None:
        raise WriteError(f"cannot write {target.name}: it is also an input ({source}); write elsewhere")


# (device, inode) -> name of every file read while a command runs (``reading``); None outside a command.
_read: dict[tuple[int, int], str] | None = None


@contextmanager
def reading() -> Iterator[None]:
    """While a command runs: every file it reads (``read_bytes``, ``note_input``) is remembered, and no file it
    writes may be one of them (the CLI runs each command inside this)."""
    global _read
    outer, _read = _read, {}
    try:
        yield
    finally:
        _read = outer


def note_input(path: str | Path, fd: int | None = None) -> None:
    """Remembers a file the command read (by ``fd`` when open), so that no output of the command replaces it."""
    if _read is None:
        return
    with suppress(OSError):
        st = os.fstat(fd) if fd is not None else os.stat(path)
        if stat.S_ISREG(st.st_mode):
            _read[(st.st_dev, st.st_ino)] = shown(path)


_STREAM = re.compile(r"/proc/(?:self|thread-self|(\d+))/fd/(\d+)")


def _stream_fd(path: str | Path) -> int | None:
    """The descriptor of this process that ``path`` names (``-`` is stdout; ``/dev/stdout``, ``/dev/stderr``,
    ``/dev/fd/N``, ``/proc/self/fd/N`` and links to them), else None. Writing the descriptor itself, not
    reopening the file behind it, keeps its offset and append mode: ``-o /dev/stdout >> log`` appends."""
    text = os.fspath(path)
    if text == "-":
        return 1
    for _ in range(40):  # the most links the kernel follows
        parent, base = os.path.split(os.path.abspath(text))
        text = os.path.join(os.path.realpath(parent), base)  # /dev/fd is itself a link to /proc/self/fd
        m = _STREAM.fullmatch(text)
        if m and (m[1] is None or int(m[1]) == os.getpid()):
            return int(m[2])
        if not os.path.islink(text):
            return None
        text = os.path.join(os.path.dirname(text), os.readlink(text))
    return None


def is_stdout(path: str | Path) -> bool:
    """Whether ``path`` names this process's standard output: a command then says what it wrote on stderr."""
    return _stream_fd(path) == 1


def _write_file(target: Target, write: Callable[[BinaryIO], None]) -> None:
    name = target.name
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.path.name}.", suffix=".tmp", dir=target.path.parent)
    except OSError as e:  # no such directory, no permission: the user's to fix, not a traceback
        raise WriteError(f"cannot write {name} ({e.strerror})") from None
    try:
        with _terminate_as_exit():
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())  # on disk before the rename: a crash never leaves an empty file
            os.chmod(tmp, target.mode)
            os.replace(tmp, target.path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write {name} ({e.strerror or e})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with suppress(OSError):  # the rename itself on disk (best effort: not every file system can)
        dirfd = os.open(target.path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def _write_stream(target: Target, write: Callable[[BinaryIO], None]) -> None:
    """Writes a stream where it stands: this process's descriptor (after what Python buffered for it), or the
    special file opened without truncating; a FIFO with no reader is refused rather than waited on."""
    try:
        if target.fd is not None:
            for stream in (sys.stdout, sys.stderr):
                with suppress(AttributeError, OSError, ValueError):
                    if stream.fileno() == target.fd:
                        stream.flush()  # what was printed before comes first
            fd = os.dup(target.fd)
        else:
            fd = os.open(target.path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
            os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as f:
            write(_TextOnly(f, target.name) if os.isatty(fd) else f)
    except BrokenPipeError:
        raise  # the reader went away: the CLI ends quietly (141)
    except OSError as e:
        reason = "a FIFO with no reader" if e.errno == errno.ENXIO else e.strerror or e
        raise WriteError(f"cannot write {target.name} ({reason})") from None


# Bytes a terminal acts on (C0 controls but tab and newline, DEL): a terminal is shown text, never binary.
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


class _TextOnly:
    """A terminal as a file: refuses binary data (a weight file, a picture) before any of it is shown, since its
    bytes would drive the terminal. After the refusal, writes vanish (a zip archive's last words on closing)."""

    def __init__(self, f: BinaryIO, name: str):
        self.f, self.name, self.refused = f, name, False

    def write(self, data: bytes) -> int:
        if not self.refused and _CONTROL.search(data):
            self.refused = True
            raise WriteError(f"cannot write {self.name}: binary data to a terminal; redirect it to a file or a pipe")
        return len(data) if self.refused else self.f.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)


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
