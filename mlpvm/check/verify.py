"""``mlpvm verify``: programs run on the network in lockstep with the reference interpreter, in batches, with
every field of every state compared after every pass (``mlpvm.check.lockstep``).

Programs come from three sources: the named programs (the public programs of ``programs/external`` with
the input and memory size their README gives, and every program in ``programs/``), random programs from a
seed (program i of ``--random N --seed S`` has seed S + i, so any one of them can be checked alone), and
images given by the user.
"""

from __future__ import annotations

import os
import shlex
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from itertools import groupby, islice
from pathlib import Path

import numpy as np

from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Batch, Divergence, Program
from mlpvm.engines import Engine, make
from mlpvm.errors import ConfigError, ImageError
from mlpvm.host.computer import deferred_interrupt
from mlpvm.machines.config import Config
from mlpvm.network.weights import Weights
from mlpvm.program import image as images
from mlpvm.program.inputs import escape
from mlpvm.program.load import load_image

PROGRAMS = files("mlpvm") / "programs"  # package data: the checkout's programs/, which mlpvm/programs links to
NOT_PROGRAMS = ("lib", "external")  # subroutines for programs to include; the public programs, listed in NAMED
IMAGE_SUFFIXES = (".sq", ".dec", ".txt", ".json", ".asq", ".pasq")
BATCH_BYTES = 1 << 30  # memory for one batch of states at most: large memories run fewer programs at a time
UNIT_BYTES = 32  # per state unit of one machine: its state, the copy before the pass, the engine's temporaries

# The public programs, each with the word width, memory and input that programs/external/README.md gives.
NAMED = (
    ("rosetta/hello.sq", 16, 256, b""),
    ("howerj-subleq-vhdl/hi.dec", 16, 256, b""),
    ("howerj-subleq-vhdl/hello.dec", 16, 256, b""),
    ("howerj-subleq-vhdl/hi2.dec", 16, 256, b""),
    ("howerj-subleq-vhdl/echo.dec", 16, 64, b"abc\n"),
    ("jserv-subleq/tests/lshift.dec", 16, 256, b""),
    ("davidar-subleq/demo-image.sq", 32, 2048, b"3\n5\n5\n"),
    ("howerj-subleq-vhdl/eforth-8k.dec", 16, 8192, b"2 2 + . cr\n"),
    ("howerj-subleq/subleq.dec", 16, 65536, b"2 2 + . cr\n"),
)


@dataclass
class Case:
    """One program to verify, with the configuration it runs on and how to check it again alone."""

    name: str
    config: Config
    program: Program
    seed: int | None = None  # random programs
    path: str | None = None  # images

    def command(self, options: Sequence[str] = ()) -> str:
        """The ``mlpvm verify`` command line that checks this program alone: its configuration and input, and
        ``options``, the others of the run that change what is checked (``--weights FILE``, ``--engine``,
        ``--dtype``, ``--max-steps``); a weight file sets the configuration itself."""
        cfg = self.config
        opts = [] if "--weights" in options else ["--machine", cfg.machine, "--bits", cfg.bits, "--cells", cfg.cells]
        if cfg.spec.harvard and "--weights" not in options:
            opts += ["--slots", cfg.slots]
        if self.seed is not None:
            words = ["--random", 1, "--seed", self.seed, *opts]
        else:
            words = [os.path.relpath(str(self.path)), *opts]
            words += ["--input", escape(self.program.data)] if self.program.data else []
        return shlex.join(["mlpvm", "verify", *map(str, words), *options])


class RandomCases(Sequence):
    """``count`` random programs, each drawn only when it is reached: ``verify --random N`` holds one batch of
    them at a time, not N."""

    def __init__(self, config: Config, count: int, seed: int = 0):
        self.config, self.count, self.seed = config, count, seed

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.count))]
        if not -self.count <= i < self.count:
            raise IndexError(i)
        s = self.seed + i % self.count
        return Case(f"random program, seed {s}", self.config, random_program(self.config, s), s)


def random_cases(config: Config, count: int, seed: int = 0) -> RandomCases:
    return RandomCases(config, count, seed)


def image_case(
    path: str | Path,
    bits: int | None = None,
    cells: int | None = None,
    slots: int | None = None,
    data: bytes = b"",
    eof_reads: int | None = None,
) -> Case:
    """An image as ``mlpvm run`` would load it: the configuration asked for, else what the image needs; its
    input under the end-of-input rule (``eof_reads``; None: no limit)."""
    img = load_image(path)
    config = images.config_for(img, bits, cells, slots)
    images.check_fits(img, config)
    return Case(str(path), config, Program(img.words, img.slots, data, eof_reads=eof_reads), path=str(path))


