"""Bad input: one line naming the file and the problem, exit code 2, no traceback, nothing built or loaded that
should not be: malformed images, programs larger than memory, impossible configurations, bad weight files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mlpvm.cli import cli
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network, save
from tests.conftest import EXTERNAL, ROOT

HI = str(EXTERNAL / "howerj-subleq-vhdl/hi.dec")
HELLO = str(ROOT / "programs/hello.sq")


def refused(*args: str) -> str:
    """Runs the command; asserts exit code 2 and one line naming the problem (followed, where the problem has a
    column in a text file, only by that source line and a caret under the column), no traceback; returns the
    line."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not an uncaught error
    lines = result.output.rstrip("\n").splitlines()
    assert "Traceback" not in result.output, result.output
    assert len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^"), result.output
    return lines[0]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("words.dec", b"9 -1 3\n10 x -1\n", "words.dec:2:4: error: not a decimal word: 'x'"),
        ("under.dec", b"1_000 2 3", "under.dec:1:1: error: not a decimal word: '1_000'"),
        ("empty.dec", b"# only a comment\n", "empty.dec: error: empty image: no words"),
        ("binary.sq", b"\x00\x01\x02\x03", "binary.sq: error: binary data, not a text image"),
        ("latin.dec", b"1 2 \xe9", "latin.dec: error: not UTF-8 text (byte 4)"),
        ("huge.dec", b"1 " + b"9" * 5000, "huge.dec:1:3: error: a word of 5,000 digits is far too large"),
        (
            "wide.dec",
            b"1 2 3\n4 70000 6",
            "wide.dec:2:3: error: word 4 (70000) does not fit in 16 bits; --bits 18 would hold every word",
        ),
        ("slots.json", b'{"slots": [[0, 1]]}', "slots.json: error: slot 0 is not [a, b, c] of integers: [0, 1]"),
        ("broken.json", b'{"slots": [', "broken.json:1:12: error: not JSON: Expecting value"),
    ],
)
def test_malformed_images(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    assert refused("run", str(path)) == str(tmp_path) + "/" + problem
    assert refused("verify", str(path)) == str(tmp_path) + "/" + problem


def test_missing_image():
    assert refused("run", "no/such.dec") == "no/such.dec: error: no such file"


def test_words_too_large_for_the_width_asked():
    assert refused("run", "--bits", "6", HI).endswith(
        "hi.dec:10:1: error: word 9 (72) does not fit in 6 bits; --bits 8 would hold every word"
    )


@pytest.mark.parametrize("args", [("--cells", "16"), ("--bits", "4")])
def test_program_larger_than_memory(args):
    assert refused("run", *args, HELLO) == f"{HELLO}: error: 39 words do not fit in 16 cells"


def test_program_larger_than_a_weight_files_memory(tmp_path):
    w = tmp_path / "w.npz"
    save(compile_network(build(Config("subleq", 8, 32))), w)
    assert refused("run", "--weights", str(w), HELLO) == f"{HELLO}: error: 39 words do not fit in 32 cells"


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--bits", "32", "--cells", "1048576", HI),
        ("run", "--engine", "sparse", "--cells", "65536", "--bits", "24", HI),
        ("run", "--engine", "reference", "--bits", "32", "--cells", str(1 << 32), HI),
        ("build", "--bits", "32", "--cells", "1048576", "-o", "never.npz"),
        ("info", "--bits", "20", "--cells", "1048576"),
        ("verify", "--random", "1", "--bits", "32", "--cells", "1048576"),
    ],
)
def test_impossible_configurations_are_refused_before_building(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = refused(*args)
    assert "would need about" in line and "GiB of memory" in line and "refuses anything above 8.0 GiB" in line
    assert not Path("never.npz").exists()


def test_an_engine_that_cannot_hold_the_configuration():
    line = refused("verify", "--random", "1", "--engine", "dense")
    assert line == "mlpvm: error: the dense engine would hold 655,717,590 weights; use the sparse engine"


def test_an_impossible_word_width():
    assert refused("run", "--bits", "40", HI) == "mlpvm: error: --bits must be between 4 and 32, not 40"


@pytest.fixture(scope="module")
def arrays(tmp_path_factory) -> dict[str, np.ndarray]:
    """The arrays of a good weight file (subleq, 8 bits, 32 cells)."""
    path = tmp_path_factory.mktemp("w") / "good.npz"
    save(compile_network(build(Config("subleq", 8, 32))), path)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def weight_file(tmp_path: Path, arrays: dict, name: str = "w.npz", **changes) -> str:
    path = tmp_path / name
    np.savez(path, **{**arrays, **changes})
    return str(path)


def edited_meta(arrays: dict, **changes) -> np.ndarray:
    return np.array(json.dumps({**json.loads(str(arrays["meta"])), **changes}))


def test_weight_file_truncated(tmp_path, arrays):
    whole = Path(weight_file(tmp_path, arrays, "whole.npz")).read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole[: len(whole) // 2])
    line = refused("run", "--weights", str(cut), HI)
    assert line.startswith(f"mlpvm: error: {cut}: not a readable .npz archive (truncated or corrupt")


def test_weight_file_that_is_not_an_archive(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("not weights")
    assert refused("run", "--weights", str(path), HI) == f"mlpvm: error: {path}: not an .npz archive"


def test_weight_file_of_another_format_version(tmp_path, arrays):
    path = weight_file(tmp_path, arrays, meta=edited_meta(arrays, format="mlpvm-weights/2"))
    assert refused("run", "--weights", path, HI) == (
        f"mlpvm: error: {path}: format 'mlpvm-weights/2' is not 'mlpvm-weights/1'"
    )


def test_weight_file_whose_arrays_are_of_another_configuration(tmp_path, arrays):
    path = weight_file(tmp_path, arrays, meta=edited_meta(arrays, cells=64))  # the matrices are for 32 cells
    assert refused("run", "--weights", path, HI) == (
        f"mlpvm: error: {path}: its state is not that of subleq, 8-bit words, 64 cells: "
        "the matrices are of another configuration"
    )


def test_weight_file_of_another_configuration_than_asked(tmp_path, arrays):
    path = weight_file(tmp_path, arrays)
    assert refused("run", "--weights", path, "--bits", "16", HI) == (
        f"mlpvm: error: {path} is built for subleq, 8-bit words, 32 cells; drop --bits or rebuild"
    )
    assert "drop --cells or rebuild" in refused("verify", "--weights", path, "--cells", "64", "--random", "1")


def test_weight_file_with_nan(tmp_path, arrays):
    bias = arrays["b3"].astype(np.float32)
    bias[0] = np.nan
    path = weight_file(tmp_path, arrays, b3=bias)
    assert refused("run", "--weights", path, HI) == f"mlpvm: error: {path}: b3 contains NaN or infinity"


def test_weight_file_with_weights_too_large_for_the_dtype(tmp_path, arrays):
    data = arrays["W1_data"].astype(np.float32)
    data[0] = 5000.0
    path = weight_file(tmp_path, arrays, W1_data=data)
    line = refused("verify", "--weights", path, "--dtype", "float16", "--random", "1")
    assert line == (
        "mlpvm: error: float16 is not exact for these weights: a unit of layer fetch.1 can sum to 5,031, "
        "beyond the 2,048 that float16 holds exactly"
    )


class Payload:
    """Unpickling this would create a file: the proof that a pickle was (or was not) loaded."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_weight_file_with_pickled_objects_is_never_loaded(tmp_path, arrays):
    payload = Payload()
    payload.marker = tmp_path / "pickle-was-loaded"
    path = weight_file(tmp_path, arrays, evil=np.array([payload], dtype=object))
    assert refused("run", "--weights", path, HI) == (
        f"mlpvm: error: {path}: holds pickled objects, which are never loaded"
    )
    assert refused("info", "--weights", path).endswith("holds pickled objects, which are never loaded")
    assert not payload.marker.exists()
