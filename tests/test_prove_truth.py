"""The prover against independent truth: its specification agrees with the reference interpreter on random
concrete states (every configuration the proof tests prove), its encoder agrees with brute force on random
units, and networks with known faults (a unit that outputs 2, a write-enable that ignores the input handshake,
a wrong write, a wrong branch, faults of every kind in every stage) are each refuted, never proved."""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import require_extra

require_extra("z3", "prove", "the prover needs z3")
import z3  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from mlpvm.check import mutate  # noqa: E402
from mlpvm.cli import cli  # noqa: E402
from mlpvm.machines.config import Config, wrap  # noqa: E402
from mlpvm.machines.paper.reference import Paper  # noqa: E402
from mlpvm.machines.subleq.reference import Subleq  # noqa: E402
from mlpvm.network import STAGES, build  # noqa: E402
from mlpvm.network.csr import Csr  # noqa: E402
from mlpvm.network.weights import Weights, compile_network, save  # noqa: E402
from mlpvm.program.inputs import Input  # noqa: E402
from mlpvm.prove import compose, encode, report  # noqa: E402
from mlpvm.prove.spec import decoded, variables  # noqa: E402

# Every configuration tests/test_prove.py proves (SMALL holds TINY).
from tests.test_prove import SMALL, TINY  # noqa: E402

# --- (a) the specification against the reference interpreter, on concrete random states -------------------


def random_state(cfg: Config, rng: np.random.Generator) -> dict:
    """Every field of the state at random, biased toward the cases the step distinguishes: an instruction
    at PC of each kind (input, output, subtract, out-of-range operand), input offered or not, end of input,
    a stopped machine, registers and I/O flags left by any earlier pass (a state right after an input
    instruction among them: in_ack, in_byte and in_ready set)."""
    n, m = cfg.bits, cfg.cells
    word = lambda: int(rng.integers(-(1 << (n - 1)), 1 << (n - 1)))  # noqa: E731
    addr = lambda: int(rng.integers(0, m))  # noqa: E731
    mem = [word() for _ in range(m)]
    flags = lambda p: bool(rng.random() < p)  # noqa: E731
    s: dict = {"mem": mem, "halted": flags(0.15)}
    if cfg.spec.harvard:
        top = 1 << cfg.ins_bits
        s["ins"] = [[int(rng.integers(0, top)) for _ in range(3)] for _ in range(cfg.slots)]
        s["pc"] = int(rng.integers(0, cfg.slots))
        if flags(0.3):  # a halting candidate: c == PC, mem[a] == 0
            a, _, _ = s["ins"][s["pc"]]
            s["ins"][s["pc"]][2] = s["pc"]
            mem[a % m] = 0
    else:
        s["fault"] = flags(0.1)
        s["halted"] = s["halted"] or s["fault"]  # the invariant
        s["pc"] = int(rng.integers(0, m - 2)) if flags(0.85) else word()
        kind = rng.integers(4)
        if 0 <= s["pc"] <= m - 3:
            a, b = (-1, addr()) if kind == 0 else (addr(), -1) if kind == 1 else (addr(), addr())
            if kind == 3:  # an operand out of range (or -1 where it means input/output)
                a, b = (word(), word()) if flags(0.5) else (-1, word())
            mem[s["pc"]], mem[s["pc"] + 1] = wrap(a, n), wrap(b, n)
        s.update(in_byte=int(rng.integers(0, 256)), in_ready=flags(0.6), in_eof=flags(0.3))
        s.update(out_byte=int(rng.integers(0, 256)), out_valid=flags(0.3), in_ack=flags(0.3), in_wait=flags(0.2))
    s["executed"], s["branch"] = flags(0.5), flags(0.5)
    return s


def reference_step(cfg: Config, s: dict) -> dict:
    """The reference interpreter's next state from ``s``: what the specification must claim."""
    if cfg.spec.harvard:
        slots = [(a % cfg.cells, b % cfg.cells, c % cfg.slots) for a, b, c in s["ins"]]
        machine = Paper(cfg, slots, list(s["mem"]), s["pc"], s["halted"])
        micro = machine.step(Input())
    else:
        machine = Subleq(cfg, list(s["mem"]), s["pc"], s["halted"], s["fault"])
        byte = None if not s["in_ready"] else b"" if s["in_eof"] else bytes([s["in_byte"]])
        micro = machine.step(Input(byte or b"", closed=byte == b""))
    out = {"mem": machine.mem, "pc": machine.pc, "halted": machine.halted, "executed": micro.is_step}
    out["kind"] = micro.kind
    if not cfg.spec.harvard:
        out.update(fault=machine.fault, in_ack=micro.kind == "in", in_wait=micro.kind == "wait")
        out.update(out_valid=micro.kind == "out", out_byte=micro.out or 0)
        out.update(in_byte=s["in_byte"], in_ready=s["in_ready"], in_eof=s["in_eof"])
    return out


