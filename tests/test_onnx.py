"""The ONNX export and the onnx engine (the optional extra ``mlpvm[onnx]``, which ``make`` installs; without
it these tests are skipped, except in CI, where the missing extra fails the run as conftest does for numba).

Layer by layer the exported model computes the stored CSR matrices; run by onnxruntime alone (an interpreter
where mlpvm cannot be imported) its loop model gives the reference interpreter's results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

if not os.environ.get("CI"):
    pytest.importorskip("onnx", reason="the onnx extra: pip install 'mlpvm[onnx]'")
    pytest.importorskip("onnxruntime", reason="the onnx extra: pip install 'mlpvm[onnx]'")
import onnx
import onnxruntime
from click.testing import CliRunner

from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Batch
from mlpvm.cli import cli
from mlpvm.engines import make
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.machines.state import decode, encode
from mlpvm.network import build
from mlpvm.network import onnx as export
from mlpvm.network.weights import compile_network
from mlpvm.program.inputs import Input
from tests.conftest import ROOT, words_of

CONFIGS = [
    Config("subleq", 4, 16),
    Config("subleq", 8, 32),
    Config("subleq", 16, 256),
    Config("paper", 4, 4, 2),
    Config("paper", 6, 16, 8),
    Config("paper", 8, 32, 64),
]


def _session(model) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.describe())
@pytest.mark.parametrize("dense_limit", [0, export.DENSE_LIMIT], ids=["sparse-form", "default"])
def test_every_layer_equals_the_stored_matrices(config, dense_limit):
    """Random {0,1} states, batch 64: every layer's activations are ReLU(W x + b) of the stored CSR
    matrices (evaluated by the sparse engine), exactly. dense_limit 0 forces the gather/scatter form on
    every layer; the default makes small layers one MatMul."""
    weights = compile_network(build(config))
    model = export.export(weights, layer_outputs=True, dense_limit=dense_limit)
    names = [layer.name for layer in weights.layers]
    assert [node.name for node in model.graph.node if node.name in names] == names  # the layers, in order
    x = np.random.default_rng(config.bits).integers(0, 2, (64, weights.state.size)).astype(np.float32)
    got = _session(model).run(["next_state", *names], {"state": x})
    csr = make("sparse", weights=weights)
    csr.guard = False  # random states need not be reachable ones; only the equality matters here
    want: list[np.ndarray] = []
    y = x.copy()
    csr.run_pass(y, want)
    assert len(want) == 23
    for name, a, b in zip(names, got[1:], want):
        assert a.shape == b.shape, name
        assert np.array_equal(a, b), f"{name}: {int((a != b).sum())} activations differ"
    assert np.array_equal(got[0], y)


def test_the_model_is_standard_onnx_with_the_meta():
    weights = compile_network(build(Config("subleq", 8, 32)))
    for model in (export.export(weights), export.export(weights, loop=True)):
        onnx.checker.check_model(model, full_check=True)
        assert {op.domain for op in model.opset_import} == {""}
        props = {p.key: p.value for p in model.metadata_props}
        assert json.loads(props["mlpvm"]) == weights.meta()
    loop = export.export(weights, loop=True)
    assert [o.name for o in loop.graph.output] == ["final_state", "out_valid", "out_byte", "executed"]
    assert [i.name for i in loop.graph.input] == ["state", "passes"]


# Runs where mlpvm cannot be imported: onnxruntime, numpy and the model file only. A host as docs/machines.md
# section 3.5 describes it, for a batch, on the loop model: offers each machine's next input byte (then end
# of input), collects out_byte per pass where out_valid, counts executed; runs exactly PASSES passes.
ORT_ONLY = r"""
import json, sys
sys.modules["mlpvm"] = None  # any "import mlpvm" now fails
import numpy as np
import onnxruntime as ort

path, programs, inputs, passes = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
meta = json.loads(s.get_modelmeta().custom_metadata_map["mlpvm"])
f = {k: np.array(v) for k, v in meta["fields"].items()}
bits, B = meta["bits"], len(programs)
x = np.zeros((B, meta["state_size"]), np.float32)
for m, words in enumerate(programs):
    w = np.array(words, np.int64) & ((1 << bits) - 1)
    x[m, f["mem"][: len(w)]] = (w[:, None] >> np.arange(bits)) & 1
taken = [0] * B
def offer(m):  # the next byte, or end of input (which stays on offer)
    data = inputs[m]
    x[m, f["in_ready"]] = 1
    x[m, f["in_eof"]] = taken[m] >= len(data)
    x[m, f["in_byte"]] = (data[taken[m]] >> np.arange(8)) & 1 if taken[m] < len(data) else 0
for m in range(B):
    offer(m)
out, steps, done = [[] for _ in range(B)], np.zeros(B, np.int64), 0
while done < passes:
    x, valid, byte, executed = s.run(None, {"state": x, "passes": np.array(passes - done, np.int64)})
    done += len(valid)
    steps += executed.sum(axis=0).astype(np.int64)
    for p, m in zip(*np.nonzero(valid)):
        out[m].append(int(byte[p, m] @ (1 << np.arange(8))))
    acked = np.flatnonzero(x[:, f["in_ack"]])
    for m in acked:
        taken[m] += 1
        offer(m)
    if not len(acked) and done < passes:  # it stopped early: every machine is stopped
        break
