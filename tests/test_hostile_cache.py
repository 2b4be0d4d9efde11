"""Hostile input, the compiled-code cache (``mlpvm.engines.cache``; part of ``tests/test_hostile.py``): what
an attacker or an accident leaves in ``$MLPVM_CACHE``. Every case runs ``mlpvm run`` in a subprocess on a
cache in a temporary folder (never the user's), and asserts the output is the reference interpreter's, that a
refused cache or entry is said on exactly one line, that a damaged entry is replaced (the next run is quiet
and loads it), and that no planted code runs: the planted object is one that would change the results (a
control case proves it does, when it carries the user's own check)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlpvm.engines import cache, unrolled
from mlpvm.machines.config import Config
from mlpvm.network import build
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not unrolled.have_llvm(), reason="the unrolled engine needs llvmlite")

HELLO = str(ROOT / "programs/hello.sq")
CONFIG = ["--bits", "8", "--cells", "64"]  # hello fits; compiles in about a second
WARNING = "mlpvm: warning: code cache: "
OTHER_UID = 65534  # nobody


def _run(cache_dir: Path, engine: str = "unrolled", config: list[str] = CONFIG) -> tuple[int, bytes, str]:
    env = {**os.environ, "MLPVM_CACHE": str(cache_dir)}
    p = subprocess.run([sys.executable, "-m", "mlpvm", "run", "--engine", engine, *config, HELLO], env=env,
                       capture_output=True, timeout=120)  # fmt: skip
    return p.returncode, p.stdout, p.stderr.decode()


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(WARNING)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[int, bytes]:
    code, out, _ = _run(tmp_path_factory.mktemp("none") / "cache", engine="reference")
    assert code == 0 and out == b"Hello, world!\n"
    return code, out


@pytest.fixture(scope="module")
def seed(tmp_path_factory, reference, key) -> Path:
    """A cache that holds hello's configuration, written by a first run (which must be quiet and exact)."""
    folder = tmp_path_factory.mktemp("seed") / "cache"
    code, out, err = _run(folder)
    assert (code, out) == reference and not _warnings(err), err
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert _loads(folder, key)
    return folder


@pytest.fixture(scope="module")
def ir() -> str:
    """The IR of hello's configuration, for one machine: what its cache entry is compiled from."""
    return unrolled.Unrolled(build(Config("subleq", 8, 64))).ir(1)


@pytest.fixture(scope="module")
def key(ir) -> str:
    return unrolled._key(ir)


@pytest.fixture(scope="module")
def planted(ir) -> bytes:
    """Object code compiled from other code than hello's configuration (one comparison turned around, as other
    weights would): loaded in its place, it changes the results."""
    other = ir.replace("fcmp ogt float %v2, 5.0e-01", "fcmp olt float %v2, 5.0e-01", 1)
    assert other != ir
    return unrolled._machine().emit_object(unrolled._llvm().parse_assembly(other))


def _entry(folder: Path) -> Path:
    (entry,) = folder.glob("code_*")
    return entry


