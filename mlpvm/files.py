"""Reading text files with one clean error for every way they can be unreadable, and writing files so that an
interruption never leaves a truncated one behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from mlpvm.errors import ImageError, MlpvmError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it into place."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # no such directory, no permission: the user's to fix, not a traceback
        raise MlpvmError(f"cannot write {path} ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_text(path: str | Path) -> str:
    """A UTF-8 text file (an image or a source); ImageError naming the file if it cannot be one."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageError("no such file", name) from None
    except IsADirectoryError:
        raise ImageError("is a directory, not an image", name) from None
    except OSError as e:
        raise ImageError(f"cannot read ({e.strerror})", name) from None
    if b"\0" in data:
        raise ImageError("binary data, not a text image", name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ImageError(f"not UTF-8 text (byte {e.start})", name) from None
