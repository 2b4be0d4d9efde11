from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

# MLPVM_TEST_WITHOUT=numba,llvmlite,onnxruntime,z3 runs the tests as if those optional packages were not
# installed (each import of them fails), to check that their tests skip naming the extra instead of failing.
for _hidden in filter(None, os.environ.get("MLPVM_TEST_WITHOUT", "").split(",")):
    sys.modules[_hidden.strip()] = None  # type: ignore[assignment]

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from mlpvm.engines import have_numba  # noqa: E402
from mlpvm.engines.unrolled import have_llvm  # noqa: E402

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXTERNAL = ROOT / "programs" / "external"  # the public programs, with their licences

# One setting per profile: how many examples a property gets. A property whose examples are costly asks for a
# share of it with ``examples(n)`` (n of the default 60), so the thorough profile raises every property alike.
PROFILES = {"default": 60, "thorough": 1000}
for _name, _count in PROFILES.items():
    settings.register_profile(_name, deadline=None, max_examples=_count, suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(n: int) -> settings:
    """``settings`` for a property that runs ``n`` examples in the default profile, scaled with the profile."""
    return settings(max_examples=max(1, round(n * PROFILES[PROFILE] / PROFILES["default"])))


def words_of(path: Path) -> list[int]:
    from mlpvm.program.image import parse_words

    return parse_words(path.read_text(), str(path))[0]


def needs_extra(missing: bool, extra: str, what: str) -> pytest.MarkDecorator:
    """Skip, naming the extra, when an optional package is missing; except in CI (``CI`` set, as ``.ci/run``
    does), where a missing extra must fail the run instead of quietly testing less."""
    return pytest.mark.skipif(
        missing and not os.environ.get("CI"), reason=f"{what}: needs the {extra} extra (pip install 'mlpvm[{extra}]')"
    )


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ValueError:  # hidden (MLPVM_TEST_WITHOUT): in sys.modules as None
        return True


def require_extra(module: str, extra: str, what: str) -> None:
    """At the top of a test module whose every test needs an optional package: skip the module, naming the
    extra, when it is missing; in CI the import is made anyway, so that a missing extra fails the run."""
    if not os.environ.get("CI"):
        pytest.importorskip(module, reason=f"{what}: needs the {extra} extra (pip install 'mlpvm[{extra}]')")


# The fast engines need the optional numba and llvmlite (the fast extra); without them their tests are skipped
# (the numpy engines remain).
needs_numba = needs_extra(not have_numba(), "fast", "the compiled engine and the fast engines need numba")
needs_llvm = needs_extra(not have_llvm(), "fast", "the unrolled engine needs llvmlite")
needs_fast = needs_extra(not (have_numba() and have_llvm()), "fast", "the fast engines need numba and llvmlite")
needs_onnx = needs_extra(_missing("onnxruntime") or _missing("onnx"), "onnx", "the onnx engine needs onnxruntime")
needs_z3 = needs_extra(_missing("z3"), "prove", "the prover needs z3")
COMPILED = pytest.param("compiled", marks=needs_numba)


# No test leaves a process behind. A test module that starts programs uses ``no_process_left`` (its
# ``pytestmark``): after each test, a child of this process still running is killed, and a test that passed
# fails for having left it. ``die_with_parent`` (``preexec_fn`` of ``Popen``) covers the one case no teardown
# runs: pytest-timeout's thread method ends the whole run, and the child must not outlive it.
def running_children() -> set[int]:
    """The processes whose parent is this one, zombies (exited, not yet reaped) aside."""
    me, found = str(os.getpid()), set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        except OSError:  # gone meanwhile
            continue
        if ppid == me and state != "Z":
            found.add(int(pid))
    return found


def die_with_parent() -> None:
    """In the child, before it runs the program: SIGKILL it when the test process dies (Linux)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_report = report
    return report


@pytest.fixture
def no_process_left(request):
    import signal

    before = running_children()
    yield
    left = running_children() - before
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    report = getattr(request.node, "call_report", None)
    if left and report is not None and report.passed:
        pytest.fail(f"the test left {len(left)} process(es) running: {sorted(left)} (killed)")
