"""``mlpvm dap``: a Debug Adapter Protocol server over the debugger's session (``mlpvm.debug.api.Debugger``),
so that editors (VS Code, nvim-dap, ...) debug a program on the network.

The protocol's framing is written here (``Content-Length`` headers, a JSON body). One thread ("program"); a
stop answers with a ``stopped`` event whose reason says why (a divergence from the reference: "exception",
with the divergence as its text); program output becomes ``output`` events; a halt ``exited`` then
``terminated``. A run goes on in a thread of its own while requests are read (``pause`` interrupts it; other
requests wait for its stop). Memory references are cell addresses; ``readMemory`` gives each cell as a little-endian
word of ``ceil(bits / 8)`` bytes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Callable
from typing import BinaryIO

from mlpvm.debug import views
from mlpvm.debug.api import Debugger
from mlpvm.debug.records import Stop
from mlpvm.errors import MlpvmError
from mlpvm.network import LAYER_NAMES
from mlpvm.program.inputs import unescape

THREAD = 1
REGISTERS, LABELS, LAYERS = 1, 2, 3  # scopes' variable references; layer k's fields: LAYER_BASE + k
LAYER_BASE = 100
STOPPED = {"breakpoint": "breakpoint", "watchpoint": "data breakpoint", "divergence": "exception",
           "diverged": "exception", "condition": "exception", "watch-error": "exception", "interrupt": "pause",
           "wait": "pause", "eof": "pause", "history": "step"}  # fmt: skip
WHILE_RUNNING = ("pause", "disconnect", "terminate", "threads")  # the requests a running program answers
WATCH_KINDS = {"write": "watch", "read": "rwatch", "readWrite": "awatch"}
# what a launch request takes (the editor configurations in editors/ declare exactly these)
CONFIGURATION = ("machine", "bits", "cells", "slots", "engine", "weights")
LAUNCH = ("program", "input", *CONFIGURATION, "noCheck", "stopOnEntry")


def read_message(stream: BinaryIO) -> dict | None:
    """One message: headers up to a blank line, then ``Content-Length`` bytes of JSON; None at the end."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise ValueError("a message without Content-Length")
    return json.loads(stream.read(length))


def write_message(stream: BinaryIO, message: dict) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


