"""Mutation testing of the looped transformer (mlpvm.transformer), as ``mlpvm.check.mutate`` does for the
MLP: faults planted one at a time in its stored weights, and a fixed battery of checks that must catch each.

A feed-forward mutant changes one hidden unit of one block: a weight of ``w1`` negated, the bias shifted by
+1 or -1, or the unit dropped (its ``w1`` row, bias and ``w2`` column zeroed). Units are chosen in every
field each block writes (a unit belongs to the first field its ``w2`` column writes). An attention mutant
changes one head: a query or key weight negated (the head attends to the wrong column), or one value weight
zeroed (one bit of the read is lost); not the key's weight on ``is_mem``, which shifts every memory column's
score alike, a change softmax does not see while the scratchpad column stays far below (an equivalent mutant).

Every check runs the mutant with a guard, the counterpart of the MLP engines' (an activation off {0,1} is a
network fault): after every layer, every row but the raw softmax reads holds 0 or 1, and in memory columns
every row the construction computes only in the scratchpad is 0. The battery runs each mutant in lockstep
with the reference interpreter (single steps of every instruction kind, then random programs) and, last,
one pass over random {0,1} punchcards against the unmutated network (without the guard: a random punchcard
need not be a reachable state, and the invariants hold only on those). A survivor means the checks are too
weak or the unit does nothing; either is a defect, and ``verify --network transformer --mutants`` exits 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from mlpvm.check import transformer as lockstepping
from mlpvm.check.generate import one_step_cases, random_program
from mlpvm.check.lockstep import Program
from mlpvm.check.verify import named_programs
from mlpvm.machines.config import Config
from mlpvm.transformer import Transformer
from mlpvm.transformer.attention import Attention
from mlpvm.transformer.faults import NotExact
from mlpvm.transformer.state import encode
from mlpvm.transformer.subleq import EVERY_COLUMN, MEMORY_FIELDS

FFN_KINDS = ("weight", "bias+1", "bias-1", "drop")
HEAD_KINDS = ("query", "key", "value")
KINDS = FFN_KINDS + HEAD_KINDS
CONFIG = Config("subleq", 8, 16)  # the smallest machine the programs of the battery fit in


@dataclass(frozen=True)
class Mutant:
    layer: int  # index into net.layers
    unit: int  # a feed-forward block's hidden unit, or an attention layer's head
    field: str  # the field the unit writes, or the head's name
    kind: str  # one of KINDS
    at: tuple[int, int] | None = None  # the (row, column) of the changed matrix entry (w1, wq, wk or wv)

    def describe(self, net: Transformer) -> str:
        layer = net.layers[self.layer].name
        if self.kind in HEAD_KINDS:
            row, col = self.at
            what = "zeroed" if self.kind == "value" else "negated"
            return f"{layer} head {self.field}: {self.kind} weight ({row}, {_row_name(net, col)}) {what}"
        if self.kind == "weight":
            what = f"weight from {_row_name(net, self.at[1])} negated"
        else:
            what = "dropped" if self.kind == "drop" else self.kind
        return f"{layer} unit {self.unit} ({self.field}): {what}"


def _row_name(net: Transformer, row: int) -> str:
    for name, rows in net.rows.fields.items():
        if row in rows:
            return f"{name}[{row - rows.start}]" if len(rows) > 1 else name
    return str(row)


def _written_field(net: Transformer, w2: np.ndarray, unit: int) -> str:
    rows = np.flatnonzero(w2[:, unit])
    return _row_name(net, int(rows[0])).split("[")[0] if len(rows) else "nothing"


def choose(net: Transformer, seed: int = 0, per_field: int = 1) -> list[Mutant]:
    """``per_field`` units of every field of every feed-forward block for each kind, and for every head one
    fault of each kind, chosen at random."""
    rng = np.random.default_rng(seed)
    out: list[Mutant] = []
    for k, layer in enumerate(net.layers):
        if isinstance(layer, Attention):
            for h, head in enumerate(layer.heads):
                for kind, m in (("query", head.wq), ("key", head.wk), ("value", head.wv)):
                    nonzero = np.argwhere(m)
                    if kind == "key":
                        nonzero = nonzero[nonzero[:, 1] != net.rows.row("is_mem")]
                    row, col = map(int, nonzero[rng.integers(len(nonzero))])
                    out.append(Mutant(k, h, head.name, kind, (row, col)))
            continue
        by_field: dict[str, list[int]] = {}
        for unit in range(len(layer.b1)):
            by_field.setdefault(_written_field(net, layer.w2, unit), []).append(unit)
        for field, units in by_field.items():
            for kind in FFN_KINDS:
                for unit in rng.choice(units, min(per_field, len(units)), replace=False):
                    unit = int(unit)
                    at = None
                    if kind == "weight":
                        col = int(rng.choice(np.flatnonzero(layer.w1[unit])))
                        at = (unit, col)
                    out.append(Mutant(k, unit, field, kind, at))
    return out


def plant(net: Transformer, mutant: Mutant) -> Transformer:
    """``net`` with the one fault ``mutant`` describes (the other layers shared, unchanged)."""
    layer = net.layers[mutant.layer]
    if isinstance(layer, Attention):
        head = layer.heads[mutant.unit]
        name = {"query": "wq", "key": "wk", "value": "wv"}[mutant.kind]
        m = getattr(head, name).copy()
        m[mutant.at] = 0 if mutant.kind == "value" else -m[mutant.at]
        heads = list(layer.heads)
        heads[mutant.unit] = replace(head, **{name: m})
        changed = replace(layer, heads=heads)
    else:
        w1, b1, w2, u = layer.w1.copy(), layer.b1.copy(), layer.w2.copy(), mutant.unit
        if mutant.kind == "weight":
            w1[mutant.at] *= -1
        elif mutant.kind == "drop":
            w1[u], b1[u], w2[:, u] = 0, 0, 0
        else:
            b1[u] += 1 if mutant.kind == "bias+1" else -1
        changed = replace(layer, w1=w1, b1=b1, w2=w2)
    layers = list(net.layers)
    layers[mutant.layer] = changed
    return replace(net, layers=layers)


class Guarded(Transformer):
    """The transformer, stopped (``NotExact``) by the first layer whose output breaks the construction's
    invariants: a row outside the raw reads off {0,1}, or a scratchpad-only row nonzero in a memory column."""

    def run_pass(self, x: np.ndarray, trace: list | None = None, hard: bool = False) -> np.ndarray:
        if hard:
            return super().run_pass(x, trace, hard)
        layers: list = []
        y = super().run_pass(x, layers)
        if trace is not None:
            trace += layers
        binary, zero = self.guard_rows
        for name, out in layers:
            if ((out[binary] != 0) & (out[binary] != 1)).any() or out[zero, 1:].any():
                raise NotExact(f"network fault after layer {name}")
        return y


def _guard_rows(net: Transformer) -> tuple[np.ndarray, np.ndarray]:
    """(rows that hold 0 or 1 after every layer, rows that are 0 in every memory column after every layer)."""
    fields = net.rows.fields
    raw = [r for name, rows in fields.items() if name.startswith("raw_") for r in rows]
    binary = np.setdiff1d(np.arange(net.rows.size), raw)
    kept = {*MEMORY_FIELDS, *EVERY_COLUMN}
    zero = [r for name, rows in fields.items() if name not in kept and not name.startswith("raw_") for r in rows]
    return binary, np.array(zero)


def guarded(net: Transformer) -> Guarded:
    out = Guarded(**{f: getattr(net, f) for f in ("config", "lam", "dtype", "rows", "layers")})
    out.guard_rows = _guard_rows(net)
    return out


@dataclass
class Check:
    name: str
    description: str
    run: Callable[[Transformer], str | None]  # what went wrong, or None if the network passes


def random_states(net: Transformer, count: int, seed: int) -> list[np.ndarray]:
    """Punchcards with every persistent field random: memory, PC, the flags and the host's I/O fields."""
    rng, cfg, r = np.random.default_rng(seed), net.config, net.rows
    states = []
    for _ in range(count):
        words = [int(w) for w in rng.integers(-(1 << (cfg.bits - 1)), 1 << (cfg.bits - 1), cfg.cells)]
        x = encode(net, words, int(rng.integers(-4, cfg.cells + 2)))
        for name in ("halted", "fault", "in_byte", "in_ready", "in_eof", "in_ack", "in_wait", "out_valid",
                     "out_byte", "executed"):  # fmt: skip
            x[r[name].start : r[name].stop, 0] = rng.integers(0, 2, len(r[name]))
        states.append(x)
    return states


