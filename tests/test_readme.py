"""The README is true: every ```console block marked runnable (an HTML comment ``<!-- runnable -->`` on the
line before it) is run, command by command, and each command's stdout must be the lines printed under it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- runnable -->"


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


@pytest.mark.parametrize("command, expected", runnable_examples((ROOT / "README.md").read_text()))
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
