"""Uniform structured grids and the fields that live on them.

A :class:`Grid` has one :class:`Axis` per dimension (1 to 3).  Node ``k`` of an axis of
``n`` nodes on ``[lo, hi]`` sits at ``lo + k h``:

* periodic axis: ``h = (hi - lo) / n``, nodes ``0 .. n-1`` are all unknowns (``hi`` is
  node ``0`` again);
* bounded axis: ``h = (hi - lo) / (n - 1)``, nodes ``0`` and ``n-1`` lie on the boundary
  and carry the boundary conditions; the unknowns are the ``n - 2`` inner nodes.

The state vector of a model holds, for every unknown grid point in row-major
(C) order, the values of all fields in their declared order (``y[(i*ny + j)*nf + f]``
in 2D): the coupled values of one point sit together.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from ..errors import GridError

__all__ = ["Axis", "Grid", "Field", "fields"]

_SERIALS = itertools.count()

#: Smallest number of nodes an axis may have.
MIN_NODES = 3


@dataclass(frozen=True, slots=True)
class Axis:
    """One grid axis: name, extent ``[lo, hi]``, node count ``n``, periodicity."""

    name: str
    lo: float
    hi: float
    n: int
    periodic: bool

    @property
    def h(self) -> float:
        """Grid spacing."""
        return (self.hi - self.lo) / (self.n if self.periodic else self.n - 1)

    @property
    def n_unknown(self) -> int:
        """Number of unknown nodes along the axis."""
        return self.n if self.periodic else self.n - 2

    @property
    def first(self) -> int:
        """Node index of the first unknown (0 periodic, 1 bounded)."""
        return 0 if self.periodic else 1

    def nodes(self):
        """Coordinates of the unknown nodes (NumPy array)."""
        import numpy as np
        return self.lo + (np.arange(self.n_unknown) + self.first) * self.h


class Grid:
    """A uniform structured grid in 1, 2 or 3 dimensions.

    Parameters
    ----------
    **axes : (lo, hi, n)
        One keyword per axis, in order: ``Grid(x=(0, 1, 128), y=(0, 2, 64))``.
        ``n`` counts the nodes, boundary nodes included on a bounded axis.
    periodic : str or sequence of str
        Names of the periodic axes.

    Attributes
    ----------
    axes : tuple of Axis
    coords : tuple of sympy.Symbol
        The coordinate symbols (``g.coords`` or ``g.x``) used in expressions.
    """

    def __init__(self, periodic=(), **axes):
        if isinstance(periodic, str):
            periodic = (periodic,)
        periodic = tuple(periodic)
        if not 1 <= len(axes) <= 3:
            raise GridError(f"a grid has 1 to 3 axes, got {len(axes)}")
        for name in periodic:
            if name not in axes:
                raise GridError("periodic axis is not an axis of the grid", symbol=str(name))
        out = []
        for name, spec in axes.items():
            try:
                lo, hi, n = spec
                lo, hi = float(lo), float(hi)
            except (TypeError, ValueError):
                raise GridError(f"axis spec must be (lo, hi, n), got {spec!r}", symbol=name) from None
            if int(n) != n or isinstance(n, bool):
                raise GridError(f"node count must be an integer, got {n!r}", symbol=name)
            n = int(n)
            if not (lo < hi) or not all(map(_finite, (lo, hi))):
                raise GridError(f"axis extent must be finite with lo < hi, got ({lo}, {hi})", symbol=name)
            if n < MIN_NODES:
                raise GridError(f"axis needs at least {MIN_NODES} nodes, got {n}", symbol=name)
            out.append(Axis(name, lo, hi, n, name in periodic))
        self.axes = tuple(out)
        self.serial = next(_SERIALS)
        self.coords = tuple(sp.Symbol(a.name, real=True) for a in self.axes)
        for a, c in zip(self.axes, self.coords):
            setattr(self, a.name, c) if not hasattr(type(self), a.name) else None

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def shape(self) -> tuple:
        """Shape of one field's unknowns."""
        return tuple(a.n_unknown for a in self.axes)

    @property
    def size(self) -> int:
        """Number of unknown points."""
        s = 1
        for n in self.shape:
            s *= n
        return s

    def axis_index(self, axis) -> int:
        """Index of an axis given by name, coordinate symbol or index."""
        if isinstance(axis, int) and not isinstance(axis, bool):
            if 0 <= axis < self.ndim:
                return axis
        for k, (a, c) in enumerate(zip(self.axes, self.coords)):
            if axis == a.name or axis == c:
                return k
        raise GridError("not an axis of the grid", symbol=str(axis))

    def mesh(self):
        """Coordinate arrays of the unknown points (``numpy.meshgrid``, ``ij`` indexing)."""
        import numpy as np
        return np.meshgrid(*[a.nodes() for a in self.axes], indexing="ij")

    def signature(self) -> tuple:
        return tuple((a.name, a.periodic) for a in self.axes)

    def __repr__(self) -> str:
        parts = [f"{a.name}=({a.lo:g}, {a.hi:g}, {a.n})" for a in self.axes]
        per = [a.name for a in self.axes if a.periodic]
        return f"Grid({', '.join(parts)}{', periodic=' + repr(tuple(per)) if per else ''})"


def _finite(v: float) -> bool:
    import math
    return math.isfinite(v)


class Field(sp.Symbol):
    """A scalar unknown defined on every point of a grid (use it like a symbol).

    Two fields are equal only if they have the same name *and* grid (SymPy's symbol
    cache is bypassed, the grid's serial number is part of the hashable content)."""

    grid: Grid

    def __new__(cls, name: str, grid: Grid):
        obj = sp.Symbol.__xnew__(cls, name, real=True)
        obj.grid = grid
        return obj

    def _hashable_content(self):
        return super()._hashable_content() + (self.grid.serial,)

    def __getnewargs_ex__(self):
        return ((self.name, self.grid), {})


def fields(names: str, grid: Grid):
    """Declare fields on ``grid``: ``u, v = fields("u v", g)`` (one name: one field)."""
    if not isinstance(grid, Grid):
        raise GridError(f"fields need a Grid, got {type(grid).__name__}")
    parts = names.replace(",", " ").split()
    if not parts:
        raise GridError("no field names given")
    out = tuple(Field(n, grid) for n in parts)
    return out[0] if len(out) == 1 else out
