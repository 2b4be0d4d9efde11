"""The debugger as a library: a program on the network with the reference beside it, for scripts and notebooks.

``Debugger`` is a thin front end over the same ``Session`` the REPL drives (every line of the model is
shared); it adds loading (a path or source text), reading by label, the decoded fields of any layer of a pass,
and rich views (``__rich__`` in a terminal, ``_repr_html_`` in Jupyter)::

    from mlpvm import Debugger
    d = Debugger("programs/gcd.asq")
    d.break_at("gcd")           # a label, a source line, FILE:LINE or *ADDR, as `break` takes
    stop = d.cont()             # Stop(reason="breakpoint", pc=...)
    d.registers["pc"], d["a"]   # registers; memory by label (or address)
    d.layer("write.1")          # the last pass's layer write.1: each field decoded
    d.back()                    # one pass back in time
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console, RenderableType

from mlpvm import machines
from mlpvm.debug import netviews, views
from mlpvm.debug import transformer as tviews
from mlpvm.debug.records import Breakpoint, DebugError, Stop
from mlpvm.debug.session import Session
from mlpvm.engines import DEFAULT, make
from mlpvm.machines.config import MAX_BITS
from mlpvm.program.asm import assemble
from mlpvm.program.image import Image, require_code
from mlpvm.program.load import load_image


class Debugger:
    def __init__(
        self, program: str | Path | Image, input: bytes | str = b"", *, machine: str | None = None,
        bits: int | None = None, cells: int | None = None, slots: int | None = None, engine: str = DEFAULT,
        weights: str | Path | None = None, check: bool = True, eof_reads: int | None = None,
        network: str = "mlp", lam: float | None = None,
    ):  # fmt: skip
        """``program``: a path (an image or assembly source, as ``mlpvm debug`` takes) or an ``Image``;
        ``input``: the program's input; ``weights``: a weight file to run (on ``engine``: sparse, dense or
        onnx); ``check``: the reference interpreter beside the network (a divergence stops a run);
        ``network="transformer"``: the looped transformer (softmax temperature ``lam``, default 20) instead."""
        from mlpvm.cli.options import load_weights, resolve_config  # the CLI's one rule for a configuration

        image = program if isinstance(program, Image) else load_image(program)
        loaded = load_weights(str(weights), machine, bits, cells, slots) if weights else None
        config = resolve_config(image, loaded, machine, bits, cells, slots)
        eng = make(engine, config, loaded) if loaded is not None else engine
        if network == "transformer":
            from mlpvm.cli.transformer import network as transformer  # refused outside its exact region
            from mlpvm.transformer.engine import TransformerEngine

            eng = TransformerEngine(transformer(config, lam))
        data = input.encode() if isinstance(input, str) else bytes(input)
        self.session = Session(image, config, data, eng, check=check, eof_reads=eof_reads)

    @classmethod
    def from_source(cls, text: str, name: str = "program.asq", **options) -> Debugger:
        """A program from assembly source text; ``name``'s suffix says the machine (.asq: SUBLEQ, .pasq: the
        paper's machine) and names it in messages."""
        image = assemble(text, name, bits=MAX_BITS, machine=machines.for_path(name).name)
        require_code(image)
        return cls(image, **options)

    # -- running ---------------------------------------------------------------------------------

    def step(self, passes: int = 1) -> Stop:
        """``passes`` loop passes (``stepi N``), stopping early at a breakpoint, watchpoint, halt, ..."""
        return self.session.step(passes)

    def next_line(self) -> Stop:
        """To the next source line, over calls (``next``)."""
        return self.session.step_line(over=True)

    def cont(self, max_steps: int | None = None) -> Stop:
        """Until a breakpoint, watchpoint, halt, fault, input wait, divergence or ``max_steps`` (``continue``)."""
        return self.session.cont(max_steps)

    def back(self, passes: int = 1) -> Stop:
        """``passes`` back in time (``reverse-stepi N``): the exact earlier state, reference included."""
        return self.session.reverse_step(passes)

    def reverse_cont(self) -> Stop:
        """Back to the previous breakpoint or watchpoint hit, or the start of the history."""
        return self.session.reverse_continue()

    def restart(self) -> None:
        self.session.restart()

    def break_at(self, location: str | int, condition: str | None = None) -> Breakpoint:
        """A breakpoint at a label, source line, ``FILE:LINE``, ``*ADDR`` or address (``break``)."""
        s = self.session
        address = location if isinstance(location, int) else s.location(location)
        return s.add_breakpoint(str(location), condition, address=address)

    def feed(self, data: bytes | str) -> None:
        """More program input."""
        self.session.feed(data.encode() if isinstance(data, str) else bytes(data))

    # -- reading ---------------------------------------------------------------------------------

    @property
    def pc(self) -> int:
        return self.session.pc

    @property
    def registers(self) -> dict[str, int]:
        """PC, the last pass's registers and flags, step and pass counts (``info registers``)."""
        return self.session.registers()

    @property
    def output(self) -> bytes:
        return bytes(self.session.output)

    def __getitem__(self, where: str | int) -> int:
        """A memory cell (decoded from the network's state) by label, expression or address."""
        s = self.session
        return s.mem(where if isinstance(where, int) else s.address(where))

    def evaluate(self, text: str) -> int:
        """An expression as ``print`` takes it: labels, ``mem[i]``, ``$pc``, registers, arithmetic."""
        return self.session.evaluate(text)

    def layer(self, which: str | int, number: int | None = None) -> dict[str, str]:
        """Layer ``which`` (its name, as ``write.1``, or index 0..22) of pass ``number`` (default: the last),
        re-run on the stored matrices: each output field decoded, as the ``layer`` command shows it."""
        pt = netviews.pass_trace(self.session, number)
        if tviews.applies(self.session):
            eng = tviews.engine(self.session)
            k = which if isinstance(which, int) else tviews.layer_index(eng, which)
            cards = tviews.cards(eng, pt)
            return {n: tviews.field_text(self.session, eng, cards[k], cards[k + 1], n) for n in tviews.written(eng, k)}
        k = which if isinstance(which, int) else netviews.layer_index(which)
        layout = netviews.build(self.session.config).layers[k].outputs
        return {f.name: netviews.field_value(self.session, pt, k, f.name) for f in layout}

    def heads(self, number: int | None = None) -> dict[str, dict[str, float]]:
        """On the transformer: each attention head of pass ``number`` (default: the last), as the scratchpad's
        query saw it: the column it attended to (1 + i is cell i, 0 the scratchpad), its softmax weight, the
        runner-up column and its weight."""
        if not tviews.applies(self.session):
            raise DebugError("heads: the MLP has no attention; this is for network='transformer'")
        eng = tviews.engine(self.session)
        found = tviews.heads(eng, tviews.cards(eng, netviews.pass_trace(self.session, number)))
        return {name: {"column": int(top[0, 0]), "weight": float(w[0, 0]), "runner_up": int(top[0, 1]),
                       "runner_up_weight": float(w[0, 1])} for name, top, w, _ in found}  # fmt: skip

    # -- views -----------------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        """The panel the REPL shows after a stop: the instruction at PC, registers, touched memory."""
        return views.context(self.session)

    def _repr_html_(self) -> str:
        console = Console(file=io.StringIO(), record=True, width=netviews.WIDTH, color_system="truecolor")
        console.print(self.__rich__())
        return console.export_html(inline_styles=True, code_format="<pre>{code}</pre>")

    def __repr__(self) -> str:
        s = self.session
        return f"<Debugger {s.image.path or 'program'}: pc {s.pc}, pass {s.passes}, step {s.steps}>"
