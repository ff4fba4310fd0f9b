"""Trust-region Newton method with Steihaug conjugate gradients, for ``min f(x)`` with
bounds ``xl <= x <= xu`` (no general constraints).

Each iteration fixes the variables that sit on a bound with the gradient pushing
outwards (the active face), then solves the trust-region subproblem on the free
variables with Steihaug's truncated CG on the exact Hessian, applied through the
derived Hessian-vector-product kernel ``hvp`` (the directional derivative of the
gradient, generated per family and CSE'd; no Hessian is assembled).  CG stops at negative curvature, at the
trust-region boundary, at the first bound it crosses (the step is cut there, so the
next face is identified as in TRON), or when the residual is small (Eisenstat-Walker
forcing ``min(0.5, sqrt(|g|)) |g|``).  The step is accepted by the ratio of actual to
predicted decrease; the radius is updated by the usual rules.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .common import (MAX_ITER, N_STATS, NONFINITE, S_CG, S_GRAD, S_HESS, S_OBJ, SMALL_STEP,
                     SUCCESS, UNBOUNDED)

__all__ = ["tron", "projected_gradient"]


@njit(cache=True)
def projected_gradient(x, g, xl, xu, free):
    """Fill ``free`` (the variables not held by a bound) and return ``|P g|_inf``."""
    pg = 0.0
    for i in range(x.shape[0]):
        held = (x[i] <= xl[i] and g[i] > 0.0) or (x[i] >= xu[i] and g[i] < 0.0)
        free[i] = not held
        if free[i]:
            pg = max(pg, abs(g[i]))
    return pg


@njit(cache=True)
def _hvp(hvp, x, p, wv, v, out):
    """``out = H(x) v`` through the ``hvp`` kernel (``wv = [1, v]`` is its weight/direction
    buffer)."""
    wv[1:] = v
    hvp(x.ctypes, p.ctypes, wv.ctypes, out.ctypes)


@njit(cache=True)
def tron(obj, grad, hvp, x0, xl, xu, p, tol, max_iter):
    """Returns ``(status, iters, x, f, zl, zu, stats, pg_norm)``; ``stats[S_HESS]`` counts
    Hessian-vector products."""
    n = x0.shape[0]
    stats = np.zeros(N_STATS, np.int64)
    x = np.empty(n)
    for i in range(n):
        x[i] = min(max(x0[i], xl[i]), xu[i])
    w = np.ones(1)
    fb = np.zeros(1)
    g = np.zeros(n)
    wv = np.ones(n + 1)
    free = np.zeros(n, np.bool_)
    d = np.zeros(n)
    r = np.zeros(n)
    pdir = np.zeros(n)
    hp = np.zeros(n)
    xt = np.zeros(n)
    s = np.zeros(n)
    obj(x.ctypes, p.ctypes, w.ctypes, fb.ctypes)
    grad(x.ctypes, p.ctypes, w.ctypes, g.ctypes)
    stats[S_OBJ] += 1
    stats[S_GRAD] += 1
    f = fb[0]
    gn = 0.0
    for i in range(n):
        gn += g[i] * g[i]
    delta = max(1.0, math.sqrt(gn))
    status = MAX_ITER
    pg = 0.0
    it = 0
    for it in range(max_iter + 1):
        if not np.isfinite(f):
            status = NONFINITE
            break
        pg = projected_gradient(x, g, xl, xu, free)
        if not np.isfinite(pg):
            status = NONFINITE
            break
        if pg <= tol:
            status = SUCCESS
            break
        if f < -1e20:
            status = UNBOUNDED
            break
        if it == max_iter:
            break
        # ---- Steihaug CG on the free variables
        rn2 = 0.0
        for i in range(n):
            d[i] = 0.0
            r[i] = -g[i] if free[i] else 0.0
            pdir[i] = r[i]
            rn2 += r[i] * r[i]
        eta = min(0.5, math.sqrt(math.sqrt(rn2)))
        stop = eta * eta * rn2
        for cg in range(2 * n + 10):
            _hvp(hvp, x, p, wv, pdir, hp)
            stats[S_CG] += 1
            stats[S_HESS] += 1
            curv = 0.0
            for i in range(n):
                if free[i]:
                    curv += pdir[i] * hp[i]
                else:
                    hp[i] = 0.0
            # largest step along pdir inside the trust region
            dd = 0.0
            dp = 0.0
            pp = 0.0
            for i in range(n):
                dd += d[i] * d[i]
                dp += d[i] * pdir[i]
                pp += pdir[i] * pdir[i]
            tau = (-dp + math.sqrt(max(dp * dp + pp * (delta * delta - dd), 0.0))) / max(pp, 1e-300)
            boundary = False
            if curv <= 0.0:
                alpha = tau
                boundary = True
            else:
                alpha = rn2 / curv
                if alpha >= tau:
                    alpha = tau
                    boundary = True
            # first bound crossed along the segment
            abox = alpha
            for i in range(n):
                if pdir[i] > 0.0 and xu[i] < 1e300:
                    abox = min(abox, (xu[i] - x[i] - d[i]) / pdir[i])
                elif pdir[i] < 0.0 and xl[i] > -1e300:
                    abox = min(abox, (xl[i] - x[i] - d[i]) / pdir[i])
            if abox < alpha:
                alpha = max(abox, 0.0)
                boundary = True
            for i in range(n):
                d[i] += alpha * pdir[i]
            if boundary:
                break
            rn2new = 0.0
            for i in range(n):
                r[i] -= alpha * hp[i]
                rn2new += r[i] * r[i]
            if rn2new <= stop:
                break
            beta = rn2new / rn2
            rn2 = rn2new
            for i in range(n):
                pdir[i] = r[i] + beta * pdir[i]
        # ---- projected trial point and predicted decrease
        snorm = 0.0
        for i in range(n):
            xt[i] = min(max(x[i] + d[i], xl[i]), xu[i])
            s[i] = xt[i] - x[i]
            snorm = max(snorm, abs(s[i]))
        _hvp(hvp, x, p, wv, s, hp)
        stats[S_HESS] += 1
        pred = 0.0
        for i in range(n):
            pred -= g[i] * s[i] + 0.5 * s[i] * hp[i]
        obj(xt.ctypes, p.ctypes, w.ctypes, fb.ctypes)
        stats[S_OBJ] += 1
        ft = fb[0]
        ared = f - ft
        rho = ared / pred if pred > 0.0 else -1.0
        sn2 = 0.0
        for i in range(n):
            sn2 += s[i] * s[i]
        sn = math.sqrt(sn2)
        if not np.isfinite(ft) or rho < 0.25:
            delta = 0.25 * max(min(sn, delta), 1e-300)
        elif rho > 0.75 and sn >= 0.99 * delta:
            delta = 2.0 * delta
        if np.isfinite(ft) and rho > 1e-4:
            x[:] = xt
            f = ft
            grad(x.ctypes, p.ctypes, w.ctypes, g.ctypes)
            stats[S_GRAD] += 1
        else:
            xn = 0.0
            for i in range(n):
                xn = max(xn, abs(x[i]))
            if delta < 1e-15 * max(1.0, xn) or snorm == 0.0:
                status = SMALL_STEP
                break
    zl = np.zeros(n)
    zu = np.zeros(n)
    for i in range(n):
        if x[i] <= xl[i] and g[i] > 0.0:
            zl[i] = g[i]
        if x[i] >= xu[i] and g[i] < 0.0:
            zu[i] = -g[i]
    return status, it, x, f, zl, zu, stats, pg
