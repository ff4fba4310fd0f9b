"""derive: Problem -> System (Jacobians with static sparsity, df/dp, df/dt).

Each equation is differentiated only by the symbols it contains, so the work is
proportional to the number of structural nonzeros, never to n^2.
"""
from __future__ import annotations

import sympy as sp

from ..ir.problem import Problem
from ..ir.system import Sparsity, System

__all__ = ["derive", "sparse_jacobian", "clean_derivative"]


def clean_derivative(expr: sp.Expr) -> sp.Expr:
    """Drop distributional terms: DiracDelta is zero almost everywhere.

    The derivative of a Heaviside/Piecewise switch is a Dirac delta at the switch; a
    Newton matrix wants the derivative on either side, which is what remains.
    """
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return expr


def _term_derivatives(f: sp.Expr, wrt: frozenset) -> dict:
    """``{symbol: df/dsymbol}`` for the symbols of ``wrt`` that ``f`` contains.

    A sum is differentiated term by term, each term only by its own symbols, so a
    species' equation of hundreds of reaction terms costs the sum of its terms' sizes,
    not (terms x columns) as ``sympy.diff`` of the whole sum would.
    """
    parts: dict = {}
    for term in sp.Add.make_args(f):
        for s in term.free_symbols & wrt:
            d = _monomial_derivative(term, s)
            parts.setdefault(s, []).append(_diff(term, s) if d is None else d)
    return {s: clean_derivative(sp.Add(*ds)) for s, ds in parts.items()}


def _diff(e: sp.Expr, s: sp.Symbol) -> sp.Expr:
    """d e / d s by the sum, product and constant-power rules, recursing only into the
    arguments that contain ``s``; SymPy's ``diff`` for everything else (functions)."""
    if e is s:
        return sp.S.One
    if s not in e.free_symbols:
        return sp.S.Zero
    if e.is_Add:
        return sp.Add(*[_diff(a, s) for a in e.args if s in a.free_symbols])
    if e.is_Mul:
        args = e.args
        hits = [i for i, a in enumerate(args) if s in a.free_symbols]
        return sp.Add(*[sp.Mul(*args[:i], _diff(args[i], s), *args[i + 1:]) for i in hits])
    if e.is_Pow and s not in e.exp.free_symbols and e.exp.is_Number:
        n = e.exp
        return n * e.base ** (n - 1) * _diff(e.base, s)
    return e.diff(s)


def _monomial_derivative(term: sp.Expr, s: sp.Symbol):
    """d term / d s when ``term`` is a product in which ``s`` occurs only as one factor
    ``s`` or ``s**n`` (``n`` a number) -- the mass-action case -- built without SymPy's
    general derivative machinery; None otherwise.

    Removing one factor of a canonical product keeps its factors in canonical order, so
    the result is assembled with ``Mul._from_args`` (no re-flattening).
    """
    if term is s:
        return sp.S.One
    if not term.is_Mul:
        return None
    args = term.args
    hit = -1
    for i, a in enumerate(args):
        if a is s or (a.is_Pow and a.base is s and a.exp.is_Number):
            if hit >= 0:
                return None
            hit = i
        elif s in a.free_symbols:
            return None
    if hit < 0:
        return None
    a = args[hit]
    rest = list(args[:hit] + args[hit + 1:])
    if a is not s:
        n = a.exp
        coeff = n if not (rest and rest[0].is_Number) else rest.pop(0) * n
        rest.insert(0, coeff)
        if n != 2:
            rest.insert(1, sp.Pow(s, n - 1))
        else:
            rest.insert(1, s)
        return sp.Mul(*rest)  # the new factor's place is not known: flatten
    if not rest:
        return sp.S.One
    if len(rest) == 1:
        return rest[0]
    return sp.Mul._from_args(tuple(rest))


def sparse_jacobian(exprs, wrt) -> tuple[Sparsity, tuple]:
    """Sparse Jacobian of ``exprs`` with respect to the symbols ``wrt``.

    Returns the CSR pattern (structural nonzeros that do not vanish identically) and the
    derivative expressions in CSR order.
    """
    col = {s: j for j, s in enumerate(wrt)}
    wset = frozenset(wrt)
    indptr, indices, values = [0], [], []
    for f in exprs:
        ds = _term_derivatives(f, wset)
        for j, d in sorted((col[s], d) for s, d in ds.items()):
            if d != 0:
                indices.append(j)
                values.append(d)
        indptr.append(len(indices))
    return Sparsity(len(exprs), len(wrt), tuple(indptr), tuple(indices)), tuple(values)


def derive(problem: Problem) -> System:
    """Derive the Jacobian (sparse pattern + values), the parameter Jacobian and df/dt."""
    jac, jac_values = sparse_jacobian(problem.rhs, problem.states)
    pjac, pjac_values = sparse_jacobian(problem.rhs, problem.params)
    t = problem.t
    dfdt = tuple(clean_derivative(sp.diff(f, t)) if t in f.free_symbols else sp.S.Zero
                 for f in problem.rhs)
    return System(problem, jac, jac_values, pjac, pjac_values, dfdt)
