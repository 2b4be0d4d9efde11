"""Options shared by several commands."""

from __future__ import annotations

import click

from mlpvm import machines
from mlpvm.errors import ConfigError
from mlpvm.machines.config import DEFAULT_BITS, DEFAULT_CELLS, Config
from mlpvm.network import weights as weightfile
from mlpvm.program import image as images

_SLOTS = "Instruction slots K of the paper machine (build, info: default M; run: what the program needs, >= 16)."


def machine_options(f):
    """--machine, --bits, --cells, --slots: the configuration the weights are built for."""
    f = click.option("--slots", type=int, help=_SLOTS)(f)
    f = click.option(
        "--cells", type=int, help="Memory cells M, a power of two (default 256, or what the image needs)."
    )(f)
    f = click.option("--bits", type=int, help="Word width N, 4..32 (default 16).")(f)
    f = click.option("--machine", type=click.Choice(machines.names()), help=_machine_help())(f)
    return f


def _machine_help() -> str:
    """``subleq (von Neumann, default) or paper (Harvard).``: every registered machine."""
    named = [f"{m.name} ({m.summary}{', default' if m.name == machines.DEFAULT_MACHINE else ''})"
             for m in machines.MACHINES.values()]  # fmt: skip
    return (", ".join(named[:-1]) + " or " if len(named) > 1 else "") + named[-1] + "."


def load_weights(path: str, machine, bits, cells, slots) -> weightfile.Weights:
    """A weight file, refusing configuration options that contradict the one it was built for."""
    loaded = weightfile.load(path)
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


def max_steps_option(default: int, what: str = "Stop after this many instructions"):
    """--max-steps N, 0 meaning no limit."""
    return click.option(
        "--max-steps", type=click.IntRange(min=0), default=default, show_default=bool(default),
        help=f"{what} (0 = no limit).",
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
        return Config(machine or machines.DEFAULT_MACHINE, bits or DEFAULT_BITS, cells or DEFAULT_CELLS, slots or 0)
    else:
        if machine and machine != program.machine:
            raise ConfigError(f"{program.path} is a {program.machine} program, not {machine}")
        config = images.config_for(program, bits, cells, slots)
    if program is not None:
        images.check_fits(program, config)
    return config
