"""The looped transformer (mlpvm.transformer): its heads read the addressed column, one loop iteration equals
the reference's step, whole random programs run in lockstep, and it refuses what it cannot compute exactly."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from mlpvm.check import transformer as checks
from mlpvm.check.generate import one_step_cases, random_program
from mlpvm.check.lockstep import Program
from mlpvm.cli import cli
from mlpvm.machines.config import Config
from mlpvm.transformer import build, exactness
from mlpvm.transformer.attention import Attention
from mlpvm.transformer.encodings import from_bits, to_bits
from mlpvm.transformer.faults import first_departure
from mlpvm.transformer.state import decode, encode, inexact

SMALL = [Config("subleq", 8, 16), Config("subleq", 4, 16), Config("subleq", 16, 32)]


def _layer(net, name):
    return next(layer for layer in net.layers if layer.name == name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_read_head_attends_to_the_addressed_column(dtype):
    cfg = Config("subleq", 8, 16)
    net = build(cfg, lam=20.0, dtype=dtype)
    rng = np.random.default_rng(1)
    words = [int(w) for w in rng.integers(-128, 128, cfg.cells)]
    head = _layer(net, "read").heads[0]  # read.a: mem[A]
    for address in range(cfg.cells):
        x = encode(net, words)
        x[net.rows["a"].start : net.rows["a"].stop, 0] = to_bits(address, cfg.bits)
        p = head.weights(x, net.dtype(net.lam))
        assert int(np.argmax(p[0])) == 1 + address  # column 1 + i is cell i
        assert p[0, 1 + address] > 1 - 16 * np.exp(-40.0) - 1e-6
        read = head(x, net.dtype(net.lam))[net.rows["raw_ma"].start : net.rows["raw_ma"].stop, 0]
        assert from_bits(np.rint(read).astype(int)) == cfg.wrap(words[address])
        assert np.abs(read - np.rint(read)).max() < 3 / 8


def test_a_weak_temperature_blurs_the_read():
    """At lambda = 0.5 the right column gets well under half the weight: the bound is not vacuous."""
    cfg = Config("subleq", 8, 16)
    net = build(cfg, lam=0.5)
    x = encode(net, [0] * cfg.cells)
    p = _layer(net, "read").heads[0].weights(x, net.dtype(net.lam))
    assert p[0].max() < 0.5


@pytest.mark.parametrize("cfg", SMALL, ids=str)
def test_one_iteration_is_the_reference_step(cfg):
    """Every kind of step (the generator's sweep, stopped machines, random states of every instruction
    kind): one pass equals one reference step on memory, PC, flags, handshake and output, exactly."""
    net = build(cfg)
    for program in one_step_cases(cfg, seed=7, count=60):
        divergence, _steps, _how = checks.lockstep(net, program, max_steps=1)
        assert divergence is None, divergence.describe()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", SMALL[:2], ids=str)
def test_random_programs_in_lockstep(cfg, dtype):
    net = build(cfg, dtype=dtype)
    steps, stops = 0, set()
    for seed in range(40):
        divergence, n, how = checks.lockstep(net, random_program(cfg, seed), 300)
        assert divergence is None, f"seed {seed}: {divergence.describe()}"
        steps, stops = steps + n, stops | {how}
    assert steps > 500 and {"halt", "fault"} <= stops


def test_a_pass_ends_on_an_exact_state():
    cfg = Config("subleq", 8, 16)
    net = build(cfg)
    x = encode(net, [9, 10, -1, 0, 0, 0, 0, 0, 0, 5, 7])
    trace: list = []
    y = net.run_pass(x, trace)
    assert inexact(net, y) is None and len(trace) == 16
    assert decode(net, y).mem[10] == 7 - 5 and decode(net, y).pc == 3  # 2 > 0: not taken


def test_lockstep_catches_a_planted_fault():
    """The check can fail: a write.cell weight negated makes the first subtraction write a wrong word."""
    cfg = Config("subleq", 8, 16)
    net = build(cfg)
    cell = _layer(net, "write.cell")
    cell.w2[net.rows.row("val", 0)] *= -1
    program = Program([9, 10, -1, 0, 0, 0, 0, 0, 0, 5, 6])
    divergence, _steps, _how = checks.lockstep(net, program, 10)
    assert divergence is not None and divergence.field in ("mem[10]", "exactness")


def test_outside_the_bound_the_measurement_finds_divergence():
    """At lambda 0.5 (bound: 1.64 at 16 cells) random programs do leave the exact state: measured, reported
    as a divergence in the exactness field."""
    cfg = Config("subleq", 8, 16)
    cell = checks.measure(cfg, 0.5, "float32", programs=5, max_steps=50)
    assert not cell.proved and not cell.exact and cell.failure


def test_refusal_bounds():
    assert exactness.refusal(build(Config("subleq", 8, 16), lam=1.0)) is not None
    assert exactness.refusal(build(Config("subleq", 8, 16), lam=1.7)) is None
    assert "float32" in exactness.refusal(build(Config("subleq", 32, 16), lam=20.0, dtype="float32"))
    assert exactness.refusal(build(Config("subleq", 32, 16), lam=20.0, dtype="float64")) is None
    assert all(isinstance(layer, Attention) == (layer.name in ("fetch", "read", "write")) for layer in
               build(Config("subleq", 8, 16)).layers)  # fmt: skip


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_run_refuses_outside_the_exact_region_in_one_line():
    r = _cli("run", "--network", "transformer", "--lambda", "1", "programs/hello.sq")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "from --lambda 3.03, not 1" in r.output
    assert isinstance(r.exception, SystemExit)  # not a traceback


def test_run_matches_the_mlp(tmp_path):
    source = tmp_path / "p.dec"
    source.write_text("12 -1 3  13 -1 6  14 -1 9  0 0 -1  72 105 10\n")  # prints "Hi\n", halts
    mlp = _cli("run", str(source), "--bits", "8", "--cells", "16")
    tr = _cli("run", "--network", "transformer", str(source), "--bits", "8", "--cells", "16")
    assert tr.exit_code == mlp.exit_code == 0 and tr.output == mlp.output == "Hi\n"


def test_verify_random_and_a_divergence_exit_code(tmp_path):
    ok = _cli("verify", "--network", "transformer", "--random", "8", "--bits", "8", "--cells", "16")
    assert ok.exit_code == 0 and ok.output.startswith("OK: 8 programs")
    bad = _cli("verify", "--network", "transformer", "--random", "2", "--bits", "8", "--cells", "16",
               "--lambda", "0.5")  # fmt: skip
    assert bad.exit_code == 2 and "from --lambda 1.64" in bad.output


def test_compare_side_by_side(tmp_path):
    source = tmp_path / "p.dec"
    source.write_text("12 -1 3  13 -1 6  14 -1 9  0 0 -1  72 105 10\n")
    r = _cli("compare", str(source), "--bits", "8", "--cells", "16", "--json")
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.output)
    assert doc["mlp"]["layers"] == 23 and doc["transformer"]["layers"] == 16 and doc["transformer"]["heads"] == 6
    assert doc["mlp"]["exact"] and doc["transformer"]["exact"]
    assert doc["mlp"]["passes"] == doc["transformer"]["passes"] == 5  # 4 steps, then the halt


# Runs a transformer weight file in a fresh interpreter where importing mlpvm is impossible: numpy only.
NUMPY_ONLY = r"""
import json, sys
sys.modules["mlpvm"] = None
import numpy as np

