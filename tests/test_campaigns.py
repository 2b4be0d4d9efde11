"""Campaigns (``mlpvm verify`` sharded): one process and a local Dask cluster give the same summary, a killed
or interrupted campaign resumes from its store to the summary of an uninterrupted one, a store of another
campaign is refused, and no worker process outlives its campaign."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from mlpvm.check import campaign, cluster, mutate
from mlpvm.check import verify as verifying
from mlpvm.check.campaign import MutantCampaign, VerifyCampaign, meta, run_shard, verify_summary
from mlpvm.check.mutate import Mutant, plant
from mlpvm.cli import bench as bench_cli
from mlpvm.cli import cli
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network, save
from tests.conftest import ROOT

SMALL = Config("subleq", 8, 32)
# A small campaign: 4 shards of 15 random programs on the numpy engine (nothing to compile in each worker).
CAMPAIGN = ("--random", "60", "--bits", "8", "--cells", "32", "--max-steps", "100", "--shard-size", "15",
            "--engine", "structured", "--json")  # fmt: skip
LONG = ("--random", "300", "--bits", "8", "--cells", "32", "--max-steps", "150", "--shard-size", "10",
        "--engine", "structured", "--json")  # fmt: skip

# Without distributed, the cluster tests are skipped, except in CI, where the extra must be installed.
needs_cluster = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None and not os.environ.get("CI"),
    reason="a local cluster needs the cluster extra",
)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def mlpvm(*args: str) -> subprocess.CompletedProcess:
    """``mlpvm ARGS`` in a new session, checked afterwards for processes it left behind."""
    proc = subprocess.Popen(*_command(args), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    out, err = proc.communicate(timeout=240)
    assert_no_leftovers(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _command(args) -> tuple[list[str], ...]:
    return ([sys.executable, "-m", "mlpvm", *args],)


def assert_no_leftovers(session: int) -> None:
    """No process of the session that ``session`` led is still alive (workers, nannies, resource trackers)."""
    deadline = time.monotonic() + 10  # a worker may take a moment to see its scheduler close
    while True:
        alive = []
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
            try:
                if os.getsid(pid) == session:
                    alive.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        if not alive:
            return
        if time.monotonic() > deadline:
            for pid in alive:  # do not leave them for the rest of the suite
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"processes left behind: {alive}")
        time.sleep(0.2)


def summary(output: str) -> dict:
    """A campaign's JSON summary without its time (the one field that depends on the run)."""
    doc = json.loads(output)
    doc.pop("seconds")
    return doc


def stored(path: Path) -> int:
    try:
        with sqlite3.connect(path) as db:
            return db.execute("select count(*) from shards").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def wait_for_shards(path: Path, proc: subprocess.Popen, n: int) -> None:
    deadline = time.monotonic() + 180
    while stored(path) < n:
        assert proc.poll() is None, "the campaign ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.fixture(scope="module")
def single() -> dict:
    """The small campaign on one process."""
    result = invoke("verify", *CAMPAIGN)
    assert result.exit_code == 0, result.output
    return summary(result.output)


@pytest.fixture(scope="module")
def uninterrupted() -> dict:
    """The long campaign on one process, uninterrupted."""
    result = invoke("verify", *LONG)
    assert result.exit_code == 0, result.output
    return summary(result.output)


def test_sharded_run_checks_what_the_unsharded_library_call_checks(single):
    """The shards together check each program exactly as one verify() over all of them (passes differ: a
    shard is its own batch)."""
    report = verifying.verify(verifying.random_cases(SMALL, 60), "structured", max_steps=100)
    assert single["ok"] and single["checked"] == report.checked == 60
    assert single["steps"] == report.steps and single["stops"] == dict(report.stops)


