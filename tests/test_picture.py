"""Pictures (``mlpvm plot``, ``picture`` in the debugger): they depend on the data, name only fields the network
has, and without matplotlib say which extra to install."""

from __future__ import annotations

import re
import sys

import pytest
from click.testing import CliRunner

from mlpvm.cli import cli
from mlpvm.debug import netviews, picture
from mlpvm.debug.session import Session
from mlpvm.errors import MlpvmError
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.program import image as images
from mlpvm.program.load import load_image
from tests.conftest import ROOT, words_of

HELLO = ROOT / "programs" / "hello.sq"
COLLATZ = ROOT / "programs" / "collatz.asq"


def svg_text(path) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text())


def hello_passes(*numbers: int) -> tuple[Session, list[netviews.PassTrace]]:
    image = load_image(HELLO)
    session = Session(image, images.config_for(image), check=False)
    session.step(max(numbers))
    return session, [netviews.pass_trace(session, n) for n in numbers]


def test_two_passes_draw_differently_and_name_only_real_fields(tmp_path):
    session, (first, second) = hello_passes(1, 12)
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    named = picture.pass_picture(session.config, first, a)
    picture.pass_picture(session.config, second, b)
    assert a.read_text() != b.read_text()  # same layout, other activations
    fields = {f.name for lay in build(session.config).layers for f in lay.outputs}
    words = set(svg_text(a))
    assert set(named) == fields and fields <= words  # every field labelled, as text in the SVG
    first_a = words_of(HELLO)[0]  # pass 1 reads mem[A]: read_a's value is written as [A]=mem[A]
    assert any(w.startswith(f"[{first_a}]=") for w in words)
    text = svg_text(a)
    assert all(text.count(name) >= 1 for name in fields)
    assert sum(t == "mem" for t in text) == 1  # one row per field, whatever the columns: memory is one row
    assert any(t.startswith("pass 1 on ") and "pc=0" in t for t in text)  # the instruction in the title
    memory = next(t for t in text if t.startswith("memory ("))  # pass 1 is OUT: the cells read, none written
    assert f"mem[A={first_a}]=" in memory and "write.1 stores no cell (the byte goes out)" in memory


def test_a_run_picture_shows_the_program_labels_and_depends_on_the_run(tmp_path):
    runner = CliRunner()
    for steps, out in ((50, "short.svg"), (400, "long.svg")):
        result = runner.invoke(
            cli, ["plot", str(COLLATZ), "--run", "--max-steps", str(steps), "-o", str(tmp_path / out)]
        )
        assert result.exit_code == 0, result.output
    image = load_image(COLLATZ)
    text = svg_text(tmp_path / "long.svg")
    labelled = [t.split()[0] for t in text if t.split() and t.split()[0] in image.source_map.labels]
    assert labelled  # the PC axis names the program's labels
    assert (tmp_path / "short.svg").read_text() != (tmp_path / "long.svg").read_text()


def test_the_flow_picture_names_the_rows_of_the_flow_view(tmp_path):
    cfg = Config("paper", 8, 16, 4)
    names = picture.flow_picture(cfg, tmp_path / "f.svg")
    assert names == [name for name, _ in netviews.flow_rows(cfg)]
    assert set(names) <= set(svg_text(tmp_path / "f.svg"))


def test_plot_and_picture_commands(tmp_path):
    out = tmp_path / "p.png"
    result = CliRunner().invoke(cli, ["plot", str(HELLO), "--pass", "3", "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = CliRunner().invoke(cli, ["plot", str(HELLO), "--pass", "1000", "-o", str(out)])
    assert result.exit_code == 2 and "stopped after 85 passes" in result.output
    result = CliRunner().invoke(cli, ["plot", str(HELLO), "-o", str(tmp_path / "p.jpg")])
    assert result.exit_code == 2 and "a picture is .png or .svg" in result.output
    svg = tmp_path / "d.svg"
    result = CliRunner().invoke(cli, ["debug", str(HELLO), "--ex", "step 2", "--ex", f"picture {svg} 1", "--batch"])
    assert f"Drew pass 1 to {svg}" in result.output.replace("\n", "") and svg.exists()


def test_without_matplotlib_one_line_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as when it is not installed
    with pytest.raises(MlpvmError, match=r"pip install 'mlpvm\[plot\]'"):
        picture.flow_picture(Config(), tmp_path / "f.png")
    result = CliRunner().invoke(cli, ["plot", str(HELLO), "--flow", "-o", str(tmp_path / "f.png")])
    assert (
        result.exit_code == 2
        and result.output.strip() == "mlpvm: error: pictures need matplotlib: pip install 'mlpvm[plot]'"
    )


def test_ctrl_c_before_the_pass_draws_nothing_and_exits_130(tmp_path, monkeypatch):
    def interrupted(self, n=1):
        raise KeyboardInterrupt

    monkeypatch.setattr(Session, "step", interrupted)
    out = tmp_path / "p.png"
    result = CliRunner().invoke(cli, ["plot", str(HELLO), "--pass", "5", "-o", str(out)])
    assert result.exit_code == 130 and "interrupted before pass 5" in result.output and not out.exists()
