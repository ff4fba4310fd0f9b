"""Expression tapes: the kernels of a small problem as data for a precompiled evaluator.

A new problem normally costs a code generation and an LLVM compile and link (tens of
milliseconds), more than the whole solve of a problem like HS071.  Below a size
threshold the six kernels are instead written as a *tape* -- a flat ``float64`` program
per kernel -- and run by the evaluator of :mod:`symgen.opt.drivers.tape_eval`, whose
six ``cfunc`` entry points are compiled once per installation (Numba's disk cache)
and shared by every problem.  Nothing is compiled per problem.

The tape travels in front of the user parameters in the ``p`` array every kernel
receives (kernel ABI unchanged), so the compiled drivers run tapes and LLVM kernels
alike.  Layout (all entries ``float64``; integers are exact)::

    p[0]          L, the tape length (user parameters start at p[L])
    p[1 + k]      offset of kernel k's program (k: obj, grad, cons, jac, hess, hvp)
    p[7], p[8]    n, m
    program       nout, zero_fill, njobs, then per job:
      nl, (lo, hi) * nl, row0, row_loops, weight (0 none, 1 w[0], 2 w[1 + row]),
      nslots, (base, const, coef * nl) * nslots        base: 0 x, 1 p, 2 w
      nregs, ninstr, (op, a, b, value) * ninstr
      nout, (mode, reg, t0, t1) * nout                 mode: 0 acc, 1 slot, 2 row, 3 coo

Registers of a job: its slot values first, then its loop indices (as floats), then
one register per instruction.  Each distinct subexpression is one instruction (the
builder hash-conses the SymPy DAG, which is the tape's common-subexpression
elimination).  The Hessian-vector product multiplies each family's second-derivative
registers by the direction's slot values and sums per slot inside the tape: no
Hessian is assembled.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from .emit import KERNEL_NAMES, kernel_jobs

__all__ = ["build_tape", "TapeUnsupported", "OPS", "disassemble"]

OPS = ("const", "add", "mul", "div", "neg", "powi", "pow", "sqrt", "exp", "log", "sin", "cos",
       "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "abs", "sub")
_OP = {name: k for k, name in enumerate(OPS)}
_FUNCS = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.asin: "asin",
          sp.acos: "acos", sp.atan: "atan", sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh",
          sp.Abs: "abs"}
HEADER = 9
_BASE = {"x": 0, "p": 1, "v": 2}


class TapeUnsupported(Exception):
    """An expression the tape evaluator has no instruction for (the caller falls back
    to generated code)."""


class _Job:
    """Registers and instructions of one family in one kernel."""

    def __init__(self, fam, p_offset: int, extra_slots=()):
        if len(fam.indices) > 8:
            raise TapeUnsupported("more than 8 nested index loops")
        self.fam = fam
        self.slots = list(fam.slots) + list(extra_slots)
        self.p_offset = p_offset
        self.regs: dict = {s.symbol: k for k, s in enumerate(self.slots)}
        base = len(self.slots)
        for k, ix in enumerate(fam.indices):
            self.regs[ix] = base + k
        self.nfixed = base + len(fam.indices)
        self.instr: list = []
        self.memo: dict = {}

    def _new(self, op, a=0, b=0, value=0.0) -> int:
        key = (op, a, b, value)
        r = self.memo.get(key)
        if r is None:
            self.instr.append((_OP[op], a, b, value))
            r = self.memo[key] = self.nfixed + len(self.instr) - 1
        return r

    def const(self, v: float) -> int:
        return self._new("const", value=float(v))

    def binary(self, op, a, b):
        return self._new(op, a, b)

    def expr(self, e) -> int:
        r = self.memo.get(e)
        if r is not None:
            return r
        r = self._expr(e)
        self.memo[e] = r
        return r

    def _expr(self, e) -> int:
        if e in self.regs:
            return self.regs[e]
        if e.is_Number or (e.is_number and not e.free_symbols):
            v = complex(e)
            if v.imag != 0.0:
                raise TapeUnsupported(f"complex constant {e}")
            return self.const(v.real)
        if e.is_Add or e.is_Mul:
            op = "add" if e.is_Add else "mul"
            args = [a for a in e.args if not (op == "mul" and a.is_Number and a == 1)] or [sp.S.One]
            r = self.expr(args[0])
            for a in args[1:]:
                if op == "mul" and a.is_Pow and a.exp == -1:
                    r = self.binary("div", r, self.expr(a.base))
                else:
                    r = self.binary(op, r, self.expr(a))
            return r
        if e.is_Pow:
            b, x = e.args
            rb = self.expr(b)
            if x.is_Integer:
                k = int(x)
                if k == 2:
                    return self.binary("mul", rb, rb)
                if k == -1:
                    return self.binary("div", self.const(1.0), rb)
                if k < 0:
                    return self.binary("div", self.const(1.0), self._new("powi", rb, 0, float(-k)))
                return self._new("powi", rb, 0, float(k))
            if x == sp.S.Half:
                return self._new("sqrt", rb)
            if x == -sp.S.Half:
                return self.binary("div", self.const(1.0), self._new("sqrt", rb))
            return self.binary("pow", rb, self.expr(x))
        f = _FUNCS.get(type(e)) or _FUNCS.get(e.func)
        if f is not None and len(e.args) == 1:
            return self._new(f, self.expr(e.args[0]))
        raise TapeUnsupported(f"no tape instruction for {e.func}")

    def header(self, weight: int) -> list:
        fam = self.fam
        out = [len(fam.indices)]
        for lo, hi in fam.limits:
            out += [lo, hi]
        out += [max(fam.row0, 0), fam.row_loops, weight, len(self.slots)]
        for s in self.slots:
            const = s.const + (self.p_offset if s.kind == "p" else 0)
            out += [_BASE[s.kind], const, *(list(s.coef) + [0] * (len(fam.indices) - len(s.coef)))]
        return out

    def body(self, outputs) -> list:
        out = [self.nfixed + len(self.instr), len(self.instr)]
        for ins in self.instr:
            out += list(ins)
        out.append(len(outputs))
        for o in outputs:
            out += list(o)
        return out


_WEIGHT = {None: 0, "sigma": 1, "lambda": 2}


def _program(system, name: str, p_offset: int) -> list:
    ir = system.ir
    if name == "hvp":
        return _hvp_program(system, p_offset)
    jobs, nout, zero = kernel_jobs(system, name)
    prog = [nout, 1 if (zero or name == "obj") else 0, len(jobs)]
    for job in jobs:
        j = _Job(job.family, p_offset)
        outs = []
        for o in job.outputs:
            r = j.expr(o.expr)
            if o.mode == "acc":
                outs.append((0, r, 0, 0))
            elif o.mode == "slot":
                outs.append((1, r, o.target, 0))
            elif o.mode == "row":
                outs.append((2, r, 0, 0))
            else:
                off, k, e = o.target
                outs.append((3, r, off + e, k))
        prog += j.header(_WEIGHT[job.weight]) + j.body(outs)
    del ir
    return prog


def _hvp_program(system, p_offset: int) -> list:
    """``out = (sigma H_f + sum lam_i H_ci) v``: per family, the second-derivative
    registers times the direction's slot values, summed per slot."""
    from .ir import Slot
    ir = system.ir
    fams = system.objective + system.constraints
    jobs = []
    for j, d in enumerate(fams):
        if not d.hess:
            continue
        fam = d.family
        vs = [Slot(sp.Dummy(f"v{k}"), "v", 1 + ir.m + s.const, s.coef) for k, s in enumerate(fam.slots)]
        job = _Job(fam, p_offset, vs)
        vreg = {k: len(fam.slots) + k for k in range(len(fam.slots))}
        acc: dict = {}
        for a, b, e in d.hess:
            h = job.expr(e)
            t = job.binary("mul", h, vreg[b])
            acc[a] = t if a not in acc else job.binary("add", acc[a], t)
            if a != b:
                t = job.binary("mul", h, vreg[a])
                acc[b] = t if b not in acc else job.binary("add", acc[b], t)
        outs = [(1, acc[a], a, 0) for a in sorted(acc)]
        jobs.append(job.header(1 if j < len(system.objective) else 2) + job.body(outs))
    prog = [ir.n, 1, len(jobs)]
    for part in jobs:
        prog += part
    return prog


