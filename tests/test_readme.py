"""The README and the pages in docs/ are true: every ```console block marked runnable (an HTML comment
``<!-- runnable -->`` on the line before it) is run, command by command, and each command's stdout must be the
lines printed under it; every relative link names a file that exists; the site builds with no warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- runnable -->"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def runnable_examples(text: str) -> list[tuple[str, str]]:
    """(command, expected stdout) for every ``$ command`` of the marked console blocks."""
    examples = []
    for block in re.findall(re.escape(MARK) + r"\n```console\n(.*?)```", text, re.DOTALL):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, expected = chunk.partition("\n")
            examples.append((command, expected))
    return examples


def test_the_readme_marks_runnable_examples():
    examples = runnable_examples((ROOT / "README.md").read_text())
    assert len(examples) >= 5, "the README lost its runnable examples (or their marking)"
    assert runnable_examples(f"{MARK}\n```console\n$ a\nx\ny\n$ b\n```\n```console\n$ c\n```") == [
        ("a", "x\ny\n"),
        ("b", ""),
    ]


def all_examples() -> list:
    return [
        pytest.param(command, expected, id=f"{page.name}:{command[:40]}")
        for page in PAGES
        for command, expected in runnable_examples(page.read_text())
    ]


@pytest.mark.parametrize("command, expected", all_examples())
def test_a_readme_example_prints_what_the_readme_shows(command, expected):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == expected.rstrip("\n")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_names_a_file_that_exists(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # links in code are not links
    targets = [t for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in t]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"


def test_the_readme_is_a_front_door_and_docs_hold_the_reference():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 300, f"the README has {lines} lines: the reference belongs in docs/"
    nav = (ROOT / "docs" / "mkdocs" / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f" {page.name}" in nav, f"docs/{page.name} is not in the site's navigation"


def test_the_documentation_site_builds_with_no_warning(tmp_path):
    pytest.importorskip("mkdocs", reason="the documentation site needs mkdocs (the docs extra)")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "-q",
            "-f",
            str(ROOT / "docs" / "mkdocs" / "mkdocs.yml"),
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index.html").exists() and (tmp_path / "debugger" / "index.html").exists()
