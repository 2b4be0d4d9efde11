"""The ``paper`` step as bit-vector formulas, written from docs/machines.md sections 2.2 and 3.3 and nothing
else (not from the layers): what ``mlpvm prove`` proves the weights equal."""

from __future__ import annotations

from mlpvm.machines.config import Config
from mlpvm.prove import require_z3
from mlpvm.prove.spec import Claim, at_most_zero, read


def invariant(cfg: Config, s: dict):
    """Every {0,1} state is a state of this machine (the bits of ``ins`` above an operand's width are ignored)."""
    return require_z3().BoolVal(True)


def _slot(cfg: Config, s: dict):
    z3 = require_z3()
    la, lk = cfg.addr_bits, cfg.slot_bits
    a, b, c = (read([slot[j] for slot in s["ins"]], s["pc"], lk) for j in range(3))
    return z3.Extract(la - 1, 0, a), z3.Extract(la - 1, 0, b), z3.Extract(lk - 1, 0, c)


def step(cfg: Config, s: dict) -> dict[str, Claim]:
    z3 = require_z3()
    m, la = cfg.cells, cfg.addr_bits
    mem, pc, halted = s["mem"], s["pc"], s["halted"]
    a, b, c = _slot(cfg, s)
    mem_a, mem_b = read(mem, a, la), read(mem, b, la)
    r = mem_b - mem_a
    branch = at_most_zero(r)
    stop = z3.And(z3.Not(halted), mem_a == 0, branch, c == pc)  # the step would change nothing: halt
    run = z3.And(z3.Not(halted), z3.Not(stop))
    always, live = z3.BoolVal(True), z3.Not(halted)

    def claim(value, cond=always) -> Claim:
        return Claim(cond, value)

    return {
        "mem": claim([z3.If(z3.And(run, b == i), r, mem[i]) for i in range(m)]),
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


def stages(cfg: Config, s: dict) -> list[dict[str, Claim]]:
    """Lemmas for the staged proof: what the fields at the end of fetch, read, subtract, write and next_pc
    hold. They name the construction's scratch fields (``run``, ``c_ne``, ``a_zero``, ...), so unlike ``step``
    they are about the construction; they are only stepping stones, each proved from the one before (a wrong
    lemma makes a proof fail, never pass), and the last stage is proved against ``step``."""
    z3 = require_z3()
    final = step(cfg, s)
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
    written = {**subtracted, "mem": final["mem"]}
    return [fetched, read_, subtracted, written, {**written, "next_pc": final["next_pc"]}]
