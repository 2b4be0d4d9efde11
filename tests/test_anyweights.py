"""The lowered engines (compiled, unrolled) run any weight file, lowered from its stored matrices: unchanged
units as the construction's, changed ones as plain weighted sums of their stored weights, and anything the
engine cannot lower falls back, said in one line, to the bits engine. Every engine then computes exactly
what the stored matrices compute, faults included (issue 21, point 2)."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from mlpvm.check import mutate
from mlpvm.engines import Bits, Compiled, Sparse, Unrolled, make, stored
from mlpvm.engines.lowered import NotLowerable
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.machines.state import encode
from mlpvm.network import build
from mlpvm.network import weights as weightfile
from mlpvm.network.csr import Csr
from mlpvm.network.weights import Weights, compile_network
from tests.conftest import EXTERNAL, needs_llvm, needs_numba

CONFIGS = [Config("subleq", 8, 32), Config("paper", 8, 16, 8)]
ENGINES = [pytest.param("compiled", marks=needs_numba), pytest.param("unrolled", marks=[needs_numba, needs_llvm])]


def random_states(n: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, (n, size)).astype(np.float32)


def outcome(engine, x: np.ndarray) -> tuple[list[np.ndarray], NetworkFault | None]:
    """Each layer's activations up to a fault, and the fault (guard on)."""
    out: list[np.ndarray] = []
    try:
        engine.run_pass(x.copy(), out)
    except NetworkFault as fault:
        return out, fault
    return out, None


def assert_same_as_matrices(engine, weights: Weights, x: np.ndarray, what: str) -> NetworkFault | None:
    """Layer by layer the activations of the stored matrices; a fault on the same layer, in a machine whose
    activation there is off {0,1} on the matrices."""
    want, want_fault = outcome(Sparse(weights), x)
    got, got_fault = outcome(engine, x)
    assert len(got) == len(want), what
    for k, (w, g) in enumerate(zip(want, got)):
        assert np.array_equal(w, g), (what, weights.layers[k].name)
    assert (want_fault is None) == (got_fault is None), (what, want_fault, got_fault)
    if got_fault is not None:
        assert got_fault.layer == want_fault.layer, what
        loose = Sparse(weights)
        loose.guard = False
        trace: list[np.ndarray] = []
        loose.run_pass(x[got_fault.machine : got_fault.machine + 1].copy(), trace)
        h = trace[len(want)]
        assert ((h != 0) & (h != 1)).any(), (what, got_fault)
    return got_fault


def doubled_weight(weights: Weights, k: int, row: int) -> Weights:
    """Unit ``row`` of layer ``k`` with its first weight of 1 made 2."""
    layer = weights.layers[k]
    data = layer.W.data.astype(np.int64)
    lo, hi = layer.W.indptr[row], layer.W.indptr[row + 1]
    data[lo + int(np.flatnonzero(data[lo:hi] == 1)[0])] = 2
    changed = replace(layer, W=Csr(data, layer.W.indices, layer.W.indptr, layer.W.shape))
    return replace(weights, layers=(*weights.layers[:k], changed, *weights.layers[k + 1 :]))


def lowered(kind: type[Compiled], weights: Weights) -> Compiled:
    net, overrides = stored.lowerable(weights)
    return kind(net, overrides=overrides)


def lowers(weights: Weights) -> bool:
    try:
        lowered(Compiled, weights)
    except NotLowerable:
        return False
    return True


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_an_unmodified_weight_file_lowers_as_the_construction(tmp_path, cfg, name):
    path = tmp_path / "w.npz"
    weightfile.save(compile_network(build(cfg)), path)
    weights = weightfile.load(path)
    assert stored.lowerable(weights)[1] == {}  # no unit differs
    engine = make(name, weights=weights)
    assert engine.name == name
    x = random_states(203, weights.state.size, 7)
    assert assert_same_as_matrices(engine, weights, x, "unmodified") is None
    for row in (0, 100):  # one machine: the scalar code
        assert_same_as_matrices(engine, weights, x[row : row + 1], "one machine")


