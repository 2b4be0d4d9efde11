"""The stored matrices as an ONNX model: the 23 layers ``ReLU(W x + b)`` in standard operators only, with a
batch dimension, for ONNX Runtime and anything else that reads ONNX.

Two models (``export``):

- one pass: input ``state`` float32 [batch, state_size], output ``next_state``; with ``layer_outputs`` every
  layer's activations too, as outputs named by layer ([batch, width]);
- ``loop``: inputs ``state`` and ``passes`` (int64 scalar), an ONNX ``Loop`` of passes; outputs the final
  ``state`` and, per pass, the host fields the machine has of ``out_valid`` [passes, batch], ``out_byte``
  [passes, batch, 8] and ``executed`` [passes, batch]. It stops early after a pass in which some machine took
  input (``in_ack``: the host must offer the next byte) or in which every machine is stopped or waiting for
  input; the per-pass outputs then have fewer than ``passes`` rows.

The weight file's ``meta`` (fields, I/O fields, layers, configuration) is in the model's metadata under
``mlpvm``, so a host can encode and decode states without mlpvm.

Inside, activations are kept units-major, [width, batch], and each layer is one of two forms:

- ``dense``: ``Relu(MatMul(W, h) + b)`` with W materialised (small layers);
- ``sparse``: W's CSR entries, split three ways by what is cheap in a runtime. Rows that copy one input
  (weight 1, bias 0) are ``Slice``s of h. Inputs that feed many rows (``HUB``: the address bits that every
  row of an address-matched block compares with its row's +-1 code) form one small dense matrix, one
  ``MatMul``: the product with the address codes. The remaining entries of the rows with up to k of them
  (k a power of two; shorter rows padded with weight 0) are ``Gather``ed as [rows, k, batch], multiplied by
  their weights, summed over k (``ReduceSum``) and added into their rows by ``ScatterND``. Each entry of W
  lands in exactly one of these, so row i receives b_i + sum_j w_ij h_j = (W h + b)_i: the same linear map.
  ``Relu`` of the concatenated rows follows.

Exactness: every weight, bias and input is an integer (inputs 0 or 1), so every partial sum, in whatever
order MatMul, ReduceSum or ScatterND adds, is an integer bounded by the unit's ``sum |w| + |b|``; ``export`` refuses
weights whose bound float32 does not hold exactly (``mlpvm.network.exactness``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlpvm.errors import ConfigError, MlpvmError
from mlpvm.files import atomic_write
from mlpvm.machines.config import Config
from mlpvm.network import exactness
from mlpvm.network.weights import WeightLayer, Weights

OPSET = 17  # ScatterND's reduction needs 16; nothing newer is used
DENSE_LIMIT = 1 << 20  # entries of W up to which a layer is one MatMul (4 MB of float32)
HUB = 32  # an input that feeds at least this many rows joins the layer's small dense product
BYTES_PER_WEIGHT = 16  # in the model: its input's index (int64), its weight (float32), padding and row indices
MAX_BYTES = 2**31 - 2**26  # protobuf's limit on one message, less room for the rest
MAX_PIECES = 64  # runs of copied and computed rows up to which a layer is assembled from slices
PER_PASS = ("out_valid", "out_byte", "executed")  # the loop model's per-pass outputs, those the machine has
META_KEY = "mlpvm"
MODEL_KEY = "mlpvm.model"
MISSING = "ONNX export needs onnx: pip install 'mlpvm[onnx]'"


def need_onnx():
    """The onnx module, or a one-line error naming the extra."""
    try:
        import onnx
    except ImportError:
        raise MlpvmError(MISSING) from None
    return onnx


class _Graph:
    """Nodes and initializers, with names made unique by a prefix."""

    def __init__(self, onnx, prefix: str = ""):
        self.onnx, self.helper, self.prefix = onnx, onnx.helper, prefix
        self.nodes: list = []
        self.inits: list = []
        self.names: set[str] = set()

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def shared(self, name: str, array: np.ndarray) -> str:
        """A constant made once however often it is asked for."""
        if name not in self.names:
            self.names.add(self.const(name, array))
        return name

    def node(self, op: str, inputs: list[str], output: str, name: str | None = None, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=name or output, **attrs))
        return output


def _layer(g: _Graph, w: WeightLayer, h: str, consts: _Graph, dense_limit: int) -> str:
    """Layer ``w`` on the units-major activations ``h``; returns its output. Its weights go into ``consts``
    (the main graph, so that a loop body shares them)."""
    out, n_in = w.W.shape
    name, at = w.name, g.prefix + w.name
    if out * n_in <= dense_limit:
        weight = consts.const(f"{name}/W", w.W.to_dense(np.float32))
        bias = consts.const(f"{name}/b", w.b.astype(np.float32).reshape(out, 1))
        pre = g.node("Add", [g.node("MatMul", [weight, h], f"{at}/Wx"), bias], f"{at}/z")
    else:
        pre = _sparse(g, w, h, consts, dense_limit)
    return g.node("Relu", [pre], f"{at}/units", name=at)


def _copies(w: WeightLayer) -> np.ndarray:
    """The rows that copy one input: a single entry of weight 1, bias 0. Their column, or -1."""
    W = w.W
    single = (np.diff(W.indptr) == 1) & (w.b == 0)
    first = np.minimum(W.indptr[:-1], max(W.nnz - 1, 0))
    single &= W.data[first] == 1 if W.nnz else single
    return np.where(single, W.indices[first] if W.nnz else -1, -1).astype(np.int64)


def _runs(copy: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [start, stop) of rows that are either all computed, or copies of consecutive inputs."""
    cut = np.ones(len(copy), bool)
    cut[1:] = ~(((copy[1:] < 0) & (copy[:-1] < 0)) | ((copy[:-1] >= 0) & (copy[1:] == copy[:-1] + 1)))
    starts = np.flatnonzero(cut)
    return list(zip(starts.tolist(), [*starts[1:].tolist(), len(copy)]))


