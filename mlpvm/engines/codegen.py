"""Straight-line LLVM IR for a lowered network (``mlpvm.engines.lowered``): each unit of each layer becomes a
few instructions, ``s[out] = ReLU(bias + s[a] - s[b] + x[c + row * stride] ...)``, with its slots, columns,
weights and bias written into the code, so that LLVM turns the 23 layers into plain machine code: no loop
over index arrays, no loads of weights or column numbers, no mispredicted loop exits at run time. All
arithmetic is in the engine's float type, as in the other engines (exact: the sums are small integers).

A module evaluates groups of ``width`` machines: width 1 is scalar code for one machine; a wider group holds
each activation of ``width`` machines in one vector (``<8 x float>``), so every instruction serves them all;
reads and writes of a machine's memory rows, which differ between machines, go lane by lane.

The module has one function per layer, ``layer_K(x, s, r, xstride) -> lanes`` (a bit per machine whose output
left {0,1}), for traces, and ``run``, which runs passes over groups until a machine raises a host event, as
``Engine.run_until_event`` does, carrying each group's narrow fields in its scratch from pass to pass.
"""

from __future__ import annotations

import re

import numpy as np

from mlpvm.engines.lowered import SELECT, UPDATE, KernelArrays

TYPES = {np.dtype(np.float32): ("float", 4), np.dtype(np.float64): ("double", 8)}


class _Body:
    """Instructions of one function over groups of ``w`` machines, with fresh SSA names."""

    def __init__(self, t: str, size: int, w: int):
        self.t, self.size, self.w = t, size, w
        self.vt = t if w == 1 else f"<{w} x {t}>"  # an activation of the group
        self.it = "i64" if w == 1 else f"<{w} x i64>"  # a row register of the group
        self.bt = "i1" if w == 1 else f"<{w} x i1>"
        self.zero = "0.0" if w == 1 else "zeroinitializer"
        self.false = "false" if w == 1 else "zeroinitializer"
        self.lines: list[str] = []
        self.n = 0
        self.bad_input = self.false  # machines that read a state value other than 0 or 1

    def splat(self, value: str, elem: str) -> str:
        return value if self.w == 1 else "<" + ", ".join([f"{elem} {value}"] * self.w) + ">"

    def emit(self, text: str) -> str:
        self.n += 1
        name = f"%v{self.n}"
        self.lines.append(f"  {name} = {text}")
        return name

    def put(self, text: str) -> None:
        self.lines.append(f"  {text}")

    def _at(self, base: str, index: int, elem: str = "") -> str:
        return self.emit(f"getelementptr inbounds {elem or self.t}, ptr {base}, i64 {index * self.w}")

    def load(self, base: str, slot: int) -> str:
        """A slot of the scratch (or a row register, with base %r)."""
        elem, vt, align = ("i64", self.it, 8) if base == "%r" else (self.t, self.vt, self.size)
        return self.emit(f"load {vt}, ptr {self._at(base, slot, elem)}, align {align}")

    def store(self, value: str, base: str, slot: int) -> None:
        elem, vt, align = ("i64", self.it, 8) if base == "%r" else (self.t, self.vt, self.size)
        self.put(f"store {vt} {value}, ptr {self._at(base, slot, elem)}, align {align}")

    def _lane_index(self, col: int, row: str | None, lane: int) -> str:
        """Element of the state array holding column ``col`` (+ the lane's row offset) of machine ``lane``."""
        index = str(col)
        if row is not None:
            offset = row if self.w == 1 else self.emit(f"extractelement {self.it} {row}, i32 {lane}")
            index = self.emit(f"add i64 {col}, {offset}")
        if lane:
            index = self.emit(f"add i64 {index}, {self.emit(f'mul i64 {lane}, %xstride')}")
        return index

    def load_x(self, base: str, col: int, row: str | None = None) -> str:
        """Column ``col`` of each machine's state (``row``: each machine's offset), lane by lane; a value
        other than 0 or 1 is recorded in ``bad_input``."""
        out = "poison"
        for lane in range(self.w):
            at = self.emit(f"getelementptr inbounds {self.t}, ptr {base}, i64 {self._lane_index(col, row, lane)}")
            v = self.emit(f"load {self.t}, ptr {at}")
            out = v if self.w == 1 else self.emit(f"insertelement {self.vt} {out}, {self.t} {v}, i32 {lane}")
        self.bad_input = self.emit(f"or {self.bt} {self.bad_input}, {self.off(out)}")
        return out

    def off(self, v: str) -> str:
        """Whether ``v`` is neither 0 nor 1."""
        zero = self.emit(f"fcmp une {self.vt} {v}, {self.zero}")
        one = self.emit(f"fcmp une {self.vt} {v}, {self.splat('1.0', self.t)}")
        return self.emit(f"and {self.bt} {zero}, {one}")

    def maxnum(self, a: str, b: str) -> str:
        return self.emit(f"call {self.vt} @llvm.maxnum.{self.suffix}({self.vt} {a}, {self.vt} {b})")

    @property
    def suffix(self) -> str:
        scalar = "f32" if self.t == "float" else "f64"
        return scalar if self.w == 1 else f"v{self.w}{scalar}"

    def store_x(self, value: str, base: str, col: int, row: str | None = None) -> None:
        for lane in range(self.w):
            v = value if self.w == 1 else self.emit(f"extractelement {self.vt} {value}, i32 {lane}")
            at = self.emit(f"getelementptr inbounds {self.t}, ptr {base}, i64 {self._lane_index(col, row, lane)}")
            self.put(f"store {self.t} {v}, ptr {at}")

    def above_half(self, v: str) -> str:
        return self.emit(f"fcmp ogt {self.vt} {v}, {self.splat('5.0e-01', self.t)}")

    def lanes_mask(self, bits: str) -> str:
        """An i1 vector as an i64 with a bit per machine."""
        if self.w == 1:
            return self.emit(f"zext i1 {bits} to i64")
        return self.emit(f"zext i{self.w} {self.emit(f'bitcast {self.bt} {bits} to i{self.w}')} to i64")


