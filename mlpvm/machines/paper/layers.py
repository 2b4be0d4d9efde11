"""The 23 layers for the paper's Harvard machine (docs/machines.md section 2).

Slots hold (a, b, c); a and b address data cells, c and PC address slots. The network halts the machine
at a fixed point: when ``mem[a] == 0``, ``mem[b] <= 0`` and ``c == PC`` the step would change nothing, so it
sets ``halted`` instead; a halted machine writes nothing and keeps its PC.
"""

from __future__ import annotations

import numpy as np

from mlpvm.craft.adder import STEPS, Adder
from mlpvm.craft.blocks import Layer
from mlpvm.craft.builder import Sequencer
from mlpvm.craft.layout import Layout
from mlpvm.craft.stages import MEANINGS as SHARED
from mlpvm.craft.stages import adder_steps, commit_write, next_pc, result_is_zero
from mlpvm.machines.config import Config
from mlpvm.machines.state import register_fields

IO_FIELDS = {"executed": "network -> host: 1 when the pass executed an instruction (a step)"}

# What each field the stages below compute is for, one line each (the debugger's layer views show them).
MEANINGS = {
    "ins": "the instruction slots: a, b, c of each, least significant bit first (the state)",
    "pc": "PC: the slot of the next instruction",
    "halted": "1 once the machine reached a fixed point; it then writes nothing and keeps PC",
    "fetch_a": "the slots' a fields gated by the match with PC: the row holding a",
    "fetch_b": "the slots' b fields gated by the match with PC: the row holding b",
    "fetch_c": "the slots' c fields gated by the match with PC: the row holding c",
    "run": "1 unless halted",
    "a": "a, the cell subtracted",
    "b": "b, the cell written",
    "c": "c, the slot to jump to when the result <= 0",
    "read_a": "memory gated by the match with a: the row mem[a]",
    "read_b": "memory gated by the match with b: the row mem[b]",
    "c_gt": "bits where c is 1 and PC is 0 (half of c XOR PC)",
    "c_lt": "bits where PC is 1 and c is 0 (half of c XOR PC)",
    "mem_a": "mem[a], read out of read_a",
    "mem_b": "mem[b], read out of read_b",
    "c_ne": "c XOR PC per bit",
    "na": "NOT mem[a]: mem[b] - mem[a] = mem[b] + NOT mem[a] + 1",
    "a_zero": "1 when mem[a] = 0 (for the fixed-point test)",
    "c_is_pc": "1 when c = PC (for the fixed-point test)",
    "result": "mem[b] - mem[a], the word written to mem[b]",
    "branch": "1 when the result <= 0: jump to c",
    "to_c": "c when running and branching, else 0",
    "to_next": "PC + 1 when running without branching, else 0",
    "stay": "PC when halted, else 0",
    "stop": "1 when the step would change nothing (a fixed point): halt instead",
}


def _sub(cfg: Config) -> Adder:
    return Adder("sub", "mem_b", "na", 1, cfg.bits, "result")


def _pc1(cfg: Config) -> Adder:
    return Adder("pc1", "pc", 0, 1, cfg.slot_bits, "next_pc")


def meanings(cfg: Config) -> dict[str, str]:
    """Every field of every layer, with what it holds."""
    return {**SHARED, **_sub(cfg).meanings(), **_pc1(cfg).meanings(), **IO_FIELDS, **MEANINGS}


def state_fields(cfg: Config) -> list[tuple[str, tuple[int, ...]]]:
    n, la, lc = cfg.bits, cfg.addr_bits, cfg.slot_bits
    return [
        ("mem", (cfg.cells, n)),
        ("ins", (cfg.slots, 3, cfg.ins_bits)),
        ("pc", (lc,)),
        ("halted", ()),
        ("executed", ()),
        *register_fields(la, lc, n),
    ]


def build(cfg: Config) -> list[Layer]:
    net = Sequencer(Layout(state_fields(cfg)))
    fetch(net, cfg)
    read(net, cfg)
    subtract(net, cfg)
    write(net, cfg)
    next_pc(net, _pc1(cfg))
    branch(net, cfg)
    return net.finish()


