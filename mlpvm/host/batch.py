"""Many programs at once: jobs (an image and its input), the batch file, and running jobs as batches.

Jobs that need the same configuration run together as one batch: B machines advanced by one engine, one
pass of the 23 layers for all of them. Each program runs on the configuration it would get alone, so its
result is the same as ``mlpvm run IMAGE``.

A batch file holds one job per line: an image path (relative to the batch file), optionally followed by
``--input TEXT``; TEXT is one shell word (quote it) with the escapes of ``mlpvm.program.inputs.unescape``.
``#`` starts a comment; blank lines are skipped::

    programs/hello.sq
    programs/external/howerj-subleq-vhdl/echo.dec  --input "abc\\n"
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlpvm import resources
from mlpvm.engines import Engine
from mlpvm.errors import BatchError, ImageError
from mlpvm.files import read_text
from mlpvm.host.computer import Computer, Outcome
from mlpvm.machines import fast, reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.program.image import Image
from mlpvm.program.inputs import EOF_READS, Input, unescape
from mlpvm.program.load import load_image

# Why a run stopped, from best to worst: a batch's exit code is that of its worst outcome.
SEVERITY = ("halt", "eof", "limit", "wait", "fault", "interrupted")


@dataclass
class Job:
    image: Image
    data: bytes = b""


@dataclass
class Result:
    job: Job
    config: Config
    outcome: Outcome
    engine: str = "reference"  # the engine that ran it (a weight file may fall back from the one asked for)


def worst(results: list[Result]) -> str:
    return max((r.outcome.reason for r in results), key=SEVERITY.index, default="halt")


def read_batch_file(path: str | Path) -> list[Job]:
    name = str(path)
    try:
        text = read_text(path)
    except ImageError as e:
        raise BatchError(e.message, name) from None
    jobs = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise BatchError(f"cannot split the line: {e}", name, number) from None
        if not words:
            continue
        data = b""
        if len(words) == 3 and words[1] == "--input":
            try:
                data = unescape(words[2])
            except ValueError as e:
                raise BatchError(f"the input text: {e}", name, number) from None
        elif len(words) != 1:
            raise BatchError("expected IMAGE or IMAGE --input TEXT", name, number)
        try:
            jobs.append(Job(load_image(Path(name).parent / words[0]), data))
        except ImageError as e:
            raise BatchError(str(e), name, number) from None
    if not jobs:
        raise BatchError("no programs", name)
    return jobs


def run_jobs(
    jobs: list[Job],
    configs: list[Config],
    engine: Callable[[Config], Engine] | None,
    max_steps: int | None,
    progress: Callable[[Computer], None] | None = None,
    eof_reads: int | None = EOF_READS,
) -> list[Result]:
    """Runs each group of jobs with one configuration as one batch on ``engine(config)`` (None: the reference
    interpreter, one job at a time), each input under the end-of-input rule (``eof_reads``; None: no limit).
    Results come back in the order of ``jobs``."""
    results: list[Result | None] = [None] * len(jobs)
    groups: dict[Config, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(config, []).append(i)
    for config, members in groups.items():
        name = "reference"
        if engine is None:
            outcomes = [run_reference(jobs[i].image, config, _input(jobs[i], eof_reads), max_steps) for i in members]
        else:
            eng = engine(config)
            name = eng.name
            states = [encode(eng.state, config, jobs[i].image.words, jobs[i].image.slots) for i in members]
            outcomes = Computer(eng, states, [_input(jobs[i], eof_reads) for i in members]).run(max_steps, progress)
        for i, outcome in zip(members, outcomes):
            results[i] = Result(jobs[i], config, outcome, name)
    return results  # type: ignore[return-value]


def _input(job: Job, eof_reads: int | None) -> Input:
    """A job's input, with the end-of-input rule of ``mlpvm run``: each program ends as it would alone."""
    return Input(job.data, eof_reads=eof_reads)


def run_reference(
    program: Image, config: Config, inp: Input, max_steps: int | None, on_output: Callable | None = None
) -> Outcome:
    """A program on the reference interpreter, with the outcome the network's host would report: its plain
    passes on the machine's fast reference when numba is installed (the same outcome; eForth's test suite, 5.9
    billion steps, then takes minutes instead of hours)."""
    resources.check(config, "reference")
    ref = reference.load(config, program.words, program.slots)
    if fast.HAVE_NUMBA and config.spec.fast is not None:
        reason = fast.run_reference(ref, inp, max_steps, on_output)
    else:
        reason = reference.run(ref, inp, max_steps, on_output)
    if reason == "wait" and inp.ended:
        reason = "eof"
    return Outcome(reason, ref.steps, bytes(ref.output), ref.pc, ref.mem)