def build_tape(system) -> np.ndarray:
    """The tape (header and the six kernel programs) of ``system``.

    Raises :class:`TapeUnsupported` for expressions without an instruction."""
    progs = []
    offset = HEADER
    offs = []
    for name in KERNEL_NAMES:
        offs.append(offset)
        prog = _program(system, name, 0)
        progs.append(prog)
        offset += len(prog)
    total = offset
    # user parameters start after the tape: rebuild with the parameter offset known
    progs = [_program(system, name, total) for name in KERNEL_NAMES] if system.ir.n_params else progs
    head = [total, *offs, system.ir.n, system.ir.m]
    tape = np.asarray(head + [v for prog in progs for v in prog], dtype=np.float64)
    assert tape.size == total
    return tape


def disassemble(tape: np.ndarray) -> str:
    """Readable listing of a tape (``CompiledOpt.source`` of the tape backend)."""
    lines = [f"; symgen optimization tape: {int(tape[0])} entries, n={int(tape[7])}, m={int(tape[8])}"]
    for k, name in enumerate(KERNEL_NAMES):
        o = int(tape[1 + k])
        nout, zero, njobs = (int(v) for v in tape[o:o + 3])
        lines.append(f"kernel {name}: out[{nout}] zero={zero} jobs={njobs}")
        q = o + 3
        for _ in range(njobs):
            nl = int(tape[q])
            lims = [(int(tape[q + 1 + 2 * i]), int(tape[q + 2 + 2 * i])) for i in range(nl)]
            q += 1 + 2 * nl
            row0, rl, wt, ns = (int(v) for v in tape[q:q + 4])
            q += 4
            slots = []
            for _s in range(ns):
                terms = "".join(f" + {int(c)}*i{i}" for i, c in enumerate(tape[q + 2:q + 2 + nl]) if c)
                slots.append(f"{('x', 'p', 'w')[int(tape[q])]}[{int(tape[q + 1])}{terms}]")
                q += 2 + nl
            nregs, ni = int(tape[q]), int(tape[q + 1])
            q += 2
            lines.append(f"  job loops={lims} row0={row0} row_loops={rl} weight={wt} regs={nregs}")
            lines += [f"    r{i} = {s}" for i, s in enumerate(slots)]
            base = ns + nl
            for i in range(ni):
                op, a, b, v = tape[q:q + 4]
                q += 4
                lines.append(f"    r{base + i} = {OPS[int(op)]} r{int(a)} r{int(b)} {v:g}")
            no = int(tape[q])
            q += 1
            for _o in range(no):
                mode, r, t0, t1 = (int(v) for v in tape[q:q + 4])
                q += 4
                lines.append(f"    out {('acc', 'slot', 'row', 'coo')[mode]} r{r} {t0} {t1}")
    return "\n".join(lines)
