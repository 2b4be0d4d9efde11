"""``mlpvm prove``: a solver's proof that the weights compute one step of the machine for every state."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from mlpvm import resources
from mlpvm.cli import console as views
from mlpvm.cli.options import load_weights, machine_options, resolve_config, seconds
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network.weights import Weights, compile_network
from mlpvm.prove import require_z3
from mlpvm.prove.smtlib import SOLVERS, require_cvc5

INTERRUPTED = 130

# How the lemmas of --method rows compose into the whole pass, and what that assumes (docs/proofs.md: "Rows").
COMPOSITION = (
    "by rows: every field with rows was checked (numpy, all stored rows) to",
    "be one row with the address constant changed (rows that are not are kept",
    "as stored); each stage's lemmas were proved for one free row k, so for",
    "every row; read-outs of a selected row rest on the decoder lemma, proved",
    "with them.",
)


@click.command()
@machine_options(program=False)
@click.option("--weights", type=click.Path(dir_okay=False), help="Prove this weight file (default: build the network).")
@click.option(
    "--method",
    type=click.Choice(("rows", "staged", "whole")),
    default="rows",
    show_default=True,
    help="rows: staged, with every memory row proved as one symbolic row (checked against the stored rows); "
    "staged: each stage against lemmas, chained, every row in the questions; whole: one query per property "
    "over the 23 layers.",
)
@click.option(
    "--emit",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write every lemma to this folder as an SMT-LIB 2 file (unsat proves it); --method rows. Check "
    "them with: python -m mlpvm.prove.smtlib DIR",
)
@click.option(
    "--check-with",
    "second",
    type=click.Choice(SOLVERS),
    help="Also check every lemma with this second solver (pip install 'mlpvm[prove2]'); --method rows.",
)
@click.option(
    "--timeout",
    type=seconds(),
    default=600,
    show_default=True,
    help="Seconds the solver may spend on one question before the result is 'unknown' (0 = no limit).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def prove(machine, bits, cells, slots, weights, method, emit, second, timeout, as_json) -> None:
    """Prove with an SMT solver (z3: pip install 'mlpvm[prove]') that, for every
    {0,1} state satisfying the documented invariants, one pass of the stored
    layers keeps every activation on {0,1} (property 'binary') and returns the
    machine's next state as docs/machines.md specifies it (property 'step'):
    memory, PC, halted, fault, the I/O fields, executed and the registers.

    \b
    The configuration is --machine/--bits/--cells/--slots (default subleq,
    16 bits, 256 cells), or that of the --weights file.
    Each lemma is a row of the table: what it says, its stage, the solver that
    answered (numpy: the check of the stored rows), its time and result.
    Exit codes: 0 proved, 1 refuted (a counterexample is shown, with a
    one-instruction program and an `mlpvm verify` command when a program can
    start from it), unknown (a question timed out) or the two solvers
    disagree, 2 bad options, 130 interrupted.
    """
    require_z3()
    from mlpvm.prove import compose, report, rows

    if (emit or second) and method != "rows":
        raise click.UsageError("--emit and --check-with need --method rows")
    if second:
        require_cvc5()

    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    config = resolve_config(None, loaded, machine, bits, cells, slots)
    if loaded is None:
        resources.check(config, "build")  # before building: a mistyped size must not exhaust the machine
    with views.progress(f"building {config.describe()}", counts=False, quiet=as_json) as bar:
        bar.add_task("build", total=None)
        stored = loaded if loaded is not None else compile_network(build(config))
    stages = len(compose.stage_spans(stored))
    if method == "rows":
        questions = stages * (3 + 2 * bool(second))

        def run(weights, timeout, done):
            return rows.prove(weights, timeout, done, emit=emit, second=second)
    else:
        run = compose.staged if method == "staged" else compose.whole
        questions = 2 * stages if method == "staged" else 2
    outcomes: list[compose.Outcome] = []
    interrupted = False
    start = time.perf_counter()
    with views.progress("proving {task.description}", quiet=as_json) as bar:
        task = bar.add_task(config.describe(), total=questions)

        def done(outcome: compose.Outcome) -> None:
            outcomes.append(outcome)
            bar.advance(task)

        try:
            run(stored, timeout or None, done)
        except KeyboardInterrupt:
            interrupted = True
    seconds = time.perf_counter() - start
    cex = None if interrupted else _counterexample(report, stored, outcomes, timeout or None)
    options = _config_options(config)
    command = cex.command(weights, options) if cex is not None else None
    proved = bool(outcomes) and not interrupted and all(o.result == compose.PROVED for o in outcomes)
    proved = proved and len(outcomes) == questions  # every stage answered (rows stops at a field without rows)
    if as_json:
        click.echo(json.dumps(_doc(config, method, outcomes, proved, seconds, cex, command, interrupted)))
    else:
        _print(config, method, outcomes, proved, seconds, cex, command, interrupted)
    sys.exit(INTERRUPTED if interrupted else 0 if proved else 1)


def _counterexample(report, weights: Weights, outcomes, timeout):
    refuted = next((o for o in outcomes if o.found is not None), None)
    return None if refuted is None else report.counterexample(weights, refuted, timeout)


def _config_options(config: Config) -> str:
    slots = f" --slots {config.slots}" if config.spec.harvard else ""
    return f"--machine {config.machine} --bits {config.bits} --cells {config.cells}{slots}"


def _label(config: Config) -> str:
    return f"N={config.bits} M={config.cells}" + (f" K={config.slots}" if config.spec.harvard else "")


def _print(config, method, outcomes, proved, seconds, cex, command, interrupted) -> None:
    out = views.stdout()
    table = Table(title=f"mlpvm prove: {config.describe()} ({method})", title_justify="left")
    for name, justify in (("lemma", "left"), ("stage", "left"), ("config", "left"), ("solver", "left"),
                          ("time", "right"), ("result", "left")):  # fmt: skip
        table.add_column(name, justify=justify)
    colour = {"proved": "green", "refuted": "bold red", "unknown": "yellow"}
    for o in outcomes:
        result = f"[{colour[o.result]}]{o.result}[/]" + (" [bold red]DISAGREE[/]" if _clash(o) else "")
        table.add_row(o.property, o.stage, _label(config), o.solver, f"{o.seconds:.1f} s", result)
    out.print(table)
    if any(_clash(o) for o in outcomes):
        out.print("[bold red]SOLVERS DISAGREE[/] on a lemma: neither answer can be trusted")
    if interrupted:
        out.print(f"[yellow]interrupted[/] after {seconds:.1f} s: {len(outcomes)} questions answered, nothing proved")
    elif proved:
        out.print(f"[bold green]PROVED[/] in {seconds:.1f} s: every activation is 0 or 1, and one pass is one step,")
        out.print("  for every {0,1} state that satisfies the invariants")
        if method == "rows":
            for line in COMPOSITION:
                out.print(f"  {line}", markup=False)
    elif cex is None:
        odd = next((o for o in outcomes if o.property == "symmetry" and o.result != "proved"), None)
        if odd:
            why = f"the rows are not one row repeated ({odd.detail}); try --method staged"
        elif any(o.result == "refuted" for o in outcomes):
            why = "a lemma fails, but no state on which the whole pass goes wrong was found"
        else:
            why = "a question was left unanswered (raise --timeout)"
        out.print(f"[yellow]NOT PROVED[/] in {seconds:.1f} s: {why}")
    if cex is not None:
        _print_counterexample(out, config, cex, command)


def _print_counterexample(out, config, cex, command) -> None:
    b = cex.before
    out.print("[bold red]REFUTED[/]: a state on which the stored layers and the specification disagree")
    flags = ", ".join(f"{k}={v}" for k, v in (("halted", int(b.halted)), ("fault", int(b.fault)), *b.io.items()))
    out.print(f"  PC {b.pc}; {flags}")
    if b.slots is not None:
        if 0 <= b.pc < len(b.slots):
            out.print(f"  instruction: slot {b.pc} = {b.slots[b.pc]}")
    elif 0 <= b.pc <= config.cells - 3:
        out.print(f"  instruction: {' '.join(str(int(b.mem[b.pc + i])) for i in range(3))}")
    cells = [f"[{i}]={int(v)}" for i, v in enumerate(b.mem) if v]
    out.print(f"  memory (cells not shown are 0): {' '.join(cells) or 'all 0'}")
    if cex.layer:
        out.print(f"  an activation leaves {{0,1}} in layer {cex.layer}")
    for d in cex.differences:
        out.print(f"  {d.field}: network {d.network}, specification {d.specification}")
    if not cex.layer and not cex.differences:
        out.print("  yet the whole pass is right on this state: a stage's lemma fails, not necessarily the pass")
    if command:
        out.print("  reproduce it (one instruction, one step):")
        out.print(f"    {command}", markup=False, soft_wrap=True)
    else:
        out.print("  no program can start from such a state (a stopped machine, a register or input not ready)")


def _clash(o) -> bool:
    return o.detail.startswith("DISAGREES")


def _doc(config, method, outcomes, proved, seconds, cex, command, interrupted) -> dict:
    return {
        "config": config.to_meta(),
        "method": method,
        "composition": " ".join(COMPOSITION) if method == "rows" else None,
        "proved": proved,
        "interrupted": interrupted,
        "seconds": round(seconds, 3),
        "results": [_row(config, o) for o in outcomes],
        "counterexample": None if cex is None else {**cex.to_json(), "reproduce": command},
    }


def _row(config, o) -> dict:
    keys = ("property", "stage", "solver", "result", "detail")
    return {**{k: getattr(o, k) for k in keys}, "config": _label(config), "seconds": round(o.seconds, 3)}