def fetch(net: Sequencer, cfg: Config) -> None:
    """a, b, c of the slot at PC; ``run`` = not halted."""
    la, lc, w = cfg.addr_bits, cfg.slot_bits, cfg.ins_bits
    slot = np.arange(cfg.slots)[:, None] * 3 * w  # flat offset of each slot in ``ins``
    b = net.layer("fetch.0", "fetch")
    for j, (name, bits) in enumerate((("fetch_a", la), ("fetch_b", la), ("fetch_c", lc))):
        b.select(name, (cfg.slots, bits), ("pc", np.arange(lc)), 0, (1, "ins", slot + j * w + np.arange(bits)))
    b.map("run", (), (-1, "halted"), bias=1)

    b = net.layer("fetch.1", "fetch")
    for src, dst in (("fetch_a", "a"), ("fetch_b", "b"), ("fetch_c", "c")):
        b.reduce(dst, src)


def read(net: Sequencer, cfg: Config) -> None:
    """mem[a], mem[b]; and whether c differs from PC (for the halting test)."""
    n, m, la, lc = cfg.bits, cfg.cells, cfg.addr_bits, cfg.slot_bits
    b = net.layer("read.0", "read")
    b.select("read_a", (m, n), ("a", np.arange(la)), 0, (1, "mem"))
    b.select("read_b", (m, n), ("b", np.arange(la)), 0, (1, "mem"))
    b.map("c_gt", (lc,), (1, "c"), (-1, "pc"))  # the two halves of c XOR PC
    b.map("c_lt", (lc,), (1, "pc"), (-1, "c"))

    b = net.layer("read.1", "read")
    b.reduce("mem_a", "read_a")
    b.reduce("mem_b", "read_b")
    b.map("c_ne", (lc,), (1, "c_gt"), (1, "c_lt"))


def subtract(net: Sequencer, cfg: Config) -> None:
    """mem[b] + NOT mem[a] + 1; alongside, whether mem[a] == 0 and c == PC (for the halting test)."""
    n, lc = cfg.bits, cfg.slot_bits
    b = net.layer("subtract.0", "subtract")
    b.map("na", (n,), (-1, "mem_a"), bias=1)
    b.map("a_zero", (), (-1, "mem_a", np.arange(n)), bias=1)
    b.map("c_is_pc", (), (-1, "c_ne", np.arange(lc)), bias=1)
    adder_steps(net, "subtract", _sub(cfg), range(STEPS), first=1)


def write(net: Sequencer, cfg: Config) -> None:
    """mem[b] <- the result, unless halted."""
    n, m, la = cfg.bits, cfg.cells, cfg.addr_bits
    b = net.layer("write.0", "write")
    b.select("write_old", (m, n), ("b", np.arange(la)), 0, (1, "mem"), (1, "run"), bias=-1)
    b.select("write_new", (m, n), ("b", np.arange(la)), 0, (1, "result"), (1, "run"), bias=-1)
    commit_write(net, (m, n))


def branch(net: Sequencer, cfg: Config) -> None:
    """result <= 0 selects c, else PC + 1; a step that would change nothing sets ``halted`` instead."""
    n, lc = cfg.bits, cfg.slot_bits
    result_is_zero(net, n)

    b = net.layer("branch.1", "branch")
    b.map("branch", (), (1, "result", n - 1), (1, "zero"))  # result <= 0

    b = net.layer("branch.2", "branch")
    b.map("to_c", (lc,), (1, "c"), (1, "branch"), (1, "run"), bias=-2)
    b.map("to_next", (lc,), (1, "next_pc"), (-1, "branch"), (1, "run"), bias=-1)
    b.map("stay", (lc,), (1, "pc"), (-1, "run"))
    b.map("stop", (), (1, "branch"), (1, "a_zero"), (1, "c_is_pc"), (1, "run"), bias=-3)  # a fixed point

    b = net.layer("branch.3", "branch")
    b.map("pc", (lc,), (1, "to_c"), (1, "to_next"), (1, "stay"))
    b.map("halted", (), (1, "halted"), (1, "stop"))
    b.map("executed", (), (1, "run"), (-1, "stop"))
