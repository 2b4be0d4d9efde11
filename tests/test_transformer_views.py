"""The looped transformer in ``mlpvm trace --layers`` and ``mlpvm debug``: the traced layers are recomputed
from the transformer's weight file with numpy alone, every pass's registers and every head's attended column
are checked against the reference interpreter (which column the construction must read: the instruction at
PC, mem[A], mem[B]), and the debugger steps, stops at breakpoints, goes back and catches a planted fault."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

import mlpvm
from mlpvm.cli import cli
from mlpvm.debug.commands import Debugger
from mlpvm.debug.session import Session
from mlpvm.errors import MlpvmError
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.program import image as images
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from mlpvm.transformer import build
from mlpvm.transformer.engine import TransformerEngine
from tests.conftest import ROOT

HI = [12, -1, 3, 13, -1, 6, 14, -1, 9, 0, 0, -1, 72, 105, 10]  # prints "Hi\n" and halts at PC -1
SUB = [9, 10, 3, 11, 11, -1, 0, 0, 0, 5, 18, 0]  # mem[10] = 18 - 5 (not taken), then 0 - 0 (taken: halt)
CFG = Config("subleq", 8, 16)
ECHO = ROOT / "programs" / "echo.asq"
MARGIN = 1 - CFG.cells * np.exp(-40.0)  # a right column's least weight at lambda 20 (docs/transformer.md)


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _reference_run(words: list[int], data: bytes = b"", passes: int = 100):
    return _reference_run_on(CFG, words, data, passes)


def _reference_run_on(cfg: Config, words: list[int], data: bytes = b"", passes: int = 100):
    """The reference's state (pc, memory) before each pass, and the micro-operations of each pass."""
    ref = reference.load(cfg, words)
    inp = Input(data)
    states, micros = [], []
    for _ in range(passes):
        states.append((ref.pc, list(ref.mem)))
        micros.append(ref.step(inp))
        if ref.halted:
            break
    return states, micros


def _expected_columns(pc: int, mem: list[int], cells: int = CFG.cells) -> dict[str, int]:
    """The column each read head must attend to from the scratchpad: column 1 + i is cell i (none for a
    stopped machine, whose reads nothing uses)."""
    if not 0 <= pc <= cells - 3:
        return {}
    a, b = mem[pc], mem[pc + 1]
    want = {"fetch.a": 1 + pc, "fetch.b": 2 + pc, "fetch.c": 3 + pc}
    want |= {"read.a": 1 + a} if 0 <= a < cells else {}
    want |= {"read.b": 1 + b} if 0 <= b < cells else {}
    return want


# -- numpy alone, from the weight file -----------------------------------------------------------------


def _numpy_layer(w: np.lib.npyio.NpzFile, meta: dict, k: int, x: np.ndarray) -> np.ndarray:
    """Layer k of the weight file applied to punchcard x, as its docstring (mlpvm-transformer/1) says."""
    layer = meta["layers"][k]
    if layer["kind"] == "ffn":
        return x + w[f"L{k}.w2"] @ np.maximum(w[f"L{k}.w1"] @ x + w[f"L{k}.b1"][:, None], 0)
    out = x.copy()
    for h in range(len(layer["heads"])):
        s = meta["lambda"] * (w[f"L{k}.{h}.wq"] @ x).T @ (w[f"L{k}.{h}.wk"] @ x)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        out += (w[f"L{k}.{h}.wv"] @ x) @ (e / e.sum(axis=1, keepdims=True)).T
    return out


