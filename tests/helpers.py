"""Shared test helpers: one pass of a batch of machines on an engine, compared with the reference."""

from __future__ import annotations

from mlpvm.check.lockstep import Batch, Divergence, Program
from mlpvm.engines import Engine
from mlpvm.machines.config import Config

# A program with a subroutine called twice (the standard library's CALL/RET), for the debugger's frame tests.
TWICE = """.include <std>
        CALL twice              # n = 32
        CALL twice              # n = 64
        OUT n                   # '@'
        HALT
        PROC twice              # twice: n = n + n
        ADD n, n
        RET twice
. n: 16
"""


def one_pass_divergence(engine: Engine, config: Config, programs: list[dict]) -> Divergence | None:
    """Each program dict: ``words`` (and ``slots``), optional ``pc``, ``data`` (input), ``closed``.
    Runs one pass of all of them as one batch; the first divergence from the reference on the whole state."""
    batch = Batch(engine, config, [Program(**p) for p in programs])
    return batch.step()


def one_pass_mismatches(engine: Engine, config: Config, programs: list[dict]) -> list[Divergence]:
    """The earlier interface, kept for tests written against it: [] when the pass matches the reference."""
    div = one_pass_divergence(engine, config, programs)
    return [] if div is None else [div]