@needs_numba
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_planted_faults_show_on_the_compiled_engine_as_on_the_matrices(cfg, monkeypatch):
    """A sample of the mutation battery's faults (every field of every layer, every kind): each lowers (its
    changed unit a plain sum) and computes what the matrices compute, or falls back to bits, which faults on
    the same layer."""
    weights = compile_network(build(cfg))
    # Each lowering compares the planted weights with the construction's, which it compiles anew every time
    # (most of this test's time, 500 times): the construction's weights, once (the same arrays it would compile).
    monkeypatch.setattr(stored, "compile_network", functools.cache(compile_network))
    x = random_states(150, weights.state.size, 3)
    mutants = mutate.choose(weights, seed=1)[::5]
    lowered_count = faults = 0
    for mutant in mutants:
        planted = mutate.plant(weights, mutant)
        engine = make("compiled", weights=planted)
        what = mutant.describe(weights)
        if not lowers(planted):
            assert isinstance(engine, Bits), what
            got, want = outcome(engine, x)[1], outcome(Sparse(planted), x)[1]
            assert (got is None) == (want is None) and (got is None or got.layer == want.layer), what
            continue
        lowered_count += 1
        assert isinstance(engine, Compiled), what
        faults += assert_same_as_matrices(engine, planted, x, what) is not None
    assert lowered_count >= len(mutants) // 3 and faults >= 5, (lowered_count, faults, len(mutants))


def first_computed_unit(cfg: Config, k: int) -> int:
    """The first unit of a computed map of registers or flags in layer ``k`` (``mutate.faultable``)."""
    net = build(cfg)
    return net.layers[k].outputs[next(mutate.faultable(net, k)).out].offset


def test_a_fault_before_a_select_that_needs_the_earlier_layers_falls_back():
    """subleq's write select is 0 off the addressed row only because its other inputs, computed by earlier
    layers, are never all 1 together: the weights of its own layer do not prove it. A unit changed before it
    (which may break that) is not lowered; after it, it is. paper's selects are each proven by their own
    layer's weights, so a change in a map anywhere lowers."""
    subleq = compile_network(build(CONFIGS[0]))
    assert [subleq.layers[k].name for k, _ in stored.unproven_selects(build(CONFIGS[0]), subleq)] == ["write.0"]
    with pytest.raises(NotLowerable, match=r"write\.0's select"):
        lowered(Compiled, _bias(subleq, 5, first_computed_unit(CONFIGS[0], 5), 1))
    assert lowers(_bias(subleq, 13, first_computed_unit(CONFIGS[0], 13), 1))
    paper = compile_network(build(CONFIGS[1]))
    assert stored.unproven_selects(build(CONFIGS[1]), paper) == []
    assert lowers(_bias(paper, 5, first_computed_unit(CONFIGS[1], 5), 1))


def added_weight(weights: Weights, k: int, row: int, col: int, value: int) -> Weights:
    """Unit ``row`` of layer ``k`` with a new input ``col`` (or its weight replaced) of weight ``value``."""
    layer = weights.layers[k]
    dense = {(int(r), int(c)): int(v) for r, c, v in stored._entries(layer.W)}
    dense[(row, col)] = value
    (rows, cols), vals = np.array(list(dense)).T, np.array(list(dense.values()))
    W = Csr.from_coo(rows, cols, vals, layer.W.shape)
    return replace(weights, layers=(*weights.layers[:k], replace(layer, W=W), *weights.layers[k + 1 :]))


@needs_numba
def test_units_given_inputs_from_anywhere_compute_what_the_matrices_compute():
    """A unit given a new input from any column of its layer's inputs (memory included, also while it is
    updated in place): it lowers as a plain sum that equals the matrices, or it is refused."""
    weights = compile_network(build(CONFIGS[1]))
    x = random_states(100, weights.state.size, 8)
    rng = np.random.default_rng(4)
    lowered_count = refused = 0
    for _ in range(60):
        k = int(rng.integers(len(weights.layers)))
        layer = weights.layers[k]
        row, col = int(rng.integers(layer.W.shape[0])), int(rng.integers(layer.W.shape[1]))
        planted = added_weight(weights, k, row, col, int(rng.choice([-1, 1, 2])))
        try:
            engine = lowered(Compiled, planted)
        except NotLowerable:
            refused += 1
            continue
        lowered_count += 1
        assert_same_as_matrices(engine, planted, x, f"{layer.name} unit {row} column {col}")
    assert lowered_count >= 8 and refused >= 1, (lowered_count, refused)


