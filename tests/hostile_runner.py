"""Runs many ``mlpvm`` command lines in one process, under a memory limit, and reports what each did.

Reads a JSON list of cases (``{"argv": [...], "stdin": "..."}``) on stdin and writes a JSON list of results
(exit code, stdout, stderr, and the traceback if an exception escaped ``mlpvm.cli.main``) on stdout. Each
case has a time limit; the whole process has an address-space limit (``resource.setrlimit``), so a command
that tries to allocate beyond it fails with a traceback that the test reports. One process for many cases
keeps the suite fast (the package is imported once)."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import time
import traceback

MEMORY_LIMIT = 2 << 30  # bytes of address space: numba and numpy need about 1 GiB of it before any work
TIME_LIMIT = 60  # seconds a case may take


class Buffer(io.BytesIO):
    """Kept open when the text wrapper around it is closed or collected."""

    def close(self) -> None:
        pass


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout(f"no result after {TIME_LIMIT} s")


def run_case(case: dict, main) -> dict:
    out, err = Buffer(), Buffer()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(case.get("stdin", "").encode("utf-8")))
    sys.stdout = io.TextIOWrapper(out, write_through=True)
    sys.stderr = io.TextIOWrapper(err, write_through=True)
    code, trace = None, None
    start = time.perf_counter()
    signal.alarm(TIME_LIMIT)
    try:
        main(case["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        trace = traceback.format_exc()
    finally:
        signal.alarm(0)
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdin, sys.stdout, sys.stderr = saved
    decode = lambda b: b.decode("utf-8", "backslashreplace")  # noqa: E731
    return {
        "seconds": time.perf_counter() - start,
        "code": code,
        "stdout": decode(out.getvalue()),
        "stderr": decode(err.getvalue()),
        "traceback": trace,
    }


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    cases = json.load(sys.stdin)
    os.chdir(cases[0].get("cwd", ".")) if cases else None
    from mlpvm.cli import main as mlpvm_main

    results = [run_case(case, mlpvm_main) for case in cases]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
    json.dump({"results": results, "peak_rss": peak}, sys.stdout)


if __name__ == "__main__":
    main()
