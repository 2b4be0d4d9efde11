"""``mlpvm dap`` driven as an editor drives it: a subprocess speaking the Debug Adapter Protocol on stdio,
through a whole session on programs/gcd.asq (CALL/RET) and through a divergence on a planted fault.

The client here frames messages itself (independently of ``mlpvm.debug.dap``'s framing)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

GCD = str(ROOT / "programs" / "gcd.asq")
GCD_OUTPUT = "gcd(1071, 462) = 21\ngcd(48, 18) = 6\ngcd(17, 5) = 1\ngcd(100, 75) = 25\n"


class Client:
    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.p = subprocess.Popen([sys.executable, "-m", "mlpvm", "dap"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env, cwd=ROOT)  # fmt: skip
        self.seq = 0
        self.events: list[dict] = []

    def _read(self) -> dict:
        length = None
        while True:
            line = self.p.stdout.readline()
            assert line, "the server closed its output"
            if line in (b"\r\n", b"\n"):
                break
            key, _, value = line.decode().partition(":")
            if key.lower() == "content-length":
                length = int(value)
        return json.loads(self.p.stdout.read(length))

    def request(self, command: str, **arguments) -> dict:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments})
        self.p.stdin.write(f"Content-Length: {len(body.encode())}\r\n\r\n{body}".encode())
        self.p.stdin.flush()
        while True:
            m = self._read()
            if m["type"] == "event":
                self.events.append(m)
            elif m["request_seq"] == self.seq:
                assert m["command"] == command
                return m

    def ok(self, command: str, **arguments) -> dict:
        m = self.request(command, **arguments)
        assert m["success"], m
        return m.get("body", {})

    def wait(self, name: str) -> dict:
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)["body"]
            self.events.append(self._read())

    def output(self) -> str:
        text = "".join(e["body"]["output"] for e in self.events if e["event"] == "output")
        self.events = [e for e in self.events if e["event"] != "output"]
        return text


def start(**launch) -> Client:
    c = Client()
    caps = c.ok("initialize", adapterID="mlpvm", linesStartAt1=True)
    assert caps["supportsStepBack"] and caps["supportsDataBreakpoints"]
    c.wait("initialized")
    c.ok("launch", **launch)
    return c


def test_a_whole_session_on_gcd():
    c = start(program=GCD, stopOnEntry=True)
    # a breakpoint in the source: the line after `PROC gcd` (`again: MOV a, t`), inside the subroutine
    source = (ROOT / "programs" / "gcd.asq").read_text().splitlines()
    line = next(i + 1 for i, t in enumerate(source) if t.split("#")[0].strip().startswith("PROC gcd")) + 1
    bps = c.ok("setBreakpoints", source={"path": GCD}, breakpoints=[{"line": line}])["breakpoints"]
    assert bps[0]["verified"], bps
    c.ok("configurationDone")
    assert c.wait("stopped")["reason"] == "entry"
    c.ok("continue", threadId=1)
    stopped = c.wait("stopped")
    assert stopped["reason"] == "breakpoint" and stopped["hitBreakpointIds"] == [bps[0]["id"]]
    frames = c.ok("stackTrace", threadId=1)["stackFrames"]
    assert len(frames) == 2 and frames[0]["name"] == "gcd" and frames[1]["name"] == "main"
    assert frames[0]["line"] == bps[0]["line"] and frames[0]["source"]["path"].endswith("gcd.asq")
    scopes = {s["name"]: s["variablesReference"] for s in c.ok("scopes", frameId=0)["scopes"]}
    regs = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=scopes["Registers"])["variables"]}
    assert regs["pc"] == frames[0]["instructionPointerReference"]
    labels = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=scopes["Labels"])["variables"]}
    assert (labels["a"], labels["b"]) == ("1071", "462")
    assert c.ok("evaluate", expression="a - b", context="watch")["result"] == "609"
    layers = c.ok("variables", variablesReference=scopes["Layers (last pass)"])["variables"]
    assert len(layers) == 23
    write1 = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=layers[12]["variablesReference"])
              ["variables"]}  # fmt: skip
    assert "mem" in write1 and "pc" in write1
    # memory and disassembly
    info = c.ok("dataBreakpointInfo", name="a")
    address = int(info["dataId"])
    data = base64.b64decode(c.ok("readMemory", memoryReference=str(address), count=2)["data"])
    assert int.from_bytes(data[:2], "little") == 1071 and int.from_bytes(data[2:4], "little") == 462
    dis = c.ok("disassemble", memoryReference=frames[0]["instructionPointerReference"], instructionCount=2)
    assert len(dis["instructions"]) == 2 and dis["instructions"][0]["instruction"]
    # a step back, and forward again to the same place
    passes = int(regs["passes"])
    c.ok("stepBack", threadId=1, granularity="instruction")
    c.wait("stopped")
    back = {v["name"]: v["value"] for v in c.ok("variables", variablesReference=scopes["Registers"])["variables"]}
    assert int(back["passes"]) == passes - 1
    # a data breakpoint: the next write of a
    c.ok("setBreakpoints", source={"path": GCD}, breakpoints=[])
    c.ok("setDataBreakpoints", breakpoints=[{"dataId": info["dataId"], "accessType": "write"}])
    c.ok("continue", threadId=1)
    stopped = c.wait("stopped")
    assert stopped["reason"] == "data breakpoint"
    assert c.ok("evaluate", expression="a", context="watch")["result"] == "609"
    # a step over DAP with the stopped frame's variables: timed
    c.ok("setDataBreakpoints", breakpoints=[])
    times = []
    for _ in range(20):
        began = time.perf_counter()
        c.ok("next", threadId=1, granularity="instruction")
        c.wait("stopped")
        c.ok("stackTrace", threadId=1)
        c.ok("variables", variablesReference=scopes["Registers"])
        c.ok("variables", variablesReference=scopes["Labels"])
        times.append(time.perf_counter() - began)
    times.sort()
    print(f"a step with its frame's variables: median {times[10] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
    assert times[10] < 0.05
    # to the end: program output, exited, terminated
    c.ok("continue", threadId=1)
    assert c.wait("exited")["exitCode"] == 0
    c.wait("terminated")
    assert c.output() == GCD_OUTPUT
    c.ok("disconnect")
    assert c.p.wait(timeout=30) == 0


def test_a_divergence_on_a_planted_fault_is_a_stop_with_its_reason(tmp_path):
    bad = tmp_path / "bad.npz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    hello = str(ROOT / "programs" / "hello.asq")
    subprocess.run([sys.executable, "-m", "mlpvm", "build", "--plant", "write.1:0:drop", "-o", str(bad), "--cells",
                    "64"], check=True, env=env, cwd=ROOT, capture_output=True)  # fmt: skip
    c = start(program=hello, weights=str(bad), engine="sparse")
    c.ok("configurationDone")
    stopped = c.wait("stopped")
    assert stopped["reason"] == "exception" and "Divergence from the reference" in stopped["text"]
    c.ok("continue", threadId=1)
    again = c.wait("stopped")
    assert again["reason"] == "exception" and "Still diverged" in again["text"]
    c.ok("disconnect")
    assert c.p.wait(timeout=30) == 0


# -- with a client that is not the project's own: VS Code's @vscode/debugadapter-testsupport (node) -----------

CLIENT = ROOT / "tests" / "dap"


def node_client_missing() -> str | None:
    """Why the node client cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (the DAP client test runs @vscode/debugadapter-testsupport on node)"
    if not (CLIENT / "node_modules" / "@vscode" / "debugadapter-testsupport").is_dir():
        return "the DAP test client is not installed: npm install --prefix tests/dap"
    return None


