"""The package reads its programs as package data, never from the repository: ``mlpvm/programs`` is a link to
the checkout's ``programs/`` (one copy of each file), and ``make wheel-check`` installs the wheel outside the
checkout and runs ``mlpvm verify --named`` and ``--mutants`` there."""

from importlib.resources import files
from pathlib import Path

from tests.conftest import ROOT


def test_the_shipped_programs_are_the_checkouts_programs():
    assert (ROOT / "mlpvm" / "programs").is_symlink()  # a copy would drift from programs/
    assert Path(str(files("mlpvm") / "programs")).resolve() == (ROOT / "programs").resolve()