def _const(value: float) -> str:
    if value != int(value):
        raise ValueError(f"the unrolled engine needs integer weights and biases, not {value}")
    return f"{float(value):e}"


def _row(body: _Body, p: KernelArrays, op: int) -> str:
    """The row whose code equals the address bits, as in ``kernel.layers``: bit j counts 2**j when above 1/2."""
    it = body.it
    row = body.splat("0", "i64") if body.w > 1 else "0"
    start = int(p.op_addr[op])
    for j in range(start, int(p.op_addr[op + 1])):
        bit = body.emit(f"zext {body.bt} {body.above_half(body.load('%s', int(p.addr_slot[j])))} to {it}")
        weight = body.emit(f"shl {it} {bit}, {body.splat(str(j - start), 'i64')}")
        row = body.emit(f"add {it} {row}, {weight}")
    row = body.emit(f"add {it} {row}, {body.splat(str(int(p.op_shift[op])), 'i64')}")
    return body.emit(f"and {it} {row}, {body.splat(str(int(p.op_mask[op])), 'i64')}")


def _unit(body: _Body, p: KernelArrays, u: int, row: str | None) -> str:
    """``ReLU(bias + sum of weighted inputs)`` of unit ``u`` for the group."""
    vt = body.vt
    a = body.splat(_const(p.unit_bias[u]), body.t)
    terms = [(p.s_val[e], body.load("%s", int(p.s_col[e]))) for e in range(int(p.unit_s[u]), int(p.unit_s[u + 1]))]
    for e in range(int(p.unit_x[u]), int(p.unit_x[u + 1])):
        terms.append((p.x_val[e], body.load_x("%x", int(p.x_col[e]), row)))
    if p.unit_bias[u] == 0 and terms and terms[0][0] == 1:  # 0 + v is not v to LLVM (-0.0): an add saved
        a, terms = terms[0][1], terms[1:]
    for coef, v in terms:
        if coef == 1:
            a = body.emit(f"fadd {vt} {a}, {v}")
        elif coef == -1:
            a = body.emit(f"fsub {vt} {a}, {v}")
        else:
            a = body.emit(f"fadd {vt} {a}, {body.emit(f'fmul {vt} {v}, {body.splat(_const(coef), body.t)}')}")
    return body.maxnum(a, body.zero)  # ReLU; no NaN can arise: every input read is checked to be 0 or 1


def _can_exceed_one(p: KernelArrays, u: int) -> bool:
    """Whether unit ``u`` can output more than 1 when its inputs are each 0 or 1: its bias and positive
    weights sum above 1 (most units, ANDs and copies of one input, cannot: their guard is left out)."""
    weights = np.concatenate([p.s_val[p.unit_s[u] : p.unit_s[u + 1]], p.x_val[p.unit_x[u] : p.unit_x[u + 1]]])
    return bool(p.unit_bias[u] + weights[weights > 0].sum() > 1)