@pytest.mark.skipif(node_client_missing() is not None, reason=str(node_client_missing()))
def test_vscode_test_client_drives_a_whole_session_and_a_divergence(tmp_path):
    bad = tmp_path / "bad.npz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "mlpvm", "build", "--plant", "write.1:0:drop", "-o", str(bad), "--cells",
                    "64"], check=True, env=env, cwd=ROOT, capture_output=True)  # fmt: skip
    source = (ROOT / "programs" / "gcd.asq").read_text().splitlines()
    line = next(i + 1 for i, t in enumerate(source) if t.startswith("again:"))
    adapter = str(Path(sys.executable).parent / "mlpvm")
    hello = str(ROOT / "programs" / "hello.asq")
    result = subprocess.run(["node", str(CLIENT / "session.js"), adapter, GCD, str(line), str(bad), hello],
                            env=env, cwd=CLIENT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["frames"] == ["gcd", "main"] and seen["ab"] == ["1071", "462"] and seen["pcIsFrame"]
    assert seen["layers"] == 23 and {"mem", "result", "pc"} <= set(seen["write1"])
    assert seen["passes"][1] == seen["passes"][0] - 1
    assert seen["dataStop"] == "data breakpoint" and seen["aAfter"] == "609"
    assert seen["exitCode"] == 0 and seen["output"] == GCD_OUTPUT
    reason, text = seen["divergence"]
    assert reason == "exception" and text.startswith("Divergence from the reference at step 1: mem[0]")


def again_line() -> int:
    source = (ROOT / "programs" / "gcd.asq").read_text().splitlines()
    return next(i + 1 for i, t in enumerate(source) if t.startswith("again:"))


def test_conditions_hit_counts_step_out_in_and_reverse_continue():
    c = start(program=GCD, stopOnEntry=True)
    c.ok("configurationDone")
    c.wait("stopped")
    line = again_line()
    (bp,) = c.ok("setBreakpoints", source={"path": GCD}, breakpoints=[{"line": line, "hitCondition": "3"}])[
        "breakpoints"
    ]
    c.ok("continue", threadId=1)
    assert c.wait("stopped")["reason"] == "breakpoint"
    # the third arrival at `again`: a and b after two subtractions (1071, 462 -> 609 -> 147)
    assert c.ok("evaluate", expression="a", context="watch")["result"] == "147"
    c.ok("setBreakpoints", source={"path": GCD}, breakpoints=[{"line": line, "condition": "a < b"}])
    c.ok("continue", threadId=1)
    c.wait("stopped")
    a, b = (int(c.ok("evaluate", expression=n, context="watch")["result"]) for n in ("a", "b"))
    assert a < b and (a, b) == (147, 315)  # the next arrival where it holds: b lost a once
    c.ok("setBreakpoints", source={"path": GCD}, breakpoints=[{"line": line}])
    c.ok("reverseContinue", threadId=1)
    assert c.wait("stopped")["reason"] == "breakpoint"
    assert c.ok("evaluate", expression="b", context="watch")["result"] == "462"  # the arrival before
    c.ok("setBreakpoints", source={"path": GCD}, breakpoints=[])
    c.ok("stepOut", threadId=1)
    c.wait("stopped")
    frames = c.ok("stackTrace", threadId=1)["stackFrames"]
    assert [f["name"] for f in frames] == ["main"]
    assert c.ok("evaluate", expression="a", context="watch")["result"] == "21"  # gcd(1071, 462)
    for _ in range(40):  # stepIn by source line goes into the next call: printing the result
        c.ok("stepIn", threadId=1)
        c.wait("stopped")
        frames = c.ok("stackTrace", threadId=1)["stackFrames"]
        if len(frames) > 1:
            break
    assert [f["name"] for f in frames] == ["printdec", "main"]
    assert frames[0]["source"]["path"].endswith("printdec.asq") and frames[1]["source"]["path"] == GCD
    assert bp["verified"]
    c.ok("disconnect")
    assert c.p.wait(timeout=30) == 0


def test_port_serves_one_client_on_localhost():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "mlpvm", "dap", "--port", str(port)], env=env, cwd=ROOT,
                         stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert b"listening on 127.0.0.1" in p.stderr.readline()
        with socket.create_connection(("127.0.0.1", port)) as conn, conn.makefile("rwb") as f:
            body = json.dumps({"seq": 1, "type": "request", "command": "initialize", "arguments": {}}).encode()
            f.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            f.flush()
            length = int(f.readline().split(b":")[1])
            f.readline()
            reply = json.loads(f.read(length))
            assert reply["success"] and reply["body"]["supportsStepBack"]
            body = json.dumps({"seq": 2, "type": "request", "command": "disconnect", "arguments": {}}).encode()
            f.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            f.flush()  # and gone without reading the answer: the server ends all the same
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_pause_stops_a_running_program(tmp_path):
    """A program that never ends runs in the server's run thread; ``pause`` stops it ("pause"), where it is."""
    forever = tmp_path / "forever.asq"
    forever.write_text(".include <std>\nloop:   ADD one, n\n        JMP loop\n. one: 1  n: 0\n")
    c = start(program=str(forever))
    c.ok("configurationDone")
    time.sleep(0.5)
    assert c.request("stackTrace", threadId=1)["success"] is False  # running: state waits for a stop
    c.ok("pause", threadId=1)
    assert c.wait("stopped")["reason"] == "pause"
    n = int(c.ok("evaluate", expression="n", context="watch")["result"])
    assert n != 0
    c.ok("next", threadId=1, granularity="instruction")
    assert c.wait("stopped")["reason"] == "step"
    c.ok("disconnect")
    assert c.p.wait(timeout=30) == 0


def test_input_to_the_program_and_its_end():
    """Launch input, then more with the REPL's ``input TEXT`` and ``eof`` as evaluate requests."""
    c = start(program=str(ROOT / "programs" / "echo.asq"), input="hi ")
    c.ok("configurationDone")
    stopped = c.wait("stopped")
    assert stopped["reason"] == "pause" and "Waiting for input" in stopped["description"]
    assert c.output() == "hi "
    c.ok("evaluate", expression="input there\\n", context="repl")
    c.ok("continue", threadId=1)
    c.wait("stopped")
    assert c.output() == "there\n"
    c.ok("evaluate", expression="eof", context="repl")
    c.ok("continue", threadId=1)
    assert c.wait("exited")["exitCode"] == 0
    c.wait("terminated")
    c.ok("disconnect")
    assert c.p.wait(timeout=30) == 0
