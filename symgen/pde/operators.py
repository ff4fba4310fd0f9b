"""Spatial operators as unevaluated SymPy nodes (discretized later, never expanded per point).

``Dx(expr, axis, m)`` is the m-th partial derivative along one axis; ``Upwind(c, expr,
axis)`` is ``c * d(expr)/dx`` differenced against the flow (from the side ``c`` comes
from).  :func:`gradient`, :func:`divergence` and :func:`laplacian` build on ``Dx``.
Operators nest (``Dx(k(x) * Dx(u, "x"), "x")``) and take any expression of fields,
coordinates, time and parameters.
"""
from __future__ import annotations

import sympy as sp

from ..errors import GridError, StencilOrderError
from .grid import Field, Grid

__all__ = ["Dx", "Upwind", "diff", "gradient", "divergence", "laplacian", "upwind", "MAX_DERIVATIVE"]

#: Highest derivative order the stencils support.
MAX_DERIVATIVE = 4


class Dx(sp.Function):
    """``Dx(expr, axis, m)``: the ``m``-th partial derivative of ``expr`` along ``axis``
    (an index into the grid's axes).  Kept unevaluated until discretization."""

    nargs = 3

    @classmethod
    def eval(cls, expr, axis, m):
        if expr.is_number:
            return sp.S.Zero
        return None

    def _eval_derivative(self, s):  # never differentiated symbolically before discretization
        raise StencilOrderError("a spatial operator cannot be differentiated symbolically before "
                                "discretization", symbol=str(s))


class Upwind(sp.Function):
    """``Upwind(c, expr, axis)``: ``c * d(expr)/d(axis)`` with one-sided differences
    taken on the upstream side (backward where ``c > 0``, forward where ``c < 0``)."""

    nargs = 3

    _eval_derivative = Dx._eval_derivative


def _grid_of(expr) -> Grid | None:
    for s in sp.sympify(expr).atoms(Field):
        return s.grid
    return None


def _axis(expr, axis, grid=None) -> sp.Integer:
    g = grid or _grid_of(expr)
    if isinstance(axis, int) and not isinstance(axis, bool) and g is None:
        return sp.Integer(axis)
    if g is None:
        raise GridError("cannot tell the grid of an operator's argument without a field in it; "
                        "pass the axis as an integer index", symbol=str(axis))
    return sp.Integer(g.axis_index(axis))


def diff(expr, axis, m: int = 1, *, grid: Grid | None = None):
    """``m``-th partial derivative of ``expr`` along ``axis`` (name, coordinate or index)."""
    if int(m) != m or m < 1:
        raise StencilOrderError(f"derivative order must be a positive integer, got {m!r}", symbol=str(axis))
    if m > MAX_DERIVATIVE:
        raise StencilOrderError(f"derivative order {m} is above the supported maximum {MAX_DERIVATIVE}",
                                symbol=str(axis))
    expr = sp.sympify(expr)
    return Dx(expr, _axis(expr, axis, grid), sp.Integer(m))


def _grid_required(expr, grid):
    g = grid or _grid_of(expr)
    if g is None:
        raise GridError("operator argument has no field; pass grid=", symbol=str(expr))
    return g


def gradient(expr, *, grid: Grid | None = None):
    """Gradient of a scalar expression: a list with one derivative per axis."""
    expr = sp.sympify(expr)
    g = _grid_required(expr, grid)
    return [Dx(expr, sp.Integer(k), sp.Integer(1)) for k in range(g.ndim)]


def divergence(vec, *, grid: Grid | None = None):
    """Divergence of a vector (one expression per axis, e.g. ``k * gradient(u)``)."""
    vec = [sp.sympify(v) for v in (vec if not isinstance(vec, sp.MatrixBase) else list(vec))]
    g = grid
    for v in vec:
        g = g or _grid_of(v)
    if g is None:
        raise GridError("divergence argument has no field; pass grid=")
    if len(vec) != g.ndim:
        raise GridError(f"divergence of a {len(vec)}-vector on a {g.ndim}-D grid")
    return sp.Add(*[Dx(v, sp.Integer(k), sp.Integer(1)) for k, v in enumerate(vec)])


def laplacian(expr, *, grid: Grid | None = None):
    """Sum of the second derivatives along every axis."""
    expr = sp.sympify(expr)
    g = _grid_required(expr, grid)
    return sp.Add(*[Dx(expr, sp.Integer(k), sp.Integer(2)) for k in range(g.ndim)])


def upwind(velocity, expr, axis, *, grid: Grid | None = None):
    """Advection term ``velocity * d(expr)/d(axis)`` differenced upwind."""
    expr = sp.sympify(expr)
    return Upwind(sp.sympify(velocity), expr, _axis(expr, axis, grid))
