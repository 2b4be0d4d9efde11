"""The weight file is usable with numpy alone, exactly as docs/machines.md section 4 promises."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mlpvm.cli import cli
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.network.weights import FORMAT, load
from mlpvm.program.inputs import Input
from tests.conftest import EXTERNAL, words_of

# Runs in a fresh interpreter where importing mlpvm is impossible: numpy and the file only.
NUMPY_ONLY = r"""
import json, sys
sys.modules["mlpvm"] = None  # any "import mlpvm" now fails
import numpy as np

path, program = sys.argv[1], json.loads(sys.argv[2])
z = np.load(path, allow_pickle=False)
meta = json.loads(str(z["meta"]))
f = {k: np.array(v) for k, v in meta["fields"].items()}
x = z["state0"].astype(np.float64).copy()
bits = meta["bits"]
words = np.array(program, dtype=np.int64) & ((1 << bits) - 1)
x[f["mem"][: len(words)]] = (words[:, None] >> np.arange(bits)) & 1
layers = []
for k in range(len(meta["layers"])):
    if f"W{k}" in z.files:
        W = z[f"W{k}"].astype(np.float64)
        layers.append(lambda v, W=W, b=z[f"b{k}"]: np.maximum(W @ v + b, 0))
    else:
        data, idx, ptr = z[f"W{k}_data"], z[f"W{k}_indices"], z[f"W{k}_indptr"]
        rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        n = int(z[f"W{k}_shape"][0])
        layers.append(lambda v, d=data, i=idx, r=rows, n=n, b=z[f"b{k}"]:
                      np.maximum(np.bincount(r, d * v[i], minlength=n) + b, 0))
out = []
for _ in range(10000):
    for layer in layers:
        x = layer(x)
    if x[f["out_valid"]] == 1:
        out.append(int((x[f["out_byte"]] * (1 << np.arange(8))).sum()))
    if x[f["halted"]] == 1:
        break
mem = (x[f["mem"]] * (1 << np.arange(bits))).sum(axis=1).astype(np.int64)
mem = np.where(mem >= 1 << (bits - 1), mem - (1 << bits), mem)
ours = sorted(m for m in sys.modules if m.split(".")[0] == "mlpvm" and sys.modules[m])
print(json.dumps({"memory": mem.tolist(), "output": out, "modules": ours}))
"""


@pytest.mark.parametrize("dense", [False, True])
def test_numpy_alone_runs_a_built_weight_file(tmp_path, dense):
    from click.testing import CliRunner

    path = tmp_path / "w.npz"
    args = ["build", "--bits", "8", "--cells", "32", "-o", str(path)] + (["--dense"] if dense else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    program = words_of(EXTERNAL / "howerj-subleq-vhdl/hi.dec")
    done = subprocess.run(
        [sys.executable, "-c", NUMPY_ONLY, str(path), json.dumps(program)], capture_output=True, text=True, check=True
    )
    got = json.loads(done.stdout)
    ref = reference.load(Config("subleq", 8, 32), program)
    reference.run(ref, Input())
    assert got["modules"] == []
    assert got["memory"] == ref.mem
    assert bytes(got["output"]) == bytes(ref.output) == b"Hi"


def test_file_contents_follow_the_contract(tmp_path):
    from click.testing import CliRunner

    path = tmp_path / "p.npz"
    assert (
        CliRunner()
        .invoke(cli, ["build", "--machine", "paper", "--bits", "6", "--cells", "16", "--slots", "8", "-o", str(path)])
        .exit_code
        == 0
    )
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert meta["format"] == FORMAT and meta["machine"] == "paper" and meta["slots"] == 8
        assert len(meta["layers"]) == 23 and meta["layers"][0] == "fetch.0" and meta["layers"][-1] == "branch.3"
        assert np.array(meta["fields"]["mem"]).shape == (16, 6)
        assert np.array(meta["fields"]["ins"]).shape == (8, 3, 4)
        assert np.array(meta["fields"]["pc"]).shape == (3,)
        assert z["state0"].shape == (meta["state_size"],) and not z["state0"].any()
        for k in range(23):
            assert z[f"b{k}"].ndim == 1
    w = load(path)
    assert w.config == Config("paper", 6, 16, 8)
