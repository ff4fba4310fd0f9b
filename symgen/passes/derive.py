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


def sparse_jacobian(exprs, wrt) -> tuple[Sparsity, tuple]:
    """Sparse Jacobian of ``exprs`` with respect to the symbols ``wrt``.

    Returns the CSR pattern (structural nonzeros that do not vanish identically) and the
    derivative expressions in CSR order.
    """
    col = {s: j for j, s in enumerate(wrt)}
    indptr, indices, values = [0], [], []
    for f in exprs:
        cols = sorted(col[s] for s in f.free_symbols if s in col)
        for j in cols:
            d = clean_derivative(sp.diff(f, wrt[j]))
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
