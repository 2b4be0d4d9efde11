"""Shared test helpers: one pass of a batch of machines on an engine, compared with the reference."""

from __future__ import annotations

from mlpvm import reference
from mlpvm.engines import Engine
from mlpvm.host import Computer
from mlpvm.inputs import Input
from mlpvm.lockstep import state_diff
from mlpvm.machine import Config
from mlpvm.state import decode, encode


def one_pass_mismatches(engine: Engine, config: Config, programs: list[dict]) -> list[tuple]:
    """Each program dict: ``words`` (and ``slots``), optional ``pc``, ``data`` (input), ``closed``.
    Runs one pass of all of them as one batch and returns (program, field, network, reference) per mismatch."""
    states, inputs, refs, ref_inputs = [], [], [], []
    for p in programs:
        x = encode(engine.state, config, p["words"], p.get("slots"))
        ref = reference.load(config, p["words"], p.get("slots"))
        pc = p.get("pc", 0)
        if pc:
            bits = engine.state["pc"].shape[0]
            engine.state.view(x, "pc")[...] = [(pc >> t) & 1 for t in range(bits)]
            ref.pc = config.wrap(pc) if config.machine == "subleq" else pc
        states.append(x)
        closed = p.get("closed", True)
        inputs.append(Input(p.get("data", b""), closed))
        ref_inputs.append(Input(p.get("data", b""), closed))
        refs.append(ref)
    computer = Computer(engine, states, inputs)
    computer.step()
    bad = []
    for i, (p, ref, inp) in enumerate(zip(programs, refs, ref_inputs)):
        m = ref.step(inp)
        d = decode(engine.state, config, computer.state_of(i))
        diff = state_diff(d, ref, bytes(computer.outputs[i]), m)
        if diff:
            bad.append((p, *diff))
    return bad
