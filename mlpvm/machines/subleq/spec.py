"""The ``subleq`` step as bit-vector formulas, written from docs/machines.md sections 1.3, 1.4 and 3.3-3.5 and
nothing else (not from the layers): what ``mlpvm prove`` proves the weights equal.

``s`` holds the state's variables (``mlpvm.prove.spec.variables``): memory words, PC, the flags and the host's
input fields. ``step`` returns the claims about the next state; ``invariant`` is what every state satisfies.
"""

from __future__ import annotations

from mlpvm.machines.config import Config
from mlpvm.prove import require_z3
from mlpvm.prove.spec import Claim, at_most_zero, indices, read, signed_in

BYTE = 8


def invariant(cfg: Config, s: dict):
    """Documented (section 1.4): a fault also sets ``halted``."""
    z3 = require_z3()
    return z3.Implies(s["fault"], s["halted"])


def decoded(cfg: Config, s: dict) -> dict[str, tuple]:
    """The decoded quantities, each a variable and its definition: the instruction at PC and the words it
    addresses. The claims use the variables, so that each stage's question reads memory at most once."""
    z3 = require_z3()
    n, la = cfg.bits, cfg.addr_bits
    mem, pc = s["mem"], s["pc"]
    A, B, C = (z3.BitVec(f"decoded {name}", n) for name in "ABC")  # not the registers a, b, c
    return {
        "A": (A, read(mem, pc, la)),
        "B": (B, read(mem, pc + 1, la)),
        "C": (C, read(mem, pc + 2, la)),
        "mem_a": (z3.BitVec("decoded mem[A]", n), read(mem, A, la)),
        "mem_b": (z3.BitVec("decoded mem[B]", n), read(mem, B, la)),
    }


class _Terms:
    """The quantities of section 1.3 for the state ``s`` and the decoded variables ``d``, each once."""

    def __init__(self, cfg: Config, s: dict, d: dict):
        z3 = require_z3()
        n, m, la = cfg.bits, cfg.cells, cfg.addr_bits
        self.z3, self.s, self.cfg = z3, s, cfg
        mem, pc, halted = s["mem"], s["pc"], s["halted"]

        def valid(a):
            return signed_in(a, 0, m)

        minus1 = z3.BitVecVal(-1, n)
        self.in_range = signed_in(pc, 0, m - 2)  # PC >= 0 and PC + 2 < M
        self.running = z3.And(z3.Not(halted), self.in_range)
        self.A, self.B, self.C = A, B, _ = d["A"], d["B"], d["C"]
        self.mem_a, self.mem_b = d["mem_a"], d["mem_b"]
        is_in = A == minus1  # noqa: SIM300
        is_out = z3.And(z3.Not(is_in), B == minus1)  # noqa: SIM300
        is_sub = z3.And(z3.Not(is_in), z3.Not(is_out))
        operands_ok = z3.If(is_in, valid(B), z3.If(is_out, valid(A), z3.And(valid(A), valid(B))))
        self.faults = z3.And(self.running, z3.Not(operands_ok))
        go = z3.And(self.running, operands_ok)
        self.wait = z3.And(go, is_in, z3.Not(s["in_ready"]))
        self.do_in = z3.And(go, is_in, s["in_ready"])
        self.do_out = z3.And(go, is_out)
        self.do_sub = z3.And(go, is_sub)
        self.executed = z3.Or(self.do_in, self.do_out, self.do_sub)
        byte = s["in_byte"]
        self.typed = z3.ZeroExt(n - BYTE, byte) if n >= BYTE else z3.Extract(n - 1, 0, byte)  # the byte mod 2^N
        self.stored = z3.If(s["in_eof"], minus1, self.typed)
        self.r = self.mem_b - self.mem_a
        self.written = z3.If(self.do_in, self.stored, self.r)
        self.writes = z3.Or(self.do_in, self.do_sub)
        # B is in [0, M) whenever something is written, so its low L bits name the cell.
        # (Every row, or the one symbolic row of a proof by rows: ``mlpvm.prove.rows``.)
        self.new_mem = [
            z3.If(z3.And(self.writes, z3.Extract(la - 1, 0, B) == i), self.written, mem[i]) for i in indices(mem)
        ]
        self.branch = at_most_zero(self.r)
        self.new_pc = z3.If(z3.And(self.do_sub, self.branch), self.C, z3.If(self.executed, pc + 3, pc))
        self.halted = z3.Or(halted, z3.Not(self.in_range), self.faults)
        low = self.mem_a  # mem[A] mod 256 (of the signed value: narrow words are sign-extended)
        self.out_byte = z3.SignExt(BYTE - n, low) if n < BYTE else z3.Extract(BYTE - 1, 0, low)

    def claim(self, value, cond=None) -> Claim:
        return Claim(self.z3.BoolVal(True) if cond is None else cond, value)

    def same(self, *names: str) -> dict[str, Claim]:
        return {name: self.claim(self.s[name]) for name in names}