def _copy(seed: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    shutil.copytree(seed, folder)
    folder.chmod(0o700)
    return folder


def _exact_once_then_quiet(folder: Path, reference, warned: str, key: str) -> None:
    """The run is exact and warns once (matching ``warned``); the entry was replaced by one that passes the
    check (what the next run loads; asked in this process, which saves a run)."""
    code, out, err = _run(folder)
    assert (code, out) == reference, err
    assert len(_warnings(err)) == 1 and warned in _warnings(err)[0], err
    assert "Traceback" not in err and "LLVM ERROR" not in err
    entry = _entry(folder)
    st = entry.lstat()
    assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o600
    assert _loads(folder, key)


def _loads(folder: Path, key: str) -> bool:
    """Whether the cache in ``folder`` gives code for ``key`` (what a run would load)."""
    saved = os.environ.get("MLPVM_CACHE")
    os.environ["MLPVM_CACHE"] = str(folder)
    try:
        return cache.get(key) is not None
    finally:
        if saved is None:
            del os.environ["MLPVM_CACHE"]
        else:
            os.environ["MLPVM_CACHE"] = saved


# -- planted: code that mlpvm did not compile ----------------------------------------------------------------


def test_the_planted_object_would_change_the_results_if_it_were_trusted(seed, planted, reference, tmp_path, key):
    """The control: wrapped with the user's own secret (which an attacker cannot read), it is loaded and
    changes what the program does; so the cases below would fail if the check let it through."""
    folder = _copy(seed, tmp_path)
    entry = _entry(folder)
    digest = cache._digest(key)
    entry.write_bytes(cache._wrap((folder / cache.SECRET).read_bytes(), digest, planted))
    code, out, _ = _run(folder)
    assert (code, out) != reference


@pytest.mark.parametrize("how", ["raw", "other-secret", "other-key", "hard-link"])
def test_a_planted_object_is_never_loaded(seed, planted, reference, tmp_path, how, key):
    folder = _copy(seed, tmp_path)
    entry = _entry(folder)
    digest = cache._digest(key)
    if how == "raw":  # the object itself, as the cache used to hold it
        entry.write_bytes(planted)
    elif how == "other-secret":  # wrapped by an attacker, with a secret of their own
        entry.write_bytes(cache._wrap(os.urandom(32), digest, planted))
    elif how == "other-key":  # a genuine entry of this cache, for other code, under this entry's name
        entry.write_bytes(cache._wrap((folder / cache.SECRET).read_bytes(), cache._digest(b"other"), planted))
    else:  # a hard link to a file elsewhere (an entry has exactly one link)
        outside = tmp_path / "outside"
        outside.write_bytes(cache._wrap((folder / cache.SECRET).read_bytes(), digest, planted))
        outside.chmod(0o600)
        entry.unlink()
        os.link(outside, entry)
    _exact_once_then_quiet(folder, reference, "other links" if how == "hard-link" else "fails its check", key)


def test_an_entry_for_another_configuration_is_not_loaded(seed, reference, tmp_path, key):
    """A real entry, compiled by mlpvm for another configuration (other weights), renamed to this one's."""
    other = tmp_path / "other"
    code, _, _ = _run(other, config=["--bits", "8", "--cells", "128"])
    assert code == 0
    folder = _copy(seed, tmp_path)
    shutil.copyfile(_entry(other), _entry(folder))
    shutil.copyfile(other / cache.SECRET, folder / cache.SECRET)  # even with that cache's secret
    _exact_once_then_quiet(folder, reference, "fails its check", key)


# -- damaged: never an abort, a hang or other results --------------------------------------------------------


def _damage(entry: Path, how: str, tmp_path: Path) -> None:
    data = entry.read_bytes()
    entry.unlink()
    if how == "random":
        entry.write_bytes(os.urandom(len(data)))
    elif how == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        entry.write_bytes(b"")
    elif how == "directory":
        entry.mkdir()
        (entry / "inside").write_bytes(data)
    elif how == "fifo":  # opening it for reading would block without O_NONBLOCK
        os.mkfifo(entry, 0o600)
    elif how == "huge":  # sparse: 64 GiB of holes
        with open(entry, "wb") as f:
            f.truncate(64 << 30)
    elif how == "symlink":  # to a file elsewhere (which holds the genuine entry: it is still refused)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.write_bytes(data)
        entry.symlink_to(elsewhere)
    elif how == "dangling":
        entry.symlink_to(tmp_path / "nowhere")


DAMAGE = {  # how: the words of the warning
    "random": "fails its check",
    "truncated": "fails its check",
    "empty": "fails its check",
    "directory": "not a regular file",
    "fifo": "not a regular file",
    "huge": "too large",
    "symlink": "a link or not a file",
    "dangling": "a link or not a file",
}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_entry_is_recompiled_and_replaced(seed, reference, tmp_path, how, key):
    folder = _copy(seed, tmp_path)
    _damage(_entry(folder), how, tmp_path)
    _exact_once_then_quiet(folder, reference, DAMAGE[how], key)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in seed.iterdir())  # no temporaries


@pytest.mark.parametrize("how", ["random", "symlink", "directory"])
def test_a_damaged_secret_is_replaced(seed, reference, tmp_path, how, key):
    """The secret itself damaged: every entry fails its check, is compiled again and stored under a new one."""
    folder = _copy(seed, tmp_path)
    _damage(folder / cache.SECRET, how, tmp_path)
    code, out, err = _run(folder)
    assert (code, out) == reference and len(_warnings(err)) == 1, err
    assert (folder / cache.SECRET).lstat().st_size == 32 and _loads(folder, key)