path, words = sys.argv[1], json.loads(sys.argv[2])
z = np.load(path, allow_pickle=False)
meta = json.loads(str(z["meta"]))
f = {k: range(*v) for k, v in meta["fields"].items()}
bits, lam = meta["config"]["bits"], meta["lambda"]
x = z["state0"].copy()
for i, w in enumerate(words):
    x[list(f["val"]), 1 + i] = [(w >> k) & 1 for k in range(bits)]

def layer(k, spec, x):
    if spec["kind"] == "ffn":
        return x + z[f"L{k}.w2"] @ np.maximum(z[f"L{k}.w1"] @ x + z[f"L{k}.b1"][:, None], 0)
    out = x.copy()
    for h in range(len(spec["heads"])):
        s = lam * ((z[f"L{k}.{h}.wq"] @ x).T @ (z[f"L{k}.{h}.wk"] @ x))
        e = np.exp(s - s.max(axis=1, keepdims=True))
        out += (z[f"L{k}.{h}.wv"] @ x) @ (e / e.sum(axis=1, keepdims=True)).T
    return out

output, passes = [], 0
while x[f["halted"][0], 0] != 1 and passes < 1000:
    for k, spec in enumerate(meta["layers"]):
        x = layer(k, spec, x)
    passes += 1
    if x[f["out_valid"][0], 0] == 1:
        output.append(int(sum(int(x[r, 0]) << i for i, r in enumerate(f["out_byte"]))))
