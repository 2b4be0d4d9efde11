"""The subleq machine's fast reference (the debugger's ``continue``) in lockstep with the plain reference: the
passes it commits are the plain reference's, pass by pass, and it stops before exactly the first pass that
needs attention, for every reason."""

from __future__ import annotations

import numpy as np
import pytest

from mlpvm.machines import fast as fast_module
from mlpvm.machines.config import Config
from mlpvm.machines.fast import LOG, run_reference
from mlpvm.machines.paper.fast import Fast as PaperFast
from mlpvm.machines.paper.reference import Paper
from mlpvm.machines.reference import Micro
from mlpvm.machines.reference import run as reference_run
from mlpvm.machines.subleq.fast import Fast
from mlpvm.machines.subleq.reference import Subleq
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from tests.conftest import EXTERNAL, ROOT, words_of

CONFIGS = [Config("subleq", 8, 32), Config("subleq", 16, 64), Config("subleq", 6, 64)]


def random_memory(cfg: Config, rng: np.random.Generator) -> list[int]:
    """Mostly in-range operands and jumps, some -1 (I/O), some out of range, jumps to the top of memory (a
    fault or halt there), and data words across the whole signed range (subtractions that wrap)."""
    lo, hi = -(1 << (cfg.bits - 1)), 1 << (cfg.bits - 1)
    words = rng.integers(0, cfg.cells, cfg.cells)
    special = rng.random(cfg.cells)
    words = np.where(special < 0.02, -1, words)
    words = np.where((special > 0.02) & (special < 0.04), cfg.cells - rng.integers(1, 3, cfg.cells), words)
    words = np.where(special > 0.85, rng.integers(lo, hi, cfg.cells), words)
    return [cfg.wrap(int(w)) for w in words]


def plain_trace(cfg: Config, mem: list[int], passes: int) -> tuple[list[Micro], list[list[int]]]:
    """What the plain reference does from PC 0: each pass's micro-operations and the memory before it."""
    ref = Subleq.load(cfg, mem)
    micros, mems = [], []
    for _ in range(passes):
        mems.append(list(ref.mem))
        micros.append(ref.step(Input(b"", closed=False)))
        if ref.halted:
            break
    return micros, mems