def step(cfg: Config, s: dict, d: dict) -> dict[str, Claim]:
    """The next state (``d``: the variables of ``decoded``, standing for their definitions)."""
    t = _Terms(cfg, s, d)
    z3, c = t.z3, t.claim
    return {
        "mem": c(t.new_mem),
        "pc": c(t.new_pc),
        "halted": c(t.halted),
        "fault": c(z3.Or(s["fault"], t.faults)),
        **t.same("in_byte", "in_ready", "in_eof"),
        "out_byte": c(z3.If(t.do_out, t.out_byte, z3.BitVecVal(0, BYTE))),
        "out_valid": c(t.do_out),
        "in_ack": c(t.do_in),
        "in_wait": c(t.wait),
        "executed": c(t.executed),
        "a": c(t.A, t.running),
        "b": c(t.B, t.running),
        "c": c(t.C, t.running),
        "mem_a": c(t.mem_a, z3.Or(t.do_sub, t.do_out)),
        "mem_b": c(t.mem_b, t.writes),
        "result": c(t.written, t.writes),
        "branch": c(t.branch, t.do_sub),
        "next_pc": c(s["pc"] + 3),
    }


def stages(cfg: Config, s: dict, d: dict) -> list[tuple[dict[str, Claim], tuple[str, ...]]]:
    """Lemmas for the staged proof: what the fields at the end of fetch, read, subtract, write and next_pc
    hold. They name the construction's scratch fields (``run``, ``is_sub``, ``we``, ...), so unlike ``step``
    they are about the construction; they are only stepping stones, each proved from the one before (a wrong
    lemma makes a proof fail, never pass), and the last stage is proved against ``step``. With each, the
    decoded quantities whose definitions its stage's proof assumes (the others are free: proved for all)."""
    t = _Terms(cfg, s, d)
    z3, c = t.z3, t.claim
    n = cfg.bits
    host = t.same("mem", "pc", "fault", "in_byte", "in_ready", "in_eof")
    fetched = {**host, "a": c(t.A, t.running), "b": c(t.B, t.running), "c": c(t.C, t.running), "run": c(t.running)}
    read_ = {
        **fetched,
        "mem_a": c(t.mem_a, t.running),
        "mem_b": c(t.mem_b, t.running),
        "is_in": c(z3.Or(t.do_in, t.wait)),
        "is_out": c(t.do_out),
        "is_sub": c(t.do_sub),
    }
    final = step(cfg, s, d)
    flags = {k: final[k] for k in ("executed", "halted", "fault", "in_ack", "in_wait", "out_byte", "out_valid")}
    width = min(BYTE, n)
    subtracted = {
        **{k: v for k, v in read_.items() if k not in ("is_in", "is_out", "run")},
        **flags,
        "sub_r": c(z3.If(t.do_sub, t.r, z3.BitVecVal(0, n))),
        "in_bits": c(z3.If(z3.And(t.do_in, z3.Not(s["in_eof"])), z3.Extract(width - 1, 0, t.typed), 0)),
        "in_neg": c(z3.And(t.do_in, s["in_eof"])),
        "we": c(t.writes),
    }
    written = {
        **{k: v for k, v in subtracted.items() if k not in ("sub_r", "in_bits", "in_neg", "we")},
        "mem": c(t.new_mem),
        "result": c(t.written, t.writes),
    }
    next_ = {**written, "next_pc": final["next_pc"]}
    return [(fetched, ("A", "B", "C")), (read_, ("mem_a", "mem_b")), (subtracted, ()), (written, ()), (next_, ())]


def loadable(cfg: Config, s: dict):
    """States ``mlpvm verify`` can start from: an image loaded at 0 (PC 0, nothing stopped, registers and
    outputs 0), a byte or the end of input on offer; and, to keep it to one instruction, every cell 0 but the
    instruction's and the two it addresses."""
    z3 = require_z3()
    zero = [s[k] == 0 for k in ("pc", "out_byte", *REGISTER_WORDS)]
    flags = [z3.Not(s[k]) for k in ("halted", "fault", "out_valid", "in_ack", "in_wait", "executed", "branch")]
    mem, la = s["mem"], cfg.addr_bits
    a, b = (z3.Extract(la - 1, 0, mem[i]) for i in (0, 1))
    spare = [z3.Or(a == i, b == i, mem[i] == 0) for i in range(3, cfg.cells)]
    byte = z3.If(s["in_eof"], s["in_byte"] == 0, z3.ULT(s["in_byte"], 128))  # --input TEXT: ASCII
    return z3.And(*zero, *flags, s["in_ready"], byte, *spare)


REGISTER_WORDS = ("a", "b", "c", "mem_a", "mem_b", "result", "next_pc")


def program(cfg: Config, words: list[int], slots) -> tuple[str, str]:
    """The image file of a loadable counterexample: (suffix, text), the words up to the last nonzero one."""
    while words and words[-1] == 0:
        words = words[:-1]
    return ".dec", " ".join(str(w) for w in words or [0])
