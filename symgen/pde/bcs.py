"""Boundary conditions, one per field and side of every bounded axis.

A side is written ``"x-"`` (the ``lo`` end of axis ``x``) or ``"x+"`` (the ``hi`` end).
Values may depend on time, on the coordinates along the boundary and on parameters.
With ``n`` the outward normal:

* :class:`Dirichlet` ``u = g``
* :class:`Neumann`   ``du/dn = g``
* :class:`Robin`     ``a u + b du/dn = g``

Periodic axes are declared on the :class:`~symgen.pde.grid.Grid` and take no condition.
The discretization turns each condition into the value of the boundary node as an
expression of the inner nodes (for Neumann/Robin through a one-sided derivative of the
scheme's accuracy), so boundary nodes are never unknowns.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import BoundaryConditionError
from .grid import Field

__all__ = ["BC", "Dirichlet", "Neumann", "Robin", "parse_side"]


@dataclass(frozen=True, slots=True)
class BC:
    """``a u + b du/dn = g`` on one side; ``kind`` names the form the user wrote."""

    field: Field
    axis: int
    side: int          # -1: lo end, +1: hi end
    a: sp.Expr
    b: sp.Expr
    g: sp.Expr
    kind: str

    def describe(self) -> str:
        ax = self.field.grid.axes[self.axis].name
        return f"{self.kind}({self.field}, '{ax}{'-' if self.side < 0 else '+'}', {self.g})"


def parse_side(field: Field, side) -> tuple:
    """``"x-"`` -> ``(axis index, -1)``; ``"x+"`` -> ``(axis index, +1)``."""
    if not isinstance(field, Field):
        raise BoundaryConditionError(f"a boundary condition needs a field, got {field!r}")
    if not isinstance(side, str) or len(side) < 2 or side[-1] not in "+-":
        raise BoundaryConditionError(f"side must look like 'x-' or 'x+', got {side!r}", symbol=str(field))
    g = field.grid
    name = side[:-1]
    names = [a.name for a in g.axes]
    if name not in names:
        raise BoundaryConditionError(f"side {side!r} names no axis of the grid {names}", symbol=str(field))
    k = names.index(name)
    if g.axes[k].periodic:
        raise BoundaryConditionError(f"axis {name!r} is periodic and takes no boundary condition",
                                     symbol=str(field))
    return k, (-1 if side[-1] == "-" else 1)


def Dirichlet(field, side, value) -> BC:
    """``field = value`` on ``side``."""
    k, s = parse_side(field, side)
    return BC(field, k, s, sp.S.One, sp.S.Zero, sp.sympify(value), "Dirichlet")


def Neumann(field, side, value=0) -> BC:
    """``d field / dn = value`` (outward normal derivative) on ``side``."""
    k, s = parse_side(field, side)
    return BC(field, k, s, sp.S.Zero, sp.S.One, sp.sympify(value), "Neumann")


def Robin(field, side, a, b, value) -> BC:
    """``a field + b d field / dn = value`` on ``side``."""
    k, s = parse_side(field, side)
    a, b = sp.sympify(a), sp.sympify(b)
    if a.is_zero and b.is_zero:
        raise BoundaryConditionError("Robin condition with a = b = 0", symbol=str(field))
    return BC(field, k, s, a, b, sp.sympify(value), "Robin")
