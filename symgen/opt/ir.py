"""IR of an optimization problem: families of terms over index boxes.

A *family* is one symbolic template (a SymPy expression in a few slot symbols) that is
evaluated at every point of a box of loop indices.  Each slot stands for one element of
the flat variable vector ``x`` (or parameter vector ``p``) at the affine position
``const + coef . (i0, i1, ...)``.  A scalar term is a family over the empty box (one
point).  ``sum(100*(x[i+1] - x[i]**2)**2, (i, 0, n-2))`` is therefore one template with
two slots, whatever ``n`` is: symbolic work never grows with the problem size.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

__all__ = ["Slot", "Family", "OptIR"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One array access in a template.

    Attributes
    ----------
    symbol : sympy.Symbol
        The placeholder the template uses.
    kind : str
        ``"x"`` (a variable) or ``"p"`` (a parameter).
    const : int
        Flat position at loop indices all zero.
    coef : tuple of int
        Stride of the flat position per loop index.
    """

    symbol: sp.Symbol
    kind: str
    const: int
    coef: tuple

    def positions(self, grid: np.ndarray) -> np.ndarray:
        """Flat positions at every point of ``grid`` (``int64[count, nloops]``)."""
        pos = np.full(grid.shape[0], self.const, dtype=np.int64)
        for k, c in enumerate(self.coef):
            if c:
                pos += c * grid[:, k]
        return pos


@dataclass(frozen=True, slots=True)
class Family:
    """A template evaluated over a box of loop indices.

    Attributes
    ----------
    label : str
        Printable description (for messages and comments only; sanitized when printed).
    expr : sympy.Expr
        Template in the slot symbols (and the loop index symbols, which may appear as
        values, e.g. ``i*x[i]``).
    indices : tuple of sympy.Symbol
        Loop index symbols, outermost first.
    limits : tuple of (int, int)
        Inclusive ranges of the loop indices.
    slots : tuple of Slot
    row0 : int
        First constraint row of the family (``-1`` for objective terms).
    row_loops : int
        The leading ``row_loops`` loop indices number the constraint rows (a ``forall``);
        the remaining ones are summed into each row (a ``Sum`` inside a constraint).
        Objective families have ``row_loops = 0`` (everything is summed into ``f``).
    """

    label: str
    expr: sp.Expr
    indices: tuple
    limits: tuple
    slots: tuple
    row0: int = -1
    row_loops: int = 0

    @property
    def count(self) -> int:
        c = 1
        for lo, hi in self.limits:
            c *= max(hi - lo + 1, 0)
        return c

    @property
    def nrows(self) -> int:
        c = 1
        for lo, hi in self.limits[:self.row_loops]:
            c *= max(hi - lo + 1, 0)
        return c

    def rows(self, grid: np.ndarray) -> np.ndarray:
        """Constraint row of every grid point (``row0`` plus the row-major position of
        its leading ``row_loops`` indices)."""
        r = np.full(grid.shape[0], self.row0, dtype=np.int64)
        stride = 1
        for k in range(self.row_loops - 1, -1, -1):
            lo, hi = self.limits[k]
            r += (grid[:, k] - lo) * stride
            stride *= hi - lo + 1
        return r

    def grid(self) -> np.ndarray:
        """All loop index points in loop order (``int64[count, nloops]``)."""
        if not self.limits:
            return np.zeros((1, 0), dtype=np.int64)
        axes = [np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in self.limits]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)

    def xslots(self) -> tuple:
        return tuple(s for s in self.slots if s.kind == "x")


@dataclass(frozen=True, slots=True, eq=False)
class OptIR:
    """Declared optimization problem: ``min f(x)`` s.t. ``cl <= c(x) <= cu``, ``xl <= x <= xu``.

    Attributes
    ----------
    name : str
    n : int
        Number of scalar variables (flat).
    n_params : int
    objective : tuple of Family
        Families summed into ``f``.
    constraints : tuple of Family
        One family per constraint declaration; rows ``row0 .. row0 + count - 1``.
    m : int
        Number of scalar constraint rows.
    variables, params : tuple
        ``(symbol_or_base, offset, shape)`` of each declared variable / parameter.
    xl, xu, x0 : ndarray
        Bounds and initial guess.
    cl, cu : ndarray
        Constraint bounds (``cl == cu``: equality).
    p0 : ndarray
        Default parameter values (NaN where none was given).
    sense : float
        ``1.0`` minimize, ``-1.0`` maximize (the objective families hold ``sense * f``).
    """

    name: str
    n: int
    n_params: int
    objective: tuple
    constraints: tuple
    m: int
    variables: tuple
    params: tuple
    xl: np.ndarray = field(repr=False)
    xu: np.ndarray = field(repr=False)
    x0: np.ndarray = field(repr=False)
    cl: np.ndarray = field(repr=False)
    cu: np.ndarray = field(repr=False)
    p0: np.ndarray = field(repr=False)
    sense: float = 1.0

    def structure_key(self) -> str:
        """Text that determines the generated kernels (templates, slots, sizes)."""
        parts = [f"n={self.n};np={self.n_params};m={self.m}"]
        for tag, fams in (("f", self.objective), ("c", self.constraints)):
            for fam in fams:
                slots = ",".join(f"{s.kind}{s.const}:{s.coef}" for s in fam.slots)
                names = {s.symbol: sp.Symbol(f"_s{k}") for k, s in enumerate(fam.slots)}
                names.update({ix: sp.Symbol(f"_i{k}") for k, ix in enumerate(fam.indices)})
                parts.append(f"{tag}|{fam.row0}|{fam.row_loops}|{fam.limits}|{slots}|{sp.srepr(fam.expr.xreplace(names))}")
        return "\n".join(parts)
