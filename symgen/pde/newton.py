"""Compiled Newton solver with backtracking line search for steady problems ``f(y) = 0``.

``f`` is the semi-discrete right-hand side of a PDE model (its steady state), the
Newton matrix its stencil Jacobian on the static CSR pattern, factored by the static-
pattern sparse LU of :mod:`symgen.drivers.sparse_lu` (the plan, i.e. ordering and
symbolic factorization, is made once per pattern).  Each iteration solves
``J dy = -f`` and takes the largest step ``y + lam dy``, ``lam = 1, 1/2, 1/4, ...``, that
decreases ``||f||_2`` by the Armijo factor ``1 - 1e-4 lam``.  Converged when
``||f||_inf <= ftol`` or ``||lam dy||_inf <= xtol (1 + ||y||_inf)``.  Everything runs in
one compiled call; the kernels arrive as first-class functions (drivers' ABI).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..drivers.sparse_lu import sparse_lu_factor, sparse_lu_solve

__all__ = ["newton", "NEWTON_MESSAGES", "CONVERGED", "MAX_ITER", "SINGULAR", "LINE_SEARCH", "NONFINITE"]

CONVERGED, MAX_ITER, SINGULAR, LINE_SEARCH, NONFINITE = 0, 1, 2, 3, 4
NEWTON_MESSAGES = {
    CONVERGED: "Newton iteration converged",
    MAX_ITER: "maximum number of Newton iterations reached",
    SINGULAR: "Jacobian singular (zero or non-finite pivot)",
    LINE_SEARCH: "line search could not decrease the residual",
    NONFINITE: "non-finite residual at the initial guess",
}


@njit(cache=True)
def _norm2(a):
    s = 0.0
    for v in a:
        s += v * v
    return np.sqrt(s)


@njit(cache=True)
def _norminf(a):
    s = 0.0
    for v in a:
        if abs(v) > s:
            s = abs(v)
    if not np.isfinite(s):
        return np.inf
    return s


@njit(cache=True)
def newton(rhs, jacv, t, y0, p, nnz, lu_indptr, lu_indices, diag, perm, amap, ftol, xtol, max_iter):
    """Solve ``rhs(t, y, p) = 0`` from ``y0``.

    Returns ``(status, y, iterations, ||f||_inf, jacobian_evaluations, residual_evaluations)``.
    """
    n = y0.shape[0]
    y = y0.copy()
    f = np.empty(n)
    ft = np.empty(n)
    yt = np.empty(n)
    dy = np.empty(n)
    jv = np.empty(nnz)
    vals = np.empty(lu_indices.shape[0])
    work = np.empty(n)
    rhs(t, y.ctypes, p.ctypes, f.ctypes)
    nf, nj = 1, 0
    fn = _norm2(f)
    if not np.isfinite(fn):
        return NONFINITE, y, 0, np.inf, nj, nf
    for it in range(max_iter):
        if _norminf(f) <= ftol:
            return CONVERGED, y, it, _norminf(f), nj, nf
        jacv(t, y.ctypes, p.ctypes, jv.ctypes)
        nj += 1
        if sparse_lu_factor(lu_indptr, lu_indices, diag, amap, jv, 0.0, vals, work) != 0:
            return SINGULAR, y, it, _norminf(f), nj, nf
        for i in range(n):
            dy[i] = f[i]
        sparse_lu_solve(lu_indptr, lu_indices, diag, perm, vals, dy, work)  # (0 I - J) dy = f
        lam = 1.0
        while True:
            for i in range(n):
                yt[i] = y[i] + lam * dy[i]
            rhs(t, yt.ctypes, p.ctypes, ft.ctypes)
            nf += 1
            fnt = _norm2(ft)
            if np.isfinite(fnt) and fnt <= (1.0 - 1e-4 * lam) * fn:
                break
            lam *= 0.5
            if lam < 1e-10:
                return LINE_SEARCH, y, it + 1, _norminf(f), nj, nf
        step = lam * _norminf(dy)
        for i in range(n):
            y[i] = yt[i]
            f[i] = ft[i]
        fn = fnt
        if step <= xtol * (1.0 + _norminf(y)) or _norminf(f) <= ftol:
            return CONVERGED, y, it + 1, _norminf(f), nj, nf
    return MAX_ITER, y, max_iter, _norminf(f), nj, nf
