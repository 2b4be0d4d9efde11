"""The program library in programs/: each program assembles, runs to its halt on the network (the structured
engine) with the exact output written here, and takes the number of steps written here, which the reference
interpreter takes too. Programs of one machine configuration run as one batch (one pass of the network
advances all of them), so every program runs in full on the network: about 10,000 passes in all.

The expected outputs were worked out by hand (they are facts of arithmetic: Fibonacci numbers, primes, ...)
and confirmed with the reference interpreter; the step counts come from the reference interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mlpvm.check.lockstep import Lockstep
from mlpvm.cli import cli
from mlpvm.engines import make
from mlpvm.host.batch import Job, run_jobs
from mlpvm.machines import reference
from mlpvm.program import image as images
from mlpvm.program.asm import assemble, assemble_file
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from tests.conftest import DATA, ROOT

PROGRAMS = [
    # (file in programs/, input, exact output, steps)
    ("hello.asq", b"", b"Hello, world!\n", 84),
    ("echo.asq", b"Hello, echo!\n", b"Hello, echo!\n", 68),
    ("upcase.asq", b"Hello, World! abc xyz\n", b"HELLO, WORLD! ABC XYZ\n", 361),
    ("printnum.asq", b"", b"0\n7\n-42\n1234\n32767\n-32768\n", 526),
    ("fib.asq", b"", b"0 1 1 2 3 5 8 13 21 34 55 89 144 233 377 610 987 1597 2584 4181 6765\n", 1876),
    ("factorial.asq", b"", b"0! = 1\n1! = 1\n2! = 2\n3! = 6\n4! = 24\n5! = 120\n6! = 720\n7! = 5040\n", 1302),
    ("multiply.asq", b"", b"7 * 6 = 42\n123 * 45 = 5535\n181 * 181 = 32761\n-3 * 11 = -33\n0 * 99 = 0\n", 2243),
    (
        "divmod.asq",
        b"",
        b"100 / 7 = 14 r 2\n32767 / 10 = 3276 r 7\n5 / 9 = 0 r 5\n1000 / 1 = 1000 r 0\n12345 / 123 = 100 r 45\n",
        3221,
    ),
    ("gcd.asq", b"", b"gcd(1071, 462) = 21\ngcd(48, 18) = 6\ngcd(17, 5) = 1\ngcd(100, 75) = 25\n", 1309),
    ("primes.asq", b"", b"2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 73 79 83 89 97\n", 4374),
    ("bubblesort.asq", b"", b"-20 -3 0 1 5 7 7 12 42 99\n", 1445),
    ("reverse.asq", b"Hello, world!\n", b"!dlrow ,olleH\n", 309),
    ("collatz.asq", b"", b"7 22 11 34 17 52 26 13 40 20 10 5 16 8 4 2 1\n16 steps\n", 2459),
    (
        "isqrt.asq",
        b"",
        b"isqrt(0) = 0\nisqrt(1) = 1\nisqrt(15) = 3\nisqrt(16) = 4\nisqrt(1000) = 31\nisqrt(32767) = 181\n",
        2780,
    ),
    ("power.asq", b"", b"2^10 = 1024\n3^9 = 19683\n7^5 = 16807\n10^4 = 10000\n5^0 = 1\n", 2063),
    ("binary.asq", b"", b"0\n101\n11111111\n10000000000\n111111111111111\n1111111111111111\n", 957),
    ("hex.asq", b"", b"00FF\n1000\nBEEF\n0000\n07E8\nFFFF\n", 1758),
    ("selfinterp.asq", b"Hi!\n", b"Hi!\n", 675),  # its guest is echo.asq
    ("calc.asq", b"12+34\n100-250\n12*34\n1000/7\n1000%7\n7/0\n", b"46\n-150\n408\n142\n6\nerror\n", 2390),
    ("wc.asq", b"one two\nthree\n  four five six\n", b"3 6 30\n", 846),
    ("rot13.asq", b"Hello, World!\n", b"Uryyb, Jbeyq!\n", 423),
    ("triangle.asq", b"", b"*\n**\n***\n****\n*****\n", 61),
    ("sum.asq", b"12 34\n5 100\n", b"151\n", 358),
]

PAPER = [
    # (file in programs/, data label, the final values of the cells from it on, steps): paper has no I/O
    ("paper/factorial.pasq", "result", [5040], 228),
    ("paper/reverse.pasq", "list", [8, 7, 6, 5, 4, 3, 2, 1], 48),
    ("paper/search.pasq", "index", [5], 56),
    ("paper/gcd.pasq", "a", [21, 21], 142),
]

ALL = [p[0] for p in PROGRAMS] + [p[0] for p in PAPER]


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture(scope="module")
def network_runs() -> dict:
    """Every program run to its end on the network, one batch per machine configuration: name -> (image,
    outcome)."""
    inputs = {p[0]: p[1] for p in PROGRAMS}
    jobs = [Job(load_image(ROOT / "programs" / name), inputs.get(name, b"")) for name in ALL]
    results = run_jobs(jobs, [images.config_for(j.image) for j in jobs], lambda c: make("structured", c), 100_000)
    return {name: (r.job.image, r.outcome) for name, r in zip(ALL, results)}


def reference_run(program, data: bytes = b"", max_steps: int = 1_000_000):
    ref = reference.load(images.config_for(program), program.words, program.slots)
    return reference.run(ref, Input(data), max_steps), ref


@pytest.mark.parametrize(("name", "data", "output", "steps"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_program_runs_on_the_network(network_runs, name, data, output, steps):
    program, outcome = network_runs[name]
    assert (outcome.output, outcome.reason, outcome.steps) == (output, "halt", steps)
    reason, ref = reference_run(program, data)
    assert (reason, bytes(ref.output), ref.steps) == ("halt", output, steps)


@pytest.mark.parametrize(("name", "label", "values", "steps"), PAPER, ids=[p[0] for p in PAPER])
def test_paper_program_runs_on_the_network(network_runs, name, label, values, steps):
    program, outcome = network_runs[name]
    at = program.source_map.labels[label]
    assert (outcome.reason, outcome.steps) == ("halt", steps)
    assert [int(v) for v in outcome.memory[at : at + len(values)]] == values
    reason, ref = reference_run(program)
    assert (reason, ref.steps, ref.mem) == ("halt", steps, [int(v) for v in outcome.memory])


@pytest.mark.parametrize("name", ALL)
def test_program_says_what_it_does_how_to_run_it_and_what_memory_it_needs(name):
    text = (ROOT / "programs" / name).read_text()
    header = text[: text.index("\n\n")]
    assert header.startswith(f"# {Path(name).name}: ") and "mlpvm run " in header and f"programs/{name}" in header
    cells = images.config_for(load_image(ROOT / "programs" / name)).cells
    assert (f"Needs {cells} cells" in header) == (name.endswith(".asq") and cells > 256)


def test_every_program_in_the_library_is_tested():
    found = {str(p.relative_to(ROOT / "programs")) for p in (ROOT / "programs").rglob("*.*as*q")}
    assert found - {f"lib/{p.name}" for p in (ROOT / "programs/lib").glob("*.asq")} == set(ALL)
    assert len(ALL) >= 25


# --- the self-interpreter -------------------------------------------------------------------------------------

SELFINTERP = ROOT / "programs/selfinterp.asq"


def with_guest(guest: Path):
    """selfinterp.asq with the words of another program as its guest, after the label `guest`."""
    text = SELFINTERP.read_text()
    head = text[: text.index("\nguest:")]
    return assemble(f"{head}\nguest: . {', '.join(map(str, assemble_file(guest).words))}\n", str(SELFINTERP))


def test_the_self_interpreters_guest_is_echo():
    program = load_image(SELFINTERP)
    guest = program.source_map.labels["guest"]
    assert program.words[guest:] == assemble_file(ROOT / "programs/echo.asq").words


def test_the_self_interpreter_runs_other_guests_on_the_reference():
    for guest, output, steps in [
        (ROOT / "programs/hello.asq", b"Hello, world!\n", 2537),
        (DATA / "asm/esolangs-hello.asq", b"Hello, World!\n", 5082),
        (ROOT / "programs/triangle.asq", b"*\n**\n***\n****\n*****\n", 1822),
    ]:
        reason, ref = reference_run(with_guest(guest))
        assert (reason, bytes(ref.output), ref.steps) == ("halt", output, steps), guest.name


def test_the_self_interpreter_running_binary_matches_the_network_for_a_prefix():
    """A long run: binary.asq as the guest takes 29177 steps, all of them on the reference interpreter; the
    network runs the first 1500 in lockstep with it, compared on the whole state after every step."""
    program = with_guest(ROOT / "programs/binary.asq")
    reason, ref = reference_run(program)
    assert (reason, ref.steps) == ("halt", 29177)
    assert bytes(ref.output) == b"0\n101\n11111111\n10000000000\n111111111111111\n1111111111111111\n"
    config = images.config_for(program)
    steps, divergence = Lockstep(make("structured", config), config, program.words).run(1500)
    assert (steps, divergence) == (1500, None)


# --- other inputs, on the reference -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "output"),
    [
        ("calc.asq", b"2^3\n 3 - 4\n6*7", b"error\n-1\n42\n"),
        ("calc.asq", b"", b""),
        ("calc.asq", b"32767+1\n65535/256\n255*255", b"-32768\n255\n-511\n"),
        ("sum.asq", b"", b"0\n"),
        ("sum.asq", b"1,2,3,x4", b"10\n"),
        ("echo.asq", bytes(range(256)), bytes(range(256))),
        ("reverse.asq", b"ab\ncd\n", b"ba\n"),
        ("reverse.asq", b"", b"\n"),
        ("wc.asq", b"", b"0 0 0\n"),
        ("wc.asq", b"a\tb", b"0 2 3\n"),
        ("upcase.asq", b"`az{@AZ[", b"`AZ{@AZ["),
        ("rot13.asq", b"Uryyb, Jbeyq!\n`az{@AZ[", b"Hello, World!\n`nm{@NM["),
    ],
)
def test_programs_with_other_inputs_on_the_reference(name, data, output):
    reason, ref = reference_run(load_image(ROOT / "programs" / name), data)
    assert (reason, bytes(ref.output)) == ("halt", output)


def test_paper_search_for_a_missing_key_gives_minus_one():
    text = (ROOT / "programs/paper/search.pasq").read_text().replace("key: 42", "key: 5")
    program = assemble(text, "search.pasq", machine="paper")
    reason, ref = reference_run(program)
    assert (reason, ref.mem[program.source_map.labels["index"]]) == ("halt", -1)


# --- the commands ---------------------------------------------------------------------------------------------


def test_mlpvm_run_runs_a_source_directly():
    result = invoke("run", str(ROOT / "programs/hello.asq"))
    assert (result.exit_code, result.output) == (0, "Hello, world!\n")


def test_mlpvm_run_a_program_with_input_and_macros():
    result = invoke("run", "--input", "6 * 7", str(ROOT / "programs/calc.asq"))
    assert (result.exit_code, result.output) == (0, "42\n")


def test_disasm_of_a_program_shows_its_labels_and_macro_calls():
    out = invoke("disasm", str(ROOT / "programs/fib.asq")).output.splitlines()
    assert "loop:" in out and "done:" in out and "printdec:" in out and "Z:" in out
    fib = str(ROOT / "programs/fib.asq")
    assert any(line.endswith(f"{fib}:14 (MOV)") for line in out)  # MOV b, t
    assert any(line.endswith(f"{fib}:10 (PRINT > CALL)") for line in out)


def test_disasm_asm_of_a_macro_program_reassembles_and_runs(tmp_path):
    src = tmp_path / "fib-again.asq"
    src.write_text(invoke("disasm", "--asm", str(ROOT / "programs/fib.asq")).output)
    assert assemble_file(src).words == load_image(ROOT / "programs/fib.asq").words


def test_paper_program_from_the_command_line():
    result = invoke("run", "--json", str(ROOT / "programs/paper/factorial.pasq"))
    assert result.exit_code == 0 and '"reason": "halt"' in result.output and "5040" in result.output
