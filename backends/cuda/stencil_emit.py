"""Stencil IR (:mod:`symgen.pde.ir`) -> numba.cuda kernels for PDE models.

One thread per grid point and all fields of that point.  For every kernel kind the
module holds two kernels:

* ``<kind>_bulk``: the interior region (every axis an ``in`` or ``pw`` range), an
  ``ndim``-D thread grid whose x dimension runs along the last axis (the fastest
  varying index of the state vector, so neighbouring threads read neighbouring values);
* ``<kind>_edge``: every boundary region in one guarded launch.  Thread ``k`` of a 1-D
  list belongs to the region whose run-time point count brackets it and decomposes the
  remainder into the region's ranged axes.  One launch instead of one per region (a 3-D
  order-4 model has 124 boundary regions); its register count is the largest of the
  regions' and does not slow the bulk kernel.

Kinds: ``rhs(t, y, p, out)``; ``jvp(t, y, p, v, out)`` (``out = J v``, gathered row by
row); ``jtv(t, y, p, v, out)`` (``out += J^T v`` by atomic adds: every point scatters
its stencil row times ``v``, as the CPU kernel does, without races); ``jac_values(t, y,
p, rowptr, out)`` (values on the static CSR pattern of :mod:`symgen.pde.pattern`).

Neighbour values are loaded into locals before any store (global loads and stores may
alias, so the compiler could not reuse a load across a store).  Literals are printed as
``F(...)``: a float32 build does float32 arithmetic only.
"""
from __future__ import annotations

import jinja2
import sympy as sp

from symgen.pde.codegen import small_integer_power
from symgen.pde.ir import StencilSystem

from .printer import DevicePrinter

__all__ = ["emit_cuda_stencil_module", "StencilDevicePrinter", "KINDS", "bulk_region", "region_extents"]

KINDS = ("rhs", "jvp", "jtv", "jac_values")

_ARGS = {"rhs": "t, y, p, out", "jvp": "t, y, p, v, out", "jtv": "t, y, p, v, out",
         "jac_values": "t, y, p, rowptr, out"}

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgen.templates", "."),
                          keep_trailing_newline=True, autoescape=False,
                          undefined=jinja2.StrictUndefined)


class StencilDevicePrinter(DevicePrinter):
    """Device printer with small integer powers as products (no ``pow`` in kernels)."""

    def _print_Pow(self, expr, rational=False):
        s = small_integer_power(self, expr, "F(1.0)")
        return s if s is not None else super()._print_Pow(expr, rational)


def _ranged(cls) -> bool:
    return cls.kind in ("in", "pw")


def point_names(ss: StencilSystem, inv) -> dict:
    """Generated names of the symbols a point function reads besides its neighbours:
    ``t``, parameters ``q<k>``, coordinates ``x<a>``, spacings ``h<a>`` and their
    reciprocals ``g<a>`` (shared by the numba.cuda and the CUDA C stencil emitters)."""
    m = {ss.t: "t"}
    m.update({s: f"q{k}" for k, s in enumerate(ss.params)})
    m.update({x: f"x{a}" for a, x in enumerate(ss.coords)})
    m.update({h: f"h{a}" for a, h in enumerate(ss.spacings)})
    m.update({g: f"g{a}" for a, g in enumerate(inv)})
    return m


def bulk_region(ss: StencilSystem) -> int:
    """Index of the interior region (every axis ranged; there is exactly one)."""
    bulk = [k for k, r in enumerate(ss.regions) if all(_ranged(c) for c in r.classes)]
    if len(bulk) != 1:  # pragma: no cover - the discretizer always makes one
        raise ValueError(f"expected one interior region, found {len(bulk)}")
    return bulk[0]


def region_extents(ss: StencilSystem, region, shape) -> list:
    """Number of nodes per axis a region covers on a grid of unknown ``shape``."""
    out = []
    for a, c in enumerate(region.classes):
        if c.kind == "in":
            out.append(shape[a] - 2 * ss.reach[a])
        elif c.kind == "pw":
            out.append(shape[a])
        else:
            out.append(1)
    return out


def _first(a: int, cls, R: int) -> str:
    """Index of a region's first node along axis ``a``."""
    k, q = cls.kind, cls.q
    return {"in": str(R), "pw": "0", "lo": str(q - 1), "hi": f"n{a} - {q}",
            "plo": str(q), "phi": f"n{a} - {q + 1}"}[k]


def _extent(a: int, cls, R: int) -> str:
    return f"n{a} - {2 * R}" if cls.kind == "in" else f"n{a}"


