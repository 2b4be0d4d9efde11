"""Options shared by several commands."""

from __future__ import annotations

import math

import click

from mlpvm import files, machines
from mlpvm.engines import ENGINES, NEURAL
from mlpvm.errors import ConfigError, ImageError
from mlpvm.machines.config import DEFAULT_BITS, DEFAULT_CELLS, MAX_BITS, MIN_BITS, MIN_CELLS, Config
from mlpvm.network import weights as weightfile
from mlpvm.program import image as images
from mlpvm.program.inputs import EOF_READS, unescape

MAX_COUNT = 2**62  # steps, programs, seeds: anything larger is a typo, and would overflow numpy's integers
MAX_CELLS = 2**32  # memory cells: 32-bit addresses (the memory ceiling refuses far less)
MAX_SECONDS = 10**6  # a time limit (11 days): z3 takes milliseconds as a 32-bit count, about 49 days at most


class Bounded(click.ParamType):
    """A numeric option checked where it is parsed: anything else is one line, exit 2, naming the option,
    the range and the value (as ``MlpvmError`` does), never a Python number that breaks something later
    (a huge integer that overflows numpy, a NaN or an infinity that a solver or a timer chokes on)."""

    name = "integer"

    def __init__(self, min: float, max: float, real: bool = False):
        self.min, self.max, self.real = min, max, real
        if real:
            self.name = "number"

    def convert(self, value, param, ctx) -> int | float:
        number = self._parse(value, param)
        if not self.min <= number <= self.max:  # (NaN and the infinities never get here)
            raise ConfigError(
                f"{_name(param)} must be between {self.min} and {self.max:,}, not {value if self.real else number}"
            )
        return number

    def _parse(self, value, param) -> int | float:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if not text.isascii() or len(text) > 30:
            raise ConfigError(f"{_name(param)} must be {'a number' if self.real else 'an integer'}, not {value!r}")
        if not self.real:
            if not text.lstrip("+-").isdigit():
                raise ConfigError(f"{_name(param)} must be an integer, not {value!r}")
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"{_name(param)} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{_name(param)} must be a finite number, not {value!r}")
        return number


def _name(param) -> str:
    return param.opts[0] if param is not None and param.opts else "the value"


def bounded(min: int = 0, max: int = MAX_COUNT) -> Bounded:
    """A range-checked integer option type."""
    return Bounded(min, max)


def seconds(max: float = MAX_SECONDS) -> Bounded:
    """A range-checked duration in seconds: a finite number from 0 to ``max``."""
    return Bounded(0, max, real=True)


# The defaults as each kind of command has them: one with a program sizes the machine for it, one without
# builds the default configuration.
_CELLS = {True: "default 256, or more if the program needs them", False: "default 256"}
_SLOTS = {True: "default: what the program needs, >= 16", False: "default M"}


def machine_options(f=None, *, program: bool = True):
    """--machine, --bits, --cells, --slots: the configuration the weights are built for; their help says the
    defaults of a command with a ``program`` (sized for it) or without one (build, info, export, prove)."""

    def apply(f):
        f = click.option(
            "--slots", type=bounded(1, MAX_CELLS),
            help=f"Instruction slots K of the paper machine ({_SLOTS[program]}; subleq has none).",
        )(f)  # fmt: skip
        f = click.option(
            "--cells", type=bounded(MIN_CELLS, MAX_CELLS), help=f"Memory cells M, a power of two ({_CELLS[program]})."
        )(f)
        f = click.option("--bits", type=bounded(MIN_BITS, MAX_BITS), help="Word width N, 4..32 (default 16).")(f)
        return click.option("--machine", type=click.Choice(machines.names()), help=_machine_help())(f)

    return apply(f) if f is not None else apply


def _machine_help() -> str:
    """``subleq (von Neumann, default) or paper (Harvard).``: every registered machine."""
    named = [f"{m.name} ({m.summary}{', default' if m.name == machines.DEFAULT_MACHINE else ''})"
             for m in machines.MACHINES.values()]  # fmt: skip
    return (", ".join(named[:-1]) + " or " if len(named) > 1 else "") + named[-1] + "."


def load_weights(path: str, machine, bits, cells, slots) -> weightfile.Weights:
    """A weight file, refusing configuration options that contradict the one it was built for."""
    loaded = weightfile.load(path)
    files.note_input(path)  # no output of the command may replace it
    config = loaded.config
    asked = {"machine": machine, "bits": bits, "cells": cells, "slots": slots}
    for key, value in asked.items():
        if value is not None and value != getattr(config, key):
            raise ConfigError(f"{path} is built for {config.describe()}; drop --{key} or rebuild")
    return loaded