def test_trace_layers_are_the_weight_files_layers_and_the_heads_read_what_the_reference_reads(tmp_path):
    program, weights = tmp_path / "hi.sq", tmp_path / "t.npz"
    program.write_text(" ".join(map(str, HI)) + "\n")
    r = _cli("build", "--network", "transformer", "--bits", "8", "--cells", "16", "-o", str(weights))
    assert r.exit_code == 0, r.output
    out, layers = tmp_path / "t.jsonl", tmp_path / "t-layers.npz"
    r = _cli("trace", "--network", "transformer", "--bits", "8", "--cells", "16", str(program), "-o", str(out),
             "--layers", str(layers), "--passes", "1:5")  # fmt: skip
    assert r.exit_code == 0, r.output
    states, micros = _reference_run(HI)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(micros) == 5
    for line, m in zip(lines, micros):  # the registers each pass left, as the reference computed them
        for name in ("a", "b", "c", "mem_a", "mem_b", "result", "branch"):
            if getattr(m, name) is not None:
                assert line[name] == int(getattr(m, name)), (line, m)
        assert line["out"] == m.out and line["fallthrough"] == m.next_pc
    dump = mlpvm.load_dump(layers)
    w = np.load(weights, allow_pickle=False)
    meta = json.loads(str(w["meta"][()]))
    names, fields = dump["meta"]["layers"], meta["fields"]
    assert names == [layer["name"] for layer in meta["layers"]] and dump["meta"]["network"] == "transformer"
    raw = [r for name, (a, b) in fields.items() if name.startswith("raw_") for r in range(a, b)]
    exact = np.setdiff1d(np.arange(w["state0"].shape[0]), raw)
    for p in range(1, 6):
        cards = [np.concatenate([dump[f"pass{p}"][n][f] for f in fields]) for n in names]
        for k in range(1, len(names)):  # each layer from the one before, on the file's weights
            want = _numpy_layer(w, meta, k, cards[k - 1].astype(np.float64))
            assert np.array_equal(cards[k][exact], want[exact]), (p, names[k])
            assert np.allclose(cards[k][raw], want[raw], atol=1e-6), (p, names[k])
        pc, mem = states[p - 1]
        expected = _expected_columns(pc, mem)
        heads = dump[f"pass{p}"]["heads"]
        for head, column in expected.items():
            assert heads[head]["column"][0, 0] == column, (p, head)
            assert heads[head]["weight"][0, 0] >= MARGIN - 1e-6
        assert (heads["write.broadcast"]["column"][:, 0] == 0).all()  # every column reads the scratchpad
        assert dump[f"pass{p}"]["decoded"]["pc"] == (states[p][0] if p < len(states) else -1)


def test_trace_refuses_an_engine_beside_the_transformer_and_too_many_passes(tmp_path):
    program = tmp_path / "hi.sq"
    program.write_text(" ".join(map(str, HI)) + "\n")
    r = _cli("trace", "--network", "transformer", "--engine", "sparse", str(program), "-o", str(tmp_path / "x"))
    assert r.exit_code == 2 and "--network transformer runs its own layers" in r.output
    r = _cli("trace", "--network", "transformer", str(program), "-o", str(tmp_path / "x"), "--layers",
             str(tmp_path / "l.npz"), "--passes", "1:10000000")  # fmt: skip
    assert r.exit_code == 2 and "ask for fewer --passes" in r.output and "Traceback" not in r.output


# -- the debugger -------------------------------------------------------------------------------------


def _debugger(words_or_path, data: bytes = b"", net=None, cfg: Config = CFG) -> tuple[Debugger, Console]:
    image = load_image(words_or_path) if not isinstance(words_or_path, list) else images.Image("subleq", words_or_path)
    net = net or build(cfg)
    console = Console(width=80, record=True, color_system=None)
    return Debugger(Session(image, cfg, data, TransformerEngine(net)), console), console


def _shown(debugger: Debugger, console: Console, line: str) -> str:
    console.export_text()  # forget what came before
    debugger.execute(line)
    text = console.export_text()
    assert all(len(row) <= 80 for row in text.splitlines()), text
    return text


