"""PDESystem -> StencilSystem: finite differences at stencil level, never per point.

Every expression is evaluated at an abstract *position*: per axis, where the point
sits (interior, or at distance ``q`` from a boundary node) and its offset from the
point the kernel is computing.  Derivatives pick their stencil from that position
(:func:`symgen.pde.fd.stencil`: centred inside, one-sided windows of the same accuracy
near a boundary); a field at a boundary node is replaced by the value its boundary
condition gives in terms of inner nodes; anything else is rebuilt from its evaluated
arguments.  Doing this once per region (interior + boundary bands, products over axes)
keeps the symbolic work independent of the grid size.
"""
from __future__ import annotations

import itertools

import sympy as sp

from ..errors import GridError, StencilOrderError
from ..passes.manager import timed_pass
from .fd import ORDERS, stencil
from .grid import Field
from .ir import AxisClass, JacEntry, NeighborRef, PointStencil, RegionStencil, StencilSystem
from .operators import MAX_DERIVATIVE, Dx, Upwind
from .system import PDESystem

__all__ = ["discretize", "discretize_pass", "Discretizer"]


class Discretizer:
    """Evaluate expressions of a :class:`PDESystem` at abstract grid positions.

    A position is a tuple, per axis, of ``(kind, q, s)``: ``kind`` ``"lo"``/``"hi"``
    (``q`` nodes from the low/high boundary node of a bounded axis), ``"in"`` (far from
    any boundary) or ``"per"`` (periodic axis); ``s`` the offset from the kernel's point.
    """

    def __init__(self, system: PDESystem, order: int):
        if order not in ORDERS:
            raise StencilOrderError(f"finite-difference order {order} is not supported; choose one of {ORDERS}")
        self.system = system
        self.order = order
        g = system.grid
        self.grid = g
        self.findex = {f: k for k, f in enumerate(system.fields)}
        self.coords = tuple(sp.Symbol(f"_X{k}", real=True) for k in range(g.ndim))
        self.spacings = tuple(sp.Symbol(f"_H{k}", positive=True) for k in range(g.ndim))
        self._nbr: dict = {}
        self._memo: dict = {}

    # -- symbols --------------------------------------------------------------------
    def neighbor(self, f: int, offset: tuple) -> sp.Symbol:
        ref = NeighborRef(f, tuple(offset))
        s = self._nbr.get(ref)
        if s is None:
            tag = "_".join(("m" if o < 0 else "p") + str(abs(o)) for o in offset)
            s = sp.Symbol(f"_U{f}_{tag}", real=True)
            self._nbr[ref] = s
        return s

    def neighbor_table(self) -> tuple:
        return tuple((s, ref) for ref, s in self._nbr.items())

    # -- evaluation -------------------------------------------------------------------
    def at(self, expr, pos: tuple):
        key = (expr, pos)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        out = self._at(expr, pos)
        self._memo[key] = out
        return out

    def _at(self, expr, pos):
        if isinstance(expr, Field):
            for a, (kind, q, _) in enumerate(pos):
                if kind in ("lo", "hi") and q == 0:
                    return self._boundary_value(expr, a, pos)
                if kind in ("lo", "hi") and q < 0:  # pragma: no cover - stencils stay inside
                    raise StencilOrderError("stencil reached outside the grid", symbol=str(expr))
            return self.neighbor(self.findex[expr], tuple(p[2] for p in pos))
        if isinstance(expr, sp.Symbol):
            if expr in self.grid.coords:
                a = self.grid.coords.index(expr)
                return self.coords[a] + pos[a][2] * self.spacings[a]
            return expr
        if isinstance(expr, Dx):
            e, a, m = expr.args
            return self._derivative(e, int(a), int(m), pos, 0)
        if isinstance(expr, Upwind):
            c, e, a = expr.args
            a = int(a)
            cv = self.at(c, pos)
            back = self._derivative(e, a, 1, pos, -1)
            fwd = self._derivative(e, a, 1, pos, +1)
            if cv.is_number:
                return cv * (back if cv > 0 else fwd)
            return sp.Max(cv, 0) * back + sp.Min(cv, 0) * fwd
        if not expr.args:
            return expr
        return expr.func(*[self.at(a, pos) for a in expr.args])

    def _check_axis(self, a: int, expr):
        if not 0 <= a < self.grid.ndim:
            raise GridError(f"operator on axis {a} of a {self.grid.ndim}-D grid", symbol=str(expr))

    def _derivative(self, e, a: int, m: int, pos, bias: int):
        self._check_axis(a, e)
        if bias == 0:
            folded = self._fold(e, a, m)
            if folded is not None:
                return self.at(folded, pos)
        kind, q, s = pos[a]
        room_lo = q if kind == "lo" else None
        room_hi = q if kind == "hi" else None
        terms = []
        for off, w in stencil(m, self.order, room_lo, room_hi, bias):
            terms.append(w * self.at(e, _shift(pos, a, off)))
        return sp.Add(*terms) / self.spacings[a] ** m

    def _fold(self, e, a: int, m: int):
        """``d^m/dx_a^m`` of ``c * Dx(g, a, k)`` with ``c`` free of fields and operators, as
        ``Dx(g, a, k + m)`` (``c = 1``) or, for ``m = 1``, ``c' Dx(g, a, k) + c Dx(g, a, k + 1)``
        with ``c'`` exact; ``None`` where this does not apply.

        Nested first differences (``divergence(k * gradient(u))``) switch from centred to
        one-sided inner stencils inside the boundary band; the switch leaves a truncation
        error one order below the scheme's in the rows next to a boundary, which a
        Neumann or Robin boundary passes on to the solution with a large constant (4th
        order: 3.77 on the first refinement).  One stencil of the summed order has the
        full accuracy everywhere (and half the reach).  Coefficients that depend on
        fields keep the nested (flux) form.
        """
        c, inner = sp.S.One, e
        if e.is_Mul:
            ops = [f for f in e.args if isinstance(f, Dx)]
            if len(ops) != 1:
                return None
            inner = ops[0]
            c = e / inner
        if not isinstance(inner, Dx) or int(inner.args[1]) != a:
            return None
        g, _, k = inner.args
        k = int(k)
        if k + m > MAX_DERIVATIVE or c.atoms(Field) or c.has(Dx, Upwind):
            return None
        if c == 1:
            return Dx(g, inner.args[1], sp.Integer(k + m))
        if m != 1:
            return None
        dc = sp.diff(c, self.grid.coords[a])
        return dc * inner + c * Dx(g, inner.args[1], sp.Integer(k + 1))

    def _boundary_value(self, f: Field, a: int, pos):
        """Value at a boundary node from ``A u + B du/dn = G`` with a one-sided derivative."""
        kind = pos[a][0]
        side = -1 if kind == "lo" else 1
        bc = self.system.bc(f, a, side)
        A, B, G = (self.at(v, pos) for v in (bc.a, bc.b, bc.g))
        if B.is_zero:
            return G / A
        # d/dx at the boundary node from nodes inward: offsets 0..p into the domain
        st = stencil(1, self.order, 0, None) if kind == "lo" else stencil(1, self.order, None, 0)
        h = self.spacings[a]
        w0 = sp.S.Zero
        rest = []
        for off, w in st:
            if off == 0:
                w0 = w
            else:
                rest.append(w * self.at(f, _shift(pos, a, off)))
        # du/dn = side * du/dx  ->  A u0 + B side (w0 u0 + sum) / h = G
        return (G - B * side * sp.Add(*rest) / h) / (A + B * side * w0 / h)