vals = x[list(f["val"]), 1:].astype(int)
mem = [int(sum(int(b) << i for i, b in enumerate(vals[:, c]))) for c in range(vals.shape[1])]
mem = [m - (1 << bits) if m >> (bits - 1) else m for m in mem]
print(json.dumps({"output": output, "memory": mem, "passes": passes}))
"""


def test_numpy_alone_runs_the_transformer_weight_file(tmp_path):
    import json
    import subprocess
    import sys

    from mlpvm.machines import reference
    from mlpvm.program.inputs import Input

    path = tmp_path / "t.npz"
    r = _cli("build", "--network", "transformer", "--bits", "8", "--cells", "16", "-o", str(path))
    assert r.exit_code == 0, r.output
    words = [12, -1, 3, 13, -1, 6, 14, -1, 9, 0, 0, -1, 72, 105, 10]
    done = subprocess.run([sys.executable, "-c", NUMPY_ONLY, str(path), json.dumps(words)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    got = json.loads(done.stdout)
    ref = reference.load(Config("subleq", 8, 16), words)
    reference.run(ref, Input())
    assert bytes(got["output"]) == bytes(ref.output) == b"Hi\n"
    assert got["memory"] == ref.mem and got["passes"] == 5


def test_a_divergence_names_the_layer_that_departs_from_hard_attention():
    """At lambda 1.5 and 16 cells (below the bound, 1.64) a read is rounded the wrong way without leaving
    {0,1}: the lockstep catches the wrong word, and the diagnosis names a rounding layer."""
    cfg = Config("subleq", 8, 16)
    net = build(cfg, lam=1.5)
    found = [checks.lockstep(net, random_program(cfg, seed), 100)[0] for seed in range(5)]
    wrong_words = [d for d in found if d is not None and d.field != "exactness"]
    assert wrong_words and all(d.layer and d.layer.endswith(".round") for d in wrong_words)
    exact = build(cfg)
    x = encode(exact, [9, 10, -1, 0, 0, 0, 0, 0, 0, 5, 7])
    assert first_departure(exact, x) is None  # at lambda 20 the pass is the hard-max pass


def test_the_network_package_depends_on_no_checker_and_no_host():
    """Data flows one way: the transformer's modules import neither ``mlpvm.check`` nor ``mlpvm.host`` (nor
    the debugger or the CLI), read from their sources, so a lazy import inside a function counts too."""
    import ast
    from pathlib import Path

    import mlpvm.transformer

    above = ("mlpvm.check", "mlpvm.host", "mlpvm.debug", "mlpvm.cli")
    found = []
    for path in sorted(Path(mlpvm.transformer.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}: {n}" for n in names if n.startswith(above)]
    assert len(list(Path(mlpvm.transformer.__file__).parent.glob("*.py"))) >= 10
    assert found == []


# -- verify --named and --mutants on the transformer ------------------------------------------------------------


def test_named_skips_what_the_transformer_cannot_run_and_checks_the_rest(monkeypatch):
    """--named on a few of the named cases (the whole set takes minutes): a subleq program runs in lockstep to
    its end, a paper program and a memory beyond --named's ceiling are each skipped with their reason."""
    import json

    from mlpvm.check import verify as verifying

    wanted = ("hi.dec", "echo.dec", "gcd.pasq", "eforth-8k.dec")
    cases = [c for c in verifying.named_cases() if c.name.endswith(wanted)]
    assert len(cases) == 4
    monkeypatch.setattr(verifying, "named_cases", lambda: cases)
    r = _cli("verify", "--network", "transformer", "--named", "--max-steps", "400", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["ok"] and doc["programs"] == 2 and doc["stops"] == {"halt": 2}
    reasons = {s["program"].rsplit("/", 1)[1]: s["reason"] for s in doc["skipped"]}
    assert set(reasons) == {"gcd.pasq", "eforth-8k.dec"}
    assert "runs subleq" in reasons["gcd.pasq"] and "8,192 cells" in reasons["eforth-8k.dec"]
    text = _cli("verify", "--network", "transformer", "--named", "--max-steps", "5")
    assert text.exit_code == 0 and "skipped programs/paper/gcd.pasq:\n  a paper program" in text.output
    assert max(len(line) for line in text.output.splitlines()[:-5]) <= 80


def test_skip_reasons():
    from mlpvm.cli.transformer import skip_reason

    assert skip_reason(Config("subleq", 16, 256), None, "float32") is None
    assert "float32" in skip_reason(Config("subleq", 32, 256), None, "float32")
    assert skip_reason(Config("subleq", 32, 256), None, "float64") is None
    assert "from --lambda" in skip_reason(Config("subleq", 16, 256), 1.0, "float32")


def test_the_guard_holds_on_the_unmutated_transformer():
    """The invariants the mutation guard checks after every layer are the construction's: random programs
    run to their end under it."""
    from mlpvm.check import mutate_transformer as mt

    net = mt.guarded(build(mt.CONFIG))
    for seed in range(10):
        divergence, _n, _how = checks.lockstep(net, random_program(mt.CONFIG, seed), 200)
        assert divergence is None, divergence.describe()


def test_mutants_cover_every_layer_and_each_is_caught():
    """Every layer gets mutants (each head all three kinds); a sample of one mutant a layer (every kind
    among them), planted in the stored weights, is caught by the battery."""
    from mlpvm.check import mutate_transformer as mt

    net = build(mt.CONFIG)
    mutants = mt.choose(net, seed=3)
    assert {m.layer for m in mutants} == set(range(len(net.layers)))
    assert {m.kind for m in mutants} == set(mt.KINDS)
    sample = {}
    for m in mutants:
        sample.setdefault(m.kind, m)
        sample.setdefault(net.layers[m.layer].name, m)
    planted = mt.plant(net, sample["write.cell"])
    assert any(not np.array_equal(a.w1, b.w1) or not np.array_equal(a.b1, b.b1) or not np.array_equal(a.w2, b.w2)
               for a, b in zip(net.layers, planted.layers) if not isinstance(a, Attention))  # fmt: skip
    results = list(mt.run(net, mt.battery(net, seed=3), list(dict.fromkeys(sample.values()))))
    assert results and all(r.caught for r in results), [r.mutant.describe(net) for r in results if not r.caught]
    assert {r.check for r in results} <= {"steps", "named", "random", "states"}


def test_the_battery_can_fail_only_on_a_fault():
    """The battery passes the unmutated network (a check that failed on it would catch every mutant)."""
    from mlpvm.check import mutate_transformer as mt

    net = build(mt.CONFIG)
    for check in mt.battery(net):
        assert check.run(mt.guarded(net)) is None, check.name


def test_verify_mutants_cli_json(monkeypatch):
    """verify --network transformer --mutants: the table as JSON, every layer a row, exit 0 when all caught;
    exit 1 and the survivor listed when one is not (a mutant that changes nothing, planted on purpose)."""
    import json

    from mlpvm.check import mutate_transformer as mt

    chosen = mt.choose
    monkeypatch.setattr(mt, "choose", lambda net, seed=0: chosen(net, seed)[::40])
    r = _cli("verify", "--network", "transformer", "--mutants", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["network"] == "transformer" and doc["caught"] == doc["mutants"] > 5 and not doc["survivors"]
    assert [row["layer"] for row in doc["layers"]] == [layer.name for layer in build(mt.CONFIG).layers]
    idle = mt.Mutant(0, 0, "nothing", "bias+1", None)
    monkeypatch.setattr(mt, "choose", lambda net, seed=0: [idle])
    monkeypatch.setattr(mt, "plant", lambda net, mutant: net)  # a "fault" that changes nothing must survive
    r = _cli("verify", "--network", "transformer", "--mutants", "--json")
    assert r.exit_code == 1 and json.loads(r.output)["survivors"] == [idle.describe(build(mt.CONFIG))]


# -- the same engine class for both networks: compare and bench ------------------------------------------------


def test_the_dense_pass_has_the_layers_activations():
    """The dense products (compare's and bench's engine class) give every layer's activations to the bit."""
    from mlpvm.transformer import dense

    cfg = Config("subleq", 8, 16)
    net = build(cfg)
    x = encode(net, random_program(cfg, 1).words)
    for _ in range(30):
        a: list = []
        b: list = []
        y = net.run_pass(x, a)
        dense.run_pass(net, x, b)
        assert [n for n, _ in a] == [n for n, _ in b] and all(np.array_equal(p, q) for (_, p), (_, q) in zip(a, b))
        x = y


@pytest.mark.parametrize("engine", ["dense", "sparse"])
def test_compare_on_one_engine_class(tmp_path, engine):
    import json

    source = tmp_path / "p.dec"
    source.write_text("12 -1 3  13 -1 6  14 -1 9  0 0 -1  72 105 10\n")
    r = _cli("compare", str(source), "--bits", "8", "--cells", "16", "--engine-class", engine, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["engine"] == engine and doc["mlp"]["exact"] and doc["transformer"]["exact"]
    assert doc["transformer"]["passes_per_s"] > 0 and doc["reference"]["steps"] == 4
    assert doc["transformer"]["nonzeros"] == build(Config("subleq", 8, 16)).counts()["nonzeros"]


def test_bench_network_transformer_json():
    import json

    from mlpvm import bench

    doc = bench.networks(Config("subleq", 8, 16), 0.05, 1)
    assert set(doc["engines"]) == {"dense", "sparse"}
    for row in doc["engines"].values():
        for name in ("mlp", "transformer"):
            assert row[name]["median"] > 0 and 0 < row[name]["x_reference"] < 1
    r = _cli("bench", "--network", "transformer", "--quick", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["counts"]["heads"] == 6


# -- plot --compare ------------------------------------------------------------------------------------------


def test_plot_both_networks_pass_by_pass(tmp_path):
    """Both networks' passes on one program: the PC after every pass is the reference's for each, and the
    picture is written."""
    pytest.importorskip("matplotlib")
    from mlpvm.cli import twin
    from mlpvm.machines import reference
    from mlpvm.program.inputs import Input
    from mlpvm.program.load import load_image

    source = tmp_path / "p.dec"
    source.write_text("12 -1 3  13 -1 6  14 -1 9  0 0 -1  72 105 10\n")
    cfg, image = Config("subleq", 8, 16), load_image(str(source))
    ref, inp, want = reference.load(cfg, image.words), Input(), []
    while not ref.halted:
        ref.step(inp)
        want.append(ref.pc)
    mlp, tr = twin.mlp_passes(image, cfg, b"", 50), twin.transformer_passes(image, cfg, b"", 50, None)
    assert mlp["pc"] == tr["pc"] == want and len(want) == 5
    assert mlp["active"].shape == (5, 23) and tr["active"].shape == (5, 16)
    assert (tr["active"] > 0).all() and (mlp["active"] <= 1).all()
    out = tmp_path / "both.png"
    r = _cli("plot", str(source), "--bits", "8", "--cells", "16", "--compare", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "the same PC after every pass" in r.output
    bad = _cli("plot", str(source), "--bits", "8", "--cells", "16", "--compare", "--lambda", "1",
               "-o", str(out))  # fmt: skip
    assert bad.exit_code == 2 and "from --lambda" in bad.output


def test_mutants_refuse_a_machine_the_transformer_cannot_run_in_one_line():
    r = _cli("verify", "--network", "transformer", "--mutants", "--machine", "paper")
    assert r.exit_code == 2 and "runs the subleq machine only, not paper" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