def test_debugger_layer_views_name_the_column_each_head_attended_to():
    debugger, console = _debugger(list(HI))
    states, _micros = _reference_run(HI)
    for p, (pc, mem) in enumerate(states, start=1):
        _shown(debugger, console, "step")
        for layer in ("fetch", "read"):
            text = _shown(debugger, console, f"layer {layer}")
            for head, column in _expected_columns(pc, mem).items():
                if head.startswith(layer):
                    m = re.search(rf"^{re.escape(head)}\s.*?scratch\s+cell (\d+)\s+([0-9.]+)", text, re.M)
                    assert m and int(m.group(1)) == column - 1, (p, head, text)
                    assert float(m.group(2)) >= 0.9999999
        summary = _shown(debugger, console, "layers")
        if _expected_columns(pc, mem):
            assert f"fetch.a: cell {pc} 1.0000000" in summary
        assert re.search(r"write\.broadcast: scratch >=1\.0000000", summary)
        write = _shown(debugger, console, "layer write")
        assert re.search(r"^write\.broadcast\s+scratchpad\s+all 17\s+scratch", write, re.M)


def test_debugger_shows_the_written_cell_and_the_feed_forward_fields():
    debugger, console = _debugger(list(SUB))
    _shown(debugger, console, "step")  # mem[10] = mem[10] - mem[9] = 18 - 5 = 13, not taken
    assert "val 0; changed cell 10 13" in _shown(debugger, console, "layer write.cell")
    text = _shown(debugger, console, "layer subtract")
    assert re.search(r"^r\s+13\s*$", text, re.M)
    assert re.search(r"^take\s+0\s*$", _shown(debugger, console, "layer branch"), re.M)
    _shown(debugger, console, "step")  # mem[11] = 0 - 0: taken, to -1 (a halt)
    assert re.search(r"^take\s+1\s*$", _shown(debugger, console, "layer branch"), re.M)
    assert re.search(r"^n_pc\s+-1\s*$", _shown(debugger, console, "layer next_pc"), re.M)
    assert "layers, layer, diff and dump" in _shown(debugger, console, "flow")


def test_debugger_diff_of_two_passes_shows_the_instructions_the_reference_executed():
    debugger, console = _debugger(list(SUB))
    _shown(debugger, console, "step 2")
    states, micros = _reference_run(SUB)
    (one, two), (after_one, after_two) = micros[:2], (states[1][0], states[2][0])
    text = " ".join(_shown(debugger, console, "diff 1 2").split())  # the last column wraps: join its lines
    assert f"a {one.a}->{two.a}; b {one.b}->{two.b}; c {one.c}->{two.c}" in text
    assert f"r {one.result}->{two.result}" in text and f"pc {after_one}->{after_two}" in text
    text = _shown(debugger, console, "diff fetch fetch.round 1")
    assert re.search(rf"^ a\s+0\s+{one.a}\s*$", text, re.M) and "fields are unchanged" in text


def test_debugger_breakpoints_reverse_and_memory_match_the_reference():
    cfg = Config("subleq", 8, 32)
    debugger, console = _debugger(ECHO, b"hi", cfg=cfg)
    session = debugger.session
    text = _shown(debugger, console, "break *9")
    assert "Breakpoint 1" in text
    stop = session.cont()
    assert stop.reason == "breakpoint" and session.pc == 9
    ref = reference.load(cfg, list(load_image(ECHO).words))
    inp = Input(b"hi")
    while ref.steps < session.steps:
        ref.step(inp)
    assert list(session.memory()) == ref.mem and session.pc == ref.pc and session.output == ref.output == b""
    passes, memory = session.passes, list(session.memory())
    session.step(3)
    session.reverse_step(3)  # back to the breakpoint, on the history
    assert session.passes == passes and session.pc == 9 and list(session.memory()) == memory
    session.delete()
    _shown(debugger, console, "watch c")  # the cell IN stores into: its next write is the "i"
    stop = session.cont()
    assert stop.reason == "watchpoint" and session.mem(session.address("c")) == ord("i")
    assert bytes(session.output) == b"h"
    session.delete()
    stop = session.cont()  # outputs "i", then finds no input
    assert stop.reason == "wait" and bytes(session.output) == b"hi"
    session.close_input()
    stop = session.cont()
    assert stop.reason == "halt" and bytes(session.output) == b"hi"


