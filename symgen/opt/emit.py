"""lower + emit: OptSystem -> Numba source of five loop kernels.

Kernel ABI of the optimization drivers (see :mod:`symgen.opt.drivers.common`)::

    void kernel(const double *x, const double *p, const double *w, double *out)

=========  ==========================================================  ===========
kernel     writes                                                      ``w``
=========  ==========================================================  ===========
``obj``    ``out[0] = f(x)``                                            unused
``grad``   ``out[:n] = grad f(x)``                                      unused
``cons``   ``out[:m] = c(x)``                                           unused
``jac``    values of ``J`` in COO family order (scatter map -> CSR)     unused
``hess``   values of ``sigma H_f + sum lam_i H_ci`` in COO order        ``[sigma, lam]``
``hvp``    ``out[:n] = (sigma H_f + sum lam_i H_ci) v``                 ``[sigma, lam, v]``
=========  ==========================================================  ===========

``hvp`` evaluates each family's derived directional derivative of its gradient (see
:func:`symgen.opt.derive.hvp_terms`), CSE'd per family; the direction is read through
extra slots of kind ``"v"`` whose positions are offset into ``w``.

Each family is one loop nest over its index box; its template's derivative
expressions are CSE'd together (:func:`symgen.passes.lower.common_subexpressions`),
lowered with the rewrite engine's lowering rules and printed with the Numba printer.
Identifiers are generated (``x[...]``, ``v3``, ``t12``, ``i0``); user names appear only
in sanitized comments.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from types import SimpleNamespace

import jinja2
import sympy as sp

from ..passes.lower import common_subexpressions
from ..rewrite import lower_all
from .derive import OptSystem, hvp_terms
from .ir import Slot

__all__ = ["emit_opt", "KERNEL_NAMES", "Output", "Job", "kernel_jobs", "lowered", "row_text", "WEIGHT"]

KERNEL_NAMES = ("obj", "grad", "cons", "jac", "hess", "hvp")

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgen.templates", "."),
                          keep_trailing_newline=True, autoescape=False,
                          undefined=jinja2.StrictUndefined)


def _comment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_ +\-*/()\[\]<>=.,]", "?", text)[:100]


def _pos(const: int, coef, loops) -> str:
    s = str(const)
    for c, i in zip(coef, loops):
        if c == 1:
            s += f" + {i}"
        elif c:
            s += f" + {c}*{i}"
    return s


def _printer():
    from ..backends.numba.printer import NumbaPrinter
    return NumbaPrinter


@dataclass(frozen=True)
class Output:
    """One value a family writes per index point.

    ``mode``: ``"acc"`` (added to the kernel's scalar accumulator), ``"slot"`` (added to
    ``out`` at the flat position of slot ``target``), ``"row"`` (added to ``out`` at the
    family's constraint row), ``"coo"`` (stored at ``out[target[0] + r * target[1] +
    target[2]]``, ``r`` counting the family's index points).
    """

    mode: str
    target: object
    expr: sp.Expr


@dataclass(frozen=True)
class Job:
    """A family's loop nest in one kernel: outputs (CSE'd together) and the weight they
    are multiplied by (``None``, ``"sigma"`` = ``w[0]``, ``"lambda"`` = ``w[1 + row]``)."""

    family: object
    outputs: tuple
    weight: str | None = None


WEIGHT = sp.Dummy("weight")


def kernel_jobs(system: OptSystem, name: str):
    """``(jobs, out_size, zero_fill)`` of kernel ``name`` (backend independent)."""
    ir = system.ir
    if name == "obj":
        return [Job(d.family, (Output("acc", None, d.family.expr),)) for d in system.objective], 1, False
    if name == "grad":
        jobs = [Job(d.family, tuple(Output("slot", g, e) for g, e in d.grad)) for d in system.objective if d.grad]
        return jobs, ir.n, True
    if name == "cons":
        jobs = [Job(d.family, (Output("row", None, d.family.expr),)) for d in system.constraints]
        return jobs, max(ir.m, 1), True
    jobs, off = [], 0
    if name == "jac":
        for d in system.constraints:
            k = len(d.grad)
            if k:
                jobs.append(Job(d.family, tuple(Output("coo", (off, k, e), v) for e, (_, v) in enumerate(d.grad))))
                off += k * d.family.count
        return jobs, max(off, 1), False
    if name == "hess":
        for j, d in enumerate(system.objective + system.constraints):
            k = len(d.hess)
            if k:
                outs = tuple(Output("coo", (off, k, e), v) for e, (_, _, v) in enumerate(d.hess))
                jobs.append(Job(d.family, outs, "sigma" if j < len(system.objective) else "lambda"))
                off += k * d.family.count
        return jobs, max(off, 1), False
    if name == "hvp":
        jobs = []
        for j, d in enumerate(system.objective + system.constraints):
            if d.hess:
                fam = d.family
                vsyms, hvp = hvp_terms(fam, d.hess)
                vs = tuple(Slot(v, "v", 1 + ir.m + s.const, s.coef)
                           for s, v in zip(fam.slots, vsyms) if v is not None)
                jobs.append(Job(replace(fam, slots=fam.slots + vs), tuple(Output("slot", a, e) for a, e in hvp),
                                "sigma" if j < len(system.objective) else "lambda"))
        return jobs, ir.n, True
    raise KeyError(name)


SLOT_BASE = {"x": "x", "p": "p", "v": "w"}    # array each slot kind is read from


def lowered(job: Job):
    """``(temps, outputs)``: the job's expressions (times its weight) CSE'd and lowered;
    ``temps`` is ``[(symbol, expr)]`` in evaluation order."""
    exprs = [o.expr if job.weight is None else WEIGHT * o.expr for o in job.outputs]
    temps, reduced = common_subexpressions(exprs)
    low = lower_all([e for _, e in temps] + list(reduced))
    return [(s, e) for (s, _), e in zip(temps, low)], low[len(temps):]


def row_text(fam, loops) -> str:
    """The constraint row of the current index point, as text in the loop names."""
    row = str(fam.row0)
    stride = 1
    for k in range(fam.row_loops - 1, -1, -1):
        lo, hi = fam.limits[k]
        row += f" + ({loops[k]} - {lo})" + (f"*{stride}" if stride != 1 else "")
        stride *= hi - lo + 1
    return row


def _numba_block(job: Job):
    fam = job.family
    loops = [f"i{k}" for k in range(len(fam.indices))]
    ind = "    " * len(loops)
    counted = any(o.mode == "coo" for o in job.outputs)
    lines = [f"# {_comment(str(fam.label))}"] + (["r = 0"] if counted else [])
    for k, ((lo, hi), name) in enumerate(zip(fam.limits, loops)):
        lines.append("    " * k + f"for {name} in range({lo}, {hi + 1}):")
    temps, outs = lowered(job)
    used = set()
    for e in [e for _, e in temps] + list(outs):
        used |= e.free_symbols
    smap = {}
    for k, s in enumerate(fam.slots):
        if s.symbol in used:
            lines.append(ind + f"v{k} = {SLOT_BASE[s.kind]}[{_pos(s.const, s.coef, loops)}]")
            smap[s.symbol] = f"v{k}"
    for ix, name in zip(fam.indices, loops):
        smap[ix] = f"float({name})"
    row = row_text(fam, loops)
    if job.weight is not None:
        lines.append(ind + ("wt = w[0]" if job.weight == "sigma" else f"wt = w[1 + {row}]"))
        smap[WEIGHT] = "wt"
    for k, (s, _) in enumerate(temps):
        smap[s] = f"t{k}"
    pr = _printer()(smap)
    for k, (_, e) in enumerate(temps):
        lines.append(ind + f"t{k} = {pr.doprint(e)}")
    for o, e in zip(job.outputs, outs):
        if o.mode == "acc":
            target = "acc += "
        elif o.mode == "slot":
            s = fam.slots[o.target]
            target = f"out[{_pos(s.const, s.coef, loops)}] += "
        elif o.mode == "row":
            target = f"out[{row}] += "
        else:
            off, k, e_ = o.target
            target = f"out[{off} + r*{k} + {e_}] = "
        lines.append(ind + target + pr.doprint(e))
    if counted:
        lines.append(ind + "r += 1")
    return lines


def _kernel_lines(system: OptSystem, name: str):
    jobs, nout, zero = kernel_jobs(system, name)
    lines = ["acc = 0.0"] if name == "obj" else []
    if zero:
        lines += [f"for k in range({nout}):", "    out[k] = 0.0"]
    for job in jobs:
        lines += _numba_block(job)
    if name == "obj":
        lines.append("out[0] = acc")
    return lines, nout


def emit_opt(system: OptSystem, key: str, version: str):
    """Numba module text holding the five kernels, and ``{name: out_size}``."""
    ir = system.ir
    views, sizes = [], {}
    for name in KERNEL_NAMES:
        lines, nout = _kernel_lines(system, name)
        sizes[name] = nout
        views.append(SimpleNamespace(name=name, lines=lines, nx=ir.n, np=max(ir.n_params, 1),
                                     nw=ir.m + 1 + (ir.n if name == "hvp" else 0), nout=nout))
    text = _ENV.get_template("opt_module.py.j2").render(kernels=views, key=key, version=version,
                                                        title=_comment(ir.name))
    return text, sizes
