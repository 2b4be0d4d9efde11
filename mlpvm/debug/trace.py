"""``mlpvm trace``: a run written down pass by pass, decoded from the state after each pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mlpvm.debug import dump
from mlpvm.engines import DEFAULT, Engine, make
from mlpvm.files import atomic_write, outputs
from mlpvm.host.computer import Computer, Outcome
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.program.image import Image
from mlpvm.program.inputs import EOF_READS, Input
from mlpvm.protocol import OUT_VALID

# pc: where execution goes next (the state after the pass); fallthrough: the adder's PC + 3 (PC + 1 on paper)
FIELDS = ("pc", "a", "b", "c", "mem_a", "mem_b", "result", "branch", "fallthrough")


@dataclass
class Summary:
    reason: str
    steps: int
    passes: int


def trace(image: Image, config: Config, out: Path, data: bytes = b"", max_steps: int | None = None,
          layers: Path | None = None, passes: range | None = None, engine: str | Engine = DEFAULT,
          progress: Callable[[Computer], None] | None = None,
          eof_reads: int | None = EOF_READS) -> Summary:  # fmt: skip
    """Runs ``image`` on ``engine`` (default: the fastest), writing a JSON line per pass to ``out``; with
    ``layers``, also every layer's activations for the ``passes`` wanted (re-run on the stored matrices), written
    pass by pass as the run goes. Ctrl-C and the step limit end the run cleanly; the files are complete either
    way. ``progress`` hears of each pass; ``eof_reads``: the end-of-input rule (None: no limit)."""
    outputs(out, layers, inputs=(image.path,))  # before the run, not after it: none an input, not both one file
    engine = make(engine, config) if isinstance(engine, str) else engine
    plain = None
    if layers:  # the stored weights as they are: the MLP's sparse matrices; the transformer's own layers
        plain = engine if engine.name == "transformer" else make("sparse", config)
    computer = Computer(
        engine, encode(engine.state, config, image.words, image.slots), [Input(data, eof_reads=eof_reads)]
    )
    before = computer.x.copy()
    ended: list[Outcome] = []

    def write(f: BinaryIO, npz: dump.Writer | None = None) -> None:
        def record(c: Computer) -> None:
            nonlocal before
            values = dump.decoded(engine, config, c.state_of(0))
            line = {"pass": c.passes, "step": int(c.steps[0]), **{k: values[k] for k in FIELDS}}
            line["out"] = int(c.outputs[0][-1]) if values.get(OUT_VALID) else None
            f.write((json.dumps(line) + "\n").encode())
            if npz is not None and c.passes in passes:
                trace: list[np.ndarray] = []
                plain.run_pass(np.array(before, dtype=plain.dtype), trace)
                npz.add(dump.pass_arrays(plain, config, c.passes, trace, before))  # on disk now: one pass in memory
            if plain is not None and c.passes + 1 in passes:
                before = c.state_of(0)[None].copy()
            if progress is not None:
                progress(c)

        ended.extend(computer.run(max_steps, progress=record, chunk=1))

    if layers is None:
        atomic_write(out, write, (image.path,))
    else:  # both files written as the run goes, each renamed into place when it ends
        info = dump.meta(plain, config)
        atomic_write(out, lambda f: dump.streamed(layers, info, lambda npz: write(f, npz), (image.path,)),
                     (image.path,))  # fmt: skip
    return Summary(ended[0].reason, ended[0].steps, computer.passes)