def _layer(p: KernelArrays, layer: int, t: str, size: int, w: int) -> list[str]:
    """A layer's units. The guard: the state values it reads are each 0 or 1 (else the machine faults here),
    so with integer weights and biases every sum is an integer and, after ReLU, off {0,1} means above 1: the
    largest output of the layer, one ``maxnum`` a unit, tells it. Only the units that can exceed 1 on inputs
    of 0 and 1 take part: with the guard on, every input of this layer is 0 or 1 or its machine is flagged
    anyway (a state value by ``bad_input``, a unit of an earlier layer by that layer's guard)."""
    body = _Body(t, size, w)
    top = body.zero
    for op in range(int(p.layer_ops[layer]), int(p.layer_ops[layer + 1])):
        kind, reg, stride = int(p.op_kind[op]), int(p.op_reg[op]), int(p.op_stride[op])
        row = None
        if kind == SELECT:
            selected = _row(body, p, op)
            body.store(selected, "%r", reg)
            row = body.emit(f"mul {body.it} {selected}, {body.splat(str(stride), 'i64')}")
        elif kind == UPDATE:
            row = body.emit(f"mul {body.it} {body.load('%r', reg)}, {body.splat(str(stride), 'i64')}")
        for u in range(int(p.op_units[op]), int(p.op_units[op + 1])):
            a = _unit(body, p, u, row)
            if kind == UPDATE:
                body.store_x(a, "%x", int(p.unit_out[u]), row)
            else:
                body.store(a, "%s", int(p.unit_out[u]))
            if _can_exceed_one(p, u):
                top = body.maxnum(top, a)
    above = body.emit(f"fcmp ogt {body.vt} {top}, {body.splat('1.0', t)}")
    mask = body.lanes_mask(body.emit(f"or {body.bt} {above}, {body.bad_input}"))
    return [
        f"define i64 @layer_{layer}(ptr noalias %x, ptr noalias %s, ptr noalias %r, i64 %xstride) nounwind {{",
        "entry:",
        *body.lines,
        f"  ret i64 {mask}",
        "}",
        "",
    ]


def _record(t: str, slots: np.ndarray, write: np.ndarray | None = None) -> list[str]:
    """After a pass of one machine, when ``%rec`` is not null: the narrow fields (their scratch ``slots``)
    into row ``done`` of the record (labels start with "ok" so that ``_rename`` keeps the group's names);
    with ``write`` (``compiled.write_op``), then the pass's write: the row its update's register selected,
    and that row of the state as the update left it."""
    n = len(slots)
    size = n + (0 if write is None else 1 + int(write[2]))
    lines = ["  %rnull = icmp eq ptr %rec, null", "  br i1 %rnull, label %ok_norec, label %ok_rec", "ok_rec:"]
    lines += ["  %rdone = load i64, ptr %done", f"  %rbase = mul i64 %rdone, {size}"]
    for j, slot in enumerate(slots):
        lines += [
            f"  %rs{j} = getelementptr inbounds {t}, ptr %sm, i64 {int(slot)}",
            f"  %rv{j} = load {t}, ptr %rs{j}",
            f"  %ri{j} = add i64 %rbase, {j}",
            f"  %rp{j} = getelementptr inbounds {t}, ptr %rec, i64 %ri{j}",
            f"  store {t} %rv{j}, ptr %rp{j}",
        ]
    if write is not None:
        lines += _write(t, n, *(int(v) for v in write))
    return [*lines, "  br label %ok_norec", "ok_norec:"]


def _write(t: str, at: int, reg: int, column: int, stride: int) -> list[str]:
    """The write log's part of a record row, from element ``at``: row register ``reg`` (the cell), then the
    ``stride`` elements of the state from ``column`` + that row times ``stride`` (the word written)."""
    lines = [
        f"  %wrp = getelementptr inbounds i64, ptr %rm, i64 {reg}",
        "  %wrow = load i64, ptr %wrp",
        f"  %wcell = sitofp i64 %wrow to {t}",
        f"  %wi = add i64 %rbase, {at}",
        f"  %wp = getelementptr inbounds {t}, ptr %rec, i64 %wi",
        f"  store {t} %wcell, ptr %wp",
        f"  %wbase = mul i64 %wrow, {stride}",
        f"  %wcol = add i64 %wbase, {column}",
    ]
    for j in range(stride):
        lines += [
            f"  %wx{j} = add i64 %wcol, {j}",
            f"  %wxp{j} = getelementptr inbounds {t}, ptr %xm, i64 %wx{j}",
            f"  %wv{j} = load {t}, ptr %wxp{j}",
            f"  %wi{j} = add i64 %rbase, {at + 1 + j}",
            f"  %wq{j} = getelementptr inbounds {t}, ptr %rec, i64 %wi{j}",
            f"  store {t} %wv{j}, ptr %wq{j}",
        ]
    return lines


