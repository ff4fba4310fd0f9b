"""declare: OptModel -> OptIR (sums and foralls become families of one template each).

Every ``sympy.Sum`` in the objective (possibly nested, possibly scaled by a factor free
of its indices) becomes one :class:`~symgen.opt.ir.Family`; the terms outside sums form
one more.  A constraint declared with ``forall`` is one family whose leading loops
number its rows; a ``Sum`` inside a constraint adds a family whose trailing loops are
summed into the row.  Indexed accesses must be affine in the loop indices with integer
coefficients; they become slots (flat position ``const + coef . i``), checked against
the declared shapes at the corners of the index box.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..errors import IndexRangeError, ModelError, NonSmoothError, UndeclaredSymbolError
from .ir import Family, OptIR, Slot

__all__ = ["declare", "NONSMOOTH"]

#: functions whose derivative jumps or does not exist somewhere: flagged unless allowed
NONSMOOTH = (sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise, sp.sign, sp.floor,
             sp.ceiling, sp.Mod, sp.frac)


def _label(text) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 120 else text[:117] + "..."


class Label:
    """Printed form of an objective or constraint, made only when a message or a
    generated comment needs it (printing large SymPy sums costs milliseconds)."""

    __slots__ = ("_obj", "_text")

    def __init__(self, obj):
        self._obj = obj
        self._text = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _label(self._obj)
        return self._text

    def __format__(self, spec) -> str:
        return format(str(self), spec)

    def __contains__(self, item) -> bool:
        return item in str(self)


class _Tables:
    """Symbol tables of a model: what each symbol or IndexedBase label stands for."""

    def __init__(self, model):
        self.scalar: dict = {}   # Symbol -> (kind, offset)
        self.array: dict = {}    # label Symbol -> (kind, offset, shape, name)
        for kind, decls in (("x", model._vars), ("p", model._params)):
            for h, off, shape, name in decls:
                if shape:
                    self.array[h.label] = (kind, off, shape, name)
                else:
                    self.scalar[h] = (kind, off)


def _limits_of(lims, label):
    out = []
    for lim in lims:
        if len(lim) != 3:
            raise ModelError(f"index range {lim} must be (index, lo, hi)", equation=label)
        i, lo, hi = lim
        if not isinstance(i, sp.Symbol):
            raise ModelError(f"index range {lim}: {i} is not a symbol", equation=label)
        try:
            lo_i, hi_i = int(sp.Integer(sp.sympify(lo))), int(sp.Integer(sp.sympify(hi)))
        except (TypeError, ValueError):
            raise ModelError(f"index range of {i} must have integer limits, got ({lo}, {hi})",
                             equation=label, symbol=str(i)) from None
        out.append((i, lo_i, hi_i))
    return out


def _affine(e, indices, label, name):
    """``(const, coefs)`` of an integer affine index expression in ``indices``."""
    e = sp.sympify(e)
    if e.is_Integer:                                  # fast paths: x[3], x[i], x[2*i + 1]
        return int(e), [0] * len(indices)
    terms = e.as_coefficients_dict()
    if all((t is sp.S.One or t in indices) and c.is_Integer for t, c in terms.items()):
        return int(terms.get(sp.S.One, 0)), [int(terms.get(i, 0)) for i in indices]
    e = sp.expand(e)
    extra = e.free_symbols - set(indices)
    if extra:
        raise ModelError(f"index of {name} depends on {sorted(map(str, extra))}, which are not "
                         f"loop indices of this sum/forall", equation=label, symbol=name)
    const = e.subs({i: 0 for i in indices})
    coefs = [e.coeff(i) for i in indices]
    rest = sp.expand(e - const - sum(c * i for c, i in zip(coefs, indices)))
    if rest != 0 or not all(sp.sympify(c).is_integer for c in [const, *coefs]):
        raise ModelError(f"index {e} of {name} is not affine with integer coefficients",
                         equation=label, symbol=name)
    return int(const), [int(c) for c in coefs]


def _family(expr, lims, tables, label, row0=-1, row_loops=0, allow_nonsmooth=False) -> Family | None:
    indices = tuple(i for i, _, _ in lims)
    limits = tuple((lo, hi) for _, lo, hi in lims)
    if any(hi < lo for lo, hi in limits):
        return None
    if not allow_nonsmooth:
        found = expr.atoms(*NONSMOOTH)               # one traversal for all of them
        for f in NONSMOOTH:
            hit = next((a for a in found if isinstance(a, f)), None)
            if hit is not None:
                raise NonSmoothError(f"non-smooth function {f.__name__} (pass allow_nonsmooth=True "
                                     f"to compile anyway, or reformulate with extra variables)",
                                     equation=label, symbol=_label(hit))
    if expr.has(sp.Sum):
        raise ModelError("a Sum inside a nonlinear expression is not separable; introduce a "
                         "variable equal to the sum (an equality constraint)", equation=label)
    slots: dict = {}
    repl: dict = {}
    for a in sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key):
        entry = tables.array.get(a.base.label)
        if entry is None:
            raise UndeclaredSymbolError("indexed symbol is not a declared variable or parameter",
                                        equation=label, symbol=str(a.base.label))
        kind, off, shape, name = entry
        if len(a.indices) != len(shape):
            raise IndexRangeError(f"{name} has {len(shape)} dimension(s), accessed as {a}",
                                  equation=label, symbol=name)
        const, coef = off, [0] * len(indices)
        stride = 1
        dims = []
        for d in range(len(shape) - 1, -1, -1):
            c0, cs = _affine(a.indices[d], indices, label, name)
            lo_v = c0 + sum(min(c * lo, c * hi) for c, (lo, hi) in zip(cs, limits))
            hi_v = c0 + sum(max(c * lo, c * hi) for c, (lo, hi) in zip(cs, limits))
            if lo_v < 0 or hi_v >= shape[d]:
                raise IndexRangeError(f"{a} reaches index {lo_v if lo_v < 0 else hi_v} of dimension "
                                      f"{d} (size {shape[d]})", equation=label, symbol=name)
            const += stride * c0
            coef = [k + stride * c for k, c in zip(coef, cs)]
            stride *= shape[d]
            dims.append(d)
        key = (kind, const, tuple(coef))
        if key not in slots:
            slots[key] = Slot(sp.Dummy(f"{kind}{len(slots)}", real=True), kind, const, tuple(coef))
        repl[a] = slots[key].symbol
    partial = expr.xreplace(repl)
    slot_syms = set(repl.values())
    for s in sorted(partial.free_symbols, key=sp.default_sort_key):
        if s in slot_syms or s in indices:
            continue
        if s in tables.scalar:
            kind, off = tables.scalar[s]
            key = (kind, off, (0,) * len(indices))
            if key not in slots:
                slots[key] = Slot(sp.Dummy(f"{kind}{len(slots)}", real=True), kind, off,
                                  (0,) * len(indices))
            repl[s] = slots[key].symbol
        elif s in tables.array:
            raise ModelError(f"array {s} used without an index", equation=label, symbol=str(s))
        elif s.is_integer:
            raise ModelError(f"index {s} is not bound by a Sum or forall here", equation=label,
                             symbol=str(s))
        else:
            raise UndeclaredSymbolError("symbol is neither a declared variable nor a parameter",
                                        equation=label, symbol=str(s))
    template = expr.xreplace(repl)
    return Family(label, template, indices, limits, tuple(slots.values()), row0, row_loops)


def _split_sums(expr, outer, label):
    """``[(term, limits)]``: the terms of ``expr`` with the loops they are summed over
    (``outer`` first, then the limits of the ``Sum`` they sit in, outermost first)."""
    out = []
    scalar = []
    for term in sp.Add.make_args(expr):
        if not term.has(sp.Sum):
            scalar.append(term)
            continue
        factor, s = sp.S.One, term
        if term.is_Mul:
            sums = [a for a in term.args if isinstance(a, sp.Sum)]
            others = [a for a in term.args if not isinstance(a, sp.Sum)]
            if len(sums) != 1 or any(a.has(sp.Sum) for a in others):
                raise ModelError("a product of sums is not separable; introduce a variable "
                                 "equal to each sum", equation=label)
            factor, s = sp.Mul(*others), sums[0]
        if not isinstance(s, sp.Sum):
            raise ModelError("a Sum inside a nonlinear expression is not separable; introduce a "
                             "variable equal to the sum (an equality constraint)", equation=label)
        lims = _limits_of(reversed(s.limits), label)   # SymPy lists the innermost first
        bound = {i for i, _, _ in lims}
        if factor.free_symbols & bound:
            raise ModelError("factor outside a Sum uses the summation index", equation=label)
        out.extend(_split_sums(factor * s.function, outer + lims, label))
    if scalar:
        out.insert(0, (sp.Add(*scalar), outer))
    return out


def declare(model, *, allow_nonsmooth: bool = False) -> OptIR:
    """Turn the model's declarations into families of templates (see the module doc)."""
    tables = _Tables(model)
    sense = model._sense
    f_label = Label(model._objective)
    objective = []
    for term, lims in _split_sums(sense * model._objective, [], f_label):
        fam = _family(term, lims, tables, f_label, allow_nonsmooth=allow_nonsmooth)
        if fam is not None:
            objective.append(fam)
    constraints, cl, cu = [], [], []
    row = 0
    for d, lo, hi, forall, label in model._constraints:
        label = Label(label)
        outer = _limits_of(forall, label)
        nrows = math.prod(max(h - l + 1, 0) for _, l, h in outer)
        if nrows == 0:
            continue
        for term, lims in _split_sums(d, outer, label):
            fam = _family(term, lims, tables, label, row, len(outer), allow_nonsmooth)
            if fam is not None:
                constraints.append(fam)
        cl.append(np.full(nrows, lo))
        cu.append(np.full(nrows, hi))
        row += nrows
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))
    p0 = cat(model._p0)
    return OptIR(model.name, model._n, model._np, tuple(objective), tuple(constraints), row,
                 tuple((h, off, shape) for h, off, shape, _ in model._vars),
                 tuple((h, off, shape) for h, off, shape, _ in model._params),
                 cat(model._xl), cat(model._xu), cat(model._x0), cat(cl), cat(cu), p0, sense)