def battery(net: Transformer, seed: int = 0) -> list[Check]:
    """The checks every mutant must fail, in order (the MLP's battery, mlpvm.check.mutate, on the transformer)."""
    config = net.config
    steps = one_step_cases(config, seed, 128)
    programs = [random_program(config, seed + i) for i in range(24)]
    named = named_programs(config)
    states = random_states(net, 64, seed)
    expected = [net.run_pass(x.copy()) for x in states]

    def lockstep(progs: list[Program], max_steps: int) -> Callable[[Transformer], str | None]:
        def run(mutated: Transformer) -> str | None:
            for i, program in enumerate(progs):
                divergence, _n, _how = lockstepping.lockstep(mutated, program, max_steps)
                if divergence is not None:
                    return f"program {i}, step {divergence.step}: {divergence.describe()}"
            return None

        return run

    def one_pass(mutated: Transformer) -> str | None:
        for i, (x, want) in enumerate(zip(states, expected, strict=True)):
            got = Transformer.run_pass(mutated, x.copy())  # unguarded: a random state may be unreachable
            if not np.array_equal(got, want):
                row, col = map(int, np.argwhere(got != want)[0])
                return f"state {i}: row {_row_name(net, row)} of column {col} differs from the unmutated network"
        return None

    checks = [
        Check("steps", f"{len(steps)} single steps: every PC and cell, every carry, halted machines, every "
              "instruction kind", lockstep(steps, 1)),
        Check("named", f"{len(named)} named programs in lockstep, to their end", lockstep(named, 2000)),
        Check("random", f"{len(programs)} random programs in lockstep, 200 steps", lockstep(programs, 200)),
        Check("states", f"{len(states)} random {{0,1}} punchcards, one pass, against the unmutated network",
              one_pass),
    ]  # fmt: skip
    return [c for c in checks if c.name != "named" or named]


