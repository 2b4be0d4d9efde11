"""The compiled-code cache: machine code kept between runs, treated as untrusted input.

Whatever is loaded from here runs as the user, so an entry is used only when nobody else could have written
it and it is provably what this process would have compiled:

- The folder is ``$MLPVM_CACHE``, else ``$XDG_CACHE_HOME/mlpvm`` or ``~/.cache/mlpvm``, created with mode
  0700. It is used only if it is a real folder (not a link), owned by the user and not writable by group or
  others, and if every folder above it (up to the user's home) is owned by the user or root and, when others
  may write it, sticky (as ``/tmp``): nobody else can replace it. Otherwise every run compiles in memory.
- Entries are opened relative to the opened folder, without following links and without blocking (a FIFO),
  and used only if regular, owned by the user, not writable by group or others, one link and at most
  ``CEILING`` bytes.
- Each entry carries an HMAC-SHA256, under a secret only the user can read (``secret`` in the folder), of the
  digest of its key material and of its bytes. The key material is everything the code was compiled from
  (for the unrolled engine: the generated IR, which is derived from the weights, the LLVM and llvmlite
  versions and the target processor), so an entry planted, damaged, copied from another key or from another
  user's cache fails the check. Only bytes that pass it are returned.
- A refused or damaged entry is recompiled and replaced atomically (a 0600 temporary file in the folder,
  fsync, rename). A cache that is refused is said once per process, on one line on stderr.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path

from mlpvm.errors import shown

CEILING = 256 << 20  # bytes an entry may have: the largest configuration's code is far below it
MAGIC = b"mlpvm-code-cache 1\n"
SECRET = "secret"
_MAC = hashlib.sha256().digest_size
_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_warned = False


class Refused(Exception):
    """Why a folder or an entry is not used (said in the one warning line)."""


def root() -> Path:
    """Where the cache would be (it may not exist)."""
    env = os.environ.get("MLPVM_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlpvm"


def get(key_material: bytes | str) -> bytes | None:
    """The bytes stored under ``key_material``, if the cache is trusted and they pass the check, else None."""
    folder = _open_folder(create=False)
    if folder is None:
        return None
    try:
        secret = _secret(folder, create=False)
        if secret is None:
            return None
        data = _read(folder, _name(key_material))
        code = None if data is None else _unwrap(secret, _digest(key_material), data)
        if data is not None and code is None:
            warn(f"entry {root() / _name(key_material)} fails its check (damaged, or not written by mlpvm)")
        return code
    except Refused as why:
        warn(why)
        return None
    except OSError:  # an entry that vanished or cannot be read: compile it again
        return None
    finally:
        os.close(folder)


def put(key_material: bytes | str, data: bytes) -> None:
    """Stores ``data`` under ``key_material``, replacing what was there; quietly nothing when the cache is
    refused (said by ``warn``), read-only or full: the next run compiles again."""
    if len(data) + len(MAGIC) + _MAC > CEILING:
        return
    folder = _open_folder(create=True)
    if folder is None:
        return
    try:
        secret = _secret(folder, create=True)
        if secret is not None:
            _replace(folder, _name(key_material), _wrap(secret, _digest(key_material), data))
    except Refused as why:
        warn(why)
    except OSError:
        pass
    finally:
        os.close(folder)


def warn(why: object) -> None:
    """One line on stderr, the first time in a process the cache (or an entry of it) is refused."""
    global _warned
    if _warned:
        return
    _warned = True
    if sys.stderr is not None:
        try:
            sys.stderr.write(f"mlpvm: warning: code cache: {shown(why)}; compiling the code anew\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


# -- the folder ------------------------------------------------------------------------------------------------


def _open_folder(create: bool) -> int | None:
    """A descriptor of the cache folder if it can be trusted (``create``: making it, mode 0700), else None."""
    try:
        path = root()
        if create:  # the folders above it too (~/.cache may not exist yet); checked below like any other
            os.makedirs(path.parent, exist_ok=True)
        parent = Path(os.path.realpath(path.parent))
        _check_ancestors(parent)
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(parent / path.name, 0o700)
        fd = os.open(parent / path.name, os.O_RDONLY | os.O_DIRECTORY | _FLAGS)
    except Refused as why:
        warn(why)
        return None
    except OSError as e:
        if e.errno == errno.ELOOP or e.errno == errno.ENOTDIR:
            warn(f"{path} is a link or not a folder")
        return None  # missing (nothing cached yet), or unreadable: compile in memory
    except RuntimeError:  # no home folder to put it in
        return None
    try:
        _check_owned(os.fstat(fd), path, "folder")
    except Refused as why:
        os.close(fd)
        warn(why)
        return None
    return fd


def _check_ancestors(folder: Path) -> None:
    """Nobody but the user (or root) can rename or replace anything from ``folder`` up to the home or root."""
    try:
        home = Path(os.path.realpath(Path.home()))
    except (RuntimeError, KeyError):  # no home: check up to the root
        home = None
    for p in (folder, *folder.parents):
        if p == home:
            return
        st = os.lstat(p)
        if st.st_uid not in (os.geteuid(), 0):
            raise Refused(f"{p}, above the folder, is owned by another user (uid {st.st_uid})")
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            raise Refused(f"{p}, above the folder, is writable by others (mode {stat.S_IMODE(st.st_mode):04o})")


def _check_owned(st: os.stat_result, path: object, what: str) -> None:
    if st.st_uid != os.geteuid():
        raise Refused(f"{what} {path} is owned by another user (uid {st.st_uid})")
    if st.st_mode & 0o022:
        raise Refused(f"{what} {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})")


# -- entries ---------------------------------------------------------------------------------------------------


def _digest(key_material: bytes | str) -> bytes:
    if isinstance(key_material, str):
        key_material = key_material.encode()
    return hashlib.sha256(key_material).digest()


def _name(key_material: bytes | str) -> str:
    return f"code_{_digest(key_material).hex()[:32]}"


def _read(folder: int, name: str, limit: int = CEILING, links: int = 1) -> bytes | None:
    """The bytes of entry ``name`` (None: no entry, or not a whole file); Refused if it is not to be trusted
    (``links``: the most it may have; a secret being made has two for a moment)."""
    try:
        fd = os.open(name, os.O_RDONLY | _FLAGS, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise Refused(f"entry {root() / name} is a link or not a file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"entry {root() / name} is not a regular file")
        _check_owned(st, root() / name, "entry")
        if st.st_nlink > links:
            raise Refused(f"entry {root() / name} has other links")
        if st.st_size > limit:
            raise Refused(f"entry {root() / name} is too large ({st.st_size:,} bytes)")
        chunks, got = [], 0
        while got <= st.st_size:  # until the end, or one byte past the size fstat gave: it changed
            chunk = os.read(fd, st.st_size + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks) if got == st.st_size else None
    finally:
        os.close(fd)


def _wrap(secret: bytes, key: bytes, data: bytes) -> bytes:
    return MAGIC + hmac.new(secret, key + data, hashlib.sha256).digest() + data


def _unwrap(secret: bytes, key: bytes, entry: bytes) -> bytes | None:
    """The code in ``entry``, if it was stored under ``key`` with this user's secret; else None (replaced)."""
    head = len(MAGIC) + _MAC
    if len(entry) < head or not entry.startswith(MAGIC):
        return None
    data = entry[head:]
    if not hmac.compare_digest(entry[len(MAGIC) : head], hmac.new(secret, key + data, hashlib.sha256).digest()):
        return None
    return data