@needs_cluster
def test_a_local_cluster_of_two_workers_gives_the_single_process_summary(single):
    result = mlpvm("verify", *CAMPAIGN, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == single


@pytest.fixture(scope="module")
def bad_weights(tmp_path_factory) -> Path:
    """Cell 20, bit 0 can never be written as 1: several random programs diverge, in several shards."""
    weights = compile_network(build(SMALL))
    k = [layer.name for layer in weights.layers].index("write.1")
    row = weights.layers[k].outputs["mem"].offset + 20 * 8
    path = tmp_path_factory.mktemp("bad") / "bad.npz"
    save(plant(weights, Mutant(k, row, "mem", "drop")), path)
    return path


@needs_cluster
def test_the_first_divergence_in_shard_order_is_reported_on_a_cluster_as_on_one_process(bad_weights):
    args = ("verify", "--weights", str(bad_weights), "--random", "40", "--shard-size", "2", "--json")
    alone = invoke(*args)
    assert alone.exit_code == 1
    doc = summary(alone.stdout)  # (stderr: the engine it fell back to)
    fail = doc["failure"]
    assert fail["shard"] == fail["seed"] // 2 > 0  # not in the first shard: earlier shards are counted
    assert doc["checked"] >= 2 * fail["shard"]
    together = mlpvm(*args, "--workers", "2")
    assert together.returncode == 1, together.stderr
    assert summary(together.stdout) == doc


def test_a_divergence_names_its_shard_and_the_command_that_checks_it_alone(bad_weights):
    result = invoke("verify", "--weights", str(bad_weights), "--random", "40", "--shard-size", "2")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("DIVERGED in random program, seed ")
    seed = int(lines[0].split("seed ")[1].split()[0])
    shard = seed // 2
    assert f"  in shard {shard} of the campaign, with programs {2 * shard} to {2 * shard + 1}" in lines
    assert any(line.startswith(f"  check it alone: mlpvm verify --random 1 --seed {seed} ") for line in lines)


def test_a_killed_campaign_resumes_to_the_uninterrupted_summary(tmp_path, uninterrupted):
    store = tmp_path / "campaign.sqlite"
    proc = subprocess.Popen(*_command(("verify", *LONG, "--store", str(store))), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for_shards(store, proc, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_no_leftovers(proc.pid)
    kept = stored(store)
    assert 3 <= kept < 30  # of 30 shards: it stopped mid-run, and kept what it finished
    resumed = invoke("verify", *LONG, "--store", str(store), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert summary(resumed.output) == uninterrupted
    assert stored(store) == 30


@needs_cluster
def test_ctrl_c_stops_a_cluster_campaign_cleanly_and_it_resumes(tmp_path, uninterrupted):
    """Ctrl-C at a terminal reaches the whole process group: the command, the workers and their nannies."""
    store = tmp_path / "campaign.sqlite"
    command = _command(("verify", *LONG, "--store", str(store), "--workers", "2"))
    proc = subprocess.Popen(*command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_shards(store, proc, 2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert_no_leftovers(proc.pid)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] and not doc["ok"] and doc["checked"] < 300
    assert "Traceback" not in err
    assert 2 <= stored(store) < 30
    resumed = invoke("verify", *LONG, "--store", str(store), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert summary(resumed.output) == uninterrupted


def test_a_store_of_another_campaign_is_refused(tmp_path):
    store = str(tmp_path / "campaign.sqlite")
    first = invoke("verify", *CAMPAIGN, "--store", store)
    assert first.exit_code == 0
    other = invoke("verify", *CAMPAIGN, "--seed", "1", "--store", store, "--resume")
    assert other.exit_code == 2
    assert other.output == (
        f"mlpvm: error: {store} holds another campaign (--seed 0 there, 1 here); give another --store, or its options\n"
    )
    again = invoke("verify", *CAMPAIGN, "--store", store)  # the same campaign, but not asked to resume
    assert again.exit_code == 2 and "add --resume" in again.output and len(again.output.splitlines()) == 1
    mutants = invoke("verify", "--mutants", "--store", store, "--resume")
    assert mutants.exit_code == 2 and "a verify campaign there, a mutants campaign here" in mutants.output
    assert stored(Path(store)) == 4  # nothing lost


def test_a_finished_campaign_resumes_to_its_summary_without_running_anything(tmp_path, single, monkeypatch):
    store = str(tmp_path / "campaign.sqlite")
    assert invoke("verify", *CAMPAIGN, "--store", store).exit_code == 0
    monkeypatch.setattr(campaign, "run_shard", None)  # running a shard now would fail
    resumed = invoke("verify", *CAMPAIGN, "--store", store, "--resume")
    assert resumed.exit_code == 0 and summary(resumed.output) == single


def test_not_a_store_is_one_line(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database\n" * 100)
    result = invoke("verify", *CAMPAIGN, "--store", str(junk), "--resume")
    assert result.exit_code == 2 and result.output.startswith(f"mlpvm: error: {junk}: not a campaign store")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("create table notes (text)")
    result = invoke("verify", *CAMPAIGN, "--store", str(other))
    assert result.output == f"mlpvm: error: {other}: not a campaign store (it has tables notes)\n"
    with sqlite3.connect(other) as db:  # left as it was
        assert [name for (name,) in db.execute("select name from sqlite_master")] == ["notes"]
    nowhere = tmp_path / "no" / "such.sqlite"
    result = invoke("verify", *CAMPAIGN, "--store", str(nowhere))
    assert result.output == f"mlpvm: error: {nowhere}: no such directory\n"


def test_cluster_options_without_the_extra_name_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    for option in (("--workers", "2"), ("--address", "127.0.0.1:8786")):
        result = invoke("verify", *CAMPAIGN, *option)
        assert result.exit_code == 2
        assert result.output == f"mlpvm: error: {option[0]} needs the cluster extra: pip install 'mlpvm[cluster]'\n"


def test_campaign_option_mistakes_are_usage_errors():
    both = invoke("verify", *CAMPAIGN, "--workers", "2", "--address", "127.0.0.1:8786")
    assert both.exit_code == 2 and "give one of them" in both.output
    alone = invoke("verify", *CAMPAIGN, "--resume")
    assert alone.exit_code == 2 and "--resume needs --store FILE" in alone.output


@needs_cluster
def test_an_address_with_no_scheduler_is_one_line(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT", 1)
    result = invoke("verify", *CAMPAIGN, "--address", "127.0.0.1:1")
    assert result.exit_code == 2 and result.output.startswith("mlpvm: error: --address 127.0.0.1:1: no Dask")
    for bad in ("localhost", "127.0.0.1:port", "http://127.0.0.1:1"):
        result = invoke("verify", *CAMPAIGN, "--address", bad)
        assert result.exit_code == 2 and result.output.startswith(f"mlpvm: error: --address {bad}: ")
        assert len(result.output.splitlines()) == 1


def test_shards_of_verify_are_deterministic_and_cover_the_campaign_once():
    c = VerifyCampaign((), "", False, meta(SMALL), 25, 7, 50, "structured", "float32", 512, None, 10)
    assert [list(c.span(i)) for i in range(c.shards)] == [list(range(0, 10)), list(range(10, 20)), [20, 21, 22, 23, 24]]
    results = {i: run_shard(c, i) for i in reversed(range(c.shards))}  # in any order
    again = run_shard(c, 1)
    assert {**again, "seconds": 0} == {**results[1], "seconds": 0}  # the same work, whenever it runs
    report = verify_summary(c, results, 0.0)
    whole = verifying.verify(verifying.random_cases(SMALL, 25, 7), "structured", max_steps=50)
    assert (report.checked, report.steps, dict(report.stops)) == (whole.checked, whole.steps, dict(whole.stops))
    partial = verify_summary(c, {0: results[0], 2: results[2]}, 0.0)
    assert partial.interrupted and partial.checked == 15


def test_mutant_shards_give_what_the_battery_gives_unsharded():
    config = Config("paper", 4, 4, 2)
    c = MutantCampaign((meta(config),), 0, 8)
    assert c.parts()[:2] == [(0, 0, 8), (0, 8, 16)]
    got = campaign.mutant_results(c, {1: run_shard(c, 1)})[0]
    battery = campaign.battery(meta(config), 0)
    want = list(mutate.run(battery, c.mutants(0)[8:16]))
    assert [(r.mutant, r.planted, r.check, r.catch) for r in got] == [
        (r.mutant, r.planted, r.check, r.catch) for r in want
    ]


def test_the_makefile_installs_the_cluster_extra_so_ci_runs_the_cluster_tests():
    assert "cluster" in (ROOT / "Makefile").read_text().split("pip install -q -e '.[", 1)[1].split("]", 1)[0]


@needs_cluster
def test_bench_reports_aggregate_passes_per_second_for_one_and_two_workers(monkeypatch):
    from mlpvm import bench

    monkeypatch.setattr(bench, "CAMPAIGN", {True: (24, 8), False: (24, 8)})
    result = invoke("bench", "--campaign", "--quick", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)["campaign"]
    rows = doc["rows"]
    shown = Console(width=80, record=True, file=io.StringIO())
    shown.print(bench_cli._campaign(doc))  # the table, whole at 80 columns
    text = shown.export_text()
    assert "…" not in text and max(map(len, text.splitlines())) <= 80 and "local cluster, 2 workers" in text
    assert [r["workers"] for r in rows] == [None, 1, 2]
    alone = verifying.verify(verifying.random_cases(Config(), 24), max_steps=1000)
    assert all(r["steps"] == alone.steps and r["passes_per_s"] > 0 for r in rows)  # the whole campaign, each time
    assert_no_children()


def assert_no_children() -> None:
    """The local clusters started in this process have stopped with their workers (multiprocessing's resource
    tracker, one per process that ever spawned, stays until this process ends, as it does)."""
    import psutil

    def alive() -> list:
        left = []
        for p in psutil.Process().children(recursive=True):
            try:
                if "resource_tracker" not in " ".join(p.cmdline()):
                    left.append(p)
            except psutil.NoSuchProcess:  # ended meanwhile
                pass
        return left

    deadline = time.monotonic() + 10
    while left := alive():
        if time.monotonic() > deadline:
            pytest.fail(f"processes left behind: {left}")
        time.sleep(0.2)
