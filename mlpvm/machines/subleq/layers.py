"""The 23 layers for the von Neumann ``subleq`` machine (docs/machines.md section 1).

Every unit is on {0,1} for every {0,1} input. The stages, with what each adds to the paper's plan:

- fetch (2): the words at PC, PC+1, PC+2 by address match with shifted codes (no PC+1 adder needed), and
  whether PC is in range (halt if PC < 0 or PC + 2 >= M);
- read (2): mem[A], mem[B]; whether A, B are -1 (I/O) or in [0, M) (else fault);
- subtract (7): NOT mem[A], then the adder; meanwhile the I/O handshake, fault and halt flags;
- write (2): mem[B] <- the result, or the input word; gated, so halts, faults and output write nothing;
- next PC (6): the adder again, PC + 3;
- branch (4): result <= 0 selects C, else PC + 3; a pass that executes nothing keeps PC.
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

BYTE = 8

# Fields the host writes before a pass and reads after it (docs/machines.md section 3.5).
IO_FIELDS = {
    "in_byte": "host -> network: the next input byte, bits least significant first (ignored when in_eof)",
    "in_ready": "host -> network: 1 when in_byte/in_eof hold the next input; 0 makes an input instruction wait",
    "in_eof": "host -> network: 1 when the input is exhausted (an input instruction then stores -1)",
    "in_ack": "network -> host: 1 when the pass consumed the input byte; the host then places the next one",
    "in_wait": "network -> host: 1 when an input instruction found in_ready = 0; nothing was executed",
    "out_valid": "network -> host: 1 when the pass output a byte",
    "out_byte": "network -> host: the output byte (mem[A] mod 256), bits least significant first",
    "executed": "network -> host: 1 when the pass executed an instruction (a step)",
}


def state_fields(cfg: Config) -> list[tuple[str, tuple[int, ...]]]:
    n = cfg.bits
    return [
        ("mem", (cfg.cells, n)),
        ("pc", (n,)),
        ("halted", ()),
        ("fault", ()),
        ("in_byte", (BYTE,)),
        ("in_ready", ()),
        ("in_eof", ()),
        ("out_byte", (BYTE,)),
        ("out_valid", ()),
        ("in_ack", ()),
        ("in_wait", ()),
        ("executed", ()),
        *register_fields(n, n, n),
    ]


HOST_IN = ("in_byte", "in_ready", "in_eof")

# What each field the stages below compute is for, one line each (the debugger's layer views show them).
MEANINGS = {
    "pc": "PC: the address of the instruction's first word A",
    "halted": "1 once the machine halted (PC out of range); it then executes nothing",
    "fault": "1 once an operand was outside memory; the machine then executes nothing",
    "fetch_a": "memory gated by the match with PC: the row holding A",
    "fetch_b": "memory gated by the match with PC + 1: the row holding B",
    "fetch_c": "memory gated by the match with PC + 2: the row holding C",
    "pc_ok": "1 when 0 <= PC < M (PC's bits above the address are 0)",
    "pc_top": "1 when PC mod M >= M - 2: the instruction would run past memory",
    "a": "A, the word at PC: the cell subtracted (-1: input)",
    "b": "B, the word at PC + 1: the cell written (-1: output)",
    "c": "C, the word at PC + 2: where to jump when the result <= 0",
    "run": "1 when PC is in range and the machine has neither halted nor faulted",
    "read_a": "memory gated by the match with A: the row mem[A]",
    "read_b": "memory gated by the match with B: the row mem[B]",
    "a_m1": "1 when A = -1 (all ones): an input instruction",
    "b_m1": "1 when B = -1 (all ones): an output instruction",
    "a_ok": "1 when 0 <= A < M",
    "b_ok": "1 when 0 <= B < M",
    "mem_a": "mem[A], read out of read_a",
    "mem_b": "mem[B], read out of read_b",
    "is_in": "an input instruction: A = -1, B in memory, running",
    "is_out": "an output instruction: B = -1, A in memory, running",
    "is_sub": "a subtraction: A and B in memory, running",
    "na": "NOT mem[A]: mem[B] - mem[A] = mem[B] + NOT mem[A] + 1",
    "fcond": "running, but no kind matched: an operand is outside memory (a fault)",
    "we": "1 when something is written to mem[B]: a subtraction or a consumed input",
    "in_bits": "the input word's low bits: the byte, or all ones at end of input",
    "in_neg": "1 at end of input: the input word is -1 (its high bits are ones)",
    "result": "the word written to mem[B]: mem[B] - mem[A], or the input word",
    "branch": "1 when a subtraction's result <= 0: jump to C",
    "to_c": "C when branching, else 0",
    "to_next": "PC + 3 when an instruction ran without branching, else 0",
    "stay": "PC when the pass executed nothing, else 0",
}


def _sub(cfg: Config) -> Adder:
    return Adder("sub", "mem_b", "na", 1, cfg.bits, "sub_r", gate="is_sub")


def _pc3(cfg: Config) -> Adder:
    return Adder("pc3", "pc", 3, 0, cfg.bits, "next_pc")


def meanings(cfg: Config) -> dict[str, str]:
    """Every field of every layer, with what it holds."""
    return {**SHARED, **_sub(cfg).meanings(), **_pc3(cfg).meanings(), **IO_FIELDS, **MEANINGS}


def build(cfg: Config) -> list[Layer]:
    net = Sequencer(Layout(state_fields(cfg)))
    fetch(net, cfg)
    read(net, cfg)
    subtract(net, cfg)
    write(net, cfg)
    next_pc(net, _pc3(cfg))
    branch(net, cfg)
    return net.finish()


def _bits(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """A word's address bits, and the bits that must be 0 for it to be in [0, M) (always the sign bit)."""
    return np.arange(cfg.addr_bits), np.arange(min(cfg.addr_bits, cfg.bits - 1), cfg.bits)