def _pairs(var, value) -> list:
    if isinstance(var, list):
        return [p for v, x in zip(var, value) for p in _pairs(v, x)]
    if z3.is_bool(var):
        return [(var, z3.BoolVal(bool(value)))]
    return [(var, z3.BitVecVal(value, var.size()))]


def _concrete(expr, subs: list):
    """A closed formula's value: a Python bool, or an int (unsigned) for a bit-vector."""
    value = z3.simplify(z3.substitute(expr, *subs))
    if z3.is_bool(value):
        assert z3.is_true(value) or z3.is_false(value), value
        return z3.is_true(value)
    assert z3.is_bv_value(value), value
    return value.as_long()


@functools.cache
def _layout(cfg: Config):
    return build(cfg).state


def spec_step(cfg: Config, s: dict) -> dict:
    """The specification's claims evaluated on the concrete state ``s``: field -> (condition, value)."""
    weights_state = _layout(cfg)
    v = variables(weights_state)
    values = {f.name: s.get(f.name, 0) for f in weights_state}
    subs = [p for name in v for p in _pairs(v[name], values[name])]
    d, _ = decoded(cfg, v)
    pending = dict(cfg.spec.proof.decoded(cfg, v))
    while pending:  # each definition reads the state and decoded quantities defined before it
        for name, (var, expr) in list(pending.items()):
            try:
                subs.append((var, z3.BitVecVal(_concrete(expr, subs), var.size())))
                del pending[name]
            except AssertionError:
                continue
    claims = cfg.spec.proof.step(cfg, v, d)

    def value(x):
        return [value(y) for y in x] if isinstance(x, list) else _concrete(x, subs)

    return {name: (_concrete(c.cond, subs), value(c.value)) for name, c in claims.items()}


def _as(cfg: Config, name: str, value):
    """A claimed value in the reference's terms: signed words for memory (and PC on ``subleq``)."""
    if name == "mem":
        return [wrap(x, cfg.bits) for x in value]
    if name == "pc" and cfg.spec.signed_addresses:
        return wrap(value, cfg.bits)
    return value


@pytest.mark.parametrize("cfg", SMALL, ids=str)
def test_the_specification_agrees_with_the_reference_on_random_states(cfg):
    """Every field the reference defines (memory, PC, flags, output, the input handshake) is claimed
    unconditionally and equals the reference's next state, on states of every instruction kind."""
    rng = np.random.default_rng(cfg.bits * 100 + cfg.cells)
    kinds = set()
    for _ in range(30):
        s = random_state(cfg, rng)
        want = reference_step(cfg, s)
        kinds.add(want.pop("kind"))
        got = spec_step(cfg, s)
        for name, expected in want.items():
            cond, value = got[name]
            assert cond, f"{cfg}: the specification leaves {name} unspecified on {s}"
            assert _as(cfg, name, value) == expected, f"{cfg}: {name} on {s}"
    every = {"sub", "halt", "halted"} | (set() if cfg.spec.harvard else {"in", "out", "wait", "fault"})
    assert kinds == every  # the states reached every kind of step


# --- (b) the encoder: against brute force, and on networks with known faults ------------------------------


def test_the_encoder_agrees_with_brute_force_on_random_units():
    """For random small units over free and constant inputs: the obligation is satisfiable exactly when some
    input gives ``s >= 2`` (so a unit that can output 2 is never let through), and the activation formula is
    ``s >= 1`` wherever ``s <= 1``."""
    rng = np.random.default_rng(0)
    xs = [z3.Bool(f"x{i}") for i in range(4)]
    for _ in range(300):
        k = int(rng.integers(1, 5))
        cols = rng.choice(6, k, replace=False)
        w = rng.integers(-2, 3, k)
        b = int(rng.integers(-2, 3))
        inputs = [*xs, True, False]  # columns 4 and 5: inputs known to be 1 and 0
        y, over = encode.unit(z3, inputs, cols, w, b)
        reaches_2 = False
        for bits in itertools.product((0, 1), repeat=4):
            x = [*bits, 1, 0]
            sum_ = b + sum(int(wi) * x[int(c)] for c, wi in zip(cols, w))
            env = [(xs[i], z3.BoolVal(bool(bits[i]))) for i in range(4)]
            reaches_2 |= sum_ >= 2
            if sum_ <= 1:
                got = z3.is_true(z3.simplify(z3.substitute(z3.BoolVal(y) if isinstance(y, bool) else y, *env)))
                assert got == (sum_ >= 1), (cols, w, b, bits)
        if over is None:
            assert not reaches_2, (cols, w, b)
        else:
            solver = z3.Solver()
            solver.add(over)
            assert (solver.check() == z3.sat) == reaches_2, (cols, w, b)


