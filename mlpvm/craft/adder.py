"""A six-layer carry-lookahead adder whose units all stay on {0,1}.

``out = x + y + carry_in (mod 2^n)`` where ``y`` is a field or a constant. The steps, one per layer:

0. generate ``g = x AND y``, and the two halves of ``x XOR y``: ``d1 = x AND NOT y``, ``d2 = y AND NOT x``;
1. propagate ``p = d1 + d2`` (= x XOR y);
2. lookahead terms ``T[k, t] = g_t AND p_{t+1} AND ... AND p_{k-1}`` (with ``g_{-1} = carry_in``);
3. carries ``c_k = sum_t T[k, t]`` (at most one term is 1, so the sum is their OR);
4. the two halves of ``p XOR c``;
5. the sum bit (optionally ANDed with a gate).

With a constant ``y`` or carry-in, units that would always be 0 are left out rather than kept as dead weight,
and so is the generate unit of the top bit, whose carry would only leave the word.
"""

from __future__ import annotations

import numpy as np

from mlpvm.craft.builder import LayerBuilder

STEPS = 6


class _Family:
    """A per-bit family of units that exists only for some bit positions."""

    def __init__(self, name: str, bits: list[int]):
        self.name, self.bits = name, bits
        self._pos = {t: i for i, t in enumerate(bits)}

    def at(self, bits) -> np.ndarray:
        return np.vectorize(lambda t: self._pos.get(int(t), -1), otypes=[np.int64])(np.asarray(bits))

    def __contains__(self, t: int) -> bool:
        return t in self._pos


