"""The debugger's commands on the network itself: layer views of any pass in the history, diffs, the data flow,
pictures and dumps. Registered with ``commands.command`` like the others; ``commands`` imports this module."""

from __future__ import annotations

import shlex
from pathlib import Path

from mlpvm.debug import dump as dumps
from mlpvm.debug import netviews
from mlpvm.debug import transformer as tviews
from mlpvm.debug.commands import Debugger, command
from mlpvm.debug.records import DebugError


def _mlp_only(debugger: Debugger, name: str) -> None:
    if tviews.applies(debugger.session):
        raise DebugError(f"{name} shows the MLP's layers; on the transformer use layers, layer, diff and dump")


def _pass(debugger: Debugger, text: str) -> netviews.PassTrace:
    text = text.strip()
    if text and not text.isdigit():
        raise DebugError(f"expected a pass number, not {text!r}")
    return netviews.pass_trace(debugger.session, int(text) if text else None)


@command("layers", usage="layers [PASS]")
def layers(debugger: Debugger, arg: str) -> None:
    """The 23 layers of the last pass (or of PASS, re-run from the history): units on among those each layer
    computed and among those it carried, and the values it computed. On the transformer, its 16 layers: each
    head's attended column and softmax weight, each block's fields."""
    views = tviews if tviews.applies(debugger.session) else netviews
    debugger.console.print(views.layers(debugger.session, _pass(debugger, arg)))


@command("layer", usage="layer NAME|K [PASS]")
def layer(debugger: Debugger, arg: str) -> None:
    """One layer of the last pass (or of PASS): each computed field with its value and what it holds, a
    memory-wide field's selected row with its label; then the carried fields in brief. On the transformer: an
    attention layer's heads (attended column, weight, runner-up), then every field the layer wrote."""
    words = arg.split()
    if not words:
        raise DebugError("layer needs a name like read.1 or a number 0..22")
    session = debugger.session
    if tviews.applies(session):
        k = tviews.layer_index(tviews.engine(session), words[0])
        debugger.console.print(tviews.layer(session, _pass(debugger, " ".join(words[1:])), k))
        return
    k = netviews.layer_index(words[0])
    debugger.console.print(netviews.layer(session, _pass(debugger, " ".join(words[1:])), k))


@command("diff", usage="diff PASS1 PASS2 | diff LAYER1 LAYER2 [PASS]")
def diff(debugger: Debugger, arg: str) -> None:
    """Which units changed: between two passes, layer by layer; or between two layers (names like read.0)
    of one pass (default the last), field by field. On the transformer: punchcard entries and row fields."""
    words = arg.split()
    views = tviews if tviews.applies(debugger.session) else netviews
    if len(words) == 2 and all(w.isdigit() for w in words):
        a, b = (_pass(debugger, w) for w in words)
        debugger.console.print(views.diff(debugger.session, a, b))
    elif len(words) in (2, 3):
        if views is tviews:
            i, j = (tviews.layer_index(tviews.engine(debugger.session), w) for w in words[:2])
        else:
            i, j = (netviews.layer_index(w) for w in words[:2])
        pt = _pass(debugger, words[2] if len(words) == 3 else "")
        debugger.console.print(views.diff_layers(debugger.session, pt, i, j))
    else:
        raise DebugError("diff PASS1 PASS2, or diff LAYER1 LAYER2 [PASS]")


@command("flow", usage="flow")
def flow(debugger: Debugger, arg: str) -> None:
    """The data flow of the construction: for each field, the layers that compute (#), carry (-) and read (>)
    it; fields with the same flow share a row."""
    _mlp_only(debugger, "flow")
    debugger.console.print(netviews.flow(debugger.session))


@command("picture", usage="picture FILE.png|FILE.svg [PASS]")
def picture(debugger: Debugger, arg: str) -> None:
    """Draw the last pass (or PASS) as its data flow: a column per layer, a row per field, each value where a
    layer computes it, a thin line where it carries it, the instruction in the title. Needs mlpvm[plot]."""
    from mlpvm.debug import picture as pictures

    _mlp_only(debugger, "picture")

    words = shlex.split(arg)
    if not words:
        raise DebugError("picture needs a file name (.png or .svg)")
    pt = _pass(debugger, " ".join(words[1:]))
    pictures.pass_picture(debugger.session.config, pt, Path(words[0]), debugger.session.source_map)
    debugger.say(f"Drew pass {pt.number} to {words[0]}")


@command("dump", usage="dump FILE.npz [--passes RANGE]")
def dump(debugger: Debugger, arg: str) -> None:
    """Save per-layer activations (keys like pass12.read.1) and decoded fields of the last pass, or of the
    passes in RANGE (N, A:B or A-B, still in the history), to a numpy .npz file; mlpvm.load_dump(FILE) reads
    it back with every field by name."""
    words = shlex.split(arg)
    if not words or words[0] == "--passes":
        raise DebugError("dump needs a file name: dump FILE.npz [--passes RANGE]")
    if "--passes" in words[:-1]:
        passes = dumps.parse_range(words[words.index("--passes") + 1])
    elif "--passes" in words:
        raise DebugError("--passes needs a RANGE: N or A:B")
    else:
        passes = None
    path = Path(words[0])
    written = dumps.dump_session(debugger.session, path, passes)
    debugger.say(f"Wrote {len(written)} passes ({written[0]}..{written[-1]}) to {path}")