def test_a_unit_that_reads_memory_while_it_is_updated_in_place_is_refused():
    """In the layer that writes memory in place, a unit given the old memory as input would read the new
    row: refused (the bits engine runs it)."""
    weights = compile_network(build(CONFIGS[1]))
    k = next(i for i, layer in enumerate(weights.layers) if layer.name == "write.1")
    inputs = weights.layers[k - 1].outputs
    row = weights.layers[k].outputs["result"].offset
    with pytest.raises(NotLowerable, match="updated in place"):
        lowered(Compiled, added_weight(weights, k, row, inputs["mem"].offset, 1))
    with pytest.raises(NotLowerable, match="selected rows"):
        lowered(Compiled, added_weight(weights, k, row, inputs["write_old"].offset, 1))
    assert lowers(added_weight(weights, k, row, inputs["pc"].offset, 1))


def computed_units(weights: Weights) -> list[tuple[int, int]]:
    """(layer, row) of units a bias of +1 makes compute 2 on some random state, and that still lower."""
    x = random_states(64, weights.state.size, 5)
    loose = Sparse(weights)
    loose.guard = False
    trace: list[np.ndarray] = []
    loose.run_pass(x.copy(), trace)
    found = []
    for k in (12, 13, 16, 19, 22):
        for row in np.flatnonzero((trace[k] == 1).any(axis=0))[::7]:
            planted = _bias(weights, k, int(row), 1)
            if lowers(planted):
                found.append((k, int(row)))
                break
    return found


def _bias(weights: Weights, k: int, row: int, delta: int) -> Weights:
    layer = weights.layers[k]
    b = layer.b.astype(np.int64)
    b[row] += delta
    return replace(weights, layers=(*weights.layers[:k], replace(layer, b=b), *weights.layers[k + 1 :]))


@pytest.mark.parametrize("name", ENGINES)
def test_a_weight_of_2_and_a_unit_that_computes_2_fault_alike_on_every_engine(name):
    cfg = CONFIGS[0]
    weights = compile_network(build(cfg))
    x = random_states(64, weights.state.size, 5)
    units = computed_units(weights)
    assert len(units) >= 3, units
    faults = 0
    for k, row in units[:2]:
        for planted in (_bias(weights, k, row, 1), doubled_weight(weights, k, row)):
            engine = make(name, weights=planted)
            assert engine.name == name
            fault = assert_same_as_matrices(engine, planted, x, f"{weights.layers[k].name} unit {row}")
            bits = outcome(make("bits", weights=planted), x)[1]  # its trace stops short at a fault: not compared
            assert (fault is None) == (bits is None) and (fault is None or fault.layer == bits.layer)
            faults += fault is not None
            if fault is not None:
                assert fault.layer == weights.layers[k].name  # where the 2 is, not later
    assert faults >= 2


@pytest.mark.parametrize("name", ENGINES)
def test_a_planted_fault_runs_in_lockstep_with_the_matrices(name):
    """Programs many passes per call: the same states, steps and passes as the stored matrices, until the
    same fault stops both on the same layer."""
    cfg = CONFIGS[0]
    weights = compile_network(build(cfg))
    k, row = computed_units(weights)[-1]
    planted = _bias(weights, k, row, 1)
    rng = np.random.default_rng(2)
    words = [rng.integers(0, cfg.cells - 3, cfg.cells).tolist() for _ in range(9)]
    states = np.array([encode(weights.state, cfg, w) for w in words])
    for batch in (1, 9):
        fast, slow = make(name, weights=planted), Sparse(planted)
        xf, xs = fast.new_batch(states[:batch]), slow.new_batch(states[:batch])
        for _ in range(5):
            sf, ss = np.zeros(batch, np.int64), np.zeros(batch, np.int64)
            try:
                want = slow.run_until_event(xs, 30, ss)
            except NetworkFault as fault:
                with pytest.raises(NetworkFault) as got:
                    fast.run_until_event(xf, 30, sf)
                assert got.value.layer == fault.layer
                break
            assert fast.run_until_event(xf, 30, sf) == want
            assert np.array_equal(xf, xs) and np.array_equal(sf, ss)


def test_units_the_engine_cannot_lower_fall_back_to_bits_in_one_line(capsys):
    """A changed unit of a selected memory row: the one-row shortcut no longer holds, so the engine says so
    and runs the bits engine, which computes what the matrices compute."""
    weights = compile_network(build(CONFIGS[0]))
    k = next(i for i, layer in enumerate(weights.layers) if layer.name == "read.0")
    planted = _bias(weights, k, 0, 1)  # a unit of the read select's first row
    with pytest.raises(NotLowerable):
        lowered(Compiled, planted)
    for name in ("compiled", "unrolled", "neural"):
        engine = make(name, weights=planted)
        assert isinstance(engine, Bits)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot lower these weights" in err and "read.0" in err, err
        x = random_states(40, planted.state.size, 4)
        got, want = outcome(engine, x)[1], outcome(Sparse(planted), x)[1]
        assert got is not None and want is not None and got.layer == want.layer == "read.0"