@dataclass
class Result:
    mutant: Mutant
    layer: str
    check: str | None  # the first check that caught it; None if it survived
    detail: str = ""

    @property
    def caught(self) -> bool:
        return self.check is not None

    @property
    def guard(self) -> bool:
        """Caught because a pass left {0,1} (the transformer's counterpart of the MLP engines' guard)."""
        return "network fault" in self.detail


def run(net: Transformer, checks: list[Check], mutants: list[Mutant]) -> Iterator[Result]:
    for mutant in mutants:
        mutated, layer = guarded(plant(net, mutant)), net.layers[mutant.layer].name
        for check in checks:
            detail = check.run(mutated)
            if detail is not None:
                yield Result(mutant, layer, check.name, detail)
                break
        else:
            yield Result(mutant, layer, None)


def summary(net: Transformer, results: list[Result], checks: list[Check]) -> list[dict]:
    """Per layer: its kind, mutants planted, how many each check caught first, survivors, and how many the
    guard stopped."""
    rows = []
    for layer in net.layers:
        mine = [r for r in results if r.layer == layer.name]
        rows.append({
            "layer": layer.name,
            "kind": "attention" if isinstance(layer, Attention) else "ffn",
            "mutants": len(mine),
            "kinds": {kind: sum(r.mutant.kind == kind for r in mine) for kind in KINDS if any(
                r.mutant.kind == kind for r in mine)},
            "caught_by": {c.name: sum(r.check == c.name for r in mine) for c in checks},
            "survived": sum(not r.caught for r in mine),
            "guard": sum(r.guard for r in mine),
        })  # fmt: skip
    return rows