def _sparse(g: _Graph, w: WeightLayer, h: str, consts: _Graph, dense_limit: int) -> str:
    """The pre-activation ``W h + b`` from W's entries (module docstring): copy rows are slices of ``h``;
    the other rows R get b_R + W[R, hubs] h[hubs] (hubs: the inputs that feed many rows, such as the address
    bits that every address-matched row reads: one small dense product) + the remaining entries gathered,
    weighted and added into their rows by ScatterND. Each entry of W is used exactly once."""
    W, name, at = w.W, w.name, g.prefix + w.name
    copy = _copies(w)
    runs = _runs(copy)
    if len(runs) > MAX_PIECES:  # too fragmented to slice: every row computed
        copy[:] = -1
        runs = [(0, len(copy))]
    computed = np.flatnonzero(copy < 0)
    position = np.full(len(copy), -1, np.int64)
    position[computed] = np.arange(len(computed))
    rows = W.row_ids()
    keep = position[rows] >= 0
    rows, cols, data = position[rows[keep]], W.indices[keep].astype(np.int64), W.data[keep]
    fan = np.bincount(cols, minlength=W.shape[1])
    hubs = np.flatnonzero(fan >= HUB)
    if len(hubs) * len(computed) > dense_limit:
        hubs = hubs[:0]
    bias = consts.const(f"{name}/b", w.b[computed].astype(np.float32).reshape(-1, 1))
    if len(hubs):
        hub = np.isin(cols, hubs)
        dense = np.zeros((len(computed), len(hubs)), np.float32)
        dense[rows[hub], np.searchsorted(hubs, cols[hub])] = data[hub]
        rows, cols, data = rows[~hub], cols[~hub], data[~hub]
        x_hub = g.node("Gather", [h, consts.const(f"{name}/hubs", hubs)], f"{at}/x_hubs", axis=0)
        product = g.node("MatMul", [consts.const(f"{name}/W_hubs", dense), x_hub], f"{at}/W_hubs_x")
        z = g.node("Add", [product, bias], f"{at}/z_hubs")
    else:
        batch = g.node("Shape", [h], f"{at}/batch", start=1)
        count = consts.const(f"{name}/computed", np.array([len(computed)], np.int64))
        z = g.node("Expand", [bias, g.node("Concat", [count, batch], f"{at}/shape", axis=0)], f"{at}/b_batch")
    count = np.bincount(rows, minlength=len(computed))
    widths = 1 << np.ceil(np.log2(np.maximum(count, 1))).astype(np.int64)  # rows grouped by powers of two
    for width in np.unique(widths[count > 0]).tolist():
        targets = np.flatnonzero((count > 0) & (widths == width))
        z = _add_rows(g, consts, z, h, f"{name}/k{width}", rows, cols, data, targets, width)
    if len(computed) == len(copy):  # no copies: the computed rows are the layer
        return z
    pieces = []
    for i, (start, stop) in enumerate(runs):
        src, lo = (h, int(copy[start])) if copy[start] >= 0 else (z, int(position[start]))
        bounds = [consts.const(f"{name}/piece{i}/{end}", np.array([v], np.int64))
                  for end, v in (("start", lo), ("stop", lo + stop - start))]  # fmt: skip
        pieces.append(
            g.node("Slice", [src, *bounds, consts.shared("axis0", np.array([0], np.int64))], f"{at}/piece{i}")
        )
    return pieces[0] if len(pieces) == 1 else g.node("Concat", pieces, f"{at}/z", axis=0)


