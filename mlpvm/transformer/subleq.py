"""One loop iteration of the looped transformer for the ``subleq`` machine (docs/machines.md section 1): the
punchcard's rows, and 16 layers (3 attention, 13 feed-forward) that execute one instruction.

Columns: column 0 is the scratchpad (PC, flags, the host's I/O fields, and this pass's scratch values);
column 1 + i is memory cell i. ``subleq`` is von Neumann, so the instruction columns of Giannou et al. are the
memory columns: the fetch reads mem[PC], mem[PC+1], mem[PC+2] with three heads (see docs/machines.md,
"The looped transformer").

Every quantity is a {0,1} bit. Adders and comparisons are carry-lookahead steps on integer sums of bits
(``clamp``), XORs are parities; the only inexact values are the softmax reads, each rounded by the next
feed-forward block, and the pass ends by clearing every scratch row, so each pass starts from an exact state.
"""

from __future__ import annotations

from mlpvm.machines.config import Config
from mlpvm.transformer.attention import Attention, head
from mlpvm.transformer.ffn import Builder
from mlpvm.transformer.layout import Rows

BYTE = 8
PERSISTENT = [  # (name, width: 0 one row, N word bits, L address bits, B byte bits): the state between passes
    ("one", 0), ("is_mem", 0), ("is_scr", 0), ("pos", "L"), ("val", "N"), ("pc", "N"), ("halted", 0),
    ("fault", 0), ("in_byte", "B"), ("in_ready", 0), ("in_eof", 0), ("in_ack", 0), ("in_wait", 0),
    ("out_valid", 0), ("out_byte", "B"), ("executed", 0),
]  # fmt: skip
TEMPS = [
    ("car1", "N"), ("car2", "N"), ("car3", "N"), ("running", 0), ("pc1", "N"), ("pc2", "N"), ("pc3", "N"),
    ("raw_a", "N"), ("raw_b", "N"), ("raw_c", "N"), ("a", "N"), ("b", "N"), ("c", "N"),
    ("raw_ma", "N"), ("raw_mb", "N"), ("ma", "N"), ("mb", "N"), ("am1", 0), ("bm1", 0), ("aok", 0), ("bok", 0),
    ("do_in", 0), ("do_out", 0), ("do_sub", 0), ("wait", 0), ("fnow", 0), ("borrow", "N"), ("r", "N"),
    ("take", 0), ("wd", "N"), ("we", 0), ("n_pc", "N"), ("n_halted", 0), ("n_fault", 0), ("n_out_byte", "B"),
    ("n_executed", 0), ("raw_bb", "L"), ("raw_bwe", 0), ("raw_bwd", "N"), ("bb", "L"), ("bwe", 0),
    ("bwd", "N"), ("dist", "L"), ("m", 0),
]  # fmt: skip
# The scratch values every column computes (the write: each memory column decides whether it is addressed);
# every other scratch row, and every persistent field but the constants, positions and words, is 0 in memory
# columns after every layer (the units that compute them are gated off there), raw softmax reads aside.
EVERY_COLUMN = ("bb", "bwe", "bwd", "dist", "m")
MEMORY_FIELDS = ("one", "is_mem", "pos", "val")
# The host-visible flags and the scratch value each is replaced by at the end of a pass.
REPLACED = {"pc": "n_pc", "halted": "n_halted", "fault": "n_fault", "in_ack": "do_in", "in_wait": "wait",
            "out_valid": "do_out", "out_byte": "n_out_byte", "executed": "n_executed"}  # fmt: skip


def rows(config: Config) -> Rows:
    widths = {0: 1, "N": config.bits, "L": config.addr_bits, "B": BYTE}
    layout = Rows()
    for name, w in PERSISTENT:
        layout.add(name, widths[w])
    for name, w in TEMPS:
        layout.add(name, widths[w], temp=True)
    return layout