def test_an_entry_that_shrinks_while_read_is_not_used(tmp_path, monkeypatch):
    """In process: the file is cut short between its ``fstat`` and its ``read`` (it vanishes mid-read)."""
    monkeypatch.setenv("MLPVM_CACHE", str(tmp_path / "cache"))
    cache.put("key", b"code" * 1000)
    assert cache.get("key") == b"code" * 1000
    (entry,) = (tmp_path / "cache").glob("code_*")
    real_read = os.read

    def shrinking(fd, n):
        os.truncate(entry, 100)
        return real_read(fd, n)

    monkeypatch.setattr(cache.os, "read", shrinking)
    assert cache.get("key") is None


def test_a_new_cache_is_made_private_with_the_folders_above(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPVM_CACHE", str(tmp_path / "new" / "deeper" / "cache"))
    assert cache.get("key") is None
    assert not (tmp_path / "new").exists()  # reading makes nothing
    cache.put("key", b"code")
    assert cache.get("key") == b"code" and cache.get("other key") is None
    folder = tmp_path / "new" / "deeper" / "cache"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


# -- foreign, writable by others, linked: the cache is not used at all ---------------------------------------


def _ignored(folder: Path, reference, warned: str) -> None:
    """The run is exact, warns once, and writes nothing in the folder (it compiled in memory)."""
    before = {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else None
    code, out, err = _run(folder)
    assert (code, out) == reference, err
    assert len(_warnings(err)) == 1 and warned in _warnings(err)[0], err
    if before is not None:
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@needs_root
def test_a_folder_owned_by_another_user_is_ignored(seed, planted, reference, tmp_path):
    folder = _copy(seed, tmp_path)
    _entry(folder).write_bytes(planted)
    os.chown(folder, OTHER_UID, -1)
    _ignored(folder, reference, "owned by another user")


@needs_root
def test_an_entry_owned_by_another_user_is_replaced(seed, reference, tmp_path, key):
    folder = _copy(seed, tmp_path)
    os.chown(_entry(folder), OTHER_UID, -1)  # genuine bytes, but another user could have written them
    _exact_once_then_quiet(folder, reference, "owned by another user", key)


@needs_root
def test_a_folder_above_owned_by_another_user_is_refused(seed, reference, tmp_path):
    above = tmp_path / "above"
    above.mkdir(0o755)
    folder = _copy(seed, above)
    os.chown(above, OTHER_UID, -1)
    _ignored(folder, reference, "above the folder")


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_folder_writable_by_others_is_ignored(seed, planted, reference, tmp_path, mode):
    folder = _copy(seed, tmp_path)
    _entry(folder).write_bytes(planted)
    folder.chmod(mode)
    _ignored(folder, reference, "writable by group or others")


def test_a_folder_others_can_replace_is_ignored(seed, reference, tmp_path):
    """The folder is the user's and private, but it sits in a folder anyone may write (not sticky)."""
    above = tmp_path / "above"
    above.mkdir()
    folder = _copy(seed, above)
    above.chmod(0o777)
    _ignored(folder, reference, "above the folder")


def test_a_sticky_shared_folder_above_is_fine(reference, tmp_path, key):
    """As ``/tmp``: anyone may write it, nobody may replace what another user put there."""
    above = tmp_path / "tmp"
    above.mkdir()
    above.chmod(0o1777)
    folder = above / "cache"
    code, out, err = _run(folder)
    assert (code, out) == reference and not _warnings(err), err
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and _loads(folder, key)


@pytest.mark.parametrize("mode", [0o666, 0o620])
def test_an_entry_writable_by_others_is_replaced(seed, reference, tmp_path, mode, key):
    folder = _copy(seed, tmp_path)
    _entry(folder).chmod(mode)
    _exact_once_then_quiet(folder, reference, "writable by group or others", key)


def test_a_linked_folder_is_ignored(seed, planted, reference, tmp_path):
    """``$MLPVM_CACHE`` a link (to a folder that would pass every check): not followed."""
    folder = _copy(seed, tmp_path)
    _entry(folder).write_bytes(planted)
    link = tmp_path / "link"
    link.symlink_to(folder)
    _ignored(link, reference, "is a link or not a folder")


def test_a_file_where_the_folder_goes(reference, tmp_path):
    folder = tmp_path / "cache"
    folder.write_bytes(b"not a folder")
    _ignored(folder, reference, "is a link or not a folder")
    assert folder.read_bytes() == b"not a folder"
