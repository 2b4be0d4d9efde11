"""The punchcard X (rows x columns) of a machine state, and back: column 0 the scratchpad, column 1 + i
memory cell i. Decoding checks that the state is exact: every entry 0 or 1 and every scratch row 0."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpvm import protocol
from mlpvm.transformer.encodings import from_bits, positions, to_bits
from mlpvm.transformer.network import Transformer


@dataclass
class State:
    """A decoded punchcard."""

    mem: list[int]
    pc: int
    flags: dict[str, int]
    out_byte: int


def encode(net: Transformer, words: list[int], pc: int = 0, halted: bool = False, fault: bool = False) -> np.ndarray:
    cfg, r = net.config, net.rows
    x = np.zeros((r.size, net.columns), net.dtype)
    x[r.row("one")] = 1
    x[r.row("is_mem"), 1:] = 1
    x[r.row("is_scr"), 0] = 1
    x[r["pos"].start : r["pos"].stop, 1:] = positions(cfg.cells, cfg.addr_bits)
    mem = [cfg.wrap(w) for w in words] + [0] * (cfg.cells - len(words))
    x[r["val"].start : r["val"].stop, 1:] = np.stack([to_bits(w, cfg.bits) for w in mem], axis=1)
    x[r["pc"].start : r["pc"].stop, 0] = to_bits(cfg.wrap(pc), cfg.bits)
    x[r.row("halted"), 0], x[r.row("fault"), 0] = int(halted or fault), int(fault)
    return x


def place_input(net: Transformer, x: np.ndarray, value: int | None) -> None:
    """The host's input fields (mlpvm.protocol): the next byte, end of input, or nothing yet."""
    r = net.rows
    for name, v in protocol.placed(value).items():
        bits = to_bits(v, protocol.BYTE) if name == protocol.IN_BYTE else [v]
        x[r[name].start : r[name].stop, 0] = bits


def inexact(net: Transformer, x: np.ndarray) -> str | None:
    """None if the punchcard is an exact state; else what is wrong with it, in a few words."""
    off = (x != 0) & (x != 1)
    if off.any():
        row, col = map(int, np.argwhere(off)[0])
        return f"row {_row_name(net, row)} of column {col} is {float(x[row, col])!r}, not 0 or 1"
    temps = net.rows.temp_rows()
    if x[temps].any():
        row = temps[int(np.argwhere(x[temps].any(axis=1))[0][0])]
        return f"scratch row {_row_name(net, row)} is not cleared"
    return None


def _row_name(net: Transformer, row: int) -> str:
    for name, rows in net.rows.fields.items():
        if row in rows:
            return f"{name}[{row - rows.start}]" if len(rows) > 1 else name
    return str(row)


def decode(net: Transformer, x: np.ndarray) -> State:
    r, cfg = net.rows, net.config
    bits = np.rint(x).astype(np.int64)
    vals = bits[r["val"].start : r["val"].stop, 1:]
    mem = [from_bits(vals[:, i]) for i in range(cfg.cells)]
    pc = from_bits(bits[r["pc"].start : r["pc"].stop, 0])
    names = ("halted", "fault", "in_ack", "in_wait", "out_valid", "executed")
    flags = {name: int(bits[r.row(name), 0]) for name in names}
    out = from_bits(bits[r["out_byte"].start : r["out_byte"].stop, 0], signed=False)
    return State(mem, pc, flags, out)
