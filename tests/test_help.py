"""Every --help fits 80 columns (issue 28): a walk of the Click command tree with COLUMNS=80, each line at most
80 characters, and no word broken in two (every word shown is a word of the help's own text)."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from mlpvm.cli import COMMANDS, cli

WIDTH = 80


def _commands() -> list[tuple[str, ...]]:
    """Every command path: the group itself, each command, and any subcommands."""
    paths: list[tuple[str, ...]] = [()]
    ctx = click.Context(cli)
    for name in COMMANDS:
        paths.append((name,))
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in command.list_commands(ctx)]
    return paths


def _source_words(path: tuple[str, ...]) -> set[str]:
    """The words the help of ``path`` is made of: its text, its options' names, help, metavars and choices,
    and Click's own few."""
    ctx = click.Context(cli)
    command: click.Command = cli
    for name in path:
        command = command.get_command(ctx, name)  # type: ignore[attr-defined]
    texts = [command.help or "", command.short_help or "", "Usage: mlpvm [OPTIONS] COMMAND [ARGS]... Options: "
             "Commands: Show this message and exit. Show the version and exit. [default: [required] INTEGER TEXT "
             "FILE PATH RANGE FLOAT x>=1 1<=x"]  # fmt: skip
    texts += ["mlpvm", *path]
    if isinstance(command, click.Group):
        texts += list(COMMANDS)
        texts += [cli.get_command(ctx, n).get_short_help_str(200) for n in COMMANDS]
        texts += [cli.get_command(ctx, n).help or "" for n in COMMANDS]
    for param in command.get_params(ctx):
        texts += [*param.opts, *param.secondary_opts, param.metavar or "", param.name or "", str(param.default)]
        texts += [getattr(param, "help", None) or "", *map(str, getattr(param.type, "choices", ()) or ())]
        texts.append(param.make_metavar(ctx) if hasattr(param, "make_metavar") else "")
    return {w for text in texts for w in _words(text)}


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z]{3,}", text)]


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "mlpvm")
def test_help_fits_80_columns_and_breaks_no_word(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="mlpvm", terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    too_long = [line for line in lines if len(line) > WIDTH]
    assert not too_long, "\n".join(too_long)
    known = _source_words(path)
    broken = sorted({w for w in _words(result.output) if w not in known})
    assert not broken, broken