class Server:
    def __init__(self, reader: BinaryIO, writer: BinaryIO):
        self.reader, self.writer = reader, writer
        self.seq = 0
        self.d: Debugger | None = None
        self.source_bps: dict[str, list[int]] = {}  # a source path -> its breakpoints' numbers
        self.other_bps: dict[str, list[int]] = {"instruction": [], "data": []}
        self.shown = 0  # output bytes already sent as events
        self.stop_on_entry = False
        self.done = False
        self.lock = threading.Lock()  # a run's thread and the reading loop both send
        self.running: threading.Thread | None = None  # the run going on (requests are read meanwhile: pause)

    # -- framing ---------------------------------------------------------------------------------

    def send(self, kind: str, **body) -> None:
        with self.lock:
            self.seq += 1
            write_message(self.writer, {"seq": self.seq, "type": kind, **body})

    def event(self, name: str, **body) -> None:
        self.send("event", event=name, body=body)

    def serve(self) -> None:
        try:
            while not self.done:
                message = read_message(self.reader)
                if message is None:
                    return
                if message.get("type") == "request":
                    self.handle(message)
        finally:
            self._end_run()

    def _end_run(self) -> None:
        if self.running is not None:
            self.session.interrupt()
            self.running.join()

    def handle(self, request: dict) -> None:
        command, args = request["command"], request.get("arguments") or {}
        handler = getattr(self, "on_" + command, None)
        after = None
        try:
            if handler is None:
                raise MlpvmError(f"unsupported request {command!r}")
            if self.running is not None and command not in WHILE_RUNNING:
                raise MlpvmError("the program is running: pause first")
            result = handler(args)
            if isinstance(result, tuple):
                result, after = result
            self.send("response", request_seq=request["seq"], success=True, command=command, body=result or {})
        except (MlpvmError, ValueError, KeyError, TypeError) as e:
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.send("response", request_seq=request["seq"], success=False, command=command, message=text)
        if after is not None:
            after()

    # -- the session -----------------------------------------------------------------------------

    @property
    def session(self):
        if self.d is None:
            raise MlpvmError("no program: launch first")
        return self.d.session

    def on_initialize(self, args: dict):
        capabilities = {
            "supportsConfigurationDoneRequest": True, "supportsConditionalBreakpoints": True,
            "supportsHitConditionalBreakpoints": True, "supportsEvaluateForHovers": True,
            "supportsStepBack": True, "supportsDataBreakpoints": True, "supportsInstructionBreakpoints": True,
            "supportsReadMemoryRequest": True, "supportsDisassembleRequest": True, "supportsSteppingGranularity": True,
            "supportsTerminateRequest": True,
        }  # fmt: skip
        return capabilities, lambda: self.event("initialized")

    def on_launch(self, args: dict):
        options = {k: args[k] for k in CONFIGURATION if k in args}
        self.d = Debugger(args["program"], args.get("input", ""), check=not args.get("noCheck", False), **options)
        self.stop_on_entry = bool(args.get("stopOnEntry", False))
        return {}

    def on_configurationDone(self, args: dict):
        if self.stop_on_entry:
            return {}, lambda: self.event("stopped", reason="entry", threadId=THREAD, allThreadsStopped=True)
        return self.run(self.session.cont)

    def report(self, stop: Stop) -> None:
        """Output since the last stop, then the stop: ``stopped``, or ``exited`` and ``terminated``."""
        s = self.session
        if len(s.output) > self.shown:
            text = bytes(s.output[self.shown :]).decode("latin-1")
            self.shown = len(s.output)
            self.event("output", category="stdout", output=text)
        if stop.reason in ("halt", "fault"):
            if stop.reason == "fault":
                self.event("output", category="stderr", output=views.banner(s, stop).plain + "\n")
            self.event("exited", exitCode=0 if stop.reason == "halt" else 1)
            self.event("terminated")
            return
        reason = STOPPED.get(stop.reason, "step")
        text = views.banner(s, stop).plain
        body = {"reason": reason, "threadId": THREAD, "allThreadsStopped": True, "description": text}
        if reason == "exception":
            body["text"] = text
        if stop.breakpoint is not None:
            body["hitBreakpointIds"] = [stop.breakpoint.number]
        self.event("stopped", **body)

    def run(self, go, body: dict | None = None) -> tuple[dict, Callable[[], None]]:
        """Answers the request, then runs ``go`` in a thread of its own, so that ``pause`` is read meanwhile;
        its stop is reported when it ends."""

        def work() -> None:
            try:
                stop = go()
            finally:
                self.running = None
            self.report(stop)

        def start() -> None:
            self.running = threading.Thread(target=work, daemon=True)
            self.running.start()

        return body or {}, start

    # -- breakpoints -----------------------------------------------------------------------------

    def _replace(self, numbers: list[int]) -> None:
        for n in numbers:
            if n in self.session.breakpoints or n in self.session.watchpoints:
                self.session.delete(n)
        numbers.clear()

    def _set(self, numbers: list[int], spec: str, item: dict, address: int | None = None) -> dict:
        s = self.session
        try:
            address = s.location(spec) if address is None else address
            bp = s.add_breakpoint(spec, item.get("condition") or None, address=address)
        except MlpvmError as e:
            return {"verified": False, "message": str(e)}
        if item.get("hitCondition"):
            bp.ignore = max(0, int(item["hitCondition"]) - 1)
        numbers.append(bp.number)
        line = s.line(address)
        return {"id": bp.number, "verified": True, "line": line[1] if line else None,
                "instructionReference": str(address)}  # fmt: skip

    def on_setBreakpoints(self, args: dict):
        path = args["source"]["path"]
        numbers = self.source_bps.setdefault(path, [])
        self._replace(numbers)
        return {"breakpoints": [self._set(numbers, f"{path}:{b['line']}", b) for b in args.get("breakpoints", [])]}

    def on_setInstructionBreakpoints(self, args: dict):
        numbers = self.other_bps["instruction"]
        self._replace(numbers)
        out = []
        for b in args.get("breakpoints", []):
            address = int(b["instructionReference"], 0) + int(b.get("offset", 0))
            out.append(self._set(numbers, f"*{address}", b, address))
        return {"breakpoints": out}

    def on_dataBreakpointInfo(self, args: dict):
        name = args["name"]
        address = self.session.address(name)
        return {"dataId": str(address), "description": f"{name} (mem[{address}])",
                "accessTypes": list(WATCH_KINDS), "canPersist": False}  # fmt: skip

    def on_setDataBreakpoints(self, args: dict):
        numbers = self.other_bps["data"]
        self._replace(numbers)
        out = []
        for b in args.get("breakpoints", []):
            kind = WATCH_KINDS[b.get("accessType", "write")]
            try:
                wp = self.session.add_watchpoint(f"mem[{int(b['dataId'])}]", kind, condition=b.get("condition"))
            except MlpvmError as e:
                out.append({"verified": False, "message": str(e)})
                continue
            if b.get("hitCondition"):
                wp.ignore = max(0, int(b["hitCondition"]) - 1)
            numbers.append(wp.number)
            out.append({"id": wp.number, "verified": True})
        return {"breakpoints": out}

    def on_setExceptionBreakpoints(self, args: dict):
        return {"breakpoints": []}

    # -- running ---------------------------------------------------------------------------------

    def on_continue(self, args: dict):
        return self.run(self.session.cont, {"allThreadsContinued": True})

    def _instruction(self, args: dict) -> bool:
        return args.get("granularity") == "instruction" or not self.session.source_map

    def on_next(self, args: dict):
        s = self.session
        return self.run(s.step_over if self._instruction(args) else lambda: s.step_line(over=True))

    def on_stepIn(self, args: dict):
        s = self.session
        return self.run(lambda: s.step(1) if self._instruction(args) else s.step_line(over=False))

    def on_stepOut(self, args: dict):
        return self.run(self.session.finish)

    def on_stepBack(self, args: dict):
        s = self.session
        return self.run(lambda: s.reverse_step(1) if self._instruction(args) else s.reverse_line(over=True))

    def on_reverseContinue(self, args: dict):
        return self.run(self.session.reverse_continue)

    def on_pause(self, args: dict):
        self.session.interrupt()  # the run stops after its current chunk of passes: a "pause" stop
        return {}

    def on_disconnect(self, args: dict):
        self.done = True
        self._end_run()
        return {}

    on_terminate = on_disconnect

    # -- state -----------------------------------------------------------------------------------

    def on_threads(self, args: dict):
        return {"threads": [{"id": THREAD, "name": "program"}]}

    def on_stackTrace(self, args: dict):
        """The CALL chain, innermost first: PC, then each call's site, with its source line."""
        s = self.session
        frames = []
        for i, (pc, f) in enumerate(views.places(s)):
            name = s.entries.get(f.entry, f"*{f.entry}") if f is not None else "main"
            frame = {"id": i, "name": name, "line": 0, "column": 0, "instructionPointerReference": str(pc)}
            line = s.line(pc)
            if line is not None:
                frame.update(source={"name": line[0].rsplit("/", 1)[-1], "path": line[0]}, line=line[1], column=1)
            frames.append(frame)
        return {"stackFrames": frames, "totalFrames": len(frames)}

    def on_scopes(self, args: dict):
        named = [("Registers", REGISTERS, False), ("Labels", LABELS, False), ("Layers (last pass)", LAYERS, True)]
        return {"scopes": [{"name": n, "variablesReference": r, "expensive": e} for n, r, e in named]}

    def on_variables(self, args: dict):
        ref, s = args["variablesReference"], self.session
        if ref == REGISTERS:
            pairs = [(k, str(v), 0) for k, v in s.registers().items()]
        elif ref == LABELS:
            labels = s.source_map.labels if s.source_map else {}
            pairs = [(n, str(s.mem(a)), 0) for n, a in sorted(labels.items(), key=lambda x: x[1])
                     if 0 <= a < s.config.cells]  # fmt: skip
        elif ref == LAYERS:
            pairs = [(f"{k} {name}", "", LAYER_BASE + k) for k, name in enumerate(LAYER_NAMES)]
        else:
            pairs = [(k, v, 0) for k, v in self.d.layer(ref - LAYER_BASE).items()]
        return {"variables": [{"name": n, "value": v, "variablesReference": r} for n, v, r in pairs]}

    def on_evaluate(self, args: dict):
        text = args["expression"].strip()
        if text.startswith("input "):  # the REPL's `input TEXT` (its escapes too): more program input
            data = unescape(text[6:])
            self.d.feed(data)
            return {"result": f"queued {len(data)} input bytes", "variablesReference": 0}
        if text == "eof":  # the REPL's `eof`: the input ends (a read now stores -1)
            self.session.close_input()
            return {"result": "input closed", "variablesReference": 0}
        if re.match(r"\s*(mem\s*\[.*\]|\$?[A-Za-z_]\w*)\s*=(?!=)", text):  # the REPL's `set var`
            address, _ = self.session.assign(text)
            value = self.session.pc if address is None else self.session.mem(address)
            return {"result": str(value), "variablesReference": 0}
        fmt = "x" if (args.get("format") or {}).get("hex") else ""  # ValueFormat: as print/x
        return {"result": views.formatted(self.session.config, self.d.evaluate(text), fmt), "variablesReference": 0}

    def on_readMemory(self, args: dict):
        s = self.session
        start = int(args["memoryReference"], 0) + int(args.get("offset", 0))
        size = (s.config.bits + 7) // 8
        cells = range(max(0, start), min(s.config.cells, start + max(0, int(args["count"]))))
        data = b"".join((s.mem(a) & ((1 << 8 * size) - 1)).to_bytes(size, "little") for a in cells)
        return {"address": str(start), "data": base64.b64encode(data).decode()}

    def on_disassemble(self, args: dict):
        s = self.session
        address = int(args["memoryReference"], 0) + int(args.get("offset", 0))
        stride = s.config.spec.stride
        address += int(args.get("instructionOffset", 0)) * stride
        out = []
        for i in range(int(args["instructionCount"])):
            a = address + i * stride
            if not 0 <= a < s.config.cells:
                out.append({"address": str(a), "instruction": "??", "presentationHint": "invalid"})
                continue
            ins = views.instruction(s, a)
            row = {"address": str(a), "instruction": ins.text, "instructionBytes": " ".join(map(str, ins.words))}
            if ins.origin is not None:
                row.update(location={"path": ins.origin.file}, line=ins.origin.line)
            out.append(row)
        return {"instructions": out}


def serve(reader: BinaryIO, writer: BinaryIO) -> None:
    """Until ``disconnect`` or the client goes away (its end of the stream closed: the session ends too)."""
    with contextlib.suppress(ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
        Server(reader, writer).serve()
