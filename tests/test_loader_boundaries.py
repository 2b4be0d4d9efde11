"""Boundaries in every loader (issue 29, point 4): each mutation puts one value of a valid file just past
what the loader allows (a column index equal to the layer's width, a shape one too small or one too large,
a bias vector one short, an index of -1, a value one past the allowed range), and the loader must refuse it
with one line naming the file and the problem, and a non-zero exit. The last valid value is loaded too, so
that a check made one too strict is caught as well as one made too loose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import mlpvm
from mlpvm.cli import cli
from mlpvm.errors import MlpvmError
from mlpvm.machines.config import MAX_BITS, MIN_BITS, Config
from mlpvm.network import build
from mlpvm.network.weights import MAX_WEIGHT, compile_network, save

K = 5  # the layer the matrix mutations are made in (any would do: the checks are per layer)


def cli_error(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr.splitlines()


def refused_in_one_line(path: Path, pattern: str, *args: str) -> None:
    code, lines = cli_error(*args)
    assert code == 2 and len(lines) == 1, (code, lines)
    assert lines[0].startswith((f"mlpvm: error: {path}: ", f"{path}:")), lines  # (an image's: file:line:col)
    assert pattern in lines[0], lines


# -- the weight-file loader (mlpvm/network/weights.py, csr.py) -----------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """The arrays of a valid weight file, sparse and dense (subleq, 4-bit words, 4 cells)."""
    root = tmp_path_factory.mktemp("weights")
    weights = compile_network(build(Config("subleq", 4, 4)))
    out = {}
    for kind in ("sparse", "dense"):
        save(weights, root / f"{kind}.npz", dense=kind == "dense")
        with np.load(root / f"{kind}.npz", allow_pickle=False) as z:
            out[kind] = {k: z[k] for k in z.files}
    return out


def _meta(a: dict) -> dict:
    return json.loads(str(a["meta"]))


def _with_meta(a: dict, **changes) -> dict:
    return {**a, "meta": np.array(json.dumps({**_meta(a), **changes}))}


def _set(a: dict, key: str, index: int, value) -> dict:
    array = a[key].astype(np.float64 if isinstance(value, float) else np.int64)
    array.flat[index] = value
    return {**a, key: array}


def _resized(a: dict, key: str, by: int) -> dict:
    """``key`` one element (or row) longer (``by`` = 1, repeating the last) or shorter (-1)."""
    array = a[key]
    return {**a, key: array[:by] if by < 0 else np.concatenate([array, array[-1:]])}


def _width_of(a: dict, k: int) -> int:
    return int(a[f"W{k}_shape"][1])


def _last_index_of_a_row(a: dict, k: int) -> int:
    """The position of the last column index of the first row that has one."""
    indptr = a[f"W{k}_indptr"]
    row = int(np.flatnonzero(np.diff(indptr))[0])
    return int(indptr[row + 1]) - 1


def _first_index_of_a_row(a: dict, k: int) -> int:
    indptr = a[f"W{k}_indptr"]
    return int(indptr[int(np.flatnonzero(np.diff(indptr))[0])])


def _repeated_index(a: dict, k: int) -> dict:
    """A row with two entries whose second names the first's column."""
    indptr = a[f"W{k}_indptr"]
    row = int(np.flatnonzero(np.diff(indptr) >= 2)[0])
    j = int(indptr[row])
    return _set(a, f"W{k}_indices", j + 1, int(a[f"W{k}_indices"][j]))


def _decreasing_indptr(a: dict, k: int) -> dict:
    """A row that starts one entry before the row above it."""
    indptr = a[f"W{k}_indptr"]
    r = int(np.flatnonzero(indptr > 0)[0]) + 1
    return _set(a, f"W{k}_indptr", r, int(indptr[r - 1]) - 1)


def _ends_past_data(a: dict, k: int) -> dict:
    return _set(a, f"W{k}_indptr", -1, int(a[f"W{k}_indptr"][-1]) + 1)


def _layer_dim(a: dict, size: int) -> dict:
    outputs = _meta(a)["layer_outputs"]
    outputs[K][0][1] = [size]
    return _with_meta(a, layer_outputs=outputs)


