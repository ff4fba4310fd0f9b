"""PDESystem: fields, equations ``D(u) == rhs`` with spatial operators, boundary conditions."""
from __future__ import annotations

import sympy as sp

from ..dsl.symbols import Equation, ParamSymbol, TimeSymbol
from ..dsl.system import SUPPORTED_FUNCTIONS
from ..errors import (BoundaryConditionError, DuplicateEquationError, FieldWithoutEquationError,
                      GridError, MissingBoundaryConditionError, ModelError, UndeclaredSymbolError,
                      UnsupportedFunctionError)
from .bcs import BC
from .grid import Field, Grid
from .operators import Dx, Upwind

__all__ = ["PDESystem"]


class PDESystem:
    """A system of time-dependent PDEs ``D(u) == rhs`` on one structured grid.

    Parameters
    ----------
    equations : list
        ``sg.D(u) == rhs`` for every field ``u``; ``rhs`` uses fields, the grid's
        coordinates, time, parameters and spatial operators (``sg.laplacian``, ...).
    t : sympy.Symbol
        The time symbol.
    bcs : list of BC
        One condition per field and side of every bounded axis (``sg.Dirichlet``, ...).
    params : sequence, optional
        Parameter order (default: order of first appearance of ``sg.params`` symbols).
    defaults : dict, optional
        Default parameter values.
    name : str
    """

    is_pde = True

    def __init__(self, equations, t, *, bcs=(), params=None, defaults=None, name: str = "pde"):
        eqs = [e for item in equations for e in (item if isinstance(item, list) else [item])]
        self.t = t
        self.name = str(name)
        self.defaults = dict(defaults or {})
        if not isinstance(t, sp.Symbol):
            raise ModelError(f"t must be the time symbol, got {t!r}")
        grid = None
        self.fields, self.rhs = [], {}
        for e in eqs:
            if not isinstance(e, Equation):
                raise ModelError(f"expected D(field) == rhs, got {e!r}")
            if not isinstance(e.state, Field):
                raise ModelError("the left-hand side of a PDE must be D(field) of a field from sg.fields",
                                 equation=str(e), symbol=str(e.state))
            if grid is None:
                grid = e.state.grid
            elif e.state.grid is not grid:
                raise GridError("fields of one system must live on the same grid", equation=str(e),
                                symbol=str(e.state))
            if e.state in self.rhs:
                raise DuplicateEquationError("field has more than one equation", equation=str(e),
                                             symbol=str(e.state))
            self.fields.append(e.state)
            self.rhs[e.state] = sp.sympify(e.rhs)
        if grid is None:
            raise ModelError("a PDE system needs at least one equation")
        self.grid: Grid = grid
        self.fields = tuple(self.fields)
        self.params = self._check_symbols(eqs, params)
        self.bcs = self._check_bcs(list(bcs))

    # -- validation -------------------------------------------------------------------
    def _check_symbols(self, eqs, params) -> tuple:
        coords = set(self.grid.coords)
        declared = list(params) if params is not None else []
        seen = list(declared)
        for e in eqs:
            rhs = self.rhs[e.state]
            for s in sorted(rhs.free_symbols, key=str):
                if isinstance(s, Field):
                    if s.grid is not self.grid:
                        raise GridError("field lives on another grid", equation=str(e), symbol=str(s))
                    if s not in self.rhs:
                        raise FieldWithoutEquationError("field used in an equation has no equation of its own",
                                                        equation=str(e), symbol=str(s))
                elif s == self.t or s in coords:
                    continue
                elif isinstance(s, TimeSymbol):
                    raise UndeclaredSymbolError("a second time symbol", equation=str(e), symbol=str(s))
                elif isinstance(s, ParamSymbol) or s in declared:
                    if s not in seen:
                        seen.append(s)
                else:
                    raise UndeclaredSymbolError("symbol is neither a field, a coordinate, time nor a parameter",
                                                equation=str(e), symbol=str(s))
            self._check_functions(rhs, str(e))
        return tuple(seen)

    def _check_functions(self, expr, where: str) -> None:
        for f in expr.atoms(sp.Function):
            if isinstance(f, (Dx, Upwind)):
                continue
            if f.func not in SUPPORTED_FUNCTIONS:
                raise UnsupportedFunctionError(f"function {f.func} is not supported", equation=where,
                                               symbol=str(f.func))

    def _check_bcs(self, bcs) -> tuple:
        table = {}
        for bc in bcs:
            if not isinstance(bc, BC):
                raise BoundaryConditionError(f"expected a boundary condition (sg.Dirichlet, ...), got {bc!r}")
            if bc.field not in self.rhs:
                raise BoundaryConditionError("boundary condition on a field without equation",
                                             equation=bc.describe(), symbol=str(bc.field))
            key = (bc.field, bc.axis, bc.side)
            if key in table:
                raise BoundaryConditionError("two boundary conditions on the same side",
                                             equation=bc.describe(), symbol=str(bc.field))
            for s in (bc.a.free_symbols | bc.b.free_symbols | bc.g.free_symbols):
                if isinstance(s, Field):
                    raise BoundaryConditionError("boundary values may not use fields", equation=bc.describe(),
                                                 symbol=str(s))
                if s != self.t and s not in self.grid.coords and s not in self.params:
                    if isinstance(s, ParamSymbol):
                        self.params = self.params + (s,)
                    else:
                        raise UndeclaredSymbolError("symbol in a boundary condition is neither time, a "
                                                    "coordinate nor a parameter", equation=bc.describe(),
                                                    symbol=str(s))
            table[key] = bc
        for f in self.fields:
            for k, ax in enumerate(self.grid.axes):
                if ax.periodic:
                    continue
                for side in (-1, 1):
                    if (f, k, side) not in table:
                        raise MissingBoundaryConditionError(
                            f"no boundary condition on side '{ax.name}{'-' if side < 0 else '+'}' of the "
                            f"non-periodic axis {ax.name!r}", equation=f"D({f}) == {self.rhs[f]}", symbol=str(f))
        return tuple(table[(f, k, s)] for f in self.fields for k, ax in enumerate(self.grid.axes)
                     if not ax.periodic for s in (-1, 1))

    def bc(self, field, axis: int, side: int) -> BC:
        for b in self.bcs:
            if b.field == field and b.axis == axis and b.side == side:
                return b
        raise MissingBoundaryConditionError("no boundary condition", symbol=str(field))  # pragma: no cover

    def __repr__(self) -> str:
        return (f"PDESystem({self.name!r}, fields={[str(f) for f in self.fields]}, grid={self.grid!r}, "
                f"{len(self.bcs)} boundary conditions)")