def needs(cfg: Config, m: Micro, mem: list[int], bitmaps: dict[str, set[int]]) -> str | None:
    """Why a pass needs attention, worked out from the plain reference's record of it."""
    if m.kind != "sub":
        return "not plain"
    if m.pc in bitmaps["at"]:
        return "at"
    if m.b in bitmaps["write"]:
        return "write"
    if {m.pc, m.pc + 1, m.pc + 2, m.a, m.b} & bitmaps["read"]:
        return "read"
    new = m.c if m.branch else m.next_pc
    if new in bitmaps["to"]:
        return "to"
    return None


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_commits_the_plain_passes_and_stops_before_the_first_that_needs_attention(cfg):
    rng = np.random.default_rng(3)
    reasons = set()
    for trial in range(150):
        mem = random_memory(cfg, rng)
        micros, mems = plain_trace(cfg, mem, 60)
        bitmaps = {k: set() for k in ("at", "to", "write", "read")}
        subs = [m for m in micros if m.kind == "sub"]
        if trial % 2 and subs:  # attention at a cell that a later pass of the program uses
            m = subs[int(rng.integers(len(subs)))]
            key = ("at", "to", "write", "read")[trial // 2 % 4]
            cell = {
                "at": m.pc,
                "to": m.c if m.branch else m.next_pc,
                "write": m.b,
                "read": (m.pc + 2, m.a)[trial % 3 % 2],
            }
            bitmaps[key] = {cell[key]} if 0 <= cell[key] < cfg.cells else set()
        fast = Fast(cfg.cells, cfg.bits)
        fast.load(mem)
        for key, cells in bitmaps.items():
            getattr(fast, key)[list(cells)] = True
        limit = int(rng.integers(1, len(micros) + 3))
        done, why = fast.run(0, limit)
        want = next((i for i, m in enumerate(micros) if needs(cfg, m, mems[i], bitmaps)), len(micros))
        if want >= limit:
            assert (done, why) == (limit, "limit")
        else:
            assert (done, why) == (want, needs(cfg, micros[want], mems[want], bitmaps))
        reasons.add(why)
        for i in range(done):
            m = micros[i]
            row = dict(zip(LOG, fast.log[i].tolist()))
            new = m.c if m.branch else m.next_pc
            assert row == dict(pc=m.pc, a=m.a, b=m.b, c=m.c, mem_a=m.mem_a, mem_b=m.mem_b, result=m.result,
                               branch=int(m.branch), next_pc=m.next_pc, new_pc=new), (trial, i)  # fmt: skip
        after = mems[done] if done < len(mems) else None
        if after is not None:
            assert fast.mem.tolist() == after  # the memory the plain reference has before its next pass
    assert reasons == {"limit", "not plain", "at", "to", "write", "read"}


def test_faults_and_halts_at_the_top_of_memory_are_not_plain():
    cfg = Config("subleq", 8, 16)
    zeros = [0] * 16
    cases = ((zeros, 14), (zeros, 15), (zeros, -3), ([20, 1, 0, *zeros[3:]], 0), ([-1, 3, 0, *zeros[3:]], 0))
    for mem, pc in cases:
        fast = Fast(cfg.cells, cfg.bits)
        fast.load(mem)
        assert fast.run(pc, 10) == (0, "not plain")
    fast = Fast(cfg.cells, cfg.bits)
    fast.load([15, 15, 14, *zeros[3:]])  # 0 - 0 <= 0: jumps to 14, where no whole instruction fits
    assert fast.run(0, 10) == (1, "not plain") and fast.log[0][LOG.index("new_pc")] == 14


def test_without_numba_the_same_code_runs_as_python(monkeypatch):
    from mlpvm.machines.subleq import fast as module

    cfg = Config("subleq", 16, 64)
    mem = random_memory(cfg, np.random.default_rng(5))
    compiled = Fast(cfg.cells, cfg.bits)
    compiled.load(mem)
    got = compiled.run(0, 50)
    monkeypatch.setattr(module, "run", getattr(module.run, "py_func", module.run))
    plain = Fast(cfg.cells, cfg.bits)
    plain.load(mem)
    assert plain.run(0, 50) == got and np.array_equal(plain.log[: got[0]], compiled.log[: got[0]])
    assert np.array_equal(plain.mem, compiled.mem)


@pytest.mark.parametrize("cfg", [Config("paper", 8, 16, 8), Config("paper", 6, 32, 16)], ids=str)
def test_the_paper_machine_commits_its_plain_passes_and_stops_before_the_halt_or_attention(cfg):
    """Random instruction stores (every operand in range: the Harvard machine cannot encode another): the fast
    reference's log is the plain reference's micro-operations, pass by pass, up to the first pass that halts or
    that a random bitmap marks, and its memory then is the plain reference's."""
    rng = np.random.default_rng(7)
    reasons = set()
    for trial in range(120):
        slots = [(int(rng.integers(cfg.cells)), int(rng.integers(cfg.cells)), int(rng.integers(cfg.slots)))
                 for _ in range(cfg.slots)]  # fmt: skip
        data = [cfg.wrap(int(v)) for v in rng.integers(-4, 5, cfg.cells)]
        plain = Paper.load(cfg, data, slots)
        fast = PaperFast.beside(Paper.load(cfg, data, slots))
        fast.load(plain.mem)
        key = ("to", "at", "write", "read", None)[trial % 5]
        micros = []
        while len(micros) < 40 and not plain.halted:
            micros.append(plain.step())
        marks = {"to": {m.c if m.branch else m.next_pc for m in micros[3:4]}, "at": {m.pc for m in micros[3:4]},
                 "write": {m.b for m in micros[3:4]}, "read": {m.a for m in micros[3:4]}}  # fmt: skip
        if key is not None:
            getattr(fast, key)[list(marks[key])] = True
        done, why = fast.run(0, 40)
        reasons.add(why)
        first = next((i for i, m in enumerate(micros) if m.kind != "sub" or (key and (
            (key == "to" and (m.c if m.branch else m.next_pc) in marks["to"]) or
            (key == "at" and m.pc in marks["at"]) or (key == "write" and m.b in marks["write"]) or
            (key == "read" and {m.a, m.b} & marks["read"])))), len(micros))  # fmt: skip
        assert done == min(first, 40), trial
        replay = Paper.load(cfg, data, slots)
        for i in range(done):
            m = replay.step()
            row = dict(zip(LOG, fast.log[i].tolist()))
            assert row == dict(pc=m.pc, a=m.a, b=m.b, c=m.c, mem_a=m.mem_a, mem_b=m.mem_b, result=m.result,
                               branch=int(m.branch), next_pc=m.next_pc, new_pc=replay.pc), (trial, i)  # fmt: skip
        assert fast.mem.tolist() == replay.mem
    assert {"not plain", "limit", "to", "at", "write", "read"} <= reasons


def _finished(machine, inp: Input, reason: str, output: bytes) -> tuple:
    """All a run leaves: why it stopped, its counts, PC, flags, memory, output (twice) and input taken."""
    return (reason, machine.steps, machine.pc, machine.halted, machine.fault, list(machine.mem), bytes(machine.output),
            output, inp.consumed)  # fmt: skip


def _both_runs(load, data: bytes, limit: int | None, closed: bool = True) -> tuple[tuple, tuple]:
    """The plain reference's ``run`` and ``run_reference`` (plain passes on the fast reference), from one image;
    the input ``closed`` after ``data`` (then its end may be read twice), or waiting for more."""
    ends = []
    for run in (reference_run, run_reference):
        machine, inp, out = load(), Input(data, closed=closed, eof_reads=2), bytearray()
        ends.append(_finished(machine, inp, run(machine, inp, limit, out.extend), bytes(out)))
    return ends[0], ends[1]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_a_run_with_the_fast_reference_ends_as_the_plain_run(cfg, chunk, monkeypatch):
    """Random programs with input, output, halts, faults and waits, with and without a step limit, and fast
    chunks cut short (``CHUNK``): the same stop, steps, PC, memory, output and input consumed."""
    monkeypatch.setattr(fast_module, "CHUNK", chunk)
    rng = np.random.default_rng(11)
    reasons = set()
    for trial in range(120):
        mem = random_memory(cfg, rng)
        if trial % 4 == 1:  # a read first: a wait, unless the input has a byte or has ended
            mem[0], mem[1] = -1, int(rng.integers(3, cfg.cells))
        data = bytes(rng.integers(0, 256, int(rng.integers(0, 4))).tolist())
        limit = None if trial % 3 == 0 else int(rng.integers(0, 80))
        plain, fast = _both_runs(lambda mem=mem: Subleq.load(cfg, mem), data, limit, closed=trial % 2 == 0)
        assert fast == plain, trial
        reasons.add(plain[0])
    assert reasons == {"limit", "halt", "fault", "wait"}


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_a_run_with_the_fast_reference_ends_as_the_plain_run_on_eforth_and_the_paper_machine(chunk, monkeypatch):
    """eForth (8,192 cells): to its first ` ok` (112,915 steps, then it waits for input) and to a limit inside a
    chunk, on both; then the line echoed and answered (13.9 million steps, on the fast one alone: the plain one
    would take a minute). And a paper program."""
    monkeypatch.setattr(fast_module, "CHUNK", chunk)
    cfg = Config("subleq", 16, 8192)
    words = words_of(EXTERNAL / "howerj-subleq-vhdl/eforth-8k.dec")
    plain, fast = _both_runs(lambda: Subleq.load(cfg, words), b"", 120_000, closed=False)
    assert fast == plain and plain[0] == "wait" and plain[6] == b" ok\r\n"
    plain, fast = _both_runs(lambda: Subleq.load(cfg, words), b"2 2 + . cr\n", 112_950)
    assert fast == plain and plain[0] == "limit"
    if chunk > 7:
        machine, inp = Subleq.load(cfg, words), Input(b"2 2 + . cr\n", closed=False)
        assert run_reference(machine, inp, 20_000_000) == "wait" and machine.output == b" ok\r\n2 2 + . cr 4\r\n ok\r\n"
    image = load_image(ROOT / "programs/paper/gcd.pasq")
    paper = Config("paper", 16, 64, 64)
    plain, fast = _both_runs(lambda: Paper.load(paper, image.words, image.slots), b"", None)
    assert fast == plain and plain[0] == "halt"
