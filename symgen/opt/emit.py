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
=========  ==========================================================  ===========

Each family is one loop nest over its index box; its template's derivative
expressions are CSE'd together (:func:`symgen.passes.lower.common_subexpressions`),
lowered with the rewrite engine's lowering rules and printed with the Numba printer.
Identifiers are generated (``x[...]``, ``v3``, ``t12``, ``i0``); user names appear only
in sanitized comments.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import jinja2
import sympy as sp

from ..passes.lower import common_subexpressions
from ..rewrite import lower_all
from .derive import OptSystem

__all__ = ["emit_opt", "KERNEL_NAMES"]

KERNEL_NAMES = ("obj", "grad", "cons", "jac", "hess")

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


def _block(fam, outputs, kind_out, counter, weight=None):
    """Loop nest of one family.

    ``outputs``: list of ``(target, expr)`` where ``target`` is a function of
    ``(loop names, row expr, counter name)`` returning the ``out[...]`` text and whether
    it accumulates.
    """
    loops = [f"i{k}" for k in range(len(fam.indices))]
    ind = "    " * len(loops)
    lines = [f"# {_comment(fam.label)}"]
    for k, ((lo, hi), name) in enumerate(zip(fam.limits, loops)):
        lines.append("    " * k + f"for {name} in range({lo}, {hi + 1}):")
    smap = {}
    used = set()
    exprs = [e for _, e in outputs]
    if weight is not None:
        exprs = [weight[0] * e for e in exprs]
    for e in exprs:
        used |= e.free_symbols
    for k, s in enumerate(fam.slots):
        if s.symbol in used:
            arr = "x" if s.kind == "x" else "p"
            lines.append(ind + f"v{k} = {arr}[{_pos(s.const, s.coef, loops)}]")
            smap[s.symbol] = f"v{k}"
    for ix, name in zip(fam.indices, loops):
        smap[ix] = f"float({name})"
    row = str(fam.row0)
    stride = 1
    for k in range(fam.row_loops - 1, -1, -1):
        lo, hi = fam.limits[k]
        row += f" + ({loops[k]} - {lo})" + (f"*{stride}" if stride != 1 else "")
        stride *= hi - lo + 1
    if weight is not None:
        wsym, wtext = weight
        lines.append(ind + f"wt = {wtext(row)}")
        smap[wsym] = "wt"
    temps, reduced = common_subexpressions(exprs)
    low = lower_all([e for _, e in temps] + list(reduced))
    for k, (s, _) in enumerate(temps):
        smap[s] = f"t{k}"
    pr = _printer()(smap)
    for k, e in enumerate(low[:len(temps)]):
        lines.append(ind + f"t{k} = {pr.doprint(e)}")
    for (target, _), e in zip(outputs, low[len(temps):]):
        lines.append(ind + target(loops, row, counter) + pr.doprint(e))
    if counter:
        lines.append(ind + f"{counter} += 1")
    return lines


def _kernel_lines(system: OptSystem, name: str):
    ir = system.ir
    lines = []
    if name == "obj":
        lines.append("acc = 0.0")
        for d in system.objective:
            lines += _block(d.family, [(lambda L, r, c: "acc += ", d.family.expr)], "obj", None)
        lines.append("out[0] = acc")
        return lines, 1
    if name == "grad":
        lines += ["for k in range(%d):" % ir.n, "    out[k] = 0.0"]
        for d in system.objective:
            fam = d.family
            outs = [((lambda s: (lambda L, r, c: f"out[{_pos(s.const, s.coef, L)}] += "))(fam.slots[g]), e)
                    for g, e in d.grad]
            if outs:
                lines += _block(fam, outs, "grad", None)
        return lines, ir.n
    if name == "cons":
        lines += ["for k in range(%d):" % ir.m, "    out[k] = 0.0"] if ir.m else []
        for d in system.constraints:
            lines += _block(d.family, [(lambda L, r, c: f"out[{r}] += ", d.family.expr)], "cons", None)
        return lines, max(ir.m, 1)
    if name == "jac":
        off = 0
        for d in system.constraints:
            k = len(d.grad)
            if not k:
                continue
            outs = [((lambda e_, o_: (lambda L, r, c: f"out[{o_} + {c}*{k} + {e_}] = "))(e, off), v)
                    for e, (_, v) in enumerate(d.grad)]
            lines += [f"r = 0"] + _block(d.family, outs, "jac", "r")
            off += k * d.family.count
        return lines, max(off, 1)
    if name == "hess":
        off = 0
        wsym = sp.Dummy("w")
        for j, d in enumerate(system.objective + system.constraints):
            k = len(d.hess)
            if not k:
                continue
            outs = [((lambda e_, o_: (lambda L, r, c: f"out[{o_} + {c}*{k} + {e_}] = "))(e, off), v)
                    for e, (_, _, v) in enumerate(d.hess)]
            if j < len(system.objective):
                wtext = (lambda row: "w[0]")
            else:
                wtext = (lambda row: f"w[1 + {row}]")
            lines += [f"r = 0"] + _block(d.family, outs, "hess", "r", weight=(wsym, wtext))
            off += k * d.family.count
        return lines, max(off, 1)
    raise KeyError(name)


def emit_opt(system: OptSystem, key: str, version: str):
    """Numba module text holding the five kernels, and ``{name: out_size}``."""
    ir = system.ir
    views, sizes = [], {}
    for name in KERNEL_NAMES:
        lines, nout = _kernel_lines(system, name)
        sizes[name] = nout
        views.append(SimpleNamespace(name=name, lines=lines, nx=ir.n, np=max(ir.n_params, 1),
                                     nw=ir.m + 1, nout=nout))
    text = _ENV.get_template("opt_module.py.j2").render(kernels=views, key=key, version=version,
                                                        title=_comment(ir.name))
    return text, sizes