def named_cases() -> list[Case]:
    """The public programs of ``programs/external`` and every other program in ``programs/`` (and its folders,
    but ``programs/lib``: subroutines for others to include), named ``programs/...`` wherever they are installed."""
    with as_file(PROGRAMS) as root:
        cases = [image_case(root / "external" / rel, bits, cells, data=data) for rel, bits, cells, data in NAMED]
        for path in sorted(root.rglob("*")):
            if path.suffix in IMAGE_SUFFIXES and path.relative_to(root).parts[0] not in NOT_PROGRAMS:
                cases.append(image_case(path))
    for case in cases:
        case.name = Path(case.name).relative_to(root.parent).as_posix()
    return cases


def named_programs(config: Config) -> list[Program]:
    """The public programs that fit ``config`` as they are, with their input (for small networks)."""
    programs = []
    with as_file(PROGRAMS / "external") as external:
        loaded = [(load_image(external / rel), data) for rel, _, _, data in NAMED]
    for img, data in loaded:
        try:
            images.check_fits(img, config)
        except ImageError:
            continue
        programs.append(Program(img.words, img.slots, data))
    return programs


@dataclass
class Report:
    """What a verification run checked, and the first divergence if there was one."""

    programs: int  # programs to check
    checked: int = 0  # programs checked to their end (or their step limit)
    steps: int = 0  # steps compared with the reference, over all programs
    passes: int = 0  # network passes (of a whole batch)
    stops: Counter = field(default_factory=Counter)  # halt, fault, wait, limit
    failure: tuple[Case, Divergence] | None = None
    interrupted: bool = False
    seconds: float = 0.0
    configs: list[Config] = field(default_factory=list)
    shard: int | None = None  # the campaign's shard (mlpvm.check.campaign) that holds the failure
    shard_span: range = range(0)  # the indices of that shard's programs in the campaign
    engines: list[str] = field(default_factory=list)  # the engines that ran (a fallback's, not the one asked for)

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.interrupted


def verify(
    cases: Iterable[Case],
    engine: str = "neural",
    dtype=np.float32,
    weights: Weights | None = None,
    max_steps: int | None = 1000,
    batch: int = 512,
    progress: Callable[[Report], None] | None = None,
    total: int | None = None,
    prepare: Callable[[Engine], None] | None = None,
    make_engine: Callable[[Config], Engine] | None = None,
) -> Report:
    """Checks every case in lockstep, up to ``batch`` programs of one configuration at a time, until each
    stops or reaches ``max_steps``; stops at the first divergence or at Ctrl-C (keeping what was checked).
    ``prepare`` sees each engine before it runs (the command line tells it whom to tell of a compilation);
    ``make_engine`` makes the engine of a configuration (a campaign's worker keeps its engines warm)."""
    report = Report(len(cases) if total is None else total)  # type: ignore[arg-type]
    start = time.perf_counter()

    def tick(lock: Batch, steps: int, passes: int) -> None:
        report.steps, report.passes = steps + lock.steps, passes + lock.passes
        report.seconds = time.perf_counter() - start
        if progress is not None:
            progress(report)

    with deferred_interrupt() as interrupted:
        for config, group in groupby(cases, key=lambda c: c.config):
            report.configs += [config] if config not in report.configs else []
            try:
                eng = make_engine(config) if make_engine else make(engine, config, weights, dtype)
            except ValueError as e:  # an engine that cannot run this configuration
                raise ConfigError(str(e)) from None
            report.engines += [eng.name] if eng.name not in report.engines else []
            if prepare is not None:
                prepare(eng)
            for chunk in _chunks(group, min(batch, max(1, BATCH_BYTES // (UNIT_BYTES * eng.state.size)))):
                lock = Batch(eng, config, [c.program for c in chunk])
                steps, passes = report.steps, report.passes
                _, div = lock.run(max_steps, interrupted, lambda b, s=steps, p=passes: tick(b, s, p))
                tick(lock, steps, passes)
                report.stops.update(lock.reasons.values())
                report.checked += len(lock.reasons)
                if div is not None:
                    report.failure = (chunk[div.program], div)
                elif interrupted():
                    report.interrupted = True
                if not report.ok:
                    report.seconds = time.perf_counter() - start
                    return report
    report.seconds = time.perf_counter() - start
    return report


def _chunks(cases: Iterable[Case], size: int) -> Iterator[list[Case]]:
    """``size`` cases at a time, drawing each only now (random programs are made as they are reached)."""
    it = iter(cases)
    while chunk := list(islice(it, size)):
        yield chunk