SPARSE = {  # name: (mutation of the sparse file's arrays, words of the one-line refusal)
    "column index = width": (
        lambda a: _set(a, f"W{K}_indices", _last_index_of_a_row(a, K), _width_of(a, K)),
        f"W{K} is not a consistent CSR matrix: a column index outside",
    ),
    "column index -1": (
        lambda a: _set(a, f"W{K}_indices", _first_index_of_a_row(a, K), -1),
        f"W{K} is not a consistent CSR matrix: a column index outside",
    ),
    "column index repeated in a row": (lambda a: _repeated_index(a, K), "column indices are not increasing"),
    "shape: a row too many": (lambda a: _set(a, f"W{K}_shape", 0, int(a[f"W{K}_shape"][0]) + 1), "has shape"),
    "shape: a row too few": (lambda a: _set(a, f"W{K}_shape", 0, int(a[f"W{K}_shape"][0]) - 1), "has shape"),
    "shape: a column too many": (lambda a: _set(a, f"W{K}_shape", 1, _width_of(a, K) + 1), "has shape"),
    "shape: a column too few": (lambda a: _set(a, f"W{K}_shape", 1, _width_of(a, K) - 1), "has shape"),
    "indptr: a row too many (row index = height)": (lambda a: _resized(a, f"W{K}_indptr", 1), "has shape"),
    "indptr: a row too few": (lambda a: _resized(a, f"W{K}_indptr", -1), "has shape"),
    "indptr: first entry 1": (lambda a: _set(a, f"W{K}_indptr", 0, 1), "not a consistent CSR matrix"),
    "indptr: decreasing by one": (lambda a: _decreasing_indptr(a, K), "not a consistent CSR matrix"),
    "indptr: one entry past the data": (lambda a: _ends_past_data(a, K), f"W{K}_data has shape"),
    "data: one short": (lambda a: _resized(a, f"W{K}_data", -1), f"W{K}_data has shape"),
    "indices: one long": (lambda a: _resized(a, f"W{K}_indices", 1), f"W{K}_indices has shape"),
    "bias: one short": (lambda a: _resized(a, f"b{K}", -1), f"b{K} has shape"),
    "bias: one long": (lambda a: _resized(a, f"b{K}", 1), f"b{K} has shape"),
    "bias: one past the largest": (lambda a: _set(a, f"b{K}", 0, MAX_WEIGHT + 1), "values beyond"),
    "bias: one past the smallest": (lambda a: _set(a, f"b{K}", 0, -MAX_WEIGHT - 1), "values beyond"),
    "weight: one past the largest": (lambda a: _set(a, f"W{K}_data", 0, MAX_WEIGHT + 1), "values beyond"),
    "weight: half": (lambda a: _set(a, f"W{K}_data", 0, 0.5), "non-integer"),
    "meta bits: one below the least": (lambda a: _with_meta(a, bits=MIN_BITS - 1), "--bits must be between"),
    "meta bits: one past the most": (lambda a: _with_meta(a, bits=MAX_BITS + 1), "--bits must be between"),
    "meta bits: 1e400": (lambda a: _with_meta(a, bits=float("inf")), "'bits' must be an integer"),
    "meta bits: a float": (lambda a: _with_meta(a, bits=4.0), "'bits' must be an integer"),
    "meta bits: true": (lambda a: _with_meta(a, bits=True), "'bits' must be an integer"),
    "meta bits: a string": (lambda a: _with_meta(a, bits="4"), "'bits' must be an integer"),
    "meta cells: one past a power of two": (lambda a: _with_meta(a, cells=5), "--cells must be a power of two"),
    "meta cells: one below the least": (lambda a: _with_meta(a, cells=3), "--cells must be a power of two"),
    "meta state_size: one more": (
        lambda a: _with_meta(a, state_size=_meta(a)["state_size"] + 1),
        "does not return the state",
    ),
    "meta state_size: one less": (
        lambda a: _with_meta(a, state_size=_meta(a)["state_size"] - 1),
        "does not return the state",
    ),
    "meta io: a list": (lambda a: _with_meta(a, io=[]), "meta field 'io' must be an object"),
    "meta io: a string": (lambda a: _with_meta(a, io="in"), "meta field 'io' must be an object"),
    "meta io: null": (lambda a: _with_meta(a, io=None), "meta field 'io' must be an object"),
    "meta io: a number inside": (lambda a: _with_meta(a, io={"in": 1}), "meta field 'io' must be an object"),
    "meta layers: one short": (lambda a: _with_meta(a, layers=_meta(a)["layers"][:-1]), "expected the 23 layers"),
    "meta layer_outputs: one short": (
        lambda a: _with_meta(a, layer_outputs=_meta(a)["layer_outputs"][:-1]),
        "expected the 23 layers",
    ),
    "meta layer_outputs: a dimension of 0": (lambda a: _layer_dim(a, 0), "'layer_outputs' [5]"),
    "meta layer_outputs: a dimension of -1": (lambda a: _layer_dim(a, -1), "'layer_outputs' [5]"),
}

