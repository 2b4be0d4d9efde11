"""The ``paper`` step as bit-vector formulas, written from docs/machines.md sections 2.2 and 3.3 and nothing
else (not from the layers): what ``mlpvm prove`` proves the weights equal."""

from __future__ import annotations

import json

from mlpvm.machines.config import Config
from mlpvm.prove import require_z3
from mlpvm.prove.spec import Claim, at_most_zero, indices, listed, operand, read


def invariant(cfg: Config, s: dict):
    """Every {0,1} state is a state of this machine (the bits of ``ins`` above an operand's width are ignored)."""
    return require_z3().BoolVal(True)


def decoded(cfg: Config, s: dict) -> dict[str, tuple]:
    """The decoded quantities, each a variable and its definition: slot PC's operands and the words they
    address. The claims use the variables, so that each stage's question reads memory at most once."""
    z3 = require_z3()
    la, lk, n = cfg.addr_bits, cfg.slot_bits, cfg.bits
    a, b, c = (operand(s["ins"], j, s["pc"], lk) for j in range(3))
    va, vb = z3.BitVec("decoded a", la), z3.BitVec("decoded b", la)  # not the registers a, b
    return {
        "a": (va, z3.Extract(la - 1, 0, a)),
        "b": (vb, z3.Extract(la - 1, 0, b)),
        "c": (z3.BitVec("decoded c", lk), z3.Extract(lk - 1, 0, c)),
        "mem_a": (z3.BitVec("decoded mem[a]", n), read(s["mem"], va, la)),
        "mem_b": (z3.BitVec("decoded mem[b]", n), read(s["mem"], vb, la)),
    }


def step(cfg: Config, s: dict, d: dict) -> dict[str, Claim]:
    """The next state (``d``: the variables of ``decoded``, standing for their definitions)."""
    z3 = require_z3()
    pc, halted = s["pc"], s["halted"]
    a, b, c = d["a"], d["b"], d["c"]
    mem_a, mem_b = d["mem_a"], d["mem_b"]
    mem = s["mem"]
    r = mem_b - mem_a
    branch = at_most_zero(r)
    stop = z3.And(z3.Not(halted), mem_a == 0, branch, c == pc)  # the step would change nothing: halt
    run = z3.And(z3.Not(halted), z3.Not(stop))
    always, live = z3.BoolVal(True), z3.Not(halted)

    def claim(value, cond=always) -> Claim:
        return Claim(cond, value)

    return {
        "mem": claim([z3.If(z3.And(run, b == i), r, mem[i]) for i in indices(mem)]),
        "ins": claim(s["ins"]),
        "pc": claim(z3.If(run, z3.If(branch, c, pc + 1), pc)),  # PC + 1 wraps mod K: L_K bits
        "halted": claim(z3.Or(halted, stop)),
        "executed": claim(run),
        "a": claim(a, live),
        "b": claim(b, live),
        "c": claim(c, live),
        "mem_a": claim(mem_a, live),
        "mem_b": claim(mem_b, live),
        "result": claim(r, live),
        "branch": claim(branch, live),
        "next_pc": claim(pc + 1),
    }


def stages(cfg: Config, s: dict, d: dict) -> list[tuple[dict[str, Claim], tuple[str, ...]]]:
    """Lemmas for the staged proof: what the fields at the end of fetch, read, subtract, write and next_pc
    hold. They name the construction's scratch fields (``run``, ``c_ne``, ``a_zero``, ...), so unlike ``step``
    they are about the construction; they are only stepping stones, each proved from the one before (a wrong
    lemma makes a proof fail, never pass), and the last stage is proved against ``step``. With each, the
    decoded quantities whose definitions its stage's proof assumes (the others are free: proved for all)."""
    z3 = require_z3()
    final = step(cfg, s, d)
    a, b, c = (final[k].value for k in "abc")
    mem_a = final["mem_a"].value

    def claim(value) -> Claim:
        return Claim(z3.BoolVal(True), value)

    fetched = {
        **{k: claim(s[k]) for k in ("mem", "ins", "pc", "halted")},
        "a": claim(a),
        "b": claim(b),
        "c": claim(c),
        "run": claim(z3.Not(s["halted"])),
    }
    read_ = {**fetched, "mem_a": claim(mem_a), "mem_b": final["mem_b"], "c_ne": claim(c ^ s["pc"])}
    subtracted = {
        **{k: v for k, v in read_.items() if k != "c_ne"},
        "result": final["result"],
        "a_zero": claim(mem_a == 0),
        "c_is_pc": claim(c == s["pc"]),
    }
    # A halting step writes mem[b] - 0 = mem[b] over mem[b]: written, unchanged; the last stage, which assumes
    # the definition of mem[b], proves that equal to ``step``'s memory.
    live, r = z3.Not(s["halted"]), final["result"].value
    new = [z3.If(z3.And(live, b == i), r, s["mem"][i]) for i in indices(s["mem"])]  # every row, or the symbolic one
    written = {**subtracted, "mem": claim(new)}
    next_ = {**written, "next_pc": final["next_pc"]}
    return [(fetched, ("a", "b", "c")), (read_, ("mem_a", "mem_b")), (subtracted, ()), (written, ()), (next_, ())]


def loadable(cfg: Config, s: dict):
    """States ``mlpvm verify`` can start from: a program loaded (PC 0, not halted, registers 0, operands in
    range); and, to keep it to one instruction, every slot but slot 0 empty and every cell 0 but mem[a] and
    mem[b]."""
    z3 = require_z3()
    zero = [s[k] == 0 for k in ("pc", "a", "b", "c", "mem_a", "mem_b", "result", "next_pc")]
    flags = [z3.Not(s[k]) for k in ("halted", "executed", "branch")]
    bound = (cfg.cells, cfg.cells, cfg.slots)
    ins, mem = listed(s["ins"], cfg.slots, 3), listed(s["mem"], cfg.cells)
    in_range = [z3.ULT(z3.ZeroExt(1, slot[j]), bound[j]) for slot in ins for j in range(3)]
    empty = [slot[j] == 0 for slot in ins[1:] for j in range(3)]
    a, b = (z3.Extract(cfg.addr_bits - 1, 0, ins[0][j]) for j in (0, 1))
    spare = [z3.Or(a == i, b == i, mem[i] == 0) for i in range(cfg.cells)]
    return z3.And(*zero, *flags, *in_range, *empty, *spare)


def program(cfg: Config, words: list[int], slots) -> tuple[str, str]:
    """The program file of a loadable counterexample: (suffix, JSON text)."""
    while words and words[-1] == 0:
        words = words[:-1]
    used = [list(t) for t in slots]
    while len(used) > 1 and used[-1] == [0, 0, 0]:
        used.pop()
    return ".json", json.dumps({"machine": "paper", "slots": used, "data": words})
