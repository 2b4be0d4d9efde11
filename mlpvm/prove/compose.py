"""The proofs: both properties over one pass as a whole (``whole``), or stage by stage (``staged``).

Property ``binary``: every unit of every layer is 0 or 1 for every {0,1} state satisfying the invariant.
Property ``step``: the state after the 23 layers equals the specification's next state, field by field, where
the specification defines the field. A query asks the solver for a state violating the property; ``unsat``
proves it, ``sat`` gives a counterexample (checked on the stored matrices before it is reported), and a
timeout leaves it unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlpvm.network.weights import Weights

from . import encode, require_z3
from .spec import decoded, mismatch, mismatches, state_bits, variables

PROVED, REFUTED, UNKNOWN = "proved", "refuted", "unknown"


@dataclass
class Outcome:
    property: str  # "binary" or "step"
    stage: str  # "all" (one query over the 23 layers) or a stage name
    config: str
    seconds: float
    result: str  # PROVED, REFUTED or UNKNOWN
    detail: str = ""
    found: Found | None = field(default=None, repr=False)  # the violating state, when refuted
    solver: str = "z3"  # what answered: a solver, or "numpy" for a check of the stored matrices


@dataclass
class Found:
    """A state the solver found violating a property: the question (to ask again, narrowed) and its answer."""

    s: dict  # the state's variables
    assertions: list
    violation: Any  # the violation found
    violations: list  # every violation the query asked about
    model: Any


@dataclass
class Problem:
    """One configuration's state variables, its encoded layers, the invariant and the claims."""

    weights: Weights
    s: dict
    enc: encode.Encoded
    invariant: Any
    claims: dict

    @classmethod
    def of(cls, weights: Weights) -> Problem:
        cfg = weights.config
        proof = cfg.spec.proof
        s = variables(weights.state)
        d, definitions = decoded(cfg, s)
        enc = encode.layers(state_bits(weights.state, s), list(weights.layers))
        invariant = require_z3().And(proof.invariant(cfg, s), *definitions.values())
        return cls(weights, s, enc, invariant, proof.step(cfg, s, d))

    def mismatches(self) -> list:
        out = self.enc.layers[-1]
        return [v for f in self.weights.state for v in mismatches(self.claims[f.name], out[f.offset : f.stop])]


def solve(s: dict, assertions: list, violations: list, timeout: float | None) -> tuple[str, Found | None, float]:
    """(result, the state found or None, seconds): is there a state with ``assertions`` and any of
    ``violations``? One question, asked once: z3 then bit-blasts it for its SAT solver, far faster on these
    formulas than its incremental solver would answer the violations one by one."""
    z3 = require_z3()
    solver = z3.Solver()
    if timeout:
        solver.set("timeout", int(timeout * 1000))
    solver.add(*assertions, z3.Or(violations) if violations else z3.BoolVal(False))
    start = time.perf_counter()
    answer = solver.check()
    seconds = time.perf_counter() - start
    if answer == z3.sat:
        model = solver.model()
        violation = next((v for v in violations if z3.is_true(model.eval(v, model_completion=True))), None)
        return REFUTED, Found(s, assertions, violation, violations, model), seconds
    return (PROVED if answer == z3.unsat else UNKNOWN), None, seconds


def whole(weights: Weights, timeout: float | None = None, on_done: Callable[[Outcome], None] = print) -> list[Outcome]:
    """Both properties as one query each over the whole pass."""
    problem = Problem.of(weights)
    name = weights.config.describe()
    outcomes = []
    obligations = [o for layer in problem.enc.obligations for _, o in layer]
    result, found, seconds = solve(problem.s, [problem.invariant], obligations, timeout)
    outcomes.append(Outcome("binary", "all", name, seconds, result, f"{len(obligations)} units to bound", found))
    on_done(outcomes[-1])
    if result == PROVED:
        result, found, seconds = solve(problem.s, [problem.invariant], problem.mismatches(), timeout)
        outcomes.append(Outcome("step", "all", name, seconds, result, "the next state", found))
        on_done(outcomes[-1])
    return outcomes


def stage_spans(weights: Weights) -> list[tuple[str, int, int]]:
    """(stage, first layer, end) for each stage, in order."""
    spans: list[tuple[str, int, int]] = []
    for k, layer in enumerate(weights.layers):
        if spans and spans[-1][0] == layer.stage:
            spans[-1] = (layer.stage, spans[-1][1], k + 1)
        else:
            spans.append((layer.stage, k, k + 1))
    return spans


def staged(weights: Weights, timeout: float | None = None, on_done: Callable[[Outcome], None] = print) -> list[Outcome]:
    """Both properties stage by stage: stage k's layers, from any activations that satisfy the lemmas proved
    for the end of stage k - 1 (the state itself for the first), satisfy the lemmas for the end of stage k
    (the specification's next state for the last), and keep every unit on {0,1}. Each stage is one query per
    property; the chain of implications gives both properties for the whole pass."""
    z3 = require_z3()
    cfg = weights.config
    proof = cfg.spec.proof
    s = variables(weights.state)
    d, definitions = decoded(cfg, s)
    invariant = proof.invariant(cfg, s)
    lemmas = [*proof.stages(cfg, s, d), (proof.step(cfg, s, d), tuple(definitions))]
    name = cfg.describe()
    outcomes = []
    for k, (stage, first, end) in enumerate(stage_spans(weights)):
        if first == 0:
            inputs, assumed = state_bits(weights.state, s), []
        else:
            layout = weights.layers[first - 1].outputs
            inputs = [z3.Bool(f"{stage}.in[{i}]") for i in range(layout.size)]
            before = lemmas[k - 1][0]
            assumed = [z3.Not(mismatch(before[f.name], inputs[f.offset : f.stop])) for f in layout if f.name in before]
        enc = encode.layers(inputs, list(weights.layers[first:end]))
        obligations = [o for layer in enc.obligations for _, o in layer]
        after, defined = lemmas[k]
        assumed += [definitions[name] for name in defined]
        result, found, seconds = solve(s, [invariant, *assumed], obligations, timeout)
        outcomes.append(Outcome("binary", stage, name, seconds, result, f"{len(obligations)} units to bound", found))
        on_done(outcomes[-1])
        out = weights.layers[end - 1].outputs
        violated = [
            v for f in out if f.name in after for v in mismatches(after[f.name], enc.layers[-1][f.offset : f.stop])
        ]
        result, found, seconds = solve(s, [invariant, *assumed], violated, timeout)
        what = "the next state" if end == len(weights.layers) else f"{sum(f.name in after for f in out)} fields' lemmas"
        outcomes.append(Outcome("step", stage, name, seconds, result, what, found))
        on_done(outcomes[-1])
    return outcomes
