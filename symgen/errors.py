"""One error hierarchy for symgen.

Every error raised for bad user input is a :class:`SymgenError` subclass whose message
names the equation and the symbol at fault where there is one.
"""
from __future__ import annotations

__all__ = [
    "SymgenError", "ModelError", "UndeclaredSymbolError", "MissingEquationError",
    "DuplicateEquationError", "MissingValueError", "NonFiniteValueError",
    "UnsupportedFunctionError", "BackendError", "SolverError",
    "NonSmoothError", "NonFiniteStartError", "IndexRangeError",
]


class SymgenError(Exception):
    """Base class of every error symgen raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, in words.
    equation : str, optional
        The equation at fault (its printed form or label).
    symbol : str, optional
        The symbol at fault.
    """

    def __init__(self, message: str, *, equation: str | None = None, symbol: str | None = None):
        self.equation = equation
        self.symbol = symbol
        parts = [message]
        if equation is not None:
            parts.append(f"in equation: {equation}")
        if symbol is not None:
            parts.append(f"symbol: {symbol}")
        super().__init__("; ".join(parts))


class ModelError(SymgenError):
    """The declared model is malformed."""


class UndeclaredSymbolError(ModelError):
    """An equation uses a symbol that is neither a state, a parameter, an input nor time."""


class MissingEquationError(ModelError):
    """A declared state has no differential equation."""


class DuplicateEquationError(ModelError):
    """A state has more than one differential equation."""


class MissingValueError(SymgenError):
    """An initial value or parameter value was not supplied."""


class NonFiniteValueError(SymgenError):
    """An initial value or parameter value is NaN or infinite."""


class UnsupportedFunctionError(ModelError):
    """An expression uses a function no backend can emit."""


class BackendError(SymgenError):
    """Code generation or compilation failed in a backend."""


class SolverError(SymgenError):
    """Bad solver options (unknown method, bad tolerances, bad time span)."""


class NonSmoothError(ModelError):
    """An optimization objective or constraint uses a non-differentiable function
    (Abs, Max, Min, Heaviside, Piecewise, sign, floor, ...)."""


class NonFiniteStartError(SymgenError):
    """The objective or a constraint is NaN/Inf at the initial point (the message names
    the term, the index point and the variable values)."""


class IndexRangeError(ModelError):
    """An indexed variable or parameter is accessed outside its shape in a sum or forall."""


class ExportError(SymgenError):
    """Exporting a compiled model to a standalone artifact failed."""


__all__ += ["ExportError"]

# ---- PDEs on structured grids (symgen.pde) ------------------------------------------
class GridError(ModelError):
    """A grid is malformed or inconsistent with the model (axes, sizes, fields on
    different grids, a grid too small for the stencil)."""


class FieldWithoutEquationError(MissingEquationError):
    """A field used in a PDE system has no equation."""


class MissingBoundaryConditionError(ModelError):
    """A field has no boundary condition on a side of a non-periodic axis."""


class BoundaryConditionError(ModelError):
    """A boundary condition is malformed (unknown side, periodic axis, duplicate)."""


class StencilOrderError(ModelError):
    """An operator or accuracy order the finite-difference stencils cannot support."""


__all__ += ["GridError", "FieldWithoutEquationError", "MissingBoundaryConditionError",
            "BoundaryConditionError", "StencilOrderError"]