class Adder:
    def __init__(self, prefix: str, x: str, y: str | int, carry_in: int, n: int, out: str, gate: str | None = None):
        self.prefix, self.x, self.y, self.cin, self.n, self.out, self.gate = (
            prefix,
            x,
            y,
            carry_in,
            n,
            out,
            gate,
        )
        every = list(range(n))
        if isinstance(y, str):
            ones, zeros = every, every
        else:
            ones = [t for t in every if (y >> t) & 1]
            zeros = [t for t in every if not (y >> t) & 1]
        self.g = _Family(f"{prefix}_g", [t for t in ones if t < n - 1])  # the top bit's carry leaves the word
        self.d1 = _Family(f"{prefix}_d1", zeros)
        self.d2 = _Family(f"{prefix}_d2", ones)
        self.p = _Family(f"{prefix}_p", every)
        # Lookahead terms (k, t): carry into bit k generated at bit t (t = -1: the carry-in) and propagated.
        starts = [-1] if carry_in else []
        self.terms = [(k, t) for k in range(1, n) for t in starts + [t for t in self.g.bits if t < k]]
        self.c = _Family(f"{prefix}_c", sorted({k for k, _ in self.terms}))
        self.u = _Family(f"{prefix}_u", [t for t in every if not (t == 0 and carry_in)])
        self.v = _Family(f"{prefix}_v", [t for t in every if (t == 0 and carry_in) or t in self.c])

    def layer(self, b: LayerBuilder, step: int) -> None:
        """Adds the units of ``step`` (0..5) to layer ``b`` (the sequencer passes on what later steps read)."""
        getattr(self, f"_step{step}")(b)

    def _step0(self, b: LayerBuilder) -> None:
        x, y, g, d1, d2 = self.x, self.y, self.g, self.d1, self.d2
        if isinstance(y, str):
            b.map(g.name, (len(g.bits),), (1, x, g.bits), (1, y, g.bits), bias=-1)
            b.map(d1.name, (self.n,), (1, x), (-1, y))
            b.map(d2.name, (self.n,), (1, y), (-1, x))
            return
        for fam, coef, bias in ((g, 1, 0), (d1, 1, 0), (d2, -1, 1)):
            if fam.bits:
                b.map(fam.name, (len(fam.bits),), (coef, x, fam.bits), bias=bias)

    def _step1(self, b: LayerBuilder) -> None:
        every = np.arange(self.n)
        terms = [(1, f.name, f.at(every)) for f in (self.d1, self.d2) if f.bits]
        b.map(self.p.name, (self.n,), *terms)

    def _step2(self, b: LayerBuilder) -> None:
        if self.terms:
            longest = max(k - 1 - t for k, t in self.terms)
            spans = np.full((len(self.terms), max(longest, 1)), -1)
            for j, (k, t) in enumerate(self.terms):
                spans[j, : k - 1 - t] = np.arange(t + 1, k)
            gen = self.g.at([t for _, t in self.terms])
            bias = np.array([-(k - 1 - t) + (1 if t < 0 else 0) for k, t in self.terms])
            terms = [(1, self.p.name, spans)] + ([(1, self.g.name, gen)] if self.g.bits else [])
            b.map(f"{self.prefix}_t", (len(self.terms),), *terms, bias=bias)

    def _step3(self, b: LayerBuilder) -> None:
        if self.c.bits:
            members = [[j for j, (k, _) in enumerate(self.terms) if k == kk] for kk in self.c.bits]
            index = np.full((len(members), max(map(len, members))), -1)
            for i, js in enumerate(members):
                index[i, : len(js)] = js
            b.map(self.c.name, (len(self.c.bits),), (1, f"{self.prefix}_t", index))

    def _step4(self, b: LayerBuilder) -> None:
        p, c, u, v = self.p, self.c, self.u, self.v
        carry_terms = lambda fam, coef: [(coef, c.name, c.at(fam.bits))] if c.bits else []  # noqa: E731
        if u.bits:  # none in a one-bit adder with a carry-in
            b.map(u.name, (len(u.bits),), (1, p.name, u.bits), *carry_terms(u, -1))
        if v.bits:
            v_bias = np.array([1 if t == 0 and self.cin else 0 for t in v.bits])
            b.map(v.name, (len(v.bits),), (-1, p.name, v.bits), *carry_terms(v, 1), bias=v_bias)

    def _step5(self, b: LayerBuilder) -> None:
        every = np.arange(self.n)
        terms = [(1, f.name, f.at(every)) for f in (self.u, self.v) if f.bits]
        if self.gate:
            b.map(self.out, (self.n,), *terms, (1, self.gate), bias=-1)
        else:
            b.map(self.out, (self.n,), *terms)

    def meanings(self) -> dict[str, str]:
        """One line per field this adder computes: what each step holds, for the views."""
        y = self.y if isinstance(self.y, str) else str(self.y)
        what = f"{self.x} + {y}" + (f" + {self.cin}" if self.cin else "")

        def at(fam: _Family) -> str:  # the bit positions a family has units for, when not all
            b = fam.bits
            if not b or len(b) == self.n:
                return ""
            return (
                f" (bits {b[0]}..{b[-1]})" if b == list(range(b[0], b[-1] + 1)) else f" (bits {','.join(map(str, b))})"
            )

        steps = {
            self.g: f"step 0: generate, {self.x} AND {y} per bit{at(self.g)}",
            self.d1: f"step 0: {self.x} AND NOT {y} (half of XOR){at(self.d1)}",
            self.d2: f"step 0: {y} AND NOT {self.x} (half of XOR){at(self.d2)}",
            self.p: f"step 1: propagate, {self.x} XOR {y} per bit",
            self.c: f"step 3: the carry into each bit{at(self.c)}",
            self.u: f"step 4: propagate AND NOT carry (half of the sum){at(self.u)}",
            self.v: f"step 4: carry AND NOT propagate (half of the sum){at(self.v)}",
        }
        lines = {fam.name: f"adder {what}, {text}" for fam, text in steps.items() if fam.bits}  # units that exist
        if self.terms:
            lines[f"{self.prefix}_t"] = f"adder {what}, step 2: lookahead terms, one per (carry bit, source bit)"
        lines[self.out] = f"adder {what}, step 5: the sum" + (f", gated by {self.gate}" if self.gate else "")
        return lines
