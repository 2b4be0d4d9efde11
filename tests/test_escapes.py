"""Terminal escapes (issue 26, class 2): whatever the user did not type (a source line or comment, a string, a
file name, a -x script's line, a picture's path, prove's reproduce line) reaches stdout and stderr with its
control characters escaped (``mlpvm.errors.shown``), in every view that shows it."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mlpvm.check import mutate
from mlpvm.cli import cli
from mlpvm.errors import shown
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import compile_network, save

# ESC sequences (colour, OSC retitle), BEL, CR, a bidi override, a C1 control, a line separator
HOSTILE = "\x1b[31m\x07\r\u202e\x1b]0;pwned\x07\x9b2J\u2028"
ESCAPED = shown(HOSTILE)


def raw(text: str) -> list[str]:
    """The characters of ``text`` that a terminal would act on: all but printable ones, newline, tab, spaces."""
    return sorted({c for c in text if not (c.isprintable() or c in "\n\t" or unicodedata.category(c) == "Zs")})


def test_shown_escapes_every_control_and_keeps_the_rest():
    assert ESCAPED == "\\x1b[31m\\x07\\x0d\\u202e\\x1b]0;pwned\\x07\\x9b2J\\u2028"
    assert raw(ESCAPED) == [] and raw(HOSTILE)
    assert shown("a\tb\xa0c é 漢") == "a\tb\xa0c é 漢"  # tabs, no-break spaces and letters stay
    assert shown("a\nb") == "a\\x0ab" and shown("a\nb", lines=True) == "a\nb"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A program and an included file whose names, comments and strings hold ``HOSTILE``; a -x script too."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"inc{HOSTILE}.asq").write_text(f'H: 72 # inc {HOSTILE}\nZ: 0\n.S: "a{HOSTILE}b"\n')
    (tmp_path / f"p{HOSTILE}.asq").write_text(
        f'# top {HOSTILE}\nstart: H -1 ?  # out {HOSTILE}\nZ Z -1 # halt {HOSTILE}\n.include "inc{HOSTILE}.asq"\n'
    )
    # the script's lines hold no CR or line separator: those would end its lines
    line = HOSTILE.replace("\r", "").replace("\u2028", "")
    (tmp_path / f"s{HOSTILE}.x").write_text(f"# script {line}\nstep\nprint 1\nbogus{line}\n")
    return tmp_path


PROGRAM = f"p{HOSTILE}.asq"


def _clean(result, *must: str) -> None:
    """No raw control character on stdout or stderr, and each of ``must`` (escaped hostile text) shown."""
    text = result.stdout + result.stderr
    assert raw(text) == [], text
    for part in must:
        assert part in text, (part, text)


@pytest.mark.parametrize(
    "args",
    [
        ["disasm", PROGRAM],
        ["disasm", "--asm", PROGRAM],
        ["disasm", "--json", PROGRAM],
        ["run", "--max-steps", "1", PROGRAM],
        ["asm", PROGRAM, "-o", f"a{HOSTILE}.dec"],
        ["asm", PROGRAM, "-o", PROGRAM],  # an error naming the file
        ["trace", PROGRAM, "-o", f"t{HOSTILE}.jsonl"],
        ["build", "--bits", "8", "--cells", "32", "-o", f"w{HOSTILE}.npz"],
    ],
    ids=lambda args: " ".join(a for a in args if a.isprintable()),
)
def test_commands_escape_names_and_source(world, args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 2, 3), result.output
    _clean(result, "\\x1b[31m" if args[1] != "--json" else "\\u001b[31m")


def test_the_debugger_escapes_every_view(world):
    commands = ["break start", "run", "list", "bt", "info line", "x/4c S", "info frame", "disassemble",
                "info breakpoints", "display S", "step", "print Z", f"print {HOSTILE}"]  # fmt: skip
    args = ["debug", PROGRAM, "--batch"] + [a for c in commands for a in ("--ex", c)]
    result = CliRunner().invoke(cli, args)
    _clean(result, "# out \\x1b[31m", "# inc \\x1b[31m", "\\u202e", "\\x9b2J")
    assert result.stdout.count("\\x1b[31m") >= 8  # the source line in list, disassemble, the panel, file names


def test_the_debugger_escapes_a_scripts_lines_and_name(world):
    result = CliRunner().invoke(cli, ["debug", PROGRAM, "--batch", "-x", f"s{HOSTILE}.x"])
    assert result.exit_code == 2  # its last line is not a command
    _clean(result, "(mlpvm) # script \\x1b[31m", "(mlpvm) bogus\\x1b[31m")
    (world / f"s{HOSTILE}2.x").write_bytes(b"step\n\xff\n")  # not UTF-8: an error naming the script
    result = CliRunner().invoke(cli, ["debug", PROGRAM, "--batch", "-x", f"s{HOSTILE}2.x"])
    assert result.exit_code == 2
    _clean(result, f"s{ESCAPED}2.x:2: not UTF-8")


def test_picture_and_plot_paths_are_escaped(world):
    pytest.importorskip("matplotlib")
    name = HOSTILE.replace("\r", "")  # a debugger command's words end at a CR, as in a shell
    result = CliRunner().invoke(cli, ["debug", PROGRAM, "--batch", "--ex", "step", "--ex", f"picture q{name}.png",
                                      "--ex", f"dump d{name}.npz"])  # fmt: skip
    assert result.exit_code == 0, result.output
    _clean(result, f"to q{shown(name)}.png", f"to d{shown(name)}.npz")
    result = CliRunner().invoke(cli, ["plot", PROGRAM, "-o", f"r{HOSTILE}.png"])
    assert result.exit_code == 0, result.output
    _clean(result, f"wrote r{ESCAPED}.png")
    assert (world / f"r{HOSTILE}.png").read_bytes()[:4] == b"\x89PNG"


def test_the_reproduce_line_of_prove_is_escaped_and_still_names_the_file(world):
    """A weight file whose name holds control characters: the line shows none, and bash reads it as that name."""
    pytest.importorskip("z3")
    cfg = Config("subleq", 4, 4)
    weights = compile_network(build(cfg))
    units = [(k, u) for k, layer in enumerate(weights.layers) if layer.stage == "branch" for u in range(layer.b.size)]
    k, u = units[np.random.default_rng(3).integers(len(units))]
    mutant = mutate.Mutant(k, u, mutate.unit_name(weights.layers[k].outputs, u), "bias+1")
    name = f"w{HOSTILE}.npz"
    save(mutate.plant(weights, mutant), name)
    result = CliRunner().invoke(cli, ["prove", "--weights", name])
    assert result.exit_code == 1, result.output
    _clean(result, "reproduce it")
    line = result.stdout.splitlines()[
        result.stdout.splitlines().index("  reproduce it (one instruction, one step):") + 1
    ]
    assert "--weights $'w\\x1b[31m\\x07\\x0d" in line
    doc = json.loads(CliRunner().invoke(cli, ["prove", "--weights", name, "--json"]).stdout)
    word = doc["counterexample"]["reproduce"].split("--weights ")[1].split(" ")[0]  # $'...' holds no space
    echoed = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert echoed == name.encode()
    assert Path(name).exists()


def test_the_status_line_escapes_the_place_it_names(monkeypatch):
    """The live status line is written past Rich (its own cursor moves): the place it names (a label, a file)
    is escaped there."""
    import io

    from rich.console import Console

    from mlpvm.cli import console

    err = io.StringIO()
    monkeypatch.setattr(console, "stderr", lambda: Console(file=err, force_terminal=True, width=200))
    status = console.StatusLine(delay=0)
    status.REFRESH = 0
    status.show(console.running(5, 10.0, 3, f"loop, p{HOSTILE}.asq:2", 1.0))
    text = err.getvalue()
    for own in (status.SAVE, status.RESTORE, status.DOWN, status.UP, status.CLEAR):
        text = text.replace(own, "")
    assert raw(text) == [] and f"p{ESCAPED}.asq:2" in text