def providers_option(f):
    """--providers LIST: ONNX Runtime's execution providers for ``--engine onnx``, checked when given."""

    def apply(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value:
            from mlpvm.engines import onnx as onnx_engine

            onnx_engine.set_providers([name.strip() for name in value.split(",") if name.strip()])

    return click.option(
        "--providers", metavar="LIST", expose_value=False, callback=apply,
        help="For --engine onnx: ONNX Runtime execution providers, in order of preference (default "
        "CPUExecutionProvider; e.g. CUDAExecutionProvider,CPUExecutionProvider with onnxruntime-gpu).",
    )(f)  # fmt: skip


def max_steps_option(default: int | None, what: str = "Stop after this many instructions", shown: str | None = None):
    """--max-steps N, 0 meaning no limit; ``shown`` is the default as --help says it (else ``default``)."""
    shown = shown or (f"{default:,}" if default else "none")
    return click.option(
        "--max-steps", type=bounded(), default=default, metavar="N", help=f"{what} (0 = no limit; default: {shown}).",
    )  # fmt: skip


def eof_reads_option(f):
    """--eof-reads N: the end-of-input rule (``mlpvm.program.inputs``), one name and meaning wherever a program
    runs; the command gets None for 0 (no limit), as ``Input(eof_reads=...)`` takes it."""
    return click.option(
        "--eof-reads", type=bounded(), default=EOF_READS, metavar="N", callback=lambda ctx, param, v: v or None,
        help=f"Stop a program that reads the end of its input (-1) more than N times (0 = no limit; default: "
        f"{EOF_READS}): polling programs keep reading after input ends.",
    )(f)  # fmt: skip


def quiet_option(f):
    """-q/--quiet: no live progress (which shows only when stderr is a terminal, and never with --json)."""
    return click.option("-q", "--quiet", is_flag=True, help="No live progress on stderr (shown only on a terminal).")(f)


def engine_option(*extra: str, weights: str | None = "bits for --weights", more: str = ""):
    """--engine NAME: the network engines, the same names wherever one runs (``extra``: run's reference);
    ``weights``: what runs a weight file, None for a command without --weights."""
    return click.option(
        "--engine", type=click.Choice((NEURAL, *ENGINES, *extra)), default=NEURAL, show_default=True,
        help=f"The network engine (neural = the fastest exact one{f'; {weights}' if weights else ''}){more}.",
    )  # fmt: skip


def resolve_config(
    program: images.Image | None, loaded: weightfile.Weights | None, machine, bits, cells, slots
) -> Config:
    """The one rule for the configuration a command works on: the loaded weight file's (``load_weights`` has
    refused options that contradict it); else, for a program, the options' and then what the program needs,
    and the program must fit; else the options' and then the defaults."""
    if loaded is not None:
        config = loaded.config
    elif program is None:
        return Config(
            machine or machines.DEFAULT_MACHINE,
            DEFAULT_BITS if bits is None else bits,
            DEFAULT_CELLS if cells is None else cells,
            slots or 0,
        )
    else:
        if machine and machine != program.machine:
            raise ConfigError(f"{program.path} is a {program.machine} program, not {machine}")
        config = images.config_for(program, bits, cells, slots)
    if program is not None:
        images.check_fits(program, config)
    return config


INPUT_HELP = r"Program input; \n \r \t \\ \xHH are escapes"
INPUT_FILE_HELP = "Program input: the bytes of FILE, as they are."
MAX_INPUT = 64 << 20  # bytes of --input-file: more than any program reads in a run; /dev/zero must not fill memory


def input_bytes(text: str | None) -> bytes:
    """``--input TEXT`` as bytes, its escapes decoded (mlpvm.program.inputs); a bad escape is bad usage."""
    try:
        return unescape(text or "")
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--input'") from None


def input_file_bytes(path: str) -> bytes:
    """``--input-file FILE``: its bytes as they are (a file, a pipe, /dev/null), at most MAX_INPUT of them."""
    try:
        with open(path, "rb") as f:
            files.note_input(path, f.fileno())
            data = f.read(MAX_INPUT + 1)
    except OSError as e:
        raise ImageError(f"cannot read the input file: {e.strerror}", path) from None
    if len(data) > MAX_INPUT:
        raise ImageError(f"the input file has more than {MAX_INPUT:,} bytes, the most mlpvm reads", path)
    return data


def input_options(text_help: str = f"{INPUT_HELP}."):
    """--input TEXT and --input-file FILE, for commands whose program gets its input at the start."""

    def apply(f):
        f = click.option("--input-file", type=click.Path(dir_okay=False), help=INPUT_FILE_HELP)(f)
        return click.option("--input", "input_text", metavar="TEXT", help=text_help)(f)

    return apply


def input_data(text: str | None, path: str | None) -> bytes:
    """The program's input from ``--input TEXT`` or ``--input-file FILE`` (not both), else none."""
    if text is not None and path is not None:
        raise click.UsageError("give --input or --input-file, not both")
    return input_file_bytes(path) if path is not None else input_bytes(text)