def _row(weights: Weights, layer: int, unit: int) -> tuple[np.ndarray, np.ndarray]:
    W = weights.layers[layer].W
    lo, hi = W.indptr[unit], W.indptr[unit + 1]
    return W.indices[lo:hi], W.data[lo:hi]


def with_row(weights: Weights, layer: int, unit: int, cols, data, bias) -> Weights:
    """The weights with one unit's row and bias replaced (entries may be added or removed)."""
    stored = weights.layers[layer]
    W = stored.W
    rows = [_row(weights, layer, r) for r in range(W.shape[0])]
    rows[unit] = (np.asarray(cols, W.indices.dtype), np.asarray(data, W.data.dtype))
    indptr = np.concatenate([[0], np.cumsum([len(c) for c, _ in rows])]).astype(W.indptr.dtype)
    csr = Csr(np.concatenate([d for _, d in rows]), np.concatenate([c for c, _ in rows]), indptr, W.shape)
    b = stored.b.copy()
    b[unit] = bias
    changed = replace(stored, W=csr, b=b)
    return replace(weights, layers=(*weights.layers[:layer], changed, *weights.layers[layer + 1 :]))


def unit_of(weights: Weights, layer_name: str, field: str, index: int = 0) -> tuple[int, int]:
    k = next(i for i, layer in enumerate(weights.layers) if layer.name == layer_name)
    return k, weights.layers[k].outputs[field].offset + index


def doubled(weights: Weights, layer: int, unit: int) -> Weights:
    """The unit's weights and bias times 2: the same Boolean function, but its activation is 2 where it was 1."""
    cols, data = _row(weights, layer, unit)
    return with_row(weights, layer, unit, cols, 2 * data, 2 * weights.layers[layer].b[unit])


def write_enable_ignoring_the_handshake(weights: Weights) -> Weights:
    """``we`` also on while the machine waits for input: an input instruction writes without a byte."""
    k, u = unit_of(weights, "subtract.1", "we")
    cols, data = _row(weights, k, u)
    wait = weights.layers[k - 1].outputs["in_wait"].offset
    return with_row(weights, k, u, [*cols, wait], [*data, 1], weights.layers[k].b[u])


def refuted_by_both_methods(weights: Weights, what: str) -> None:
    """``whole`` and ``staged`` each refute ``weights``, with a counterexample that is real on the stored
    matrices (numpy, no solver): an activation off {0,1}, or a field that differs from the specification."""
    for method in (compose.whole, compose.staged):
        outcomes = method(weights, timeout=120, on_done=lambda o: None)
        refuted = [o for o in outcomes if o.result == compose.REFUTED]
        assert refuted, f"{method.__name__} proved {what}"
    cex = report.counterexample(weights, refuted[0], timeout=120)  # searches the whole pass, whichever method
    assert cex.layer is not None or cex.differences, f"{what}: the counterexample is not real"


@pytest.fixture(scope="module", params=list(TINY), ids=str)
def tiny(request) -> Weights:
    return compile_network(build(TINY[request.param]))


@pytest.mark.parametrize("where", [("fetch.1", "run"), ("branch.0", "zero")], ids=str)
def test_a_unit_that_outputs_2_is_refuted(tiny, where):
    """Doubling a unit keeps every Boolean the encoder derives the same: only the binary obligation can
    catch it, so an encoder that drops the obligation for units whose sum can reach 2 fails here."""
    if where[1] not in tiny.layers[unit_of_layer(tiny, where[0])].outputs:
        pytest.skip(f"{tiny.config.machine} has no {where[1]} in {where[0]}")
    weights = doubled(tiny, *unit_of(tiny, *where))
    refuted_by_both_methods(weights, f"{where}: a unit that outputs 2")
    binary = compose.whole(weights, timeout=120, on_done=lambda o: None)[0]
    assert binary.property == "binary" and binary.result == compose.REFUTED


def unit_of_layer(weights: Weights, name: str) -> int:
    return next(i for i, layer in enumerate(weights.layers) if layer.name == name)


