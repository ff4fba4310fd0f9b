"""ODESystem: what the user declares, checked and frozen into a :class:`Problem`."""
from __future__ import annotations

import math

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import (DuplicateEquationError, MissingEquationError, ModelError,
                      UndeclaredSymbolError, UnsupportedFunctionError)
from ..ir.problem import Problem
from .symbols import Equation, ParamSymbol, StateSymbol, TimeSymbol, _flat, _is_vector

__all__ = ["ODESystem", "SUPPORTED_FUNCTIONS"]

#: SymPy function classes every backend can emit.
SUPPORTED_FUNCTIONS = frozenset({
    sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.asin, sp.acos, sp.atan, sp.atan2,
    sp.sinh, sp.cosh, sp.tanh, sp.asinh, sp.acosh, sp.atanh, sp.Abs, sp.sign,
    sp.Piecewise, sp.Heaviside, sp.Min, sp.Max, sp.floor, sp.ceiling, sp.erf, sp.erfc,
    sp.sqrt, sp.DiracDelta,
})


class ODESystem:
    """An ODE model ``D(x) == f(t, x, p)``.

    Parameters
    ----------
    equations : list
        ``D(x) == rhs`` equations (lists of them from vector states are flattened).
    t : sympy.Symbol
        The time symbol from :func:`symgen.time`.
    states : sequence, optional
        State order; defaults to the order of the equations.
    params : sequence, optional
        Parameter order; defaults to the order of first appearance. Plain SymPy symbols
        named here count as parameters.
    observed : dict, optional
        ``{name_or_symbol: expr}`` algebraic outputs. Their symbols may be used in the
        equations and in later observed expressions.
    defaults : dict, optional
        Default initial values and parameter values.
    name : str
        Model name.
    """

    def __init__(self, equations, t, *, states=None, params=None, observed=None,
                 defaults=None, name: str = "model"):
        self.equations = [e for item in equations for e in (item if isinstance(item, list) else [item])]
        self.t = t
        self.states = None if states is None else _flat(states) if _is_vector(states) else list(states)
        self.params = None if params is None else _flat(params) if _is_vector(params) else list(params)
        self.observed = dict(observed or {})
        self.defaults = dict(defaults or {})
        self.name = name
        self.problem = declare(self)

    def __repr__(self) -> str:
        p = self.problem
        return f"ODESystem({self.name!r}, {p.n} states, {len(p.params)} params, {len(p.observed)} observed)"


def _check_functions(expr, label: str) -> None:
    for f in expr.atoms(sp.Function):
        if isinstance(f, AppliedUndef) or f.func not in SUPPORTED_FUNCTIONS:
            raise UnsupportedFunctionError(f"function {f.func} is not supported by the code generators",
                                           equation=str(label), symbol=str(f.func))


class _Label:
    """An equation's text, printed only when an error message needs it (printing every
    equation of a large network costs seconds)."""

    __slots__ = ("head", "expr")

    def __init__(self, head, expr=None):
        self.head, self.expr = head, expr

    def __str__(self) -> str:
        text = str(self.head) if self.expr is None else f"{self.head}{self.expr}"
        return text if len(text) <= 300 else text[:297] + "..."


def declare(system: ODESystem) -> Problem:
    """Check a user's system and freeze it into a :class:`Problem`.

    Raises
    ------
    ModelError
        Subclasses name the equation and the symbol at fault.
    """
    t = system.t
    if not isinstance(t, sp.Symbol):
        raise ModelError("time must be a symbol made with symgen.time()", symbol=str(t))
    eq_of: dict = {}
    for eq in system.equations:
        if not isinstance(eq, Equation):
            raise ModelError(f"expected an equation D(x) == rhs, got {eq!r} (did you compare "
                             "two SymPy expressions with == ?)", equation=str(eq))
        if not isinstance(eq.state, sp.Symbol) or (system.states is None and not isinstance(eq.state, StateSymbol)):
            raise ModelError("D(...) must be applied to a state declared with symgen.states()",
                             equation=str(eq), symbol=str(eq.state))
        if eq.state in eq_of:
            raise DuplicateEquationError("two equations for one state", equation=f"{eq_of[eq.state]} and {eq}",
                                         symbol=str(eq.state))
        eq_of[eq.state] = eq
    states = system.states if system.states is not None else list(eq_of)
    state_set = set(states)
    for s in states:
        if s not in eq_of:
            raise MissingEquationError("state has no differential equation", symbol=str(s))
    for s in eq_of:
        if s not in state_set:
            raise ModelError("equation for a symbol not listed in states", equation=str(eq_of[s]), symbol=str(s))
    if len(state_set) != len(states):
        raise ModelError("a state is listed twice", symbol=str([s for s in states if states.count(s) > 1][0]))

    # observables: symbols (or names) -> expressions, substituted in order of declaration
    obs_syms, obs_exprs = [], []
    for key, expr in system.observed.items():
        sym = key if isinstance(key, sp.Symbol) else sp.Symbol(str(key), real=True)
        obs_syms.append(sym)
        obs_exprs.append(sp.sympify(expr))
    known = set(states) | {t} | set(obs_syms)
    if system.params is not None:
        known |= set(system.params)

    # labels name equations in messages: short ones in the IR, the full text (which costs
    # a print of the expression) only when an error is raised
    labels = [f"D({s})" for s in states]
    param_order = list(system.params) if system.params is not None else []
    exprs = [eq_of[s].rhs for s in states] + obs_exprs
    all_labels = [_Label(eq_of[s]) for s in states] + [_Label(f"{s} = ", e) for s, e in zip(obs_syms, obs_exprs)]
    for expr, label in zip(exprs, all_labels):
        if not isinstance(expr, sp.Expr):
            raise ModelError(f"right-hand side is not an expression: {expr!r}", equation=str(label))
        if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.nan):
            raise ModelError("expression is complex-valued or undefined (I, zoo or nan appears)",
                             equation=str(label))
        _check_functions(expr, label)
        for sym in sorted(expr.free_symbols, key=str):
            if sym in known:
                continue
            if isinstance(sym, ParamSymbol) and system.params is None:
                param_order.append(sym)
                known.add(sym)
                continue
            kind = "a time symbol other than the system's" if isinstance(sym, TimeSymbol) else "an undeclared symbol"
            raise UndeclaredSymbolError(f"equation uses {kind}", equation=str(label), symbol=str(sym))

    # substitute observables into later observables and into the equations
    resolved: dict = {}
    for sym, expr in zip(obs_syms, obs_exprs):
        resolved[sym] = expr.xreplace(resolved)
    rhs = tuple(eq_of[s].rhs.xreplace(resolved) if resolved else eq_of[s].rhs for s in states)
    for i, r in enumerate(rhs):
        if any(o in r.free_symbols for o in obs_syms):
            raise ModelError("observable used before it is defined (observables must be ordered)",
                             equation=str(all_labels[i]))
    observed = tuple((str(sym), resolved[sym]) for sym in obs_syms)

    defaults = []
    for key, val in system.defaults.items():
        try:
            v = float(val)
        except (TypeError, ValueError):
            raise ModelError(f"default value is not a number: {val!r}", symbol=str(key)) from None
        if not math.isfinite(v):
            raise ModelError("default value is not finite", symbol=str(key))
        defaults.append((key, v))
    return Problem(system.name, t, tuple(states), tuple(param_order), rhs, observed, tuple(labels),
                   tuple(defaults))