DENSE = {
    "dense: a row too many": (lambda a: {**a, f"W{K}": np.vstack([a[f"W{K}"], a[f"W{K}"][-1:]])}, f"W{K} has shape"),
    "dense: a row too few": (lambda a: {**a, f"W{K}": a[f"W{K}"][:-1]}, f"W{K} has shape"),
    "dense: a column too many": (lambda a: {**a, f"W{K}": np.hstack([a[f"W{K}"], a[f"W{K}"][:, -1:]])}, "has shape"),
    "dense: a column too few": (lambda a: {**a, f"W{K}": a[f"W{K}"][:, :-1]}, f"W{K} has shape"),
    "dense: a weight one past the largest": (lambda a: _set(a, f"W{K}", 0, MAX_WEIGHT + 1), "values beyond"),
    "dense: bias one short": (lambda a: _resized(a, f"b{K}", -1), f"b{K} has shape"),
}


@pytest.mark.parametrize("name", [*SPARSE, *DENSE])
def test_a_weight_file_one_past_a_boundary_is_refused(tmp_path, files, name):
    mutate, pattern = SPARSE[name] if name in SPARSE else DENSE[name]
    arrays = mutate(dict(files["sparse" if name in SPARSE else "dense"]))
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    refused_in_one_line(path, pattern, "info", "--weights", str(path))


VALID = {  # the last valid value of some boundaries above: loaded
    "as built (sparse)": ("sparse", lambda a: a),
    "as built (dense)": ("dense", lambda a: a),
    "bias at the largest": ("sparse", lambda a: _set(a, f"b{K}", 0, MAX_WEIGHT)),
    "bias at the smallest": ("sparse", lambda a: _set(a, f"b{K}", 0, -MAX_WEIGHT)),
    "weight at the largest": ("sparse", lambda a: _set(a, f"W{K}_data", 0, MAX_WEIGHT)),
    "column index = width - 1": (
        "sparse",
        lambda a: _set(a, f"W{K}_indices", _last_index_of_a_row(a, K), _width_of(a, K) - 1),
    ),
    "column index 0": ("sparse", lambda a: _set(a, f"W{K}_indices", _first_index_of_a_row(a, K), 0)),
    "io absent": ("sparse", lambda a: _with_meta(a, io={})),
}


@pytest.mark.parametrize("name", VALID)
def test_a_weight_file_at_a_boundary_loads(tmp_path, files, name):
    kind, mutate = VALID[name]
    arrays = mutate(dict(files[kind]))
    if name.startswith("column"):  # only where the row's indices stay increasing
        indices = arrays[f"W{K}_indices"]
        indptr = arrays[f"W{K}_indptr"]
        rows = [indices[indptr[r] : indptr[r + 1]] for r in range(len(indptr) - 1)]
        assume = all((np.diff(r) > 0).all() for r in rows)
        if not assume:
            pytest.skip("the boundary value would repeat a column in that row")
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    code, lines = cli_error("info", "--weights", str(path), "--json")
    assert (code, lines) == (0, [])


