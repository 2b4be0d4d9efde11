"""What ``mlpvm prove`` shows: the table of results, and counterexamples a person can use.

A counterexample is checked before it is shown: its state goes through the stored matrices (numpy, no
solver), and the fields that differ from the specification are the ones reported. When the solver can find
one that a program can start from (PC 0, an image loaded, one instruction), it comes with that program and
an ``mlpvm verify`` command that reproduces the divergence.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

import numpy as np

from mlpvm.machines.state import Decoded, decode, from_bits, signed_field
from mlpvm.network.weights import Weights

from . import require_z3, rows
from .compose import Outcome, Problem
from .spec import Rows, bits, decoded, variables


@dataclass
class Difference:
    field: str
    network: object
    specification: object


@dataclass
class Counterexample:
    before: Decoded
    loadable: bool  # a program can start from it (PC 0, loaded, one instruction)
    layer: str | None  # the first layer with an activation outside {0,1}, if any
    differences: list[Difference] = field(default_factory=list)
    program: str | None = None  # the image file's text
    suffix: str = ".dec"
    input: str | None = None  # the --input TEXT that offers the state's input byte

    def command(self, weights_path: str | None, config_options: str) -> str | None:
        """A shell line that writes the program and runs ``mlpvm verify`` on it for one step."""
        if self.program is None:
            return None
        name = f"counterexample{self.suffix}"
        where = f"--weights {_shell_word(weights_path)}" if weights_path else config_options
        given = f" --input {_shell_bytes(self.input)}" if self.input is not None else ""
        return (
            f"printf '%s\\n' {shlex.quote(self.program)} > {name} && mlpvm verify {where}{given} --max-steps 1 {name}"
        )

    def to_json(self) -> dict:
        b = self.before
        return {
            "pc": b.pc,
            "halted": b.halted,
            "fault": b.fault,
            "io": b.io,
            "memory": {str(i): int(v) for i, v in enumerate(b.mem) if v},
            "slots": b.slots,
            "loadable": self.loadable,
            "off_binary_layer": self.layer,
            "differences": [
                {"field": d.field, "network": d.network, "specification": d.specification} for d in self.differences
            ],
            "program": self.program,
            "input": self.input,
        }


def _shell_word(text: str) -> str:
    """A file name as one shell word that shows no control character and names the same file: quoted, or
    with its unprintable characters as the bytes of ``$'\\xHH'``."""
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(c if c.isprintable() and c not in "'\\" else _hex(os.fsencode(c)) for c in text) + "'"


def _hex(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _shell_bytes(text: str) -> str:
    if all(c.isprintable() for c in text):
        return shlex.quote(text)
    return "$'" + "".join(f"\\x{ord(c):02x}" for c in text) + "'"


def counterexample(weights: Weights, outcome: Outcome, timeout: float | None = None) -> Counterexample | None:
    """A state on which the whole pass goes wrong, found by asking about the 23 layers at once (a refuted
    stage only says that a lemma fails), and a loadable one-instruction program when there is one; failing
    that, the state the refuted question found."""
    if outcome.found is None:
        return None
    cfg = weights.config
    proof = cfg.spec.proof
    if any(isinstance(v, Rows) for v in outcome.found.s.values()):  # the proof by rows: a whole pass by rows
        x, loadable = None, False
        for narrow in (True, False):
            x = rows.whole_pass(weights, narrow, timeout)
            if x is not None:
                loadable = narrow
                break
        if x is None:
            return None
    else:
        x, loadable = _whole(weights, outcome, timeout)
    s = variables(weights.state)
    after, layer = _run(weights, x)
    d, definitions = decoded(cfg, s)
    model = _defined(x, list(definitions.values()), s, weights)
    differences = _differences(weights, proof.step(cfg, s, d), model, after)
    before = decode(weights.state, cfg, x)
    cex = Counterexample(before, loadable, layer, differences)
    if loadable:
        cex.suffix, cex.program = proof.program(cfg, [int(v) for v in before.mem], before.slots)
        io = before.io
        if "in_ready" in io and not io.get("in_eof"):
            cex.input = chr(io["in_byte"])
    return cex


def _whole(weights: Weights, outcome: Outcome, timeout: float | None) -> tuple[np.ndarray, bool]:
    """(the state vector, loadable) of a state found by asking about the 23 layers at once; failing that,
    the state the refuted question found."""
    proof = weights.config.spec.proof
    whole = Problem.of(weights)
    violations = [o for layer in whole.enc.obligations for _, o in layer] + whole.mismatches()
    for narrower in (proof.loadable(weights.config, whole.s), None):
        model = _satisfy([whole.invariant, *([narrower] if narrower is not None else [])], violations, timeout)
        if model is not None:
            return _concrete(weights, whole.s, model), narrower is not None
    return _concrete(weights, outcome.found.s, outcome.found.model), False


def _satisfy(assertions: list, violations: list, timeout: float | None):
    z3 = require_z3()
    solver = z3.Solver()
    if timeout:
        solver.set("timeout", int(timeout * 1000))
    solver.add(*assertions, z3.Or(violations))
    return solver.model() if solver.check() == z3.sat else None


def _defined(x: np.ndarray, definitions: list, s: dict, weights: Weights):
    """A model of the state ``x`` in which the decoded variables hold their definitions' values."""
    z3 = require_z3()
    solver = z3.Solver()
    for f in weights.state:
        solver.add(*[b == bool(v) for b, v in zip(bits(s[f.name]), x[f.offset : f.stop])])
    solver.add(*definitions)
    assert solver.check() == z3.sat  # the definitions are functions of the state
    return solver.model()