class Construction:
    """Builds the layers of one iteration on ``rows`` for ``config``."""

    def __init__(self, config: Config, rows: Rows):
        self.cfg, self.r = config, rows
        self.n, self.l = config.bits, config.addr_bits
        self.high = range(min(self.l, self.n - 1), self.n)  # bits that are 0 in a word in [0, M)

    def ffn(self, name: str) -> Builder:
        return Builder(name, self.r.size, self.r.row("is_mem"))

    def bit(self, name: str, i: int = 0) -> int:
        return self.r.row(name, i)

    # -- attention ---------------------------------------------------------------------------------------------
    def read_head(self, name: str, address: str, dest: str, source: str = "val"):
        """Column 0 reads the memory column whose position equals the low L bits of ``address``: the query is
        the +-1 code of those bits (zero in memory columns, which is_scr gates), the key the +-1 code of the
        position (zero in the scratchpad, which has no position)."""
        q = {i: {self.bit(address, i): 2, self.bit("is_scr"): -1} for i in range(self.l)}
        k = {i: {self.bit("pos", i): 2, self.bit("is_mem"): -1} for i in range(self.l)}
        v = {self.bit(dest, i): self.bit(source, i) for i in range(self.n)}
        return head(name, self.r.size, q, k, v)

    def broadcast_head(self):
        """Every column reads the scratchpad's address B, write enable and written word (margin 2 lambda)."""
        q, k = {0: {self.bit("one"): 1}}, {0: {self.bit("is_scr"): 2}}
        v = {self.bit("raw_bb", i): self.bit("b", i) for i in range(self.l)}
        v[self.bit("raw_bwe")] = self.bit("we")
        v |= {self.bit("raw_bwd", i): self.bit("wd", i) for i in range(self.n)}
        return head("write.broadcast", self.r.size, q, k, v)

    # -- feed-forward ------------------------------------------------------------------------------------------
    def round(self, f: Builder, raw: str, dest: str, width: int, scratch: bool) -> None:
        """dest <- round(raw): the error correction of a softmax read (``commit`` clears raw, with every
        other scratch row)."""
        for i in range(width):
            f.clamp(self.bit(dest, i), {self.bit(raw, i): 4}, -1.5, scratch)

    def increments(self) -> Builder:
        """Carries of PC + 1, PC + 2, PC + 3 and ``running`` (not halted, PC >= 0, PC + 2 < M)."""
        f, cells = self.ffn("pc.carry"), self.cfg.cells
        for c, name in ((1, "car1"), (2, "car2"), (3, "car3")):
            for k in range(1, self.width(c)):  # carry into bit k: (PC mod 2^k) + (c mod 2^k) >= 2^k
                terms = {self.bit("pc", i): 2**i for i in range(k)}
                f.clamp(self.bit(name, k), terms, (c % 2**k) - 2**k + 1)
        terms = {self.bit("pc", i): -(2**i) for i in range(self.l)}
        terms |= {self.bit("pc", i): terms.get(self.bit("pc", i), 0) - cells for i in self.high}
        terms[self.bit("halted")] = -cells
        f.clamp(self.bit("running"), terms, cells - 2)
        return f

    def width(self, c: int) -> int:
        """The bits of PC + c the pass reads: the L address bits of PC + 1 and PC + 2 (the fetch heads' queries),
        and of PC + 3 (the next PC of an executed instruction, so PC + 3 <= M) bits 0 to L; the higher bits of
        PC + 3 are 0 whenever they are read. Computing more would be units no fault could show."""
        return self.l if c < 3 else min(self.l + 1, self.n)

    def sums(self) -> Builder:
        f = self.ffn("pc.sum")
        for c, car, dest in ((1, "car1", "pc1"), (2, "car2", "pc2"), (3, "car3", "pc3")):
            for k in range(self.width(c)):
                carry = {self.bit(car, k): 1} if k else {}  # no carry into bit 0
                f.parity(self.bit(dest, k), {self.bit("pc", k): 1, **carry}, (c >> k) & 1)
        return f

    def fetch_round(self) -> Builder:
        f = self.ffn("fetch.round")
        for raw, dest in (("raw_a", "a"), ("raw_b", "b"), ("raw_c", "c")):
            self.round(f, raw, dest, self.n, scratch=True)
        return f

    def read_round(self) -> Builder:
        """mem[A], mem[B] rounded; A == -1, B == -1, A and B in [0, M)."""
        f, n = self.ffn("read.round"), self.n
        for raw, dest in (("raw_ma", "ma"), ("raw_mb", "mb")):
            self.round(f, raw, dest, n, scratch=True)
        for w in "ab":
            f.set(self.bit(f"{w}m1"), {self.bit(w, i): 1 for i in range(n)}, -(n - 1))
            f.set(self.bit(f"{w}ok"), {self.bit(w, i): -1 for i in self.high}, 1)
        return f

    def control(self) -> Builder:
        """What the instruction does (docs/machines.md 1.3), and the borrows of mem[B] - mem[A]."""
        f = self.ffn("control")
        run, am1, bm1, aok, bok, ready = (self.bit(x) for x in ("running", "am1", "bm1", "aok", "bok", "in_ready"))
        kinds = {  # each an AND of literals: ReLU(sum of literals - (count - 1))
            "do_in": ({run: 1, am1: 1, bok: 1, ready: 1}, -3),
            "wait": ({run: 1, am1: 1, bok: 1, ready: -1}, -2),
            "do_out": ({run: 1, am1: -1, bm1: 1, aok: 1}, -2),
            "do_sub": ({run: 1, am1: -1, bm1: -1, aok: 1, bok: 1}, -2),
        }
        fnow = self.bit("fnow")
        f.out(fnow, f.unit({run: 1}))
        for name, (terms, bias) in kinds.items():
            u = f.unit(terms, bias)
            f.out(self.bit(name), u)
            f.out(fnow, u, -1)  # a running machine that does none of these faults
        for k in range(1, self.n):  # borrow into bit k: (mem[B] mod 2^k) < (mem[A] mod 2^k)
            terms: dict[int, float] = {}
            for i in range(k):
                terms[self.bit("ma", i)] = 2**i
                terms[self.bit("mb", i)] = -(2**i)
            f.clamp(self.bit("borrow", k), terms, 0)
        return f

    def subtract(self) -> Builder:
        """r = mem[B] - mem[A]; the output byte; the new halt and fault flags; executed."""
        f, n = self.ffn("subtract"), self.n
        for k in range(n):
            terms = {self.bit("ma", k): 1, self.bit("mb", k): 1} | ({self.bit("borrow", k): 1} if k else {})
            f.parity(self.bit("r", k), terms)
        for k in range(BYTE):  # mem[A] mod 256, sign-extended when N < 8
            f.set(self.bit("n_out_byte", k), {self.bit("do_out"): 1, self.bit("ma", min(k, n - 1)): 1}, -1)
        f.out(self.bit("n_halted"), f.unit({self.bit("one"): 1}))  # 1 - running + fault now
        f.out(self.bit("n_halted"), f.unit({self.bit("running"): 1}), -1)
        for src, dest in (("fnow", "n_halted"), ("fnow", "n_fault"), ("fault", "n_fault")):
            f.set(self.bit(dest), {self.bit(src): 1})
        for src in ("do_in", "do_out", "do_sub"):
            f.set(self.bit("n_executed"), {self.bit(src): 1})
        return f

    def branch(self) -> Builder:
        """take = a subtraction whose result is <= 0; the written word and the write enable."""
        f, n = self.ffn("branch"), self.n
        big = 2 ** (n - 1) + 1
        terms = {self.bit("r", k): -(2**k) for k in range(n - 1)}
        terms[self.bit("r", n - 1)] = 2 ** (n - 1)
        terms[self.bit("do_sub")] = big
        f.clamp(self.bit("take"), terms, 1 - big)
        for k in range(n):  # the input byte (mod 2^N; -1 at end of input) or the result
            stored = {self.bit("in_eof"): 1} | ({self.bit("in_byte", k): 1} if k < BYTE else {})
            f.set(self.bit("wd", k), {self.bit("do_in"): 1, **stored}, -1)
            f.set(self.bit("wd", k), {self.bit("do_sub"): 1, self.bit("r", k): 1}, -1)
        for src in ("do_in", "do_sub"):
            f.set(self.bit("we"), {self.bit(src): 1})
        return f

    def next_pc(self) -> Builder:
        """C if taken, else PC + 3 if executed, else PC."""
        f = self.ffn("next_pc")
        take, exe = self.bit("take"), self.bit("n_executed")
        for k in range(self.n):
            dest = self.bit("n_pc", k)
            f.set(dest, {take: 1, self.bit("c", k): 1}, -1)
            if k < self.width(3):
                f.set(dest, {exe: 1, take: -1, self.bit("pc3", k): 1}, -1)
            f.set(dest, {self.bit("pc", k): 1, exe: -1})
        return f

    def write_round(self) -> Builder:
        f = self.ffn("write.round")
        self.round(f, "raw_bb", "bb", self.l, scratch=False)
        self.round(f, "raw_bwe", "bwe", 1, scratch=False)
        self.round(f, "raw_bwd", "bwd", self.n, scratch=False)
        return f

    def write_dist(self) -> Builder:
        """|position - B| per bit, in every memory column."""
        f = self.ffn("write.dist")
        for i in range(self.l):
            p, b = self.bit("pos", i), self.bit("bb", i)
            f.set(self.bit("dist", i), {p: 1, b: -1}, scratch=False)
            f.set(self.bit("dist", i), {p: -1, b: 1}, scratch=False)
        return f

    def write_match(self) -> Builder:
        f = self.ffn("write.match")
        terms = {self.bit("bwe"): 1, self.bit("is_mem"): 1} | {self.bit("dist", i): -1 for i in range(self.l)}
        f.set(self.bit("m"), terms, -1, scratch=False)
        return f

    def write_cell(self) -> Builder:
        """val += m * (word - val), bit by bit."""
        f, m = self.ffn("write.cell"), self.bit("m")
        for k in range(self.n):
            v, w = self.bit("val", k), self.bit("bwd", k)
            f.out(v, f.unit({w: 1, v: -1, m: 1}, -1, scratch=False), 1)
            f.out(v, f.unit({w: -1, v: 1, m: 1}, -1, scratch=False), -1)
        return f

    def commit(self, written: set[int]) -> Builder:
        """The host-visible fields take their new values; every scratch row returns to 0 (the ``written`` ones:
        a row no layer writes is 0 already, and a unit to clear it would be dead weight)."""
        f = self.ffn("commit")
        for field, new in REPLACED.items():
            for old_row, new_row in zip(self.r[field], self.r[new], strict=True):
                f.out(old_row, f.unit({old_row: 1}, 0, scratch=False), -1)
                f.out(old_row, f.unit({new_row: 1}, 0, scratch=False), 1)
        for row in (r for r in self.r.temp_rows() if r in written):
            f.out(row, f.unit({row: 1}, 0, scratch=False), -1)
        return f

    def layers(self, dtype) -> list:
        fetch = Attention("fetch", [self.read_head("fetch.a", "pc", "raw_a"), self.read_head("fetch.b", "pc1", "raw_b"),
                                    self.read_head("fetch.c", "pc2", "raw_c")])  # fmt: skip
        read = Attention("read", [self.read_head("read.a", "a", "raw_ma"), self.read_head("read.b", "b", "raw_mb")])
        write = Attention("write", [self.broadcast_head()])
        built = [self.increments(), self.sums(), fetch, self.fetch_round(), read, self.read_round(), self.control(),
                 self.subtract(), self.branch(), self.next_pc(), write, self.write_round(), self.write_dist(),
                 self.write_match(), self.write_cell()]  # fmt: skip
        written = {row for b in built if isinstance(b, Builder) for row, _, _ in b.outs}
        written |= {int(r) for a in built if isinstance(a, Attention) for h in a.heads for r in h.wv.nonzero()[0]}
        built.append(self.commit(written))
        out = []
        for layer in built:
            if isinstance(layer, Builder):
                out.append(layer.build(dtype))
            else:
                for h in layer.heads:
                    h.wq, h.wk, h.wv = h.wq.astype(dtype), h.wk.astype(dtype), h.wv.astype(dtype)
                out.append(layer)
        return out