def test_debugger_catches_a_planted_fault_at_its_pass():
    net = build(CFG)
    subtract = next(layer for layer in net.layers if layer.name == "subtract")
    r0, r1 = net.rows.row("r", 0), net.rows.row("r", 1)
    subtract.w2[[r0, r1]] = subtract.w2[[r1, r0]]  # bits 0 and 1 of mem[B] - mem[A] swapped: still bits
    debugger, _console = _debugger(list(SUB), net=net)
    stop = debugger.session.cont()
    assert stop.reason == "divergence" and debugger.session.passes == 1  # 18 - 5 = 13 = 0b1101, not 0b1110
    d = stop.divergence
    assert (d.field, d.network, d.reference) == ("result", 14, 13)


@pytest.mark.parametrize("args", [["--engine", "sparse"], ["--weights", "w.npz"]])
def test_debug_refuses_an_engine_beside_the_transformer(tmp_path, args):
    r = _cli("debug", "--network", "transformer", *args, str(ECHO), "--batch")
    assert r.exit_code == 2 and "--network transformer runs its own layers" in r.output


def test_debug_cli_runs_the_transformer(tmp_path):
    r = _cli("debug", "--network", "transformer", "--bits", "8", "--cells", "32", str(ECHO), "--input", "ok",
             "--ex", "step 3", "--ex", "layer fetch", "--ex", "continue", "--batch")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert re.search(r"^fetch\.a\s+mem\[PC\] \(A\)\s+scratch\s+cell 6", r.output, re.M)  # PC 6 after 3 steps
    assert "│ ok" in r.output and "Waiting for input at pc=0" in r.output  # echoed, then waits for more


def test_the_library_debugger_runs_the_transformer_and_names_each_heads_column():
    d = mlpvm.Debugger(ECHO, "ab", bits=8, cells=32, network="transformer")
    states, _ = _reference_run_on(Config("subleq", 8, 32), list(load_image(ECHO).words), b"ab", 6)
    for pc, mem in states:
        d.step()
        heads = d.heads()
        for head, column in _expected_columns(pc, mem, 32).items():
            assert heads[head]["column"] == column and heads[head]["weight"] >= 1 - 32 * np.exp(-40.0) - 1e-6
        assert heads["write.broadcast"]["column"] == 0
    assert d.layer("write.cell")["val"].startswith("0")
    with pytest.raises(MlpvmError, match="exact at 32 cells from --lambda"):
        mlpvm.Debugger(ECHO, network="transformer", bits=8, cells=32, lam=1.0)  # below its proved exact region


@pytest.mark.parametrize("command", ["debug", "trace"])
def test_outside_what_the_transformer_runs_exactly_is_one_line_before_running(tmp_path, command):
    out = ["-o", str(tmp_path / "t.jsonl")] if command == "trace" else ["--batch"]
    paper = ROOT / "programs" / "paper" / "gcd.pasq"
    r = _cli(command, "--network", "transformer", str(paper), *out)
    assert r.exit_code == 2 and "runs subleq programs only" in r.output and "Traceback" not in r.output
    r = _cli(command, "--network", "transformer", "--lambda", "2", str(ROOT / "programs" / "hello.sq"), *out)
    assert r.exit_code == 2 and "exact at 256 cells from --lambda 3.03, not 2" in r.output
    assert not (tmp_path / "t.jsonl").exists()


def test_a_transformer_dump_with_a_wrong_member_is_one_error_naming_it(tmp_path):
    debugger, _console = _debugger(list(HI))
    debugger.execute("step 2")
    path = tmp_path / "d.npz"
    debugger.execute(f"dump {path} --passes 1:2")
    good = dict(np.load(path, allow_pickle=False))
    assert set(mlpvm.load_dump(path)["pass2"]["heads"]) == {"fetch.a", "fetch.b", "fetch.c", "read.a", "read.b",
                                                             "write.broadcast"}  # fmt: skip
    for key, bad in (("pass2.attended", good["pass2.attended"][:, :3]), ("pass2.fetch", good["pass2.fetch"][:7]),
                     ("pass2.attention", good["pass2.attended"])):  # fmt: skip
        np.savez(tmp_path / "bad.npz", **{**good, key: bad})
        with pytest.raises(MlpvmError, match=re.escape(key)):
            mlpvm.load_dump(tmp_path / "bad.npz")
