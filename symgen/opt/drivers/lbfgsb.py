"""Limited-memory BFGS with bounds (projected L-BFGS), for ``min f(x)``, ``xl <= x <= xu``.

Each iteration holds the variables on a bound whose gradient points outwards, computes
the quasi-Newton direction on the free variables with the two-loop recursion over the
last ``mem`` pairs ``(s, y)`` (inner products restricted to the free set; initial
scaling ``s.y / y.y``), and searches along the projected path ``P(x + a d)`` with an
Armijo backtracking on the actual step.  (This is the projected variant, not the
Cauchy-point plus subspace-minimization algorithm of Byrd, Lu, Nocedal and Zhu.)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .common import MAX_ITER, N_STATS, NONFINITE, S_GRAD, S_OBJ, SMALL_STEP, SUCCESS, UNBOUNDED
from .tron import projected_gradient

__all__ = ["lbfgsb"]


@njit(cache=True)
def lbfgsb(obj, grad, x0, xl, xu, p, mem, tol, max_iter):
    """Returns ``(status, iters, x, f, zl, zu, stats, pg_norm)``."""
    n = x0.shape[0]
    stats = np.zeros(N_STATS, np.int64)
    x = np.empty(n)
    for i in range(n):
        x[i] = min(max(x0[i], xl[i]), xu[i])
    w = np.ones(1)
    fb = np.zeros(1)
    g = np.zeros(n)
    gt = np.zeros(n)
    xt = np.zeros(n)
    d = np.zeros(n)
    free = np.zeros(n, np.bool_)
    S = np.zeros((mem, n))
    Y = np.zeros((mem, n))
    rho = np.zeros(mem)
    al = np.zeros(mem)
    k_stored = 0
    head = 0
    obj(x.ctypes, p.ctypes, w.ctypes, fb.ctypes)
    grad(x.ctypes, p.ctypes, w.ctypes, g.ctypes)
    stats[S_OBJ] += 1
    stats[S_GRAD] += 1
    f = fb[0]
    status = MAX_ITER
    pg = 0.0
    it = 0
    fails = 0
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
        # ---- two-loop recursion on the free variables
        for i in range(n):
            d[i] = -g[i] if free[i] else 0.0
        gamma = 1.0
        for t in range(k_stored):
            j = (head - 1 - t) % mem
            a = 0.0
            for i in range(n):
                if free[i]:
                    a += S[j, i] * d[i]
            a *= rho[j]
            al[j] = a
            for i in range(n):
                if free[i]:
                    d[i] -= a * Y[j, i]
        if k_stored > 0:
            j = (head - 1) % mem
            yy = 0.0
            for i in range(n):
                yy += Y[j, i] * Y[j, i]
            gamma = 1.0 / (rho[j] * yy)
        else:
            gn = 0.0
            for i in range(n):
                gn = max(gn, abs(d[i]))
            gamma = min(1.0, 1.0 / max(gn, 1e-300))
        for i in range(n):
            d[i] *= gamma
        for t in range(k_stored - 1, -1, -1):
            j = (head - 1 - t) % mem
            b = 0.0
            for i in range(n):
                if free[i]:
                    b += Y[j, i] * d[i]
            b *= rho[j]
            for i in range(n):
                if free[i]:
                    d[i] += S[j, i] * (al[j] - b)
        gd = 0.0
        for i in range(n):
            gd += g[i] * d[i]
        if not gd < 0.0:     # not a descent direction: steepest descent, drop the memory
            k_stored = 0
            for i in range(n):
                d[i] = -g[i] if free[i] else 0.0
        # ---- projected backtracking line search
        a = 1.0
        ok = False
        while a > 1e-20:
            dec = 0.0
            for i in range(n):
                xt[i] = min(max(x[i] + a * d[i], xl[i]), xu[i])
                dec += g[i] * (xt[i] - x[i])
            obj(xt.ctypes, p.ctypes, w.ctypes, fb.ctypes)
            stats[S_OBJ] += 1
            if np.isfinite(fb[0]) and fb[0] <= f + 1e-4 * dec and dec < 0.0:
                ok = True
                break
            a *= 0.5
        if ok and a == 1.0 and fb[0] < f + dec:
            # more decrease than the linear model predicts (negative curvature along d):
            # extrapolate while it keeps paying, so unbounded problems are detected
            ft = fb[0]
            while a < 1e30 and ft > -1e20:
                a2 = 2.0 * a
                dec2 = 0.0
                for i in range(n):
                    gt[i] = min(max(x[i] + a2 * d[i], xl[i]), xu[i])
                    dec2 += g[i] * (gt[i] - x[i])
                obj(gt.ctypes, p.ctypes, w.ctypes, fb.ctypes)
                stats[S_OBJ] += 1
                if not (np.isfinite(fb[0]) and fb[0] < ft):
                    break
                ft = fb[0]
                a = a2
                xt[:] = gt
            fb[0] = ft
        if not ok:
            fails += 1
            k_stored = 0
            if fails >= 2:
                status = SMALL_STEP
                break
            continue
        fails = 0
        grad(xt.ctypes, p.ctypes, w.ctypes, gt.ctypes)
        stats[S_GRAD] += 1
        sy = 0.0
        yy = 0.0
        for i in range(n):
            si = xt[i] - x[i]
            yi = gt[i] - g[i]
            S[head, i] = si
            Y[head, i] = yi
            sy += si * yi
            yy += yi * yi
        if sy > 2.2e-16 * yy and sy > 0.0:
            rho[head] = 1.0 / sy
            head = (head + 1) % mem
            k_stored = min(k_stored + 1, mem)
        x[:] = xt
        g[:] = gt
        f = fb[0]
    zl = np.zeros(n)
    zu = np.zeros(n)
    for i in range(n):
        if x[i] <= xl[i] and g[i] > 0.0:
            zl[i] = g[i]
        if x[i] >= xu[i] and g[i] < 0.0:
            zu[i] = -g[i]
    return status, it, x, f, zl, zu, stats, pg
