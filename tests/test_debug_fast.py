"""The debugger's chunks (``continue``, ``until``, ``step N`` run many passes per engine call, checked pass by pass
against the fast reference) stop exactly where one pass at a time stops (``Session.slow``), with the same state,
stop record, last pass, CALL chain, output and history, for every reason to stop; and a planted fault in the
middle of a chunk is still found at its exact pass and first bad layer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlpvm.bench import counter_loop
from mlpvm.check.lockstep import Batch, Program
from mlpvm.check.mutate import Mutant, plant
from mlpvm.debug import session as sessions
from mlpvm.debug.records import DebugError, Stop
from mlpvm.debug.session import Session
from mlpvm.engines import Sparse
from mlpvm.errors import NetworkFault
from mlpvm.machines.config import Config
from mlpvm.machines.state import from_bits
from mlpvm.network import LAYER_NAMES, build
from mlpvm.network.csr import Csr
from mlpvm.network.weights import compile_network
from mlpvm.program.image import Image, config_for
from mlpvm.program.load import load_image
from tests.conftest import EXTERNAL, ROOT, needs_numba

pytestmark = needs_numba  # without numba the fast reference is plain Python: right, but these would be slow


def seen(s: Session, stop: Stop) -> tuple:
    """Everything a stop shows: the record, the state, counts, output, the last passes and the CALL chain.
    (After chunks the history is refilled by replaying from a checkpoint, which cannot cross an edit or fed
    input: it may then hold fewer passes than one pass at a time leaves, never different ones.)"""
    hits = [(w.number, cell, kind, old, new) for w, cell, kind, old, new in stop.watch]
    bp = stop.breakpoint.number if stop.breakpoint else None
    return (stop.reason, stop.pc, bp, hits, stop.divergence, stop.error, stop.last, s.last, s.frames,
            s.x.tobytes(), bytes(s.output), s.passes, s.steps, list(s.ref.mem), s.ref.pc, s.ref.steps, s.records(4),
            [(b.number, b.hits, b.ignore) for b in s.breakpoints.values()],
            [(w.number, w.hits, w.ignore) for w in s.watchpoints.values()])  # fmt: skip


def both(make, script) -> list[tuple]:
    """``script(session, note)`` run on the chunked session and on one that goes pass by pass; what each
    noted, which must be the same."""
    runs = []
    for slow in (False, True):
        s = make()
        s.slow = slow
        notes: list[tuple] = []
        script(s, lambda stop, s=s, notes=notes: notes.append(seen(s, stop)))
        runs.append(notes)
    assert len(runs[0]) == len(runs[1])
    for i, (fast, slow) in enumerate(zip(*runs)):
        assert fast == slow, i
    return runs[0]


def program(name: str, **kw) -> Session:
    image = load_image(ROOT / "programs" / name)
    return Session(image, config_for(image, None, None, None), **kw)


def test_breakpoints_conditions_tbreak_ignore_counts_and_frames():
    def script(s: Session, note) -> None:
        s.add_breakpoint("again", condition="a > 100")
        s.add_breakpoint("next", temporary=True)
        bp = s.add_breakpoint("found")
        bp.ignore = 2
        for _ in range(8):
            stop = s.cont()
            note(stop)
            if stop.reason in ("halt", "fault"):
                break
        s.delete()
        note(s.cont())

    notes = both(lambda: program("gcd.asq"), script)
    reasons = [n[0] for n in notes]
    assert "breakpoint" in reasons and reasons[-1] == "halt"
    assert any(n[8] for n in notes)  # some stops inside the subroutine: a CALL chain
    assert notes[-1][10] == b"gcd(1071, 462) = 21\ngcd(48, 18) = 6\ngcd(17, 5) = 1\ngcd(100, 75) = 25\n"


@pytest.mark.parametrize("kind", ["watch", "rwatch", "awatch"])
def test_watchpoints_on_cells_and_ranges(kind):
    def script(s: Session, note) -> None:
        s.add_watchpoint("t", kind)
        s.add_watchpoint("b", kind).ignore = 3
        for _ in range(12):
            stop = s.cont()
            note(stop)
            if stop.reason != "watchpoint":
                break

    notes = both(lambda: program("gcd.asq"), script)
    assert [n[0] for n in notes].count("watchpoint") == 12


def test_until_step_n_step_limits_and_reverse():
    def script(s: Session, note) -> None:
        note(s.step(1000))
        note(s.until(s.address("next")))
        note(s.cont(max_steps=77))
        note(s.step(5000))
        note(s.reverse_step(3))
        note(s.reverse_step(2500))
        note(s.step(1))
        s.add_breakpoint("again")
        note(s.reverse_continue())
        note(s.cont())

    notes = both(lambda: program("gcd.asq"), script)
    assert [n[0] for n in notes][:3] == ["step", "until", "limit"]


def test_finish_and_nexti_over_subroutines():
    def script(s: Session, note) -> None:
        s.add_breakpoint("again")
        note(s.cont())
        s.delete()
        note(s.finish())
        note(s.until(s.source_map.labels["back@CALL2"] - 3))  # the CALL's jump into the subroutine
        note(s.step_over())
        note(s.step_over())

    notes = both(lambda: program("gcd.asq"), script)
    assert notes[0][8] and not notes[1][8]  # in the subroutine, then back in the caller
    assert [n[0] for n in notes] == ["breakpoint", "step", "until", "step", "step"] and not notes[3][8]


def test_random_programs_with_breakpoints_and_watchpoints():
    """Random programs (self-modifying, I/O, halts, faults at the top of memory) with random breakpoints and
    watchpoints, run from stop to stop."""
    cfg = Config("subleq", 8, 64)
    rng = np.random.default_rng(21)
    for trial in range(12):
        prog = cfg.spec.generator.program(cfg, rng, 16)
        points = rng.integers(0, cfg.cells, 4).tolist()

        def make(prog=prog) -> Session:
            return Session(Image(cfg.machine, prog.words), cfg, data=prog.data)

        def script(s: Session, note, points=points, trial=trial) -> None:
            s.add_breakpoint(str(points[0]), address=points[0])
            if trial % 2:
                s.add_watchpoint(f"{points[1]}:{points[1] + 2}", ("watch", "rwatch", "awatch")[trial % 3])
            if trial % 3 == 0:
                s.add_breakpoint(str(points[2]), address=points[2], condition=f"mem[{points[3]}] > 0")
            for _ in range(10):
                stop = s.cont(max_steps=3000)
                note(stop)
                if stop.reason in ("halt", "fault", "limit", "wait"):
                    break

        both(make, script)


def test_output_input_wait_and_halt():
    def make() -> Session:
        image = load_image(EXTERNAL / "howerj-subleq-vhdl/echo.dec")
        return Session(image, Config("subleq", 16, 64))

    def script(s: Session, note) -> None:
        note(s.cont())
        s.feed(b"hi")
        note(s.step(3))
        note(s.cont())
        s.close_input()
        note(s.cont())

    notes = both(make, script)
    assert [n[0] for n in notes] == ["wait", "step", "wait", "halt"] and notes[-1][10] == b"hi"


def test_a_fault_and_a_step_limit_on_a_long_loop():
    cfg = Config("subleq", 16, 32)
    words = counter_loop(3000)
    words[9:12] = [40, 14, 0]  # after counting down: an operand outside memory

    def script(s: Session, note) -> None:
        note(s.cont(max_steps=5000))
        note(s.cont())
        note(s.reverse_step(4500))

    notes = both(lambda: Session(Image(cfg.machine, words), cfg), script)
    assert [n[0] for n in notes] == ["limit", "fault", "step"]


def test_a_planted_fault_in_the_middle_of_a_chunk_is_found_at_its_pass_and_layer():
    """Bit 4 of mem[B] dropped where it is read: wrong first when the counter (1000, counting down) gets there,
    some passes into a chunk; the chunk is replayed pass by pass to the exact one."""
    cfg = Config("subleq", 16, 32)
    weights = compile_network(build(cfg))
    k = LAYER_NAMES.index("read.1")
    unit = weights.layers[k].outputs["mem_b"].offset + 4
    bad = plant(weights, Mutant(k, unit, "mem_b[4]", "drop"))

    def make() -> Session:
        engine = Sparse(bad)
        engine.guard = False
        return Session(Image(cfg.machine, counter_loop(1000)), cfg, engine=engine)

    def script(s: Session, note) -> None:
        note(s.cont())

    (stop,) = both(make, script)
    divergence = stop[4]
    assert stop[0] == "divergence" and divergence.field == "mem_b" and divergence.layer == "read.1"
    assert divergence.step > 10  # not the first pass of the chunk


def test_deep_history_replays_in_chunks(monkeypatch):
    """Checkpoints thinned as a long run goes on; going back replays in chunks to the exact state."""
    monkeypatch.setattr(sessions, "CHUNKED_EVERY", 64)
    monkeypatch.setattr(sessions, "CHECKPOINT_BYTES", 6 * 84)  # a state packs into 84 bytes
    cfg = Config("subleq", 16, 32)

    def fresh(passes: int) -> Session:
        s = Session(Image(cfg.machine, counter_loop(500)), cfg)
        s.step(passes)
        return s

    s = fresh(20000)
    assert s.passes == 20000 and s._every > 64 and len(s.checkpoints) <= 6
    at = 20000
    for back in (1, 300, 7000, 5, 12000):
        s.reverse_step(back)
        at -= back
        want = fresh(at)  # the pass asked for, not the one the session says it reached
        assert s.passes == want.passes == at
        assert s.x.tobytes() == want.x.tobytes() and s.last == want.last and s.ref.mem == want.ref.mem


def test_an_engine_fault_in_the_middle_of_a_chunk_is_raised_at_its_pass():
    """An engine whose guard trips (here: whenever the counter reads 990) in the middle of a chunk: the chunk is
    replayed pass by pass, which raises at the same pass, with the same state, as one pass at a time."""
    cfg = Config("subleq", 16, 32)

    class Faulty(Sparse):
        def run_pass(self, x: np.ndarray, trace=None) -> None:
            if int(from_bits(self.state.view(x[0], "mem")[13])) == 990:
                raise NetworkFault("read.1", "an activation of machine 0 left {0,1}")
            super().run_pass(x, trace)

    seen = []
    for slow in (False, True):
        s = Session(Image(cfg.machine, counter_loop(1000)), cfg, engine=Faulty(compile_network(build(cfg))))
        s.slow = slow
        with pytest.raises(NetworkFault) as e:
            s.cont()
        seen.append((str(e.value), s.passes, s.steps, s.x.tobytes(), s.last, list(s.ref.mem)))
    assert seen[0] == seen[1] and seen[0][1] > 10


def test_history_after_a_chunked_run_is_the_passes_one_at_a_time_leaves():
    runs = []
    for slow in (False, True):
        s = program("gcd.asq")
        s.slow = slow
        s.step(3000)
        runs.append((s.records(500), s.records(3), s.x.tobytes()))
    assert runs[0] == runs[1] and len(runs[0][0]) == 500


def test_a_breakpoint_outside_memory_leaves_the_run_in_chunks():
    """A PC outside memory is a halt, never a plain pass: such a breakpoint cannot be hit, and must not make the
    whole run go pass by pass (it did)."""
    cfg = Config("subleq", 16, 32)

    def script(s: Session, note) -> None:
        s.add_breakpoint("*100000", address=100000)
        s.add_breakpoint("*-5", address=-5)
        note(s.cont(max_steps=5000))

    notes = both(lambda: Session(Image(cfg.machine, counter_loop(3000)), cfg), script)
    assert notes[0][0] == "limit" and notes[0][11] == 5000
    s = Session(Image(cfg.machine, counter_loop(3000)), cfg)
    s.add_breakpoint("*100000", address=100000)
    assert s._attention(stops=True)  # chunks


def test_the_paper_machine_runs_in_chunks_and_stops_where_one_pass_at_a_time_does():
    """The Harvard machine has a fast reference too: breakpoints on slots, watchpoints on cells, step N and the
    halt stop at the same pass, with the same state, as one pass at a time."""

    def script(s: Session, note) -> None:
        assert s._attention() != s.slow  # chunks, unless told to go pass by pass
        s.add_breakpoint("smaller")
        note(s.cont())
        note(s.cont())
        s.delete()
        s.add_watchpoint("a")
        note(s.cont())
        s.delete()
        note(s.step(7))
        note(s.cont())

    notes = both(lambda: program("paper/gcd.pasq"), script)
    assert [n[0] for n in notes] == ["breakpoint", "breakpoint", "watchpoint", "step", "halt"]


def healed_write(cfg: Config):
    """Weights with a two-weight fault in write.1: cell 11's bit 0 also follows the write of cell 10's bit 0
    (its old bit taken away, its new bit added), so a write of 1 to cell 10 puts a wrong 1 in cell 11 (never
    read) and the next write of 0 to cell 10 takes it away again: memory is right once more at the end."""
    weights = compile_network(build(cfg))
    k = LAYER_NAMES.index("write.1")
    layer, inputs = weights.layers[k], weights.layers[k - 1].outputs
    W = layer.W
    unit = layer.outputs["mem"].offset + 11 * cfg.bits
    extra = [(inputs["write_old"].offset + 10 * cfg.bits, -1.0), (inputs["write_new"].offset + 10 * cfg.bits, 1.0)]
    lo, hi = W.indptr[unit], W.indptr[unit + 1]
    indices = np.concatenate([W.indices[:hi], [c for c, _ in extra], W.indices[hi:]]).astype(W.indices.dtype)
    data = np.concatenate([W.data[:hi], [v for _, v in extra], W.data[hi:]]).astype(W.data.dtype)
    indptr = W.indptr.copy()
    indptr[unit + 1 :] += len(extra)
    assert lo < hi
    changed = replace(layer, W=Csr(data, indices, indptr, W.shape))
    return replace(weights, layers=(*weights.layers[:k], changed, *weights.layers[k + 1 :]))


HEALING = [9, 10, 3, 10, 10, 6, 10, 10, -1, -1, 0, 0] + [0] * 20  # mem[10] = 1, mem[10] = 0, halt


def test_a_wrong_write_healed_within_a_chunk_is_found_at_its_pass():
    """The first pass writes cell 10 right and cell 11 wrong; the second heals cell 11 before anything reads
    it. One pass at a time stops at the first pass; a checked chunk holding both must stop there too."""
    cfg = Config("subleq", 16, 32)
    bad = healed_write(cfg)

    def make() -> Session:
        engine = Sparse(bad)
        engine.guard = False
        return Session(Image(cfg.machine, HEALING), cfg, engine=engine)

    def script(s: Session, note) -> None:
        note(s.cont())

    (stop,) = both(make, script)
    assert stop[0] == "divergence" and stop[4].field == "mem[11]" and (stop[4].network, stop[4].reference) == (1, 0)
    assert stop[11:13] == (1, 1)  # passes, steps: at the first pass
    healthy = Session(Image(cfg.machine, HEALING), cfg, engine=Sparse(compile_network(build(cfg))))
    assert healthy.cont().reason == "halt"  # the program itself is fine


def test_lockstep_and_the_session_report_the_healed_write_alike():
    """One comparison with the reference (``check.runner``): lockstep's batch and the debugger's session name
    the same field, values, step and layer for the same fault."""
    cfg = Config("subleq", 16, 32)
    engine = Sparse(healed_write(cfg))
    engine.guard = False
    div = Batch(engine, cfg, [Program(HEALING)]).run()[1]
    stop = Session(Image(cfg.machine, HEALING), cfg, engine=engine).cont()
    assert div is not None and stop.reason == "divergence"
    mine = stop.divergence
    assert (div.field, div.network, div.reference, div.layer) == (mine.field, mine.network, mine.reference, mine.layer)
    assert div.field == "mem[11]" and div.step == 0 and mine.step == 1  # steps before / after the pass


def test_after_a_divergence_the_session_stays_diverged_until_back_before_it_or_check_off():
    """The next checked command after a divergence is refused with a "diverged" stop, state untouched; going
    back before the divergence runs checked again (and finds it again); ``set check off`` runs on alone."""
    cfg = Config("subleq", 16, 32)
    engine = Sparse(healed_write(cfg))
    engine.guard = False
    s = Session(Image(cfg.machine, HEALING), cfg, engine=engine)
    first = s.cont()
    assert first.reason == "divergence" and s.passes == 1
    state = s.x.tobytes()
    for command in (s.cont, lambda: s.step(1), lambda: s.until(6)):
        stop = command()
        assert stop.reason == "diverged" and stop.divergence == first.divergence
        assert s.passes == 1 and s.x.tobytes() == state
    s.reverse_step(1)
    assert s.passes == 0 and s.diverged is None
    again = s.cont()
    assert again.reason == "divergence" and again.divergence == first.divergence and s.passes == 1
    s.set_check(False)
    assert s.cont().reason == "halt" and s.mem(10) == 0 and s.mem(11) == 0  # healed: the network ran on alone
    with pytest.raises(DebugError):
        s.set_check(True)  # not at the start
    s.restart()
    s.set_check(True)
    assert s.cont().reason == "divergence" and s.passes == 1


def test_the_repl_says_it_is_still_diverged_and_set_check_off_runs_on():
    """The REPL's banner for a refused run, and ``set check off`` (one line each), then a normal halt."""
    import io

    from rich.console import Console

    from mlpvm.debug.commands import Debugger

    cfg = Config("subleq", 16, 32)
    engine = Sparse(healed_write(cfg))
    engine.guard = False
    out = io.StringIO()
    console = Console(file=out, width=80, highlight=False, markup=False, color_system=None)
    d = Debugger(Session(Image(cfg.machine, HEALING), cfg, engine=engine), console)
    for line in ("continue", "continue", "set check off", "continue"):
        d.execute(line)
    text = out.getvalue()
    assert "Divergence from the reference" in text
    assert "Still diverged from the reference" in text and "set check off" in text
    assert "The reference check is now off." in text and "Halted after" in text
