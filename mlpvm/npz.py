"""Reading ``.npz`` archives that may be hostile (a weight file, a dump of activations): only a regular file
that starts like a zip archive is opened; each member's header (zip and ``.npy``) is checked before a byte of
its data is decompressed, and a member is read to exactly the size its header declares, at most a bound; no
member is ever unpickled; the members nobody asks for are never decompressed. Every way a file can fail is
one ``ArchiveError`` naming it (``reading``), never a raw exception of zipfile, zlib or numpy."""

from __future__ import annotations

import os
import stat
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlpvm.errors import MlpvmError, shown

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz), possibly empty
HEADER_BYTES = 1 << 16  # an .npy header: numpy writes a few hundred bytes (and reads at most 10,000)

Members = dict[str, tuple[zipfile.ZipFile, zipfile.ZipInfo]]


class ArchiveError(MlpvmError):
    """An archive, or one of its members, that cannot be read as what it should be."""


@contextmanager
def reading(path: str | Path, what: str, error: type[MlpvmError] = ArchiveError, label: str = "") -> Iterator[None]:
    """Every failure to read the archive at ``path`` as ``what`` (and every ``ArchiveError`` raised inside)
    becomes one ``error``: the file's name, ``label``, the problem."""
    name = f"{path}: {label}"
    try:
        yield
    except FileNotFoundError:
        raise error(f"{name}no such file") from None
    except IsADirectoryError:
        raise error(f"{name}is a directory, not {what}") from None
    except ArchiveError as e:
        raise error(f"{name}{e}") from None
    except OSError as e:
        raise error(f"{name}cannot read ({e.strerror or e})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as e:
        raise error(f"{name}not a readable .npz archive (truncated or corrupt: {shown(e)})") from None


@contextmanager
def archive(path: str | Path) -> Iterator[Members]:
    """The archive's ``.npy`` members by key (the name without ``.npy``), from a regular file that starts like
    a zip archive."""
    # O_NONBLOCK: a FIFO with no writer must not hang the open; it is refused just below
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        raise ArchiveError("not a regular file (a device, FIFO or socket)")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        if f.read(4) not in ZIP_MAGIC:  # np.load would try anything else as a pickle
            raise ArchiveError("not an .npz archive")
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            yield {info.filename.removesuffix(".npy"): (z, info) for info in z.infolist()}


def member(members: Members, key: str, limit: int) -> np.ndarray:
    """One member, read to the size its header declares (at most ``limit`` bytes) and no further."""
    if key not in members:
        raise ArchiveError(f"missing array {key!r}")
    z, info = members[key]
    if info.file_size > limit + HEADER_BYTES:  # the zip's own count, before anything is decompressed
        raise ArchiveError(
            f"{key} declares {info.file_size:,} bytes in the archive, more than the {limit:,} it can need"
        )
    with _open(z, info, key) as f:
        shape, fortran, dtype = header(f, key)
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if size > limit or any(d > limit for d in shape):  # (a huge dimension beside a 0 is no array either)
            raise ArchiveError(f"{key} declares {size:,} bytes {shape}, more than the {limit:,} it can need")
        data = f.read(size)
    if len(data) != size:
        raise ArchiveError(f"{key} is truncated")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _open(z: zipfile.ZipFile, info: zipfile.ZipInfo, key: str):
    if info.flag_bits & 0x1:  # zipfile would raise RuntimeError asking for a password
        raise ArchiveError(f"{key} is encrypted")
    return z.open(info)


def header(f, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """A member's shape, order and type, from its header alone; refuses anything but plain numbers and text."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError) as e:  # numpy parses the header's dict
        raise ArchiveError(f"{key} is not a numpy array ({shown(e)})") from None
    if dtype.hasobject:
        raise ArchiveError("holds pickled objects, which are never loaded")
    if dtype.kind not in "iufU" or dtype.fields is not None or dtype.subdtype is not None:
        raise ArchiveError(f"{key} holds {dtype} values, not numbers")
    return shape, fortran, dtype


def types(members: Members) -> dict[str, np.dtype]:
    """Every member is a plain array: its header is read (a few hundred bytes), nothing more. Returns each
    member's type."""
    found = {}
    for key, (z, info) in members.items():
        with _open(z, info, key) as f:
            found[key] = header(f, key)[2]
    return found
