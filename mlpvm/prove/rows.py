"""The proof by rows (``mlpvm prove --method rows``): the staged proof, with every memory row proved at once as
one symbolic row.

A field with rows (memory: ``mem``; the address-matched blocks such as ``fetch_a``, ``read_b``, ``write_old``)
is a field of shape (R, W) with R a power of two: R rows of W units. The staged proof puts all R x W units of
each such field in its questions; at R = 8192 that is out of reach. This module reads the stored matrices and
checks, for each such field of each layer, that its rows are one row repeated (``symmetry``, numpy, no solver):

- unit (i, t) reads the same columns outside the row fields as unit (0, t), with the same weights, except for
  L = log2(R) *address columns*, whose weights are +1 or -1;
- it reads the row fields only in its own row i, at the same positions and with the same weights as row 0;
- the signs of its address weights spell a code (+1 = bit 1, the columns in ascending order, least significant
  first) that is (i - shift) mod R for one shift, and its bias plus the number of ones in the code is the same
  for every row.

So unit (i, t) is ``ReLU(shared + own row terms + base - HammingDistance(address, code(i)))``: one formula of a
row index k, with k a bit-vector variable. A row that breaks the pattern (a planted fault) is an *exception*:
it keeps its own stored entries, chosen by ``If(k == i, ...)``; more than a few of them and the field is not
row-structured (the result is unknown, and the staged method remains).

Each stage's two questions (as in ``compose.staged``) then hold one symbolic row k of each row field, not R:
memory is a function from a row's address to its word (an SMT uninterpreted function: an array that is only
read), and a claim about every row is a claim about row k.
Proving a question for a free k proves it for every row. A unit outside the row fields that reads a whole
addressed field column (the read-out ``out[t] = ReLU(sum_i src[i, t])``) is encoded as the one row of the
source that the address decoder selects, ``k* = address + shift``, given the *decoder lemma*, proved in the
stage's binary question for a free k: a unit of row k is 1 only when the address equals code(k). As the codes
k - shift are distinct, at most one row of the column is nonzero, and the sum is that row's unit.

What it assumes beyond the staged proof: nothing about how the weights were made. The symmetry check reads the
stored CSR entries of every row; the decoder lemma and the rows' binary obligations are proved, not assumed;
the read ``mem(k*)`` is the row at the decoded address because ``mem`` is one function for every row.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlpvm.files import atomic_write
from mlpvm.network.weights import WeightLayer, Weights

from . import encode, require_z3, smtlib
from .compose import PROVED, REFUTED, UNKNOWN, Outcome, solve, stage_spans
from .spec import Claim, Rows, bits, decoded, mismatch, mismatches, state_bits, variables, word

MAX_EXCEPTIONS = 8  # rows that may differ from the others before a field counts as not row-structured


class Unstructured(Exception):
    """A field with rows whose rows are not one row repeated: the proof by rows does not apply."""


@dataclass
class Template:
    """What unit (i, t) of a field with rows reads, for every row i that follows the pattern."""

    fixed: list[tuple[int, int]]  # (input column outside the row fields, weight)
    own: list[tuple[str, int, int]]  # (input row field, position in the row, weight): the unit's own row
    base: int  # the bias plus the number of ones in the row's code


@dataclass
class Family:
    """A field with rows, as the symmetry check found it."""

    name: str
    rows: int
    width: int
    offset: int  # of unit (0, 0) in the layer's outputs
    templates: list[Template]  # one per position t
    address: list[int]  # input columns of the address bits, least significant first (empty: no address)
    shift: int  # row i answers to address (i - shift) mod rows
    exceptions: list[int] = field(default_factory=list)  # rows encoded from their own entries


def row_fields(layout, bits_of_rows: Callable[[int], int | None]) -> dict[str, tuple[int, int]]:
    """The fields with rows of ``layout``: name -> (rows, width)."""
    out = {}
    for f in layout:
        if len(f.shape) >= 2 and bits_of_rows(f.shape[0]) is not None:
            out[f.name] = (f.shape[0], f.size // f.shape[0])
    return out


def symmetry(layer: WeightLayer, inputs, in_rows: dict[str, tuple[int, int]], name: str) -> Family:
    """The symmetry check of output field ``name`` of ``layer``, over every one of its rows."""
    f = layer.outputs[name]
    rows, width = f.shape[0], f.size // f.shape[0]
    names = sorted(in_rows)
    big = 1 + max([w for _, w in in_rows.values()], default=1)
    args = (layer, inputs, in_rows, names, big, f.offset, rows, width)
    found = [_reference(*args, t) for t in range(width)]
    # The address (columns and shift) most positions answer to: a fault in one unit can hide its address, and
    # its row is then an exception found with the usual address.
    answers = [(tuple(cols), shift) for _, cols, shift, _ in found]
    address, shift = max(sorted(set(answers)), key=lambda a: (answers.count(a), len(a[0])))  # ties: an address
    templates, exceptions = [], set()
    for t in range(width):
        if answers[t] != (address, shift):
            found[t] = _reference(*args, t, (list(address), shift))
        tpl, cols, sh, bad = found[t]
        if (tuple(cols), sh) != (address, shift):
            raise Unstructured(f"{layer.name}: {name}'s positions answer to different addresses")
        templates.append(tpl)
        exceptions |= bad
    if len(exceptions) > MAX_EXCEPTIONS:
        raise Unstructured(f"{layer.name}: {len(exceptions)} rows of {name} differ from the others")
    return Family(name, rows, width, f.offset, templates, list(address), shift, sorted(exceptions))


def _reference(layer, inputs, in_rows, names, big, offset, rows, width, t, forced=None):
    """``_position`` with the first of rows 0, 1, 2 that the others follow as the reference (a fault may be in
    row 0)."""
    best, error = None, None
    for ref in range(min(rows, 3)):
        try:
            found = _position(layer, inputs, in_rows, names, big, offset, rows, width, t, ref, forced)
        except Unstructured as e:
            error = e
            continue
        if best is None or len(found[3]) < len(best[3]):
            best = found
        if 2 * len(best[3]) < rows:  # most rows follow it
            break
    if best is None:
        raise error
    return best


def _position(layer, inputs, in_rows, names, big, offset, rows, width, t, ref, forced=None):
    """(template, address columns, shift, rows that break the pattern) for position t of every row."""
    W, bias = layer.W, layer.b
    units = offset + np.arange(rows) * width + t
    count = W.indptr[units + 1] - W.indptr[units]
    c = int(np.bincount(count).argmax())
    bad = set(np.flatnonzero(count != c).tolist())
    good = np.flatnonzero(count == c)
    at = W.indptr[units[good]][:, None] + np.arange(c)
    cols, ws = W.indices[at].astype(np.int64), W.data[at].astype(np.int64)
    keys = cols.copy()
    for fid, nm in enumerate(names):
        fo, (fr, fw) = inputs[nm].offset, in_rows[nm]
        inside = (cols >= fo) & (cols < fo + fr * fw)
        r, pos = np.divmod(cols - fo, fw)
        wrong = inside & ((r != good[:, None]) | (fr != rows))
        bad |= set(good[wrong.any(axis=1)].tolist())
        keys = np.where(inside, -(1 + fid * big + pos), keys)
    order = np.argsort(keys, axis=1, kind="stable")
    keys, ws = np.take_along_axis(keys, order, 1), np.take_along_axis(ws, order, 1)
    ref = min(int(np.searchsorted(good, ref)), len(good) - 1)  # row ``ref``, or the next with the usual count
    same = (keys == keys[ref]).all(axis=1)
    bad |= set(good[~same].tolist())
    ok = same & ~np.isin(good, list(bad))
    kr, wr = keys[ref], ws[ref]
    flipped = (ws[ok] == -wr).mean(axis=0) if ok.any() else np.zeros(c)
    is_addr = (kr >= 0) & (np.abs(wr) == 1) & (flipped >= 0.25) if forced is None else np.isin(kr, forced[0])
    fixed = ~is_addr
    bad |= set(good[ok & (ws[:, fixed] != wr[fixed]).any(axis=1)].tolist())
    bad |= set(good[ok & (np.abs(ws[:, is_addr]) != 1).any(axis=1)].tolist())
    bits = int(is_addr.sum())
    if bits and 1 << bits != rows:
        raise Unstructured(f"{layer.name}: {bits} address columns for {rows} rows")
    code = ((ws[:, is_addr] > 0) << np.arange(bits)).sum(axis=1) if bits else np.zeros(len(good), np.int64)
    shift = 0 if not bits else int((good[ref] - code[ref]) % rows) if forced is None else forced[1]
    if bits:
        bad |= set(good[code != (good - shift) % rows].tolist())
    base = bias[units[good]].astype(np.int64) + np.array([bin(int(x)).count("1") for x in code])
    bad |= set(good[base != base[ref]].tolist())
    tpl = Template(
        [(int(k), int(w)) for k, w, a in zip(kr, wr, is_addr) if k >= 0 and not a],
        [(names[(-k - 1) // big], int((-k - 1) % big), int(w)) for k, w in zip(kr, wr) if k < 0],
        int(base[ref]),
    )
    return tpl, [int(k) for k, a in zip(kr, is_addr) if a], shift, bad


class Stage:
    """The formulas of one stage's layers, with one symbolic row per field with rows.

    ``nonrow``: the stage's input units outside the row fields (formulas); ``in_row(name, k)``: the stage's input
    row ``k`` of a field with rows (a list of formulas); ``index``: rows -> the free row variable."""

    def __init__(self, layers, inputs, nonrow: dict, in_row: Callable, index: dict, bits_of_rows: Callable, z3=None):
        self.z3 = z3 or require_z3()  # or ``smtlib.Portable()``: units as bit-vector sums
        self.layers, self.index, self.in_row = layers, index, in_row
        self.layouts = [inputs, *[layer.outputs for layer in layers]]
        self.rowf = [row_fields(lay, bits_of_rows) for lay in self.layouts]
        self.families = [
            {nm: symmetry(layer, self.layouts[j], self.rowf[j], nm) for nm in self.rowf[j + 1]}
            for j, layer in enumerate(layers)
        ]
        self.vals: list[dict] = [nonrow]
        self.obligations: list = []
        self.reduced: set[tuple[int, str]] = set()
        self.memo: dict = {}
        for j in range(len(layers)):
            self._nonrow(j)
        for j, fams in enumerate(self.families):
            for nm, fam in fams.items():
                k = index[fam.rows]
                units, overs = self.row(j, nm, k)
                self.obligations += [o for o in overs if o is not None]
                if (j, nm) in self.reduced:  # the decoder lemma: row k fires only at its own address
                    wrong = self.address(j, fam) != self.code(fam, k)
                    self.obligations += [self.z3.And(u, wrong) for u in units if u is not False]

    def value(self, j: int, c: int):
        """Unit c of layer j - 1's outputs (j = 0: the stage's inputs), outside the row fields."""
        return self.vals[j][c]

    def address(self, j: int, fam: Family):
        return word([self._bool(self.value(j, c)) for c in fam.address])

    def code(self, fam: Family, k):
        return k - self.z3.BitVecVal(fam.shift, k.size())

    def row(self, j: int, name: str, k) -> tuple[list, list]:
        """(units, binary obligations) of row ``k`` of field ``name`` of layer j (j = -1: the stage's input)."""
        if j < 0:
            return self.in_row(name, k), []
        key = (j, name, k.get_id())
        if key not in self.memo:
            self.memo[key] = self._row(j, name, k)
        return self.memo[key]

    def _row(self, j: int, name: str, k) -> tuple[list, list]:
        z3, fam = self.z3, self.families[j][name]
        units, overs = [], []
        code = self.code(fam, k) if fam.address else None
        for t, tpl in enumerate(fam.templates):
            xs = [self.value(j, c) for c, _ in tpl.fixed]
            xs += [self.row(j - 1, src, k)[0][pos] for src, pos, _ in tpl.own]
            xs += [z3.Xor(self._bool(self.value(j, c)), z3.Extract(b, b, code) == 1) for b, c in enumerate(fam.address)]
            ws = [w for _, w in tpl.fixed] + [w for *_, w in tpl.own] + [-1] * len(fam.address)
            y, over = encode.unit(z3, xs, np.arange(len(xs)), np.array(ws, np.int64), tpl.base)
            for e in fam.exceptions:
                ye, oe = self._concrete(j, fam, e, t)
                hit = k == z3.BitVecVal(e, k.size())
                y = z3.If(hit, self._bool(ye), self._bool(y))
                over = z3.If(hit, self._bool(oe), self._bool(over))
            units.append(y)
            overs.append(over)
        return units, overs

    def _concrete(self, j: int, fam: Family, e: int, t: int):
        """Unit (e, t) from its own stored entries."""
        layer, u = self.layers[j], fam.offset + e * fam.width + t
        lo, hi = layer.W.indptr[u], layer.W.indptr[u + 1]
        xs = [self._input(j, int(c)) for c in layer.W.indices[lo:hi]]
        return encode.unit(self.z3, xs, np.arange(len(xs)), layer.W.data[lo:hi], layer.b[u])

    def _input(self, j: int, c: int):
        """Input column c of layer j, inside a row field or not."""
        for nm, (rows, width) in self.rowf[j].items():
            f = self.layouts[j][nm]
            if f.offset <= c < f.stop:
                r, pos = divmod(c - f.offset, width)
                return self.row(j - 1, nm, self.z3.BitVecVal(r, self.index[rows].size()))[0][pos]
        return self.value(j, c)

    def _nonrow(self, j: int) -> None:
        """Layer j's units outside the row fields."""
        z3, layer, out = self.z3, self.layers[j], {}
        inside = np.zeros(self.layouts[j].size, bool)
        for nm in self.rowf[j]:
            f = self.layouts[j][nm]
            inside[f.offset : f.stop] = True
        obligations = []
        for f in layer.outputs:
            if f.name in self.rowf[j + 1]:
                continue
            for u in range(f.offset, f.stop):
                lo, hi = layer.W.indptr[u], layer.W.indptr[u + 1]
                cols, ws = layer.W.indices[lo:hi].astype(np.int64), layer.W.data[lo:hi]
                mine = inside[cols]
                xs = [self.value(j, int(c)) for c in cols[~mine]]
                wl = list(ws[~mine])
                if mine.any():
                    for term, w in self._readout(j, layer.name, cols[mine], ws[mine]):
                        xs.append(term)
                        wl.append(w)
                y, over = encode.unit(z3, xs, np.arange(len(xs)), np.array(wl, np.int64), layer.b[u])
                out[u] = y
                if over is not None:
                    obligations.append(over)
        self.vals.append(out)
        self.obligations += obligations

    def _readout(self, j: int, where: str, cols: np.ndarray, ws: np.ndarray) -> list[tuple[Any, int]]:
        """(unit, weight) terms for a unit that reads a whole column of an addressed field of layer j - 1: the
        row the decoder selects (the decoder lemma, proved for that field, makes the others 0), with its
        weight; a few rows with weights of their own get terms of their own."""
        z3 = self.z3
        for nm, (rows, width) in self.rowf[j].items():
            f = self.layouts[j][nm]
            if not (f.offset <= cols[0] < f.stop):
                continue
            r, pos = np.divmod(cols - f.offset, width)
            fam = self.families[j - 1].get(nm) if j > 0 else None
            if fam is None or not fam.address or (cols >= f.stop).any() or len(set(pos.tolist())) != 1:
                raise Unstructured(f"{where}: a unit reads rows of {nm} other than one addressed column")
            weight = np.zeros(rows, np.int64)
            weight[r] = ws
            usual = int(np.bincount(weight - weight.min()).argmax() + weight.min())
            odd = np.flatnonzero(weight != usual)
            if len(odd) > MAX_EXCEPTIONS:
                raise Unstructured(f"{where}: {len(odd)} rows of {nm} are read with different weights")
            self.reduced.add((j - 1, nm))
            size = self.index[rows].size()
            k = self.address(j - 1, fam) + z3.BitVecVal(fam.shift, size)
            unit = self._bool(self.row(j - 1, nm, k)[0][int(pos[0])])
            hits = [k == z3.BitVecVal(int(e), size) for e in odd]
            terms = [(z3.And(unit, hit), int(weight[e])) for hit, e in zip(hits, odd)]
            return [(z3.And(unit, *[z3.Not(h) for h in hits]) if hits else unit, usual), *terms]
        raise AssertionError("a column inside a row field belongs to one")

    def outputs(self, name: str, k=None) -> list:
        """The last layer's units of field ``name``: all of them, or row ``k`` (default: the free row)."""
        lay = self.layouts[-1]
        if name in self.rowf[-1]:
            rows, _ = self.rowf[-1][name]
            return self.row(len(self.layers) - 1, name, self.index[rows] if k is None else k)[0]
        f = lay[name]
        return [self.vals[-1][u] for u in range(f.offset, f.stop)]

    def _bool(self, x):
        return self.z3.BoolVal(x) if isinstance(x, bool) else (self.z3.BoolVal(False) if x is None else x)


def at_row(z3, value, k, free):
    """A row claim's value at row ``k``: ``value`` is the field's Rows, or the list of the one symbolic row."""
    if isinstance(value, Rows):
        return value[k]
    (v,) = value
    return v if k.eq(free) else z3.substitute(v, (free, k))


def row_counts(cfg) -> dict[int, int]:
    """The row counts of fields with rows (memory cells, slots) and the widths of their row indices."""
    counts = {cfg.cells: cfg.addr_bits}
    if cfg.spec.harvard:
        counts[cfg.slots] = cfg.slot_bits
    return {r: b for r, b in counts.items() if r > 1}


def prove(
    weights: Weights,
    timeout: float | None = None,
    on_done: Callable[[Outcome], None] = print,
    emit: Path | None = None,
    second: str | None = None,
) -> list[Outcome]:
    """Both properties stage by stage, one symbolic row per field with rows, each question answered by z3;
    with ``emit``, each also written to that folder as an SMT-LIB 2 file; with ``second`` (a solver's name),
    each also answered by that solver from the file, as an outcome of its own."""
    z3 = require_z3()
    portable = smtlib.Portable() if emit or second else None
    scratch = tempfile.TemporaryDirectory(prefix="mlpvm-prove-") if second and not emit else None
    folder = emit or (Path(scratch.name) if scratch else None)
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
    cfg = weights.config
    proof = cfg.spec.proof
    s, index, rows_bits = _state(weights)
    d, definitions = decoded(cfg, s)
    invariant = proof.invariant(cfg, s)
    lemmas = [*proof.stages(cfg, s, d), (proof.step(cfg, s, d), tuple(definitions))]
    run = _Run(s, invariant, cfg.describe(), timeout, on_done, folder, second)
    for n, (stage, first, end) in enumerate(stage_spans(weights)):
        layout = weights.state if first == 0 else weights.layers[first - 1].outputs
        before = lemmas[n - 1][0] if n else None
        nonrow, in_row, assumed = _inputs(z3, stage, layout, row_fields(layout, rows_bits), s, before, index)
        start = time.perf_counter()
        try:
            st = Stage(list(weights.layers[first:end]), layout, nonrow, in_row, index, rows_bits, portable)
        except Unstructured as e:
            run.done(Outcome("symmetry", stage, run.name, time.perf_counter() - start, UNKNOWN, str(e), solver="numpy"))
            break
        fams = [f for layer in st.families for f in layer.values()]
        odd = sorted({f"{f.name}[{e}]" for f in fams for e in f.exceptions})
        detail = f"{len(fams)} fields' rows" + (f"; rows kept as stored: {', '.join(odd)}" if odd else "")
        run.done(Outcome("symmetry", stage, run.name, time.perf_counter() - start, PROVED, detail, solver="numpy"))
        after, defined = lemmas[n]
        assumed += [definitions[k] for k in defined]
        run.ask(stage, "binary", assumed, st.obligations, f"{len(st.obligations)} units to bound")
        out = weights.layers[end - 1].outputs
        violated = []
        for f in out:
            if f.name not in after:
                continue
            violated += _violations(z3, st, index, f.name, after[f.name])
        what = "the next state" if end == len(weights.layers) else f"{sum(f.name in after for f in out)} fields' lemmas"
        run.ask(stage, "step", assumed, violated, what)
    if scratch:
        scratch.cleanup()
    return run.outcomes


def _violations(z3, st: Stage, index: dict, name: str, claim: Claim) -> list:
    """Where the stage's output field ``name`` breaks ``claim``: a field with rows is compared at the free row."""
    if name in st.rowf[-1]:
        free = index[st.rowf[-1][name][0]]
        return [mismatch(Claim(claim.cond, at_row(z3, claim.value, free, free)), st.outputs(name))]
    return mismatches(claim, st.outputs(name))


def _state(weights: Weights) -> tuple[dict, dict, Callable]:
    """(the state's variables, a field with rows as a function of the row; the free row variable by row count; the
    row-index width of a row count)."""
    z3 = require_z3()
    counts = row_counts(weights.config)
    index = {r: z3.BitVec(f"row{r}", b) for r, b in counts.items()}
    state_rows = row_fields(weights.state, counts.get)
    s = variables([f for f in weights.state if f.name not in state_rows])
    for nm, (r, w) in state_rows.items():
        s[nm] = Rows(z3.Function(nm, z3.BitVecSort(index[r].size()), z3.BitVecSort(w)), index[r])
    return s, index, counts.get


def whole_pass(weights: Weights, narrow: bool, timeout: float | None) -> np.ndarray | None:
    """A state (its vector) on which the 23 layers break a property: a unit off {0,1}, a broken decoder or a
    field unlike the next state, asked as one question with one symbolic row; with ``narrow``, a state a
    one-instruction program starts from (the machine's ``loadable``). None if there is none (or no answer)."""
    z3 = require_z3()
    cfg = weights.config
    proof = cfg.spec.proof
    s, index, rows_bits = _state(weights)
    d, definitions = decoded(cfg, s)
    layout = weights.state
    nonrow, in_row, _ = _inputs(z3, "pass", layout, row_fields(layout, rows_bits), s, None, index)
    try:
        st = Stage(list(weights.layers), layout, nonrow, in_row, index, rows_bits)
    except Unstructured:
        return None
    claims = proof.step(cfg, s, d)
    violated = list(st.obligations)
    for f in layout:
        violated += _violations(z3, st, index, f.name, claims[f.name])
    assumed = [proof.invariant(cfg, s), *definitions.values(), *([proof.loadable(cfg, s)] if narrow else [])]
    _, found, _ = solve(s, assumed, violated, timeout)
    if found is None:
        return None
    x = np.zeros(layout.size)
    for f in layout:
        value = s[f.name]
        words = [value[i] for i in range(f.shape[0])] if isinstance(value, Rows) else [value]
        units = [b for w in words for b in bits(w)]
        x[f.offset : f.stop] = [z3.is_true(found.model.eval(u, model_completion=True)) for u in units]
    return x


@dataclass
class _Run:
    """The questions of one proof: each asked of z3, and written out and asked of a second solver if wanted."""

    s: dict
    invariant: Any
    name: str
    timeout: float | None
    on_done: Callable[[Outcome], None]
    folder: Path | None
    second: str | None
    outcomes: list[Outcome] = field(default_factory=list)

    def done(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.on_done(outcome)

    def ask(self, stage: str, prop: str, assumed: list, violations: list, detail: str) -> None:
        assertions = [self.invariant, *assumed]
        result, found, seconds = solve(self.s, assertions, violations, self.timeout)
        first = Outcome(prop, stage, self.name, seconds, result, detail, found)
        self.done(first)
        if self.folder is None:
            return
        path = self.folder / smtlib.file_name(len(self.outcomes), stage, prop)
        about = f"mlpvm prove: lemma '{prop}' of stage {stage}, {self.name}\nunsat proves it\nz3: {result}"
        text = smtlib.text(assertions, violations, about).encode()
        atomic_write(path, lambda f: f.write(text))  # never through a link onto an input, never half written
        if self.second:
            self.done(_second(path, self.second, self.timeout, first))


def _second(path: Path, solver: str, timeout: float | None, first: Outcome) -> Outcome:
    """The second solver's outcome for the lemma in ``path``; a definite answer against z3's says so."""
    answer, seconds = smtlib.check_file(path, solver, timeout)
    result = smtlib.RESULT[answer]
    clash = {result, first.result} == {PROVED, REFUTED}
    detail = f"DISAGREES with z3 ({first.result})" if clash else first.detail
    return Outcome(first.property, first.stage, first.config, seconds, result, detail, solver=solver)


def _inputs(z3, stage: str, layout, rowf: dict, s: dict, before: dict | None, index: dict):
    """(units outside the row fields by column, input row function, assumed lemmas) of a stage's inputs: the
    state for the first; else free units, with the lemmas proved for the end of the stage before."""
    if before is None:
        units: dict[int, Any] = {}
        for f in layout:
            if f.name not in rowf:
                units.update(zip(range(f.offset, f.stop), state_bits([f], s)))

        def in_row(nm: str, k) -> list:
            word_ = s[nm][k]
            return [z3.Extract(t, t, word_) == 1 for t in range(word_.size())]

        return units, in_row, []
    units = {}
    assumed = []
    for f in layout:
        if f.name in rowf:
            continue
        xs = [z3.Bool(f"{stage}.in[{i}]") for i in range(f.offset, f.stop)]
        units.update(zip(range(f.offset, f.stop), xs))
        if f.name in before:
            assumed.append(z3.Not(mismatch(before[f.name], xs)))

    def in_row(nm: str, k) -> list:
        rows, width = rowf[nm]
        word_ = z3.Function(f"{stage}.in.{nm}", z3.BitVecSort(k.size()), z3.BitVecSort(width))(k)
        if nm in before:
            claim = before[nm]
            word_ = z3.If(claim.cond, at_row(z3, claim.value, k, index[rows]), word_)
        return [z3.Extract(t, t, word_) == 1 for t in range(width)]

    return units, in_row, assumed