# -- the dump loader (mlpvm/debug/dump.py) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> dict[str, np.ndarray]:
    """The members of a dump of pass 2 of hello (``trace --layers``)."""
    root = tmp_path_factory.mktemp("dump")
    hello = Path(__file__).parent.parent / "programs" / "hello.asq"
    out, layers = root / "t.jsonl", root / "l.npz"
    result = CliRunner().invoke(cli, ["trace", str(hello), "-o", str(out), "--layers", str(layers), "--passes", "2"])
    assert result.exit_code == 0, result.output
    with np.load(layers, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _dump_fields(a: dict, layer: str, change) -> dict:
    info = json.loads(str(a["meta"]))
    change(info["fields"][layer])
    return {**a, "meta": np.array(json.dumps(info))}


def _decoded(a: dict, **changes) -> dict:
    return {**a, "pass2.decoded": np.array(json.dumps({**json.loads(str(a["pass2.decoded"])), **changes}))}


DUMP = {
    "layer vector one short": (lambda a: {**a, "pass2.read.0": a["pass2.read.0"][:-1]}, "pass2.read.0 is uint8"),
    "layer vector one long": (
        lambda a: {**a, "pass2.read.0": np.append(a["pass2.read.0"], np.uint8(0))},
        "more than the",
    ),
    "layer vector of int16": (lambda a: {**a, "pass2.read.0": a["pass2.read.0"].astype(np.int16)}, "more than the"),
    "layer vector of int8": (lambda a: {**a, "pass2.read.0": a["pass2.read.0"].astype(np.int8)}, "is int8"),
    "field offset -1": (lambda a: _dump_fields(a, "read.0", lambda f: f[0].__setitem__(1, -1)), "'read.0'"),
    "field dimension -1": (lambda a: _dump_fields(a, "read.0", lambda f: f[0].__setitem__(2, [-1])), "'read.0'"),
    "field dimension true": (lambda a: _dump_fields(a, "read.0", lambda f: f[0].__setitem__(2, [True])), "'read.0'"),
    "decoded value true": (lambda a: _decoded(a, pc=True), "pass2.decoded is not a JSON object of numbers"),
    "decoded value 0.5": (lambda a: _decoded(a, pc=0.5), "pass2.decoded is not a JSON object of numbers"),
    "decoded a list": (lambda a: {**a, "pass2.decoded": np.array("[]")}, "pass2.decoded is not a JSON object"),
    "meta without fields": (
        lambda a: {**a, "meta": np.array(json.dumps({"layers": [], "config": {}}))},
        "'meta' is not an object",
    ),
    "meta of numbers": (lambda a: {**a, "meta": np.arange(3)}, "'meta' is not a JSON string"),
}


@pytest.mark.parametrize("name", DUMP)
def test_a_dump_one_past_a_boundary_is_refused(tmp_path, dump, name):
    mutate, pattern = DUMP[name]
    path = tmp_path / "d.npz"
    np.savez(path, **mutate(dict(dump)))
    with pytest.raises(MlpvmError) as e:
        mlpvm.load_dump(path)
    line = str(e.value)
    assert "\n" not in line and line.startswith(f"{path}: not a dump: ") and pattern in line, line


def test_a_dump_as_written_loads(tmp_path, dump):
    path = tmp_path / "d.npz"
    np.savez(path, **dump)
    loaded = mlpvm.load_dump(path)
    vector = dump["pass2.read.0"]
    fields = json.loads(str(dump["meta"]))["fields"]["read.0"]
    assert sum(loaded["pass2"]["read.0"][name].size for name, _, _ in fields) == vector.size
    assert loaded["pass2"]["decoded"] == json.loads(str(dump["pass2.decoded"]))


# -- the image loaders (mlpvm/program/load.py, image.py) -----------------------------------------------------

HALT = "0 0 -1"  # a program that halts at once; the words after it are data


IMAGES = {  # name: (file name, text, extra options, words of the refusal); 16-bit words unless said
    "word one past the largest": ("w.sq", f"{HALT} 65536", (), "word 3 (65536) does not fit in 16 bits"),
    "word one below the least": ("w.sq", f"{HALT} -32769", (), "word 3 (-32769) does not fit in 16 bits"),
    "one word more than the cells": ("w.sq", f"{HALT} 1 2", ("--cells", "4"), "5 words do not fit in 4 cells"),
    "paper operand a = cells": (
        "p.json", '{"slots": [[4, 0, 0]], "data": [0]}', ("--cells", "4"), "operands a=4, b=0 must address cells"
    ),
    "paper operand b = -1": (
        "p.json", '{"slots": [[0, -1, 0]], "data": [0]}', ("--cells", "4"), "operands a=0, b=-1 must address cells"
    ),
    "paper jump target = slots": (
        "p.json", '{"slots": [[0, 0, 16]], "data": [0]}', ("--cells", "4", "--slots", "16"), "jump target c=16"
    ),
    "paper jump target -1": (
        "p.json", '{"slots": [[0, 0, -1]], "data": [0]}', ("--cells", "4", "--slots", "16"), "jump target c=-1"
    ),
    "paper slot of true": ("p.json", '{"slots": [[0, 0, true]], "data": [0]}', (), "slot 0 is not [a, b, c]"),
    "paper data of true": ("p.json", '{"slots": [[0, 0, 0]], "data": [true]}', (), '"data" must be a list'),
    "paper one slot more than asked": (
        "p.json", '{"slots": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]}', ("--slots", "2"), "3 instructions do not"
    ),
    "paper bits one below the least": ("p.json", '{"slots": [[0, 0, 0]], "bits": 3}', (), '"bits" must be between'),
    "paper bits one past the most": ("p.json", '{"slots": [[0, 0, 0]], "bits": 33}', (), '"bits" must be between'),
    "paper bits 1e400": ("p.json", '{"slots": [[0, 0, 0]], "bits": 1e400}', (), '"bits" must be an integer'),
    "paper bits true": ("p.json", '{"slots": [[0, 0, 0]], "bits": true}', (), '"bits" must be an integer'),
    "paper cells one past a power of two": (
        "p.json", '{"slots": [[0, 0, 0]], "cells": 5}', (), '"cells" must be a power of two'
    ),
    "paper slots_count one below the least": (
        "p.json", '{"slots": [[0, 0, 0]], "slots_count": 1}', (), '"slots_count" must be a power of two'
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", IMAGES)
def test_an_image_one_past_a_boundary_is_refused(tmp_path, name):
    file, text, options, pattern = IMAGES[name]
    path = tmp_path / file
    path.write_text(text)
    refused_in_one_line(path, pattern, "run", *options, str(path))


@pytest.mark.parametrize(
    ("file", "text", "options"),
    [("w.sq", f"{HALT} 65535", ()), ("w.sq", f"{HALT} -32768", ()), ("w.sq", f"{HALT} 1", ("--cells", "4")),
     ("p.json", '{"slots": [[3, 3, 15]], "data": [0]}', ("--cells", "4", "--slots", "16")),
     ("p.json", '{"slots": [[0, 0, 0]], "bits": 32, "cells": 4, "slots_count": 2}', ()),
     ("p.json", '{"slots": [[0, 0, 0]], "bits": 4}', ())],
    ids=["largest word", "least word", "as many words as cells", "paper operands and target at the last",
         "paper hints at the largest and least", "paper bits at the least"],
)  # fmt: skip
def test_an_image_at_a_boundary_runs(tmp_path, file, text, options):
    path = tmp_path / file
    path.write_text(text)
    result = CliRunner().invoke(cli, ["run", *options, "--max-steps", "100", str(path)])
    assert result.exit_code in (0, 3) and result.stderr.count("error") == 0, result.stderr


# -- the source-map loader (mlpvm/program/sourcemap.py) ---------------------------------------------------------


@pytest.fixture(scope="module")
def source_map(tmp_path_factory) -> tuple[Path, dict]:
    """hello.asq assembled, and its map."""
    root = tmp_path_factory.mktemp("map")
    image, path = root / "h.sq", root / "h.map"
    hello = Path(__file__).parent.parent / "programs" / "hello.asq"
    result = CliRunner().invoke(cli, ["asm", str(hello), "-o", str(image), "--map", str(path)])
    assert result.exit_code == 0, result.output
    return image, json.loads(path.read_text())


def _first(doc: dict) -> dict:
    return next(iter(doc["cells"].values()))


MAPS = {  # name: (mutation of the map, words of the refusal; None: still a valid map)
    "cell -1": (lambda d: d["cells"].__setitem__("-1", _first(d)), "'-1' is not an address"),
    "cell 2^32": (lambda d: d["cells"].__setitem__(str(1 << 32), _first(d)), "is not an address"),
    "cell 2^32 - 1": (lambda d: d["cells"].__setitem__(str((1 << 32) - 1), _first(d)), None),
    "label -1": (lambda d: d["labels"].__setitem__("z", -1), "-1 is not an address"),
    "label 2^32": (lambda d: d["labels"].__setitem__("z", 1 << 32), "is not an address"),
    "code -1": (lambda d: d["code"].append(-1), "-1 is not an address"),
    "code 0": (lambda d: d["code"].append(0), None),
    "line 0": (lambda d: _first(d).__setitem__("line", 0), "0 is not a line number"),
    "line 1": (lambda d: _first(d).__setitem__("line", 1), None),
    "column 0": (lambda d: _first(d).__setitem__("col", 0), "0 is not a column"),
    "line true": (lambda d: _first(d).__setitem__("line", True), "True is not a line number"),
    "cells a list": (lambda d: d.__setitem__("cells", []), '"cells" must be a JSON object'),
    "code null": (lambda d: d.__setitem__("code", None), '"code" must be a JSON list'),
}


@pytest.mark.parametrize("name", MAPS)
def test_a_source_map_at_and_past_a_boundary(tmp_path, source_map, name):
    image, doc = source_map
    mutate, pattern = MAPS[name]
    doc = json.loads(json.dumps(doc))
    mutate(doc)
    path = tmp_path / "x.map"
    path.write_text(json.dumps(doc))
    if pattern is None:
        result = CliRunner().invoke(cli, ["disasm", str(image), "--map", str(path)])
        assert result.exit_code == 0 and result.stderr == "", result.output
    else:
        refused_in_one_line(path, pattern, "disasm", str(image), "--map", str(path))
