"""The lowered engines' write log (``run_until_event(writes=...)``): each pass's write as the network made it,
the same as the stored matrices' activations say; and the debugger's checked chunks compare it with the
reference's write at every pass, so a wrong write that a later pass heals stops ``continue`` at its pass on
every engine (issue 23, point 2)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Lockstep
from mlpvm.craft.blocks import Select
from mlpvm.debug.session import Session
from mlpvm.engines import Compiled, Sparse, Unrolled, make, stored
from mlpvm.engines.lowered import NotLowerable
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode, from_bits
from mlpvm.network import LAYER_NAMES, build
from mlpvm.network.csr import Csr
from mlpvm.network.weights import Weights, compile_network
from mlpvm.program.image import Image
from tests.conftest import needs_llvm, needs_numba
from tests.test_debug_fast import HEALING, both, healed_write

pytestmark = needs_numba

LOWERED = [pytest.param(Compiled, id="compiled"), pytest.param(Unrolled, id="unrolled", marks=needs_llvm)]
ENGINES = [
    pytest.param("unrolled", marks=needs_llvm),
    "compiled",
    "bits",
    "sparse",
    "dense",
]


def write_select(cfg: Config) -> tuple[int, Select]:
    """The layer of the construction's write select (the row ``write_new`` fires in) and the select."""
    for k, layer in enumerate(build(cfg).layers):
        for block in layer.blocks:
            if isinstance(block, Select) and block.out == "write_new":
                return k, block
    raise AssertionError("no write select")


def writes_from_trace(cfg: Config, trace: list[np.ndarray], before: np.ndarray, layouts) -> tuple[int, np.ndarray]:
    """A pass's write as the stored matrices' activations say: the row the write select's address bits (in
    its input layer's activations) name, and that row of memory after ``write.1``; memory elsewhere must be
    as before the pass."""
    k, select = write_select(cfg)
    address = layouts[k - 1].view(trace[k - 1][0], select.addr).ravel()[select.addr_index]
    rows = select.bias.shape[0]
    row = (int(sum(int(bit) << j for j, bit in enumerate(address))) + select.shift) % rows
    after = layouts[LAYER_NAMES.index("write.1")].view(trace[LAYER_NAMES.index("write.1")][0], "mem")
    old = layouts[-1].view(before[0], "mem")
    others = np.ones(len(after), bool)
    others[row] = False
    assert np.array_equal(after[others], old[others])  # a pass writes one row at most
    return row, after[row]


@pytest.mark.parametrize("kind", LOWERED)
@pytest.mark.parametrize("machine", ["subleq", "paper"])
def test_the_write_log_is_the_writes_of_the_stored_matrices_layer_by_layer(kind, machine):
    """Random programs: every pass of an engine call logs the row its write selected and the word it left
    there, as the sparse engine's activations of the same passes say; the states end each call the same.
    (Calls run on past events, unserviced: halted and waiting passes log their unchanged row too.)"""
    cfg = Config(machine, 8, 16)
    engine, sparse = kind(build(cfg)), Sparse(compile_network(build(cfg)))
    width = 1 + cfg.bits
    checked = 0
    for seed in range(12):
        p = random_program(cfg, seed)
        start = encode(engine.state, cfg, p.words, p.slots)
        x, y = engine.new_batch(start), sparse.new_batch(start)
        while checked < 40 * (seed + 1):
            writes = np.full((40, width), -7, engine.dtype)
            record = np.zeros((40, len(engine.record_columns)), engine.dtype)
            ran = engine.run_until_event(x, 40, np.zeros(1, np.int64), record, writes)
            assert (writes[ran:] == -7).all()  # nothing past the passes run
            for i in range(ran):
                before, trace = y.copy(), []
                sparse.run_pass(y, trace)
                row, word = writes_from_trace(cfg, trace, before, sparse.layouts)
                assert int(writes[i, 0]) == row and np.array_equal(writes[i, 1:], word), (seed, i)
                assert np.array_equal(record[i], y[0, engine.record_columns])
                checked += 1
            assert np.array_equal(x, y)


@pytest.mark.parametrize("kind", LOWERED)
def test_a_write_log_needs_its_shape_and_a_single_machine(kind):
    cfg = Config("subleq", 8, 16)
    engine = kind(build(cfg))
    x = engine.new_batch(encode(engine.state, cfg, [0] * 16))
    steps = np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="shape"):
        engine.run_until_event(x, 4, steps[:1], None, np.zeros((4, cfg.bits), engine.dtype))
    with pytest.raises(ValueError, match="one machine"):
        engine.run_until_event(np.repeat(x, 2, axis=0), 4, steps, None, np.zeros((4, 1 + cfg.bits), engine.dtype))
    with pytest.raises(ValueError, match="no write log"):
        Sparse(compile_network(build(cfg))).run_until_event(x, 1, steps[:1], None, np.zeros((1, 9), np.float32))


# -- a wrong write healed within a chunk, on every engine ----------------------------------------------------