def _shifted(a: int, cls, s: int) -> str:
    """Index along axis ``a`` of the neighbour at offset ``s`` (periodic wrap applied)."""
    if s == 0:
        return f"i{a}"
    k = cls.kind
    base = f"i{a} + {s}" if s > 0 else f"i{a} - {-s}"
    if k == "pw":  # outer periodic axis: wrap at run time, without a modulo
        if s < 0:
            return f"(i{a} - {-s} + n{a} if i{a} < {-s} else i{a} - {-s})"
        return f"(i{a} + {s} - n{a} if i{a} + {s} >= n{a} else i{a} + {s})"
    if k == "plo" and cls.q + s < 0:
        return f"{base} + n{a}"
    if k == "phi" and s > cls.q:
        return f"{base} - n{a}"
    return base


class _Emitter:
    def __init__(self, ss: StencilSystem):
        self.ss = ss
        self.nd, self.nf = ss.ndim, ss.nfields
        self.refs = dict(ss.neighbors)
        self.inv = tuple(sp.Symbol(f"_G{a}", positive=True) for a in range(self.nd))
        self._to_inv = {h: 1 / g for h, g in zip(ss.spacings, self.inv)}

    def _linear(self, idx: list, f: int) -> str:
        e = idx[0]
        for a in range(1, self.nd):
            e = f"({e})*n{a} + {idx[a]}"
        return f"({e})*{self.nf} + {f}" if self.nf > 1 else (e if f == 0 else f"{e} + {f}")

    def _ref_index(self, region, ref) -> str:
        return self._linear([_shifted(a, c, ref.offset[a]) for a, c in enumerate(region.classes)],
                             ref.field)

    def _exprs(self, region, kind):
        ps = region.points
        if kind == "rhs":
            ex = [p.expr for p in ps]
        else:
            ex = [e.expr for p in ps for e in p.jac]
        return [e.xreplace(self._to_inv) for e in ex]

    def used(self, kind: str) -> set:
        """Symbols any region of ``kind`` uses (decides which scalars the header loads)."""
        out = set()
        for r in self.ss.regions:
            for e in self._exprs(r, kind):
                out |= e.free_symbols
        return out

    def header(self, used: set, ind: str) -> list:
        ss = self.ss
        lines = []
        for a in range(self.nd):
            lines.append(f"{ind}n{a} = int(p[NP + {3 * a}])")
        for a in range(self.nd):
            if ss.coords[a] in used:
                lines.append(f"{ind}lo{a} = p[NP + {3 * a + 1}]")
            if ss.coords[a] in used or ss.spacings[a] in used:
                lines.append(f"{ind}h{a} = p[NP + {3 * a + 2}]")
            if self.inv[a] in used:
                lines.append(f"{ind}g{a} = F(1.0) / p[NP + {3 * a + 2}]")
        for k, s in enumerate(ss.params):
            if s in used:
                lines.append(f"{ind}q{k} = p[{k}]")
        return lines

    def body(self, region, kind: str, ind: str) -> list:
        """Statements for the point ``(i0, ..., i{nd-1})`` of ``region``."""
        ss = self.ss
        ps = region.points
        exprs = self._exprs(region, kind)
        syms = set().union(*[e.free_symbols for e in exprs]) if exprs else set()
        lines = []
        for a, x in enumerate(ss.coords):
            if x in syms:
                first = "0" if ss.axes[a][1] else "1"
                lines.append(f"{ind}x{a} = lo{a} + F(i{a} + {first}) * h{a}")
        m = point_names(ss, self.inv)
        for k, (sym, ref) in enumerate(ss.neighbors):
            if sym in syms:
                m[sym] = f"u{k}"
                lines.append(f"{ind}u{k} = y[{self._ref_index(region, ref)}]")
        repl, red = sp.cse(exprs, symbols=sp.numbered_symbols("_T"), optimizations=None, order="none")
        m.update({s: f"c{k}" for k, (s, _) in enumerate(repl)})
        pr = StencilDevicePrinter(m)
        for k, (_, e) in enumerate(repl):
            lines.append(f"{ind}c{k} = {pr.doprint(e)}")
        pos = 0
        for p in ps:
            row = self._linear([f"i{a}" for a in range(self.nd)], p.field)
            if kind == "rhs":
                lines.append(f"{ind}out[{row}] = {pr.doprint(red[pos])}")
                pos += 1
            elif kind == "jvp":
                terms = []
                for e in p.jac:
                    terms.append(f"({pr.doprint(red[pos])}) * v[{self._ref_index(region, e.ref)}]")
                    pos += 1
                lines.append(f"{ind}out[{row}] = {' + '.join(terms) if terms else 'F(0.0)'}")
            elif kind == "jtv":
                lines.append(f"{ind}vr = v[{row}]")
                for e in p.jac:
                    lines.append(f"{ind}cuda.atomic.add(out, {self._ref_index(region, e.ref)}, "
                                 f"({pr.doprint(red[pos])}) * vr)")
                    pos += 1
            else:
                lines.append(f"{ind}k = rowptr[{row}]")
                for j in range(len(p.jac)):
                    lines.append(f"{ind}out[k + {j}] = {pr.doprint(red[pos])}")
                    pos += 1
        return lines

    def bulk(self, kind: str) -> str:
        ss, nd = self.ss, self.nd
        region = ss.regions[bulk_region(ss)]
        ind = "    "
        lines = [f"{ind}# region ({_label(region)}): {nd}-D thread grid",
                 f"{ind}@jit", f"{ind}def {kind}_bulk({_ARGS[kind]}):"]
        ind2 = ind * 2
        tv = ["tx", "ty", "tz"][:nd]
        lines.append(f"{ind2}{', '.join(tv)} = cuda.grid({nd})")
        lines += self.header(self.used(kind), ind2)
        # thread dimension d runs along axis nd - 1 - d
        conds = []
        for d in range(nd):
            a = nd - 1 - d
            cls, R = region.classes[a], ss.reach[a]
            conds.append(f"{tv[d]} < {_extent(a, cls, R)}")
        lines.append(f"{ind2}if {' and '.join(conds)}:")
        ind3 = ind2 + ind
        for d in range(nd):
            a = nd - 1 - d
            first = _first(a, region.classes[a], ss.reach[a])
            lines.append(f"{ind3}i{a} = {first} + {tv[d]}" if first != "0" else f"{ind3}i{a} = {tv[d]}")
        lines += self.body(region, kind, ind3)
        return "\n".join(lines)

    def edge(self, kind: str) -> str:
        ss = self.ss
        ind = "    "
        ind2 = ind * 2
        lines = [f"{ind}# every boundary region, one guarded 1-D launch",
                 f"{ind}@jit", f"{ind}def {kind}_edge({_ARGS[kind]}):",
                 f"{ind2}r = cuda.grid(1)"]
        lines += self.header(self.used(kind), ind2)
        b = bulk_region(ss)
        for k, region in enumerate(ss.regions):
            if k == b:
                continue
            ranged = [a for a, c in enumerate(region.classes) if _ranged(c)]
            lines.append(f"{ind2}# region ({_label(region)})")
            count = " * ".join(f"({_extent(a, region.classes[a], ss.reach[a])})" for a in ranged) or "1"
            lines.append(f"{ind2}m = {count}")
            lines.append(f"{ind2}if r < m:")
            ind3 = ind2 + ind
            for a, c in enumerate(region.classes):
                if not _ranged(c):
                    lines.append(f"{ind3}i{a} = {_first(a, c, ss.reach[a])}")
            for j, a in enumerate(reversed(ranged)):
                c = region.classes[a]
                first = _first(a, c, ss.reach[a])
                last = j == len(ranged) - 1
                pos = "r" if last else f"r % ({_extent(a, c, ss.reach[a])})"
                lines.append(f"{ind3}i{a} = {first} + {pos}" if first != "0" else f"{ind3}i{a} = {pos}")
                if not last:
                    lines.append(f"{ind3}r = r // ({_extent(a, c, ss.reach[a])})")
            lines += self.body(region, kind, ind3)
            lines.append(f"{ind3}return")
            lines.append(f"{ind2}r -= m")
        return "\n".join(lines)


def _label(region) -> str:
    return ", ".join(f"{c.kind}{c.q if not _ranged(c) else ''}" for c in region.classes)


def _comment(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in " _-." else "_" for ch in str(text))[:80]


def emit_cuda_stencil_module(ss: StencilSystem, key: str, version: str) -> str:
    """Source of the CUDA stencil module of ``ss`` (identical for every grid size)."""
    em = _Emitter(ss)
    funcs, names = [], []
    for kind in KINDS:
        funcs += [em.bulk(kind), em.edge(kind)]
        names += [f"{kind}_bulk", f"{kind}_edge"]
    return _ENV.get_template("cuda_stencil.py.j2").render(
        version=version, key=key, name=_comment(ss.name), fields=_comment(" ".join(ss.fields)),
        order=ss.order, nparams=len(ss.params), ndim=ss.ndim, nfields=ss.nfields,
        functions=funcs, names=names)