def fetch(net: Sequencer, cfg: Config) -> None:
    """A, B, C: the words at PC, PC+1, PC+2; ``run``: PC is in range and the machine has neither halted nor
    faulted."""
    n, m, L = cfg.bits, cfg.cells, cfg.addr_bits
    low, high = _bits(cfg)
    b = net.layer("fetch.0", "fetch")
    for shift, name in enumerate(("fetch_a", "fetch_b", "fetch_c")):
        b.select(name, (m, n), ("pc", low), shift, (1, "mem"))
    b.map("pc_ok", (), (-1, "pc", high), bias=1)  # 0 <= PC < M
    b.map("pc_top", (), (1, "pc", np.arange(1, L)), bias=2 - L)  # PC mod M >= M - 2

    b = net.layer("fetch.1", "fetch")
    for src, dst in (("fetch_a", "a"), ("fetch_b", "b"), ("fetch_c", "c")):
        b.reduce(dst, src)
    b.map("run", (), (1, "pc_ok"), (-1, "pc_top"), (-1, "halted"), (-1, "fault"))


def read(net: Sequencer, cfg: Config) -> None:
    """mem[A], mem[B]; the kind of instruction: input (A = -1), output (B = -1) or subtraction (both in range)."""
    n, m = cfg.bits, cfg.cells
    low, high = _bits(cfg)
    b = net.layer("read.0", "read")
    b.select("read_a", (m, n), ("a", low), 0, (1, "mem"))
    b.select("read_b", (m, n), ("b", low), 0, (1, "mem"))
    for r in "ab":
        b.map(f"{r}_m1", (), (1, r, np.arange(n)), bias=1 - n)  # all ones: -1
        b.map(f"{r}_ok", (), (-1, r, high), bias=1)

    b = net.layer("read.1", "read")
    b.reduce("mem_a", "read_a")
    b.reduce("mem_b", "read_b")
    b.map("is_in", (), (1, "a_m1"), (1, "b_ok"), (1, "run"), bias=-2)
    b.map("is_out", (), (1, "b_m1"), (1, "a_ok"), (1, "run"), bias=-2)
    b.map("is_sub", (), (1, "a_ok"), (1, "b_ok"), (1, "run"), bias=-2)