# mem[10] = 0 - mem[9] = 1 (then to 3); mem[10] -= mem[10] (to 6); again (jump to 30, which halts: PC + 2 >= M).
UNSEEN = [9, 10, 3, 10, 10, 6, 10, 10, 30, -1, 0, 0] + [0] * 20


def _add(weights: Weights, k: int, unit: int, extra: list[tuple[int, float]]) -> Weights:
    """``weights`` with entries (input column, weight) added to unit ``unit`` of layer ``k``."""
    layer = weights.layers[k]
    W = layer.W
    hi = W.indptr[unit + 1]
    indices = np.concatenate([W.indices[:hi], [c for c, _ in extra], W.indices[hi:]]).astype(W.indices.dtype)
    data = np.concatenate([W.data[:hi], [v for _, v in extra], W.data[hi:]]).astype(W.data.dtype)
    indptr = W.indptr.copy()
    indptr[unit + 1 :] += len(extra)
    changed = replace(layer, W=Csr(data, indices, indptr, W.shape))
    return replace(weights, layers=(*weights.layers[:k], changed, *weights.layers[k + 1 :]))


def unseen_write(cfg: Config) -> Weights:
    """Weights whose wrong write nothing but memory shows: the write enable ``we`` is taken away when A's bit
    0 is set (the first instruction: A = 9), so mem[10] keeps 0 where the reference has 1; when the second
    instruction (PC = 3, bit 0 set) reads the stale 0 as mem[A] and mem[B], their registers get bit 0 added
    back, so every register and flag of every pass is the reference's; it writes 0 - 0 = 1 - 1 = 0 to
    mem[10], so memory agrees again from then on. Only memory after the first pass is wrong."""
    weights = compile_network(build(cfg))
    k = LAYER_NAMES.index("subtract.1")
    we = weights.layers[k].outputs["we"].offset
    weights = _add(weights, k, we, [(weights.layers[k - 1].outputs["a"].offset, -1.0)])
    k = LAYER_NAMES.index("branch.2")
    pc = weights.layers[k - 1].outputs["pc"].offset
    for register in ("mem_a", "mem_b"):
        weights = _add(weights, k, weights.layers[k].outputs[register].offset, [(pc, 1.0)])
    return weights


def lowered_anyway(kind, weights: Weights):
    """The lowered engine ``kind`` running ``weights`` whose faulty units (before the write select) the
    lowering of a weight file refuses: built from the construction with those units' stored weights, as
    ``stored.lowerable`` would build it without that one refusal."""
    net, built = build(weights.config), compile_network(build(weights.config))
    overrides = {}
    for k, (ours, theirs) in enumerate(zip(weights.layers, built.layers)):
        rows = stored.changed_rows(ours, theirs)
        if len(rows):
            overrides[k] = {int(r): stored._row(ours, int(r)) for r in rows}
    return kind(net, overrides=overrides)


FAULTS = {"healed": (healed_write, HEALING, ("mem[11]", 1, 0)), "unseen": (unseen_write, UNSEEN, ("mem[10]", 0, 1))}


def verify_diverges_at_step_0(engine, cfg: Config, words: list[int], field: tuple) -> None:
    lockstep = Lockstep(engine, cfg, words)
    divergence = lockstep.step()
    assert divergence is not None and divergence.step == 0
    assert (divergence.field, divergence.network, divergence.reference) == field


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", ENGINES)
def test_a_healed_write_stops_chunked_continue_at_its_pass_on_every_engine(name, fault, capsys):
    """The weight file's engine, as ``make`` gives it (a weight file the lowered engines cannot lower runs on
    bits, said on stderr): chunked ``continue`` stops at the first pass after the wrong write, as one pass at
    a time does, with the wrong cell as the reason; ``verify`` diverges at step 0; the fault-free weights run
    the same program to its halt."""
    cfg = Config("subleq", 16, 32)
    plant, words, field = FAULTS[fault]
    bad = plant(cfg)
    engine = make(name, weights=bad)
    if name in ("unrolled", "compiled"):
        assert engine.name == "bits" and "cannot lower" in capsys.readouterr().err

    def session() -> Session:
        return Session(Image(cfg.machine, words), cfg, engine=engine)

    assert session()._attention()  # a checked chunk, not one pass at a time
    (stop,) = both(session, lambda s, note: note(s.cont()))
    d = stop[4]
    assert stop[0] == "divergence" and (d.field, d.network, d.reference) == field
    assert stop[11:13] == (1, 1)  # passes, steps: right after the first pass, the one that wrote wrong
    verify_diverges_at_step_0(make(name, weights=bad), cfg, words, field)
    good = Session(Image(cfg.machine, words), cfg, engine=make(name, weights=compile_network(build(cfg))))
    assert good.cont().reason == "halt" and good.mem(10) == 0


