"""Problem: the frozen record of a declared model (first IR of the pipeline)."""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["Problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    """A declared ODE model: ``dy/dt = f(t, y, p)`` plus observed outputs.

    Attributes
    ----------
    name : str
        Model name (used in messages and artifact names, never in generated code).
    t : sympy.Symbol
        Time.
    states, params : tuple of sympy.Symbol
        In the order of the runtime arrays ``y`` and ``p``.
    rhs : tuple of sympy.Expr
        ``rhs[i]`` is ``f_i``; observables already substituted.
    observed : tuple of (str, sympy.Expr)
        Algebraic outputs in terms of ``t``, states and parameters.
    labels : tuple of str
        Printable form of each equation, for error messages.
    defaults : tuple of (sympy.Symbol, float)
        Default initial values and parameter values.
    """

    name: str
    t: sp.Symbol
    states: tuple
    params: tuple
    rhs: tuple
    observed: tuple = ()
    labels: tuple = ()
    defaults: tuple = ()

    @property
    def n(self) -> int:
        return len(self.states)

    def with_exprs(self, rhs, observed=None) -> "Problem":
        """Copy with new right-hand sides (and observed expressions)."""
        obs = self.observed if observed is None else tuple(zip((k for k, _ in self.observed), observed))
        return Problem(self.name, self.t, self.states, self.params, tuple(rhs), obs, self.labels,
                       self.defaults)

    def label(self, i: int) -> str:
        return self.labels[i] if i < len(self.labels) else f"D({self.states[i]}) == {self.rhs[i]}"