def _shift(pos: tuple, a: int, off: int) -> tuple:
    kind, q, s = pos[a]
    if kind == "lo":
        nq = q + off
    elif kind == "hi":
        nq = q - off
    else:
        nq = q
    return pos[:a] + ((kind, nq, s + off),) + pos[a + 1:]


def _jacobian(d: Discretizer, expr) -> tuple:
    table = {s: ref for s, ref in d.neighbor_table()}
    refs = sorted((table[s] for s in expr.free_symbols if s in table), key=lambda r: (r.offset, r.field))
    return tuple(JacEntry(r, sp.diff(expr, d.neighbor(r.field, r.offset))) for r in refs)


def _offsets(d: Discretizer, expr) -> list:
    table = {s: ref for s, ref in d.neighbor_table()}
    return [table[s].offset for s in expr.free_symbols if s in table]


def _point_stencils(d: Discretizer, pos) -> tuple:
    out = []
    for f in d.system.fields:
        e = d.at(d.system.rhs[f], pos)
        out.append(PointStencil(d.findex[f], e, _jacobian(d, e)))
    return tuple(out)


@timed_pass("discretize")
def discretize_pass(system: PDESystem, ctx) -> StencilSystem:
    """Pipeline pass: :func:`discretize` with ``ctx.options["order"]`` (default 2)."""
    return discretize(system, int(ctx.options.get("order", 2)))


def discretize(system: PDESystem, order: int = 2) -> StencilSystem:
    """Finite-difference discretization of ``system`` with accuracy ``order`` (2 or 4)."""
    d = Discretizer(system, order)
    g = system.grid
    nd = g.ndim
    interior = tuple(("per" if ax.periodic else "in", 0, 0) for ax in g.axes)
    inner = _point_stencils(d, interior)
    reach = [0] * nd
    for ps in inner:
        for off in _offsets(d, ps.expr):
            for a in range(nd):
                reach[a] = max(reach[a], abs(off[a]))
    # classes per axis: bounded -> lo 1..R, in, hi 1..R; innermost periodic -> plo/in/phi;
    # outer periodic -> pw
    last_periodic = max((a for a in range(nd) if g.axes[a].periodic), default=-1)
    classes = []
    for a, ax in enumerate(g.axes):
        R = reach[a]
        if not ax.periodic:
            cl = [AxisClass("lo", q) for q in range(1, R + 1)] + [AxisClass("in")] + \
                 [AxisClass("hi", q) for q in range(R, 0, -1)]
        elif a == last_periodic and R > 0:
            cl = [AxisClass("plo", q) for q in range(R)] + [AxisClass("in")] + \
                 [AxisClass("phi", q) for q in range(R - 1, -1, -1)]
        else:
            cl = [AxisClass("pw")]
        classes.append(cl)
    regions = []
    span = list(reach)
    cache = {}
    for combo in itertools.product(*classes):
        pos = []
        for a, c in enumerate(combo):
            if c.kind in ("lo", "hi"):
                pos.append((c.kind, c.q, 0))
            else:
                pos.append(interior[a])
        pos = tuple(pos)
        pts = cache.get(pos)
        if pts is None:
            pts = inner if pos == interior else _point_stencils(d, pos)
            cache[pos] = pts
            for ps in pts:
                for off in _offsets(d, ps.expr):
                    for a in range(nd):
                        span[a] = max(span[a], abs(off[a]))
        regions.append(RegionStencil(tuple(combo), pts))
    return StencilSystem(
        name=system.name, axes=g.signature(), fields=tuple(str(f) for f in system.fields),
        params=system.params, order=order, reach=tuple(reach), span=tuple(span), regions=tuple(regions),
        t=system.t, coords=d.coords, spacings=d.spacings, neighbors=d.neighbor_table())
