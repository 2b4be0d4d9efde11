"""Lemmas as SMT-LIB 2 files any solver can check, and a second solver to check them: cvc5 (the optional
extra ``mlpvm[prove2]``).

A lemma's file asserts the assumptions and the disjunction of the violations, then ``(check-sat)``: ``unsat``
proves the lemma. The formulas are in standard theories (QF_UFBV: bit-vectors, Booleans, and memory as an
uninterpreted function of the row): the one
construct of z3's own, the pseudo-Boolean sum of a unit, is written as a bit-vector sum instead
(``portable``), wide enough never to overflow, so z3 and the second solver answer the same question.

Run ``python -m mlpvm.prove.smtlib DIR`` to check a folder written by ``mlpvm prove --emit DIR``.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import click

from mlpvm.errors import MlpvmError

from . import require_z3

SOLVERS = ("cvc5",)
# cvc5 answers these questions fastest with memory's function replaced by its reads (Ackermann's reduction) and
# the rest turned into one SAT problem at once: 5 s instead of > 120 s for a lemma at N = 16, M = 256.
CVC5_OPTIONS = (("incremental", "false"), ("ackermann", "true"), ("bitblast", "eager"))


class Portable:
    """The z3 module, but ``PbGe`` (a unit's ``sum w_i x_i >= k``) as a sum of bit-vectors: what
    ``mlpvm.prove.encode.unit`` is given when the lemmas must be readable by another solver."""

    def __init__(self):
        self._z3 = require_z3()

    def __getattr__(self, name):
        return getattr(self._z3, name)

    def PbGe(self, terms, k):
        z3 = self._z3
        bound = sum(abs(int(w)) for _, w in terms) + abs(int(k))
        width = bound.bit_length() + 2  # signed, with room: the sum never wraps
        total = z3.Sum([z3.If(x, z3.BitVecVal(int(w), width), z3.BitVecVal(0, width)) for x, w in terms])
        return total >= z3.BitVecVal(int(k), width)


def text(assertions: list, violations: list, comment: str) -> str:
    """The SMT-LIB 2 file of one lemma: ``unsat`` proves it."""
    z3 = require_z3()
    solver = z3.Solver()
    solver.add(*assertions, z3.Or(violations) if violations else z3.BoolVal(False))
    header = "".join(f"; {line}\n" for line in comment.splitlines())
    return header + "(set-logic QF_UFBV)\n" + solver.to_smt2()


def file_name(number: int, stage: str, prop: str) -> str:
    return f"{number:02d}-{stage}-{prop}.smt2"


def check_file(path: Path, solver: str = "cvc5", timeout: float | None = None) -> tuple[str, float]:
    """(the solver's answer: sat, unsat or unknown; seconds) for one file."""
    if solver != "cvc5":
        raise MlpvmError(f"unknown solver {solver!r}: the second solver is one of {', '.join(SOLVERS)}")
    cvc5 = require_cvc5()
    tm = cvc5.TermManager()
    slv = cvc5.Solver(tm)
    for option, value in CVC5_OPTIONS:
        slv.setOption(option, value)
    if timeout:
        slv.setOption("tlimit-per", str(int(timeout * 1000)))
    symbols = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(slv, symbols)
    parser.setFileInput(cvc5.InputLanguage.SMT_LIB_2_6, str(path))
    answers = []
    start = time.perf_counter()
    while True:
        command = parser.nextCommand()
        if command.isNull():
            break
        out = command.invoke(slv, symbols)
        if command.getCommandName() == "check-sat":
            answers.append(out.strip())
    seconds = time.perf_counter() - start
    if len(answers) != 1 or answers[0] not in ("sat", "unsat", "unknown"):
        raise MlpvmError(f"{path}: expected one (check-sat), got {answers}")
    return answers[0], seconds


def require_cvc5():
    """The cvc5 module, or one line naming the extra that provides it."""
    try:
        import cvc5
    except ImportError:
        raise MlpvmError("checking with cvc5 needs it: pip install 'mlpvm[prove2]'") from None
    return cvc5


RESULT = {"unsat": "proved", "sat": "refuted", "unknown": "unknown"}


def recorded(path: Path) -> str | None:
    """What z3 answered when the file was written (its ``; z3:`` comment), if it says."""
    found = re.search(r"^; z3: (\w+)", path.read_text(errors="replace")[:2000], re.MULTILINE)
    return found.group(1) if found else None


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--solver", type=click.Choice(SOLVERS), default="cvc5", show_default=True, help="The second solver.")
@click.option("--timeout", type=click.FloatRange(min=0), default=600, show_default=True, help="Seconds per lemma.")
def main(folder: Path, solver: str, timeout: float) -> None:
    """Check every lemma (*.smt2) of FOLDER, written by `mlpvm prove --emit`,
    with a second solver; compare with what z3 answered. Exit 0 when every
    lemma is proved (unsat) and no answer disagrees with z3's, else 1."""
    files = sorted(folder.glob("*.smt2"))
    if not files:
        click.echo(f"{folder}: no .smt2 files", err=True)
        sys.exit(1)
    ok = True
    for path in files:
        try:
            answer, seconds = check_file(path, solver, timeout or None)
        except MlpvmError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        mine, theirs = RESULT[answer], recorded(path)
        clash = theirs in ("proved", "refuted") and mine in ("proved", "refuted") and mine != theirs
        note = f"  DISAGREES with z3 ({theirs})" if clash else ""
        click.echo(f"{path.name:40} {solver} {seconds:7.1f} s  {mine}{note}")
        ok = ok and mine == "proved" and not clash
    click.echo(f"{'all proved' if ok else 'NOT all proved'} by {solver}: {len(files)} lemmas")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
