"""Random programs and random single steps, from a seeded numpy generator: one source for the tests (where
hypothesis draws the seed) and for ``mlpvm verify --random``. The same seed gives the same program.

Each machine draws its own (its descriptor's ``generator``): words lean towards the values that break
arithmetic (0, +-1, powers of two, the extremes; ``mlpvm.check.draw``) and addresses towards the program
itself, so programs loop, rewrite their own operands, read and write bytes, halt and fault; a fixed share of
the programs sit at the machine's edges (``EDGE_EVERY``), which programs drawn anywhere rarely reach.
"""

from __future__ import annotations

import numpy as np

from mlpvm.check.lockstep import Program
from mlpvm.machines.config import Config

MAX_INSTRUCTIONS = 8
EDGE_EVERY = 4  # every 4th seed draws a program at the machine's edges: a fixed share of every population


def random_program(config: Config, seed: int, max_instructions: int = MAX_INSTRUCTIONS) -> Program:
    """A random program for ``config``, from ``seed`` alone; the seeds EDGE_EVERY - 1, 2 * EDGE_EVERY - 1, ...
    draw one at the edges of the machine (the generator's ``edges``: the top of memory, the operands just
    inside and outside it, -1)."""
    gen, rng = config.spec.generator, np.random.default_rng(seed)
    draw = gen.edges if seed % EDGE_EVERY == EDGE_EVERY - 1 else gen.program
    return draw(config, rng, max_instructions)


def one_step_cases(config: Config, seed: int, count: int) -> list[Program]:
    """Machines about to take one step. First a sweep that puts every PC and every memory cell under the
    address registers with all-ones and all-zeros words (so every row of every address-matched block is read
    and written with both bit values), makes every carry-lookahead term of the adders fire and tests results
    either side of zero; then machines that have already stopped (which must stay as they are); then
    ``count`` random states of every instruction kind: subtractions (branch taken and not), input (a
    byte, end of input, nothing ready yet), output, faults and halts, with operands that coincide or point
    into the instruction itself, and all of memory random."""
    rng, gen = np.random.default_rng(seed), config.spec.generator
    cases = gen.sweep(config, rng)
    cases += [gen.stopped(config, rng) for _ in range(8)]
    return cases + [gen.case(config, rng) for _ in range(count)]