def _add_rows(g: _Graph, consts: _Graph, z: str, h: str, tag: str, rows, cols, data, targets, width: int) -> str:
    """Adds to ``z`` the remaining entries of rows ``targets`` (each with at most ``width`` of them): gathers
    their inputs as [rows, width, batch] (short rows padded with weight 0 on input 0), weights them, sums
    over the width and adds each sum into its row. Every row appears once in the ScatterND, so no two updates
    meet (ONNX Runtime's CPU ScatterND is not thread-safe with repeated indices, onnxruntime#18048)."""
    at = g.prefix + tag
    mine = np.isin(rows, targets)
    r = rows[mine]  # ascending: CSR order
    rank = np.arange(len(r)) - np.searchsorted(r, r)  # each entry's place within its row
    index = np.zeros((len(targets), width), np.int64)
    weight = np.zeros((len(targets), width), np.float32)
    index[np.searchsorted(targets, r), rank] = cols[mine]
    weight[np.searchsorted(targets, r), rank] = data[mine]
    picked = g.node("Gather", [h, consts.const(f"{tag}/cols", index.ravel())], f"{at}/x_cols", axis=0)
    if (weight != 1).any():
        picked = g.node("Mul", [picked, consts.const(f"{tag}/w", weight.reshape(-1, 1))], f"{at}/w_x")
    if width > 1:
        shape = consts.const(f"{tag}/shape", np.array([len(targets), width, -1], np.int64))
        grouped = g.node("Reshape", [picked, shape], f"{at}/grouped")
        picked = g.node("ReduceSum", [grouped, consts.shared("axis1", np.array([1], np.int64))], f"{at}/sum",
                        keepdims=0)  # fmt: skip
    rows_at = consts.const(f"{tag}/rows", targets.astype(np.int64).reshape(-1, 1))
    return g.node("ScatterND", [z, rows_at, picked], f"{at}/z", reduction="add")


def _pass(g: _Graph, weights: Weights, h: str, consts: _Graph, dense_limit: int) -> list[str]:
    """The 23 layers from ``h``; returns every layer's output."""
    outs = []
    for w in weights.layers:
        h = _layer(g, w, h, consts, dense_limit)
        outs.append(h)
    return outs


def _rows(g: _Graph, weights: Weights, h: str, field: str, consts: _Graph, tag: str) -> str:
    """The units of a state field in the units-major state ``h``: [size, batch]."""
    f = weights.state[field]
    index = consts.shared(f"rows/{field}", np.arange(f.offset, f.stop, dtype=np.int64))
    return g.node("Gather", [h, index], g.prefix + f"{tag}/{field}", axis=0)


def _any(g: _Graph, weights: Weights, h: str, fields: list[str], consts: _Graph, tag: str) -> str:
    """1 when any machine has any of the flags ``fields`` set, as a float scalar."""
    flags = [_rows(g, weights, h, f, consts, tag) for f in fields]
    both = flags[0] if len(flags) == 1 else g.node("Concat", flags, g.prefix + f"{tag}/flags", axis=0)
    return g.node("ReduceMax", [both], g.prefix + f"{tag}/any", keepdims=0)


def _stop(g: _Graph, weights: Weights, h: str, consts: _Graph, stop_on: tuple[str, ...], idle: bool) -> str:
    """The loop's condition to go on: no machine raised a flag of ``stop_on``, and (``idle``) some machine
    is neither stopped nor waiting for input."""
    signals = []
    present = [f for f in stop_on if f in weights.state]
    if present:
        signals.append(_any(g, weights, h, present, consts, "event"))
    if idle:
        parked = [_rows(g, weights, h, f, consts, "idle") for f in ("halted", "in_wait") if f in weights.state]
        either = parked[0] if len(parked) == 1 else g.node("Max", parked, g.prefix + "idle/each")
        signals.append(g.node("ReduceMin", [either], g.prefix + "idle/all", keepdims=0))
    worst = signals[0] if len(signals) == 1 else g.node("Max", signals, g.prefix + "stop/any")
    half = consts.shared("half", np.array(0.5, np.float32))
    return g.node("Not", [g.node("Greater", [worst, half], g.prefix + "stop")], g.prefix + "go_on")


def check_size(config: Config, nonzeros: int) -> None:
    """Refuses, before anything is built, a network too large for one ONNX file (protobuf's 2 GiB)."""
    if nonzeros * BYTES_PER_WEIGHT > MAX_BYTES:
        raise ConfigError(
            f"{config.describe()}: its ONNX model would take about {nonzeros * BYTES_PER_WEIGHT / 2**30:.1f} GiB, "
            "beyond the 2 GiB one ONNX file holds: use fewer --cells"
        )