mem = (x[:, f["mem"]] * (1 << np.arange(bits))).sum(axis=-1).astype(np.int64)
mem = np.where(mem >= 1 << (bits - 1), mem - (1 << bits), mem)
pc = (x[:, f["pc"]] * (1 << np.arange(bits))).sum(axis=-1).astype(np.int64)
pc = np.where(pc >= 1 << (bits - 1), pc - (1 << bits), pc)
ours = sorted(m for m in sys.modules if m.split(".")[0] == "mlpvm" and sys.modules[m])
print(json.dumps({"memory": mem.tolist(), "pc": pc.tolist(), "output": out, "steps": steps.tolist(),
                  "halted": x[:, f["halted"]].tolist(), "fault": x[:, f["fault"]].tolist(), "modules": ours}))
"""


def test_onnxruntime_alone_runs_hello_world_and_random_programs(tmp_path):
    config = Config("subleq", 16, 64)
    path = tmp_path / "loop.onnx"
    result = CliRunner().invoke(cli, ["export", "--loop", "--bits", "16", "--cells", "64", "--onnx", str(path)])
    assert result.exit_code == 0, result.output
    hello = words_of(ROOT / "programs" / "hello.sq")
    progs = [random_program(config, seed, 12) for seed in range(40)]
    programs = [hello] + [p.words for p in progs]
    inputs = [b""] + [p.data for p in progs]
    passes = 300
    args = [str(path), json.dumps(programs), json.dumps([list(d) for d in inputs]), str(passes)]
    done = subprocess.run([sys.executable, "-c", ORT_ONLY, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["modules"] == []
    assert bytes(got["output"][0]) == b"Hello, world!\n"
    kinds = set()
    for m, (words, data) in enumerate(zip(programs, inputs)):
        ref = reference.load(config, words)
        kinds.add(reference.run(ref, Input(data), passes))
        assert got["memory"][m] == ref.mem, m
        assert bytes(got["output"][m]) == bytes(ref.output), m
        assert got["steps"][m] == ref.steps, m
        assert (got["halted"][m], got["fault"][m]) == (ref.halted, ref.fault), m
        if not ref.fault:  # a fault leaves PC where it was; a halt stops at the halting PC
            assert got["pc"][m] == ref.pc, m
    assert {"halt", "fault"} <= kinds  # the batch exercised both ways of stopping


def test_the_paper_loop_model_runs_to_the_reference_state():
    """paper has no I/O: the loop's only per-pass output is executed, and it stops early once all halted."""
    config = Config("paper", 6, 16, 8)
    weights = compile_network(build(config))
    model = export.export(weights, loop=True)
    assert [o.name for o in model.graph.output] == ["final_state", "executed"]
    programs = [random_program(config, seed) for seed in range(24)]
    x = np.stack([encode(weights.state, config, p.words, p.slots) for p in programs])
    final, executed = _session(model).run(None, {"state": x, "passes": np.array(300, np.int64)})
    halts = 0
    for m, p in enumerate(programs):
        ref = reference.load(config, p.words, p.slots)
        reference.run(ref, Input(), len(executed))
        got = decode(weights.state, config, final[m])
        assert (got.mem.tolist(), got.pc, got.halted) == (ref.mem, ref.pc, ref.halted), m
        assert executed[:, m].sum() == ref.steps
        halts += ref.halted
    assert halts > 0 and (len(executed) < 300) == (halts == len(programs))


@pytest.mark.parametrize("config", [Config("subleq", 8, 32), Config("paper", 6, 16, 8)], ids=lambda c: c.machine)
def test_the_onnx_engine_runs_random_programs_in_lockstep_with_the_reference(config):
    """The whole state after every pass, on a batch, through the engine's loop and one-pass sessions."""
    engine = make("onnx", config)
    batch = Batch(engine, config, [random_program(config, seed) for seed in range(32)])
    steps, divergence = batch.run(max_steps=200)
    assert divergence is None, str(divergence)
    assert steps > 200


def test_run_engine_onnx_prints_hello_world(tmp_path):
    result = CliRunner().invoke(cli, ["export", "--onnx", str(tmp_path / "hello.onnx")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hello.onnx").stat().st_size > 0
    result = CliRunner().invoke(cli, ["run", "--engine", "onnx", str(ROOT / "programs" / "hello.sq")])
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, world!\n"


def test_export_refuses_bad_usage_in_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "--loop", "--layer-outputs", "--onnx", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "--layer-outputs" in result.output
    result = runner.invoke(cli, ["export", "--weights", str(tmp_path / "none.npz"), "--onnx", str(tmp_path / "m")])
    assert result.exit_code == 2 and "none.npz: no such file" in result.output
    assert not (tmp_path / "m").exists()


def test_providers_are_checked_in_one_line():
    result = CliRunner().invoke(
        cli, ["run", "--engine", "onnx", "--providers", "NoSuchProvider", str(ROOT / "programs" / "hello.sq")]
    )
    assert result.exit_code == 2
    assert "no provider NoSuchProvider" in result.output and "CPUExecutionProvider" in result.output


WITHOUT_EXTRA = r"""
import sys
sys.modules["onnx"] = sys.modules["onnxruntime"] = None  # as if mlpvm[onnx] were not installed
from mlpvm.cli import main
sys.argv = ["mlpvm", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    "args", [["run", "--engine", "onnx", "HELLO"], ["export", "--bits", "4", "--cells", "16", "--onnx", "OUT"]]
)
def test_without_the_extra_one_line_names_it(tmp_path, args):
    args = [str(ROOT / "programs" / "hello.sq") if a == "HELLO" else str(tmp_path / "m.onnx") if a == "OUT" else a
            for a in args]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA, *args], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "pip install 'mlpvm[onnx]'" in done.stderr
    assert not (tmp_path / "m.onnx").exists()
