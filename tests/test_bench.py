"""``mlpvm bench`` measures and reports; these tests check what it measures and prints, never how fast."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlpvm import bench
from mlpvm.cli import cli, console
from mlpvm.engines import ENGINES, have_numba
from mlpvm.machines import reference
from mlpvm.machines.config import Config
from mlpvm.program.inputs import Input
from tests.conftest import EXTERNAL, needs_numba

# The benchmark runs the debugger (its fast reference) and eForth's boot: compiled with numba, seconds; without
# it, plain Python, minutes (a test limit, not a skip). So those tests need the fast extra.


def test_the_benchmark_program_never_stops_and_never_does_io():
    ref = reference.load(Config(), bench.counter_loop(1000))
    assert reference.run(ref, Input(closed=False), 20_000) == "limit" and not ref.output


def small(monkeypatch) -> None:
    monkeypatch.setattr(bench, "BUDGETS", {False: (0.005, 1), True: (0.005, 1)})
    monkeypatch.setattr(bench, "SCALING_CELLS", (64, 128))
    monkeypatch.setattr(bench, "BATCH", 4)  # the command imports mlpvm.bench when it runs: patched here
    monkeypatch.setattr(bench, "BIG_BATCH", 70)
    monkeypatch.setattr(bench, "HISTORY_BACK", {False: 3000, True: 3000})
    monkeypatch.setattr(bench, "EXTRA", 500)


@needs_numba
def test_bench_json_has_every_measurement(monkeypatch):
    small(monkeypatch)
    result = CliRunner().invoke(cli, ["bench", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    engines = doc["engines"]["engines"]
    assert set(engines) == set(ENGINES) and "dense weights" in engines["dense"]["skipped"]
    for name in ("structured", "sparse", *(["compiled", "unrolled"] if have_numba() else [])):
        assert engines[name]["single"]["median"] > 0 and engines[name]["batched"]["median"] > 0
    assert doc["engines"]["reference"]["median"] > 0
    assert doc["engines"]["debug_continue"]["median"] > 0 and doc["engines"]["debug_continue_eforth"]["median"] > 0
    h = doc["debug_history"]
    assert (h["passes"], h["back"], h["reached_pass"]) == (3500, 3000, 500)
    assert h["reverse_continue_stop"] == "history at pass 0" and 0 < h["history_bytes"] < h["peak_bytes"]
    assert [r["cells"] for r in doc["scaling"]] == [64, 128]
    for row in doc["scaling"]:
        assert 0 < row["touched_per_pass"] < row["stored_nonzeros"] and row["csr_bytes"] > 0
        assert set(row["us_per_pass"]) >= {"structured", "sparse"}
    assert "dense" in doc["scaling"][0]["us_per_pass"]  # small enough at M = 64
    a = doc["arithmetic"]
    assert 0 < a["units_per_pass"] < a["touched_per_pass"] < a["stored_nonzeros"] / 100
    assert ("efficiency" in a) == have_numba()
    # Issue 21's targets: the engines' own medians, against the reference of the same run.
    ref, targets = doc["engines"]["reference"]["median"], doc["engines"]["targets"]
    assert doc["engines"]["big_batch"] == 70
    for key, rows in (("single", "single"), ("big", "big")):
        t = targets[key]
        assert (t["target_passes_per_s"], t["target_x_reference"]) == bench.TARGETS[key]
        for name, row in t["engines"].items():
            got = engines[name][rows]["median"]
            assert row["passes_per_s"] == got and abs(row["x_reference"] - got / ref) < 1e-9 * got
            assert abs(row["short_of_rate"] * got - t["target_passes_per_s"]) < 1e-6 * t["target_passes_per_s"]
    assert set(targets["single"]["engines"]) == {n for n in ENGINES if not engines[n]["skipped"]}
    assert set(targets["big"]["engines"]) == {n for n in bench.BIG_ENGINES if not engines[n]["skipped"]}
    m = doc["machine"]
    assert m["cores"] >= 1 and len(m["load"]) == len(m["load_after"]) == 3 and m["date"].endswith("UTC")
    if "bound" in a:  # the unrolled engine's: instructions counted in its code, lines from its arrays
        c = a["bound"]
        assert (
            a["units_per_pass"] < c["instructions_one"] and c["instructions_per_machine_batch"] < c["instructions_one"]
        )
        assert c["state_lines"] >= 1 and c["state_bytes_read"] > 0 and c["copy_bytes_per_s"] > 0
        assert c["memory_bound"] == c["copy_bytes_per_s"] / (64 * c["state_lines"])
    if have_numba():  # the bits engine's bound, from its program: ops and reads fewer than the stored weights
        b = a["bits"]
        assert 0 < b["ops"] < b["literal_reads"] < a["stored_nonzeros"] and b["state_bytes_bits"] * 8 >= b["state_bits"]
        assert b["one_efficiency"] > 0 and b["batch_efficiency"] > 0


@needs_numba
def test_bench_tables_fit_80_columns(monkeypatch):
    """Every table whole in an 80-column terminal: nothing cut off (Rich would end a cell with an ellipsis)."""
    small(monkeypatch)
    monkeypatch.setattr(console, "PIPE_WIDTH", 80)
    result = CliRunner().invoke(cli, ["bench", "--quick"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.output and max(len(line) for line in result.output.splitlines()) <= 80


@needs_numba
def test_bench_tables(monkeypatch):
    small(monkeypatch)
    result = CliRunner().invoke(cli, ["bench", "--quick"])
    assert result.exit_code == 0, result.output
    titles = ["Engines: subleq", "Targets (issue 21)", "Arithmetic of one pass", "Scaling: subleq",
              "reference (steps/s)", "debug continue, eForth", "Debugger history: eForth",
              "reverse-step 3,000"]  # fmt: skip
    for title in titles + (["bits engine, batch, against the bare loop"] if have_numba() else []):
        assert title in result.output


@needs_numba
def test_eforth_part_types_a_line_after_the_boot():
    doc = bench.eforth(EXTERNAL / "howerj-subleq-vhdl/echo.dec", "hi", lambda what, done: None)
    boot, line = doc["parts"]
    assert (boot["output"], boot["reason"]) == ("", "wait")
    assert (line["output"], line["reason"]) == ("hi\n", "wait")


@needs_numba
def test_eforth_only_skips_the_rest(monkeypatch):
    small(monkeypatch)
    echo = str(EXTERNAL / "howerj-subleq-vhdl/echo.dec")
    doc = json.loads(CliRunner().invoke(cli, ["bench", "--json", "--eforth", echo, "--eforth-only"]).output)
    assert "engines" not in doc and doc["eforth"]["parts"][0]["reason"] == "wait"