def _run(
    p: KernelArrays, t: str, size: int, w: int, events: np.ndarray, executed: int, record: np.ndarray | None,
    write: np.ndarray | None = None,
) -> list[str]:  # fmt: skip
    """``run(x, n, xstride, S, sstride, R, rstride, max_passes, guard, fault, steps, rec) -> passes`` over n
    groups of w machines: machine i has its state at ``x + i * xstride``; group m its scratch at ``S + m *
    sstride`` and row registers at ``R + m * rstride`` (elements). Passes until a machine raised an event or
    ``max_passes``; counts each machine's executed instructions in ``steps``; records a fault as (group,
    layer, lanes) and stops there. Narrow fields are loaded before the first pass and stored after the last.
    With one machine (w = 1) and ``rec`` not null, row k of ``rec`` gets the narrow fields after pass k + 1
    (their scratch slots: ``record``), followed by the pass's write with ``write`` (``_record``)."""
    layers = len(p.layer_ops) - 1
    load = _Body(t, size, w)
    for slot, col in zip(p.load_s, p.load_x):
        load.store(load.load_x("%xm", int(col)), "%sm", int(slot))
    mask = load.lanes_mask(load.bad_input)  # a narrow field off {0,1}: a fault as its first reader's
    load.put(f"%lbad = icmp ne i64 {mask}, 0")
    load.put("%lstop = and i1 %lbad, %guarded")
    load.put("br i1 %lstop, label %trap_load, label %ok_load")
    load.lines += ["trap_load:", "  store i64 %m, ptr %fault", "  store i64 0, ptr %fault1"]
    load.put(f"store i64 {mask}, ptr %fault2")
    load.lines += ["  br label %exit", "ok_load:"]  # nothing ran: the states stay as they were
    carry = _Body(t, size, w)  # between passes: each changed field back to its load slot
    for dst, src in zip(p.store_l, p.store_s):
        carry.store(carry.load("%sm", int(src)), "%sm", int(dst))
    store = _Body(t, size, w)
    for col, slot in zip(p.store_x, p.store_s):
        store.store_x(store.load("%sm", int(slot)), "%xm", int(col))
    calls = []
    for k in range(layers):
        calls += [
            f"  %bad{k} = call i64 @layer_{k}(ptr %xm, ptr %sm, ptr %rm, i64 %xstride)",
            f"  %hit{k} = icmp ne i64 %bad{k}, 0",
            f"  %stop{k} = and i1 %hit{k}, %guarded",
            f"  br i1 %stop{k}, label %trap{k}, label %ok{k}",
            f"trap{k}:",
            "  store i64 %m, ptr %fault",
            f"  store i64 {k}, ptr %fault1",
            f"  store i64 %bad{k}, ptr %fault2",
            "  br label %finish",
            f"ok{k}:",
        ]
    flags = _Body(t, size, w)
    ex = flags.emit(f"zext {flags.bt} {flags.above_half(flags.load('%sm', executed))} to {flags.it}")
    raised = flags.false
    for e in events:
        raised = flags.emit(f"or {flags.bt} {raised}, {flags.above_half(flags.load('%sm', int(e)))}")
    raised = flags.emit(f"icmp ne i64 {flags.lanes_mask(raised)}, 0")
    flags.put("%stp = getelementptr inbounds i64, ptr %steps, i64 %first")
    counts = flags.emit(f"load {flags.it}, ptr %stp, align 8")
    flags.put(f"store {flags.it} {flags.emit(f'add {flags.it} {counts}, {ex}')}, ptr %stp, align 8")
    flags.put("%ar0 = load i1, ptr %anyraised")
    flags.put(f"%ar1 = or i1 %ar0, {raised}")
    flags.put("store i1 %ar1, ptr %anyraised")

    def per_group(label: str, body: list[str], then: str) -> list[str]:
        """A loop over the groups around ``body`` (which sees %m, %first, %xm, %sm, %rm)."""
        return [
            f"  br label %{label}",
            f"{label}:",
            f"  %{label}_m = phi i64 [0, %{label}_pre], [%{label}_next, %{label}_end]",
            f"  %m = add i64 %{label}_m, 0",
            f"  %first = mul i64 %m, {w}",
            "  %xo = mul i64 %first, %xstride",
            f"  %xm = getelementptr inbounds {t}, ptr %x, i64 %xo",
            "  %so = mul i64 %m, %sstride",
            f"  %sm = getelementptr inbounds {t}, ptr %S, i64 %so",
            "  %ro = mul i64 %m, %rstride",
            "  %rm = getelementptr inbounds i64, ptr %R, i64 %ro",
            *body,
            f"  br label %{label}_end",
            f"{label}_end:",
            f"  %{label}_next = add i64 %{label}_m, 1",
            f"  %{label}_more = icmp slt i64 %{label}_next, %n",
            f"  br i1 %{label}_more, label %{label}, label %{then}",
        ]

    lines = [
        "define i64 @run(ptr noalias %x, i64 %n, i64 %xstride, ptr noalias %S, i64 %sstride, ptr noalias %R, "
        "i64 %rstride, i64 %max, i64 %guard, ptr noalias %fault, ptr noalias %steps, ptr noalias %rec) nounwind {",
        "entry:",
        "  %done = alloca i64",
        "  store i64 0, ptr %done",
        "  %anyraised = alloca i1",
        "  %guarded = icmp ne i64 %guard, 0",
        "  %fault1 = getelementptr inbounds i64, ptr %fault, i64 1",
        "  %fault2 = getelementptr inbounds i64, ptr %fault, i64 2",
        "  br label %load_pre",
        "load_pre:",
        *per_group("load", load.lines, "pass"),
        "pass:",
        "  store i1 false, ptr %anyraised",
        "  br label %step_pre",
        "step_pre:",
        *per_group(
            "step",
            [*calls, *flags.lines, *(_record(t, record, write) if w == 1 and record is not None else [])],
            "passed",
        ),
        "passed:",
        "  %d0 = load i64, ptr %done",
        "  %d1 = add i64 %d0, 1",
        "  store i64 %d1, ptr %done",
        "  %ev = load i1, ptr %anyraised",
        "  %last = icmp sge i64 %d1, %max",
        "  %stop = or i1 %ev, %last",
        "  br i1 %stop, label %finish, label %carry_pre",
        "carry_pre:",
        *per_group("carry", carry.lines, "pass"),
        "finish:",
        "  br label %store_pre",
        "store_pre:",
        *per_group("store", store.lines, "exit"),
        "exit:",
        "  %passes = load i64, ptr %done",
        "  ret i64 %passes",
        "}",
        "",
    ]
    return _rename(lines)