def subtract(net: Sequencer, cfg: Config) -> None:
    """NOT mem[A], then mem[B] + NOT mem[A] + 1; alongside, the I/O handshake, the fault and halt flags, and
    the word an input instruction stores."""
    n = cfg.bits
    sub = _sub(cfg)
    b = net.layer("subtract.0", "subtract")
    b.map("na", (n,), (-1, "mem_a"), bias=1)
    b.map("fcond", (), (1, "run"), (-1, "is_in"), (-1, "is_out"), (-1, "is_sub"))
    b.map("in_ack", (), (1, "is_in"), (1, "in_ready"), bias=-1)
    b.map("in_wait", (), (1, "is_in"), (-1, "in_ready"))
    sign_extended = np.minimum(np.arange(BYTE), n - 1)  # mem[A] mod 256 for words narrower than a byte
    b.map("out_byte", (BYTE,), (1, "mem_a", sign_extended), (1, "is_out"), bias=-1)
    b.rename("out_valid", "is_out")

    b = net.layer("subtract.1", "subtract")
    sub.layer(b, 0)
    b.map("we", (), (1, "is_sub"), (1, "in_ack"))  # something is written to mem[B]
    b.map("executed", (), (1, "is_sub"), (1, "out_valid"), (1, "in_ack"))
    b.map("halted", (), (-1, "run"), (1, "fcond"), bias=1)
    b.map("fault", (), (1, "fault"), (1, "fcond"))

    adder_steps(net, "subtract", sub, range(1, STEPS - 1), first=1)
    b = net.layer("subtract.6", "subtract")
    sub.layer(b, STEPS - 1)
    # The word an input instruction stores: the byte, or -1 (all ones) at end of input.
    b.map("in_bits", (min(BYTE, n),), (1, "in_byte", np.arange(min(BYTE, n))), (-1, "in_eof"), (1, "in_ack"), bias=-1)
    b.map("in_neg", (), (1, "in_eof"), (1, "in_ack"), bias=-1)


def write(net: Sequencer, cfg: Config) -> None:
    """mem[B] <- the result or the input word, when something is written (``we``)."""
    n, m = cfg.bits, cfg.cells
    low, _ = _bits(cfg)
    pad = np.where(np.arange(n) < BYTE, np.arange(n), -1)
    written = ((1, "sub_r"), (1, "in_bits", pad), (1, "in_neg"))
    b = net.layer("write.0", "write")
    b.select("write_old", (m, n), ("b", low), 0, (1, "mem"), (1, "we"), bias=-1)
    b.select("write_new", (m, n), ("b", low), 0, *written, (1, "we"), bias=-1)
    b.map("result", (n,), *written)
    commit_write(net, (m, n))


def branch(net: Sequencer, cfg: Config) -> None:
    """result <= 0 (of a subtraction) selects C, else PC + 3; a pass that executes nothing keeps PC."""
    n, L = cfg.bits, cfg.addr_bits
    ones = np.arange(n)
    result_is_zero(net, n)

    b = net.layer("branch.1", "branch")
    b.map("branch", (), (1, "result", n - 1), (1, "zero"), (1, "is_sub"), bias=-1)  # result <= 0

    # An instruction executes only at 0 <= PC <= M - 3, so PC + 3 <= M: bits of to_next above L would always be 0.
    top = min(L + 1, n)
    b = net.layer("branch.2", "branch")
    b.map("to_c", (n,), (1, "c"), (1, "branch"), bias=-1)
    b.map("to_next", (top,), (1, "next_pc", np.arange(top)), (1, "executed"), (-1, "branch"), bias=-1)
    b.map("stay", (n,), (1, "pc"), (-1, "executed"))

    b = net.layer("branch.3", "branch")
    b.map("pc", (n,), (1, "to_c"), (1, "to_next", np.where(ones < top, ones, -1)), (1, "stay"))