@pytest.mark.parametrize("kind", LOWERED)
def test_a_write_only_memory_shows_stops_a_lowered_engine_at_its_pass(kind):
    """The unseen write on the lowered engines themselves: one engine call of the chunk leaves every
    pass's registers and flags and the final memory as the reference's, so only the write log tells the
    first pass's write (mem[10] <- 0, where the reference writes 1); chunked ``continue`` stops where one
    pass at a time does. The engine is exact on these weights: each pass's layers are the sparse engine's."""
    cfg = Config("subleq", 16, 32)
    bad = unseen_write(cfg)
    with pytest.raises(NotLowerable):
        stored.lowerable(bad)
    engine, sparse = lowered_anyway(kind, bad), Sparse(bad)
    start = encode(engine.state, cfg, UNSEEN)
    x, y = engine.new_batch(start), sparse.new_batch(start)
    for _ in range(4):
        got, want = [], []
        engine.run_pass(x, got)
        sparse.run_pass(y, want)
        assert all(np.array_equal(a, b) for a, b in zip(got, want))

    x = engine.new_batch(start)
    writes = np.zeros((3, 1 + cfg.bits), engine.dtype)
    record = np.zeros((3, len(engine.record_columns)), engine.dtype)
    assert engine.run_until_event(x, 3, np.zeros(1, np.int64), record, writes) == 3
    right = Sparse(compile_network(build(cfg)))  # the reference's states (checked just below)
    lockstep, y = Lockstep(right, cfg, UNSEEN), right.new_batch(start)
    for i in range(3):
        assert lockstep.step() is None
        right.run_pass(y)
        assert np.array_equal(record[i], y[0, engine.record_columns]), i
    assert np.array_equal(x, y)  # the chunk's end agrees in full
    assert int(writes[0, 0]) == 10 and from_bits(writes[0, 1:]) == 0  # the reference writes 1

    def session() -> Session:
        return Session(Image(cfg.machine, UNSEEN), cfg, engine=lowered_anyway(kind, bad))

    assert session()._attention()
    (stop,) = both(session, lambda s, note: note(s.cont()))
    d = stop[4]
    assert stop[0] == "divergence" and (d.field, d.network, d.reference) == ("mem[10]", 0, 1)
    assert stop[11:13] == (1, 1)
    verify_diverges_at_step_0(lowered_anyway(kind, bad), cfg, UNSEEN, ("mem[10]", 0, 1))
    good = Session(Image(cfg.machine, UNSEEN), cfg, engine=kind(build(cfg)))
    assert good.cont().reason == "halt" and good.passes == 4


# mem[10] -= mem[8] (0: it keeps 5), then mem[0] -= mem[0] (jump to 30: halt); mem[11] holds 5 as well.
ASIDE = [8, 10, 3, 0, 0, 30, 0, 0, 0, 0, 5, 5] + [0] * 20


def aside_write(cfg: Config) -> Weights:
    """Weights whose write goes to B + 1 when A's bit 3 is set (the first instruction of ``ASIDE``: A = 8,
    B = 10): the write select's address gets bit 0 added, and the B register has it taken away again."""
    weights = compile_network(build(cfg))
    for name, sign in (("subtract.6", 1.0), ("write.1", -1.0)):
        k = LAYER_NAMES.index(name)
        a = weights.layers[k - 1].outputs["a"].offset + 3
        weights = _add(weights, k, weights.layers[k].outputs["b"].offset, [(a, sign)])
    return weights


@pytest.mark.parametrize("kind", LOWERED)
def test_a_write_to_another_cell_that_changes_nothing_is_no_divergence(kind):
    """The network writes mem[11] where the reference writes mem[10], each the word it already holds: the
    state is the reference's after every pass (``verify`` agrees), so the write log, whose cell differs,
    must not stop the chunk: ``continue`` halts as one pass at a time does. With mem[11] = 0 instead, the
    same write does change it, and ``continue`` stops after that pass."""
    cfg = Config("subleq", 16, 32)
    bad = aside_write(cfg)
    engine = lowered_anyway(kind, bad)
    x = engine.new_batch(encode(engine.state, cfg, ASIDE))
    writes = np.zeros((2, 1 + cfg.bits), engine.dtype)
    engine.run_until_event(x, 2, np.zeros(1, np.int64), None, writes)
    assert int(writes[0, 0]) == 11 and from_bits(writes[0, 1:]) == 5

    lockstep = Lockstep(lowered_anyway(kind, bad), cfg, ASIDE)
    while not lockstep.stopped:
        assert lockstep.step() is None
    assert lockstep.reasons == {0: "halt"}

    def session(words: list[int]):
        return lambda: Session(Image(cfg.machine, words), cfg, engine=lowered_anyway(kind, bad))

    s = session(ASIDE)()
    assert s._attention() and s._chunk(4) == (2, 0)  # both plain passes in one chunk: none to run again
    (stop,) = both(session(ASIDE), lambda s, note: note(s.cont()))
    assert stop[0] == "halt" and stop[11] == 3
    changed = [*ASIDE[:11], 0, *ASIDE[12:]]
    (stop,) = both(session(changed), lambda s, note: note(s.cont()))
    d = stop[4]
    assert stop[0] == "divergence" and (d.field, d.network, d.reference, stop[11]) == ("mem[11]", 5, 0, 1)