SHARED = ("%m", "%first", "%xo", "%xm", "%so", "%sm", "%ro", "%rm", "%stp", "%ar0", "%ar1")


def _rename(lines: list[str]) -> list[str]:
    """The four loops over groups each define %m, %xm ... and their temporaries %vN: suffix each loop's names
    with its label so that every SSA name is defined once."""
    out, label = [], ""
    for line in lines:
        stripped = line.strip()
        if stripped.endswith(":") and not stripped.startswith(("trap", "ok")):
            label = stripped[:-1].split("_")[0]
        for name in SHARED:
            line = re.sub(re.escape(name) + r"\b(?!\w)", f"{name}_{label}", line)
        out.append(re.sub(r"%v(\d+)\b", rf"%v{label}_\1", line))
    return out


def source(
    p: KernelArrays, dtype: np.dtype, events: np.ndarray, executed: int, width: int, record: np.ndarray | None = None,
    write: np.ndarray | None = None,
) -> str:  # fmt: skip
    """The module's text for the lowered arrays ``p``, in the float type ``dtype``, for groups of ``width``;
    ``record``: the scratch slots ``run`` records after each pass of one machine; ``write``: where the pass's
    write is read for the write log recorded after them (``compiled.write_op``)."""
    t, size = TYPES[np.dtype(dtype)]
    parts = [f"; generated by mlpvm.engines.codegen ({t}, groups of {width}); do not edit", ""]
    vt = _Body(t, size, width)
    parts += [f"declare {vt.vt} @llvm.maxnum.{vt.suffix}({vt.vt}, {vt.vt})", ""]
    for layer in range(len(p.layer_ops) - 1):
        parts += _layer(p, layer, t, size, width)
    parts += _run(p, t, size, width, events, executed, record, write)
    return "\n".join(parts)
