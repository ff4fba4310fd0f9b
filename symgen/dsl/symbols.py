"""Symbols of the DSL: time, states, parameters and the time derivative ``D``.

States, parameters and time are SymPy symbols of their own classes, so that a model
knows the role of every symbol it meets and can name an undeclared one.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError

__all__ = ["TimeSymbol", "StateSymbol", "ParamSymbol", "time", "states", "params", "D",
           "Derivative", "Equation"]


class TimeSymbol(sp.Symbol):
    """The independent variable."""


class StateSymbol(sp.Symbol):
    """A differential state."""


class ParamSymbol(sp.Symbol):
    """A parameter, supplied at run time (changing its value never recompiles)."""


def time(name: str = "t") -> TimeSymbol:
    """Return the time symbol."""
    return TimeSymbol(name, real=True)


def _make(cls, names: str, shape, assumptions):
    assumptions = {"real": True, **assumptions}
    if shape is not None:
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if len(names.replace(",", " ").split()) != 1:
            raise ModelError(f"a shaped declaration takes one name, got {names!r}")
        base = names.strip()
        size = 1
        for s in shape:
            size *= s
        flat = [cls(f"{base}[{','.join(map(str, idx))}]", **assumptions)
                for idx in _indices(shape)]
        return sp.Array(flat, shape) if len(shape) > 1 else sp.Matrix(flat)
    out = sp.symbols(names, cls=cls, seq=False, **assumptions)
    return out


def _indices(shape):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i,) + rest


def states(names: str, shape=None, **assumptions):
    """Declare states.

    Parameters
    ----------
    names : str
        Space or comma separated names (``"x y z"``), or one name with ``shape``.
    shape : int or tuple, optional
        Make a vector (``sympy.Matrix``) or array (``sympy.Array``) of states.
    **assumptions
        SymPy assumptions, e.g. ``positive=True`` (states are always real).
    """
    return _make(StateSymbol, names, shape, assumptions)


def params(names: str, shape=None, **assumptions):
    """Declare parameters (same arguments as :func:`states`)."""
    return _make(ParamSymbol, names, shape, assumptions)


@dataclass(frozen=True)
class Equation:
    """``D(state) == rhs``: one differential equation."""

    state: sp.Symbol
    rhs: sp.Expr

    def __str__(self) -> str:
        return f"D({self.state}) == {self.rhs}"


class Derivative:
    """The time derivative of a state (or of a vector of states); ``==`` makes equations."""

    __slots__ = ("target",)

    def __init__(self, target):
        self.target = target

    def __eq__(self, rhs):  # type: ignore[override]
        if not _is_vector(self.target):
            return Equation(self.target, sp.sympify(rhs))
        lhs = _flat(self.target)
        r = _flat(rhs) if _is_vector(rhs) else [rhs] * len(lhs)
        if len(r) != len(lhs):
            raise ModelError(f"D(vector) == expression: sizes differ ({len(lhs)} states, "
                             f"{len(r)} right-hand sides)", symbol=str(self.target))
        return [Equation(s, sp.sympify(e)) for s, e in zip(lhs, r)]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"D({self.target})"


def _is_vector(obj) -> bool:
    return isinstance(obj, (sp.MatrixBase, sp.NDimArray, list, tuple))


def _flat(obj) -> list:
    if isinstance(obj, sp.NDimArray):
        obj = obj.tolist()
    return list(sp.flatten(obj))


def D(target) -> Derivative:
    """Time derivative of a state or a vector of states, used as ``D(x) == rhs``."""
    return Derivative(target)