def _state_io(onnx, name: str, size: int):
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", size])


def export(
    weights: Weights,
    loop: bool = False,
    layer_outputs: bool = False,
    dense_limit: int = DENSE_LIMIT,
    stop_on: tuple[str, ...] = ("in_ack",),
    idle: bool = True,
):
    """The one-pass model, or (``loop``) the K-pass model; ``stop_on`` and ``idle`` say when the loop ends
    early (the defaults are the documented model's; an engine that must stop at every host event passes
    those events and ``idle=False``)."""
    onnx = need_onnx()
    exactness.check(weights, np.float32)
    check_size(weights.config, weights.nnz)
    helper, size = onnx.helper, weights.state.size
    main = _Graph(onnx)
    start = main.node("Transpose", ["state"], "state/units", perm=[1, 0])
    outputs = []
    if not loop:
        layers = _pass(main, weights, start, main, dense_limit)
        main.node("Transpose", [layers[-1]], "next_state", perm=[1, 0])
        outputs.append(_state_io(onnx, "next_state", size))
        if layer_outputs:
            for w, h in zip(weights.layers, layers):
                main.node("Transpose", [h], w.name, name=f"{w.name}/out", perm=[1, 0])
                outputs.append(_state_io(onnx, w.name, w.W.shape[0]))
        inputs = [_state_io(onnx, "state", size)]
        graph = helper.make_graph(main.nodes, "mlpvm_pass", inputs, outputs, main.inits)
    else:
        graph = _loop_graph(onnx, weights, main, start, dense_limit, stop_on, idle)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlpvm")
    model.ir_version = 8  # what opset 17 needs; readable by every ONNX Runtime since 1.12
    kind: dict = {"kind": "pass"}
    if loop:
        stops = [f for f in stop_on if f in weights.state]
        kind = {"kind": "loop", "per_pass": _per_pass(weights), "stop_on": stops, "stop_when_idle": idle}
    helper.set_model_props(model, {META_KEY: json.dumps(weights.meta()), MODEL_KEY: json.dumps(kind)})
    model.doc_string = f"mlpvm network, {weights.config.describe()}: " + (
        "K passes (inputs state, passes)" if loop else "one pass (input state)"
    )
    onnx.checker.check_model(model)
    return model


def _per_pass(weights: Weights) -> list[str]:
    return [f for f in PER_PASS if f in weights.state]


def _loop_graph(onnx, weights: Weights, main: _Graph, start: str, dense_limit: int, stop_on, idle: bool):
    helper, size = onnx.helper, weights.state.size
    body = _Graph(onnx, prefix="pass/")
    layers = _pass(body, weights, "h", main, dense_limit)
    h = body.node("Identity", [layers[-1]], "h_next")
    body.node("Identity", [_stop(body, weights, h, main, stop_on, idle)], "go_on_out")
    scans = []
    for f in _per_pass(weights):
        rows = _rows(body, weights, h, f, main, "per_pass")
        if weights.state[f].shape:  # [width, batch] -> [batch, width]
            body.node("Transpose", [rows], f"{f}/pass", perm=[1, 0])
        else:
            body.node("Squeeze", [rows, main.shared("axis0", np.array([0], np.int64))], f"{f}/pass")
        scans.append(f)
    float_ = onnx.TensorProto.FLOAT
    body_graph = helper.make_graph(
        body.nodes,
        "mlpvm_pass",
        [
            helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info("go_on_in", onnx.TensorProto.BOOL, None),
            helper.make_tensor_value_info("h", float_, [size, "batch"]),
        ],
        [
            helper.make_tensor_value_info("go_on_out", onnx.TensorProto.BOOL, None),
            helper.make_tensor_value_info("h_next", float_, [size, "batch"]),
            *(helper.make_tensor_value_info(f"{f}/pass", float_, None) for f in scans),
        ],
    )
    true = main.shared("true", np.array(True))
    main.nodes.append(
        helper.make_node("Loop", ["passes", true, start], ["final/units", *scans], name="passes_loop", body=body_graph)
    )
    main.node("Transpose", ["final/units"], "final_state", perm=[1, 0])
    inputs = [_state_io(onnx, "state", size), helper.make_tensor_value_info("passes", onnx.TensorProto.INT64, [])]
    outputs = [_state_io(onnx, "final_state", size)]
    for f in scans:
        shape = ["passes", "batch", *weights.state[f].shape]
        outputs.append(helper.make_tensor_value_info(f, float_, shape))
    return helper.make_graph(main.nodes, "mlpvm_loop", inputs, outputs, main.inits)


def save(model, path: str | Path) -> None:
    """Writes the model atomically."""
    atomic_write(path, lambda f: f.write(model.SerializeToString()))
