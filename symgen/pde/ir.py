"""Stencil-level IR of a discretized PDE system (frozen dataclasses).

A semi-discrete PDE is never a list of per-point equations: it is one
:class:`RegionStencil` per *region* of the grid (the interior and each boundary band,
described per axis by an :class:`AxisClass`), holding one :class:`PointStencil` per
field: the point expression in terms of neighbour values ``NeighborRef`` and its
derivative with respect to each of them (one row of the Jacobian stencil).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["AxisClass", "NeighborRef", "JacEntry", "PointStencil", "RegionStencil", "StencilSystem"]


@dataclass(frozen=True, slots=True)
class AxisClass:
    """Which points of one axis a region covers.

    kind:
      ``"lo"`` / ``"hi"``: the single unknown node at distance ``q`` (>= 1) from the low /
      high boundary node of a bounded axis; ``"in"``: the interior range;
      ``"plo"`` / ``"phi"``: the node at distance ``q`` (>= 0) from the low / high end of
      the innermost periodic axis (neighbour indices wrap statically);
      ``"pw"``: every node of an outer periodic axis (neighbour indices wrapped at run time).
    """

    kind: str
    q: int = 0


@dataclass(frozen=True, slots=True)
class NeighborRef:
    """The value of field ``field`` at relative ``offset`` (one int per axis)."""

    field: int
    offset: tuple


@dataclass(frozen=True, slots=True)
class JacEntry:
    """``d(point expression) / d(neighbour)``."""

    ref: NeighborRef
    expr: sp.Expr


@dataclass(frozen=True, slots=True)
class PointStencil:
    """The semi-discrete right-hand side of one field at one point of a region."""

    field: int
    expr: sp.Expr
    jac: tuple  # of JacEntry, sorted by (offset, field)


@dataclass(frozen=True, slots=True)
class RegionStencil:
    classes: tuple   # AxisClass per axis
    points: tuple    # PointStencil per field


@dataclass(frozen=True, slots=True)
class StencilSystem:
    """A discretized PDE system.

    Attributes
    ----------
    name : str
    axes : tuple of (name, periodic)
    fields : tuple of str
    params : tuple of sympy.Symbol
    order : int
        Accuracy order of the finite differences.
    reach : tuple of int
        Interior stencil half-width per axis (width of the boundary bands).
    span : tuple of int
        Largest offset any region reaches per axis (the grid must be larger).
    regions : tuple of RegionStencil
    symbols : dict-like tuple of (role, sympy.Symbol)
        ``("t", t)``, ``("x0", X)``, ``("h0", H)``, ... and ``("nbr", sym, NeighborRef)``.
    """

    name: str
    axes: tuple
    fields: tuple
    params: tuple
    order: int
    reach: tuple
    span: tuple
    regions: tuple
    t: sp.Symbol
    coords: tuple
    spacings: tuple
    neighbors: tuple  # ((symbol, NeighborRef), ...)

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def nfields(self) -> int:
        return len(self.fields)