def test_weights_of_another_shape_fall_back():
    weights = compile_network(build(CONFIGS[0]))
    last = weights.layers[-1]
    renamed = replace(weights, layers=(*weights.layers[:-1], replace(last, name="other")))
    with pytest.raises(NotLowerable, match="not those of its configuration"):
        stored.lowerable(renamed)


def test_changed_rows_finds_exactly_the_changed_units():
    weights = compile_network(build(CONFIGS[1]))
    for mutant in mutate.choose(weights, seed=3)[::17]:
        planted = mutate.plant(weights, mutant)
        rows = [stored.changed_rows(p, w).tolist() for p, w in zip(planted.layers, weights.layers)]
        assert rows == [[mutant.unit] if k == mutant.layer else [] for k in range(len(rows))], mutant


@needs_llvm
def test_the_code_cache_key_covers_the_weights():
    """The unrolled engine's cache key is the IR (``unrolled._key``), into which every weight and bias is
    written: changed weights are new code, never a cached copy of the old."""
    from mlpvm.engines.unrolled import _key

    weights = compile_network(build(CONFIGS[0]))
    k, row = computed_units(weights)[0]
    irs = [lowered(Unrolled, w).ir(1) for w in (weights, _bias(weights, k, row, 1))]
    assert irs[0] != irs[1] and _key(irs[0]) != _key(irs[1])
    assert Unrolled(build(CONFIGS[0])).ir(1) == irs[0]  # unchanged weights: the construction's code


@needs_numba
@needs_llvm
def test_run_with_weights_on_the_unrolled_engine(tmp_path):
    from click.testing import CliRunner

    from mlpvm.cli import cli

    path = tmp_path / "w.npz"
    weightfile.save(compile_network(build(Config("subleq", 16, 64))), path)
    hi = str(EXTERNAL / "howerj-subleq-vhdl/hi.dec")
    for engine in ("unrolled", "compiled", "neural"):
        result = CliRunner().invoke(cli, ["run", "--weights", str(path), "--engine", engine, hi])
        assert (result.exit_code, result.output) == (0, "Hi"), (engine, result.output)


@needs_numba
@needs_llvm
def test_every_report_names_the_engine_that_ran_after_a_fallback(tmp_path):
    """A weight file the lowered engines cannot lower runs on bits: verify (text and --json), run --json,
    run -v and a batch's --json each name bits, not the engine asked for, and the fallback is one line."""
    import json

    from click.testing import CliRunner

    from mlpvm.cli import cli

    weights = compile_network(build(Config("subleq", 16, 64)))
    k = next(i for i, layer in enumerate(weights.layers) if layer.name == "read.0")
    hi = str(EXTERNAL / "howerj-subleq-vhdl/hi.dec")
    runner = CliRunner()
    for engine in ("neural", "unrolled"):
        path = tmp_path / f"{engine}.npz"  # a file of its own: verify keeps a file's engines for the process
        weightfile.save(_bias(weights, k, 0, -1), path)  # a unit of the read select's first row: not lowerable
        given = ["--weights", str(path), "--engine", engine, "--max-steps", "50"]
        checked = runner.invoke(cli, ["verify", *given, "--json", "--random", "2"])
        assert checked.exit_code in (0, 1, 4) and json.loads(checked.stdout)["engine"] == "bits", checked.output
        assert checked.stderr.count("cannot lower these weights") == 1, checked.stderr
        said = runner.invoke(cli, ["verify", *given, "--random", "2"])
        assert "on the bits engine" in said.stdout and "unrolled engine," not in said.stdout, said.stdout
        ran = runner.invoke(cli, ["run", *given, "--json", hi])
        assert json.loads(ran.stdout)["engine"] == "bits", ran.output
        told = runner.invoke(cli, ["run", *given, "-v", hi])
        assert told.stderr.count("cannot lower these weights") == 1 and "; bits engine" in told.stderr, told.stderr
        many = runner.invoke(cli, ["run", *given, "--json", hi, hi])
        assert [d["engine"] for d in json.loads(many.stdout)] == ["bits", "bits"], many.output
