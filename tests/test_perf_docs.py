"""docs/performance.md holds exactly what ``make perf-docs`` writes from the stored runs in benchmarks/: no
figure typed by hand, none left stale."""

from __future__ import annotations

import copy
import json
import re

import pytest

from mlpvm import benchdoc
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "performance.md"
RUNS = sorted((ROOT / "benchmarks").glob("*.json"))


def test_the_page_is_what_the_stored_runs_give():
    assert RUNS, "no stored benchmark run in benchmarks/"
    page = PAGE.read_text()
    assert benchdoc.generated(page) == benchdoc.render(benchdoc.load(RUNS)), "run make perf-docs"
    assert benchdoc.update(page, benchdoc.load(RUNS)) == page


def test_every_stored_run_has_a_section_with_its_targets():
    docs = benchdoc.load(RUNS)
    text = benchdoc.render(docs)
    for doc in docs:
        assert f"`benchmarks/{doc['file']}`" in text and benchdoc.state(doc) in ("quiet", "loaded")
    assert text.count("Targets, the distance to each and its cause") == len(docs)


def test_no_figure_by_hand_outside_the_generated_part():
    """Rates, times, sizes and ratios appear only in the generated tables (and the README says none)."""
    page = PAGE.read_text()
    head, rest = page.split(benchdoc.BEGIN)
    prose = head + rest.split(benchdoc.END)[1]
    figure = r"\d[\d,.]*\s*(passes|steps|instructions)(/s| a second| per second)|\d+(\.\d+)?\s*(ms|s|MB|KB|GB|GB/s)\b"
    assert not re.search(figure + r"|\d+(\.\d+)?x\b|\d%", prose), re.search(figure, prose)
    readme = (ROOT / "README.md").read_text()
    measure = next(p for p in readme.split("\n\n") if p.startswith("**Measure it**"))
    assert not re.search(r"\d", measure), measure


def test_a_changed_figure_changes_the_page():
    """The check can fail: a stored rate one higher gives another page."""
    docs = benchdoc.load(RUNS)
    changed = copy.deepcopy(docs)
    changed[0]["engines"]["reference"]["median"] += 1
    assert benchdoc.render(changed) != benchdoc.render(docs)


def test_the_state_of_a_run_comes_from_its_load():
    doc = json.loads(RUNS[0].read_text())
    doc["machine"].update(load=[0.3, 0, 0], load_after=[1.2, 0, 0])
    assert benchdoc.state(doc) == "quiet"
    doc["machine"].update(load=[3.0, 0, 0])
    assert benchdoc.state(doc) == "loaded"


def test_a_page_without_markers_is_refused():
    with pytest.raises(ValueError, match="markers"):
        benchdoc.update("# Performance\n", [])


def test_the_readme_performance_section_is_what_the_stored_runs_give():
    """The README's targets table per run, from the same stored runs; the numbers in it are the page's."""
    readme = (ROOT / "README.md").read_text()
    docs = benchdoc.load(RUNS)
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    assert benchdoc.generated(section) == benchdoc.summary(docs), "run make perf-docs"
    assert benchdoc.update(readme, docs, benchdoc.summary(docs)) == readme
    page = benchdoc.render(docs)
    for doc in docs:
        _header, rows = benchdoc.target_rows(doc)
        for row in rows:
            assert all(cell in page for cell in row[:5])
            assert " | ".join(row[:5]) in section