def _concrete(weights: Weights, s: dict, model) -> np.ndarray:
    """The state vector of the model's values (unconstrained variables: 0)."""
    x = np.zeros(weights.state.size)
    for f in weights.state:
        x[f.offset : f.stop] = [_true(model, b) for b in bits(s[f.name])]
    return x


def _true(model, formula) -> bool:
    z3 = require_z3()
    return z3.is_true(model.eval(formula, model_completion=True))


def _run(weights: Weights, x: np.ndarray) -> tuple[np.ndarray, str | None]:
    """One pass through the stored matrices, exactly (float64, integers far below 2^53), and the first layer
    with an activation outside {0,1}."""
    h, off = x[None, :], None
    for layer in weights.layers:
        h = np.maximum(layer.W.matmul(h) + layer.b, 0)
        if off is None and np.any((h != 0) & (h != 1)):
            off = layer.name
    return h[0], off


def _differences(weights: Weights, claims: dict, model, after: np.ndarray) -> list[Difference]:
    cfg = weights.config
    out = []
    for f in weights.state:
        claim = claims[f.name]
        if not _true(model, claim.cond):
            continue
        want = np.array([_true(model, b) for b in bits(claim.value)], float)
        got = after[f.offset : f.stop]
        rows = f.shape[0] if len(f.shape) > 1 else 1
        width = f.size // rows
        for r in range(rows):
            w, g = want[r * width : (r + 1) * width], got[r * width : (r + 1) * width]
            if np.array_equal(w, g):
                continue
            name = f"{f.name}[{r}]" if len(f.shape) > 1 else f.name
            signed = signed_field(cfg, f.name) and f.name not in ("ins",)
            out.append(Difference(name, _value(g, signed, f.shape), _value(w, signed, f.shape)))
    return out


def _value(units: np.ndarray, signed: bool, shape: tuple[int, ...]):
    if not shape:
        return float(units[0]) if units[0] not in (0, 1) else int(units[0])
    if np.any((units != 0) & (units != 1)):
        return [float(u) for u in units]  # off {0,1}: the activations as they are
    if len(shape) == 3:  # a slot: its three operands
        return [int(v) for v in from_bits(units.reshape(shape[1:]), signed=False)]
    return int(from_bits(units, signed))
