"""One vocabulary of options (issue 10): an option name means one thing in every command that has it, with the
same type, the same choices and the same gist in its help. Real differences are listed, each with why."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mlpvm.cli import COMMANDS, cli

# What every --help of an option shared by several commands must say (a phrase of its meaning).
GIST = {
    "--machine": "subleq (von Neumann, default) or paper (Harvard)",
    "--bits": "Word width",
    "--cells": "Memory",
    "--slots": "Instruction slots K",
    "--engine": "The network engine (neural = the fastest exact one",
    "--providers": "ONNX Runtime execution providers",
    "--max-steps": "(0 = no limit; default: ",
    "--eof-reads": "reads the end of its input (-1) more than N times (0 = no limit; default: 8)",
    "--input": r"Program input; \n \r \t \\ \xHH are escapes",
    "--input-file": "the bytes of FILE, as they are",
    "--json": "JSON",
    "--quiet": "No live progress on stderr",
    "--weights": "weight file",
    "--output": "write",
    "--map": "source map",
}

# (option, command): where the type or the choices differ on purpose.
DIFFERENT = {
    # run alone can run the plain interpreter instead of the network, to compare with it
    ("--engine", "run"): "reference is run's extra choice",
    # asm checks that a program fits a memory of any size (default 2**bits); the network's M is a power of two
    ("--cells", "asm"): "any number of cells the program must fit",
}


def _options() -> dict[str, list[tuple[str, click.Option]]]:
    """Each visible option name, and the commands that have it."""
    ctx = click.Context(cli)
    found: dict[str, list[tuple[str, click.Option]]] = {}
    for name in COMMANDS:
        for param in cli.get_command(ctx, name).params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts + param.secondary_opts:
                    found.setdefault(opt, []).append((name, param))
    return found


def _kind(param: click.Option) -> tuple:
    t = param.type
    return (
        param.is_flag,
        param.multiple,
        type(t).__name__,
        tuple(getattr(t, "choices", ()) or ()),
        getattr(t, "min", None),
        getattr(t, "max", None),
    )


SHARED = {opt: uses for opt, uses in _options().items() if len(uses) > 1 and opt.startswith("--")}


def test_every_shared_option_has_a_gist_and_the_list_names_only_real_options():
    assert set(SHARED) <= set(GIST), sorted(set(SHARED) - set(GIST))
    assert {opt for opt, _ in DIFFERENT} <= set(SHARED)
    assert {cmd for _, cmd in DIFFERENT} <= set(COMMANDS)


@pytest.mark.parametrize("opt", sorted(SHARED))
def test_an_option_name_has_one_meaning_in_every_command(opt):
    uses = [(cmd, p) for cmd, p in SHARED[opt] if (opt, cmd) not in DIFFERENT]
    kinds = {cmd: _kind(p) for cmd, p in uses}
    assert len(set(kinds.values())) == 1, kinds
    for cmd, p in SHARED[opt]:
        assert GIST[opt].lower() in (p.help or "").lower(), (cmd, p.help)
    # the same short name, if any, and the same meaning of the value: a flag is a flag everywhere
    assert len({tuple(p.opts) for _, p in SHARED[opt]}) == 1, [(c, p.opts) for c, p in SHARED[opt]]


def test_every_listed_difference_is_still_a_difference():
    for opt, cmd in DIFFERENT:
        kinds = {c: _kind(p) for c, p in SHARED[opt]}
        others = {kind for c, kind in kinds.items() if (opt, c) not in DIFFERENT}
        assert kinds[cmd] not in others, f"{opt} in {cmd} is like the others now: drop it from DIFFERENT"


def test_one_name_is_never_a_flag_in_one_command_and_a_value_in_another():
    for opt, uses in _options().items():
        assert len({p.is_flag for _, p in uses}) == 1, (opt, [(c, p.is_flag) for c, p in uses])


def test_the_engine_names_are_the_same_wherever_an_engine_runs():
    engines = {cmd: tuple(p.type.choices) for cmd, p in SHARED["--engine"]}
    assert {"run", "debug", "trace", "verify"} <= set(engines)
    network = engines["debug"]
    assert all(choices == network for cmd, choices in engines.items() if cmd != "run")
    assert engines["run"] == (*network, "reference")


def test_quiet_is_in_every_command_with_live_progress():
    assert {cmd for cmd, _ in _options()["--quiet"]} >= {"run", "trace", "verify", "bench", "build", "info"}


def test_the_max_steps_rule_names_every_default_that_help_shows():
    rule = " ".join(CliRunner().invoke(cli, ["--help"]).stdout.split())  # `mlpvm --help` states it once
    for cmd, p in SHARED["--max-steps"]:
        default = p.default
        shown = "none" if not default else f"{default:,}"
        if cmd == "run":  # the only default that depends on where it runs
            assert "none when stdin is a terminal, else 100,000,000" in p.help
        else:
            assert f"default: {shown})" in p.help, (cmd, p.help)
            assert (cmd == "debug" and shown == "none") or f"{cmd} {shown}" in rule, (cmd, rule)


def test_run_batch_file_is_the_name_and_the_old_batch_still_works_and_says_so(tmp_path):
    (tmp_path / "hello.sq").write_bytes(Path("programs/hello.sq").read_bytes())
    listing = tmp_path / "list.txt"
    listing.write_text("hello.sq\n")
    new = CliRunner().invoke(cli, ["run", "--batch-file", str(listing)])
    old = CliRunner().invoke(cli, ["run", "--batch", str(listing)])
    assert new.exit_code == old.exit_code == 0 and new.stdout == old.stdout and "Hello" in new.stdout
    assert new.stderr == ""
    assert old.stderr == "mlpvm: run --batch FILE is now --batch-file FILE (--batch is debug's gdb-style flag)\n"
    assert "--batch-file FILE" in CliRunner().invoke(cli, ["run", "--help"]).stdout
    assert "--batch " not in CliRunner().invoke(cli, ["run", "--help"]).stdout  # hidden