def _secret(folder: int, create: bool) -> bytes | None:
    """The user's key for the entries' HMACs, kept in the folder (made on the first ``put``)."""
    found = _read_secret(folder)
    if found is not None or not create:
        return found
    fresh = secrets.token_bytes(32)
    if _exists(folder, SECRET):  # damaged: replaced, and every entry is compiled and stored again
        _replace(folder, SECRET, fresh)
        return fresh
    try:  # missing: made only if no other process made it meanwhile (else its entries would fail the check)
        _replace(folder, SECRET, fresh, exclusive=True)
    except FileExistsError:
        return _read_secret(folder)
    return fresh


def _read_secret(folder: int) -> bytes | None:
    try:
        data = _read(folder, SECRET, limit=64, links=2)
    except Refused as why:
        warn(why)
        return None
    return data if data is not None and len(data) == 32 else None


def _exists(folder: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _replace(folder: int, name: str, data: bytes, exclusive: bool = False) -> None:
    """Atomically: a 0600 temporary file in the folder, written, synced and renamed over ``name`` (linked to
    it if ``exclusive``: FileExistsError if there is one)."""
    tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, 0o600, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            os.unlink(tmp, dir_fd=folder)
            return
        try:
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:  # a folder where the entry goes (EISDIR, ENOTEMPTY): remove it, then rename
            st = os.stat(name, dir_fd=folder, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                raise
            shutil.rmtree(name, dir_fd=folder)
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=folder)
        raise