def test_a_write_enable_that_ignores_the_input_handshake_is_refuted():
    """Memory after an input instruction that waits is specified (unchanged): a specification that leaves
    it open after input instructions lets this network through."""
    weights = write_enable_ignoring_the_handshake(compile_network(build(TINY["subleq"])))
    refuted_by_both_methods(weights, "a write-enable that ignores the input handshake")


def _fields(weights: Weights, stage: str, field: str) -> list[mutate.Mutant]:
    return [
        mutate.Mutant(k, f.offset, mutate.unit_name(layer.outputs, f.offset), kind)
        for k, layer in enumerate(weights.layers)
        if layer.stage == stage
        for f in layer.outputs
        if f.name == field
        for kind in ("bias+1", "bias-1")
    ]


@pytest.mark.parametrize("fault", [("write", "mem"), ("branch", "pc")], ids=str)
def test_a_wrong_write_or_branch_is_refuted(tiny, fault):
    """A wrong write (a memory unit of the write stage) and a wrong branch (the new PC); the prover's battery
    below plants more of both."""
    stage, field = fault
    mutants = _fields(tiny, stage, field)
    if not mutants:
        pytest.skip(f"{tiny.config.machine} has no {field} in {stage}")
    mutant = mutants[-1]  # in the last layer that writes the field: what the state gets
    refuted_by_both_methods(mutate.plant(tiny, mutant), mutant.describe(tiny))


# --- (c) a mutation battery for the prover: every kind of fault in every stage ------------------------------

IO_FIELDS = ("in_ack", "in_wait", "out_valid", "out_byte")


PROVER_KINDS = (*mutate.KINDS, "double")


def prover_mutants(weights: Weights, seed: int = 0) -> list[tuple[str, Weights]]:
    """Per stage (and the I/O fields of every stage that computes them), two faults in units chosen at random,
    the kinds taken in turn so that every kind the mutation battery plants, and a doubled unit, appears on
    each machine: (label, weights). (Not every unit can be planted: the fetch units that select a row for
    a PC out of range feed only registers the specification leaves open on a stopped machine.)"""
    rng = np.random.default_rng(seed)
    out = []
    turn = itertools.cycle(PROVER_KINDS)
    groups = [(stage, lambda f, s=stage: True) for stage, _ in STAGES]
    if "in_ack" in weights.state:
        groups.append(("io", lambda f: f.name in IO_FIELDS))
    for group, wanted in groups:
        units = [
            (k, f.offset + i)
            for k, layer in enumerate(weights.layers)
            if group == "io" or layer.stage == group
            for f in layer.outputs
            if wanted(f)
            for i in range(f.size)
        ]
        for kind in (next(turn), next(turn)):
            k, u = units[rng.integers(len(units))]
            name = mutate.unit_name(weights.layers[k].outputs, u)
            if kind == "double":
                out.append((f"{group}: {weights.layers[k].name} {name} doubled", doubled(weights, k, u)))
                continue
            cols = _row(weights, k, u)[0]
            column = int(rng.choice(cols)) if kind == "weight" and len(cols) else None
            mutant = mutate.Mutant(k, u, name, kind if column is not None or kind != "weight" else "drop", column)
            out.append((f"{group}: {mutant.describe(weights)}", mutate.plant(weights, mutant)))
    return out


@pytest.mark.parametrize("machine", TINY)
def test_the_prover_refutes_every_planted_fault(machine):
    """Each fault, planted in the weights, is refuted by the staged proof (the CLI's default)."""
    weights = compile_network(build(TINY[machine]))
    survivors = []
    mutants = prover_mutants(weights)
    assert {label.split(": ")[0] for label, _ in mutants} >= {stage for stage, _ in STAGES}
    for label, planted in mutants:
        outcomes = compose.staged(planted, timeout=120, on_done=lambda o: None)
        if not any(o.result == compose.REFUTED for o in outcomes):
            survivors.append(label)
    assert survivors == []


def test_mlpvm_prove_refutes_a_unit_that_outputs_2(tmp_path):
    """The command on a weight file: refuted (exit 1), the binary property first, the counterexample's layer."""
    weights = compile_network(build(TINY["subleq"]))
    k, u = unit_of(weights, "fetch.1", "run")
    path = tmp_path / "doubled.npz"
    save(doubled(weights, k, u), path)
    result = CliRunner().invoke(cli, ["prove", "--weights", str(path), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    refuted = [r for r in doc["results"] if r["result"] == "refuted"]  # (rows: the symmetry check comes first)
    assert not doc["proved"] and refuted and refuted[0]["property"] == "binary"
    assert doc["counterexample"]["off_binary_layer"] == "fetch.1"
