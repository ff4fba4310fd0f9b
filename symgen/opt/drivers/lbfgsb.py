"""L-BFGS-B (Byrd, Lu, Nocedal and Zhu 1995) for ``min f(x)``, ``xl <= x <= xu``.

Written from the published algorithm.  The limited-memory matrix is kept in compact
form ``B = theta I - W M W^T`` with ``W = [Y, theta S]`` and
``M = [[-D, L^T], [L, theta S^T S]]^{-1}`` (``D = diag(s_i . y_i)``, ``L`` the strictly
lower part of ``S^T Y``).  Each iteration

1. finds the *generalized Cauchy point*: the first local minimizer of the quadratic
   model along the projected steepest-descent path ``P(x - t g)``, walking the sorted
   breakpoints with the incremental updates of ``f'``, ``f''``, ``p = W^T d`` and
   ``c = W^T (x_cp - x)`` (O(m) work per breakpoint);
2. minimizes the model over the variables free at the Cauchy point (direct primal
   method: the reduced system is solved through Sherman-Morrison-Woodbury with the
   ``2m x 2m`` matrix ``I - M W_Z^T W_Z / theta``); the subspace step is projected into
   the box and truncated to the box instead if the projection is not a descent
   direction (the 2011 refinement of Morales and Nocedal);
3. searches along ``x_bar - x`` (backtracking Armijo inside the box; an extrapolation
   while the decrease beats the linear model so unbounded problems are detected) and
   stores the pair ``(s, y)`` when ``s . y > eps y . y``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .common import MAX_ITER, N_STATS, NONFINITE, S_GRAD, S_OBJ, SMALL_STEP, SUCCESS, UNBOUNDED
from .tron import projected_gradient

__all__ = ["lbfgsb"]


@njit(cache=True)
def _dense_solve(A, b):
    """``A^{-1} b`` by Gaussian elimination with partial pivoting (``A`` is tiny,
    ``2m x 2m``, and indefinite); ``A`` and ``b`` are overwritten.  Returns ``False``
    on a (numerically) singular matrix."""
    k = A.shape[0]
    for c in range(k):
        piv = c
        for r in range(c + 1, k):
            if abs(A[r, c]) > abs(A[piv, c]):
                piv = r
        if abs(A[piv, c]) < 1e-300:
            return False
        if piv != c:
            for j in range(k):
                A[c, j], A[piv, j] = A[piv, j], A[c, j]
            b[c], b[piv] = b[piv], b[c]
        for r in range(c + 1, k):
            fct = A[r, c] / A[c, c]
            if fct != 0.0:
                for j in range(c, k):
                    A[r, j] -= fct * A[c, j]
                b[r] -= fct * b[c]
    for c in range(k - 1, -1, -1):
        s = b[c]
        for j in range(c + 1, k):
            s -= A[c, j] * b[j]
        b[c] = s / A[c, c]
    return True


@njit(cache=True)
def _middle(S, Y, order, k, theta):
    """``M`` (``2k x 2k``) of the compact form, from the ``k`` stored pairs in
    ``order`` (oldest first).  Returns ``(M, ok)``."""
    K = np.zeros((2 * k, 2 * k))
    for a in range(k):
        ia = order[a]
        for b in range(k):
            ib = order[b]
            sy = 0.0
            ss = 0.0
            for i in range(S.shape[1]):
                sy += S[ia, i] * Y[ib, i]
                ss += S[ia, i] * S[ib, i]
            if a == b:
                K[a, a] = -sy
            elif a > b:                    # L[a, b] = s_a . y_b (a newer than b)
                K[k + a, b] = sy
                K[b, k + a] = sy
            K[k + a, k + b] = theta * ss
    M = np.zeros((2 * k, 2 * k))
    ok = True
    for c in range(2 * k):
        A = K.copy()
        e = np.zeros(2 * k)
        e[c] = 1.0
        ok = ok and _dense_solve(A, e)
        M[:, c] = e
    return M, ok


@njit(cache=True)
def _wrow(S, Y, order, k, theta, i, out):
    """Row ``i`` of ``W = [Y, theta S]`` into ``out`` (length ``2k``)."""
    for a in range(k):
        out[a] = Y[order[a], i]
        out[k + a] = theta * S[order[a], i]


@njit(cache=True)
def _cauchy(x, g, xl, xu, S, Y, order, k, theta, M, xc, c):
    """Generalized Cauchy point ``xc`` and ``c = W^T (xc - x)``; returns the boolean mask
    of the variables free at ``xc``."""
    n = x.shape[0]
    kk = 2 * k
    tb = np.full(n, np.inf)
    d = np.zeros(n)
    for i in range(n):
        if g[i] < 0.0 and xu[i] < 1e300:
            tb[i] = (x[i] - xu[i]) / g[i]
        elif g[i] > 0.0 and xl[i] > -1e300:
            tb[i] = (x[i] - xl[i]) / g[i]
        if tb[i] > 0.0:
            d[i] = -g[i]
        else:
            tb[i] = 0.0
    p = np.zeros(kk)
    wb = np.zeros(kk)
    for i in range(n):
        if d[i] != 0.0:
            _wrow(S, Y, order, k, theta, i, wb)
            for a in range(kk):
                p[a] += wb[a] * d[i]
    for a in range(kk):
        c[a] = 0.0
    Mp = M @ p if k > 0 else p * 0.0
    fp = 0.0
    for i in range(n):
        fp -= d[i] * d[i]
    fpp = -theta * fp
    for a in range(kk):
        fpp -= p[a] * Mp[a]
    xc[:] = x
    free = np.ones(n, np.bool_)
    if fp >= 0.0:                          # projected gradient is zero
        for i in range(n):
            free[i] = tb[i] > 0.0
        return free
    dtmin = -fp / fpp if fpp > 0.0 else np.inf
    order_b = np.argsort(tb)
    t_old = 0.0
    q = 0
    while q < n and tb[order_b[q]] <= 0.0:
        free[order_b[q]] = False
        q += 1
    Mc = np.zeros(kk)
    while q < n:
        b = order_b[q]
        t = tb[b]
        if not np.isfinite(t):
            break
        dt = t - t_old
        if dtmin < dt:
            break
        # the variable b hits its bound at t
        xc[b] = xu[b] if d[b] > 0.0 else xl[b]
        zb = xc[b] - x[b]
        for a in range(kk):
            c[a] += dt * p[a]
        gb = g[b]
        _wrow(S, Y, order, k, theta, b, wb)
        wMc = 0.0
        wMp = 0.0
        wMw = 0.0
        if k > 0:
            Mc = M @ c
            Mp = M @ p
            Mw = M @ wb
            for a in range(kk):
                wMc += wb[a] * Mc[a]
                wMp += wb[a] * Mp[a]
                wMw += wb[a] * Mw[a]
        fp = fp + dt * fpp + gb * gb + theta * gb * zb - gb * wMc
        fpp = fpp - theta * gb * gb - 2.0 * gb * wMp - gb * gb * wMw
        fpp = max(fpp, 1e-300 * abs(fp) + 1e-300)
        for a in range(kk):
            p[a] += gb * wb[a]
        d[b] = 0.0
        free[b] = False
        dtmin = -fp / fpp
        t_old = t
        q += 1
    dtmin = max(dtmin, 0.0)
    if not np.isfinite(dtmin):             # no breakpoint ahead and no curvature
        dtmin = 0.0
    t_old += dtmin
    for i in range(n):
        if free[i] and d[i] != 0.0:
            xc[i] = x[i] + t_old * d[i]
    for a in range(kk):
        c[a] += dtmin * p[a]
    # variables sitting on a bound at xc are held
    for i in range(n):
        if free[i] and ((xc[i] <= xl[i]) or (xc[i] >= xu[i])):
            free[i] = False
    return free


@njit(cache=True)
def _subspace(x, g, xl, xu, S, Y, order, k, theta, M, xc, c, free, xbar):
    """Minimize the model over the free variables from ``xc``; the result (inside the
    box) goes to ``xbar``."""
    n = x.shape[0]
    kk = 2 * k
    xbar[:] = xc
    nfree = 0
    for i in range(n):
        if free[i]:
            nfree += 1
    if nfree == 0:
        return
    Mc = M @ c if k > 0 else np.zeros(kk)
    r = np.zeros(n)
    wb = np.zeros(kk)
    WZr = np.zeros(kk)
    WZW = np.zeros((kk, kk))
    for i in range(n):
        if free[i]:
            _wrow(S, Y, order, k, theta, i, wb)
            wmc = 0.0
            for a in range(kk):
                wmc += wb[a] * Mc[a]
            r[i] = g[i] + theta * (xc[i] - x[i]) - wmc
            for a in range(kk):
                WZr[a] += wb[a] * r[i]
                for b in range(kk):
                    WZW[a, b] += wb[a] * wb[b]
    v = np.zeros(kk)
    if k > 0:
        v = M @ WZr
        N = np.eye(kk) - (M @ WZW) / theta
        if not _dense_solve(N, v):
            v[:] = 0.0
    du = np.zeros(n)
    for i in range(n):
        if free[i]:
            _wrow(S, Y, order, k, theta, i, wb)
            wv = 0.0
            for a in range(kk):
                wv += wb[a] * v[a]
            du[i] = -r[i] / theta - wv / (theta * theta)
    # projection, kept if it is a descent direction from x; truncation otherwise
    dg = 0.0
    for i in range(n):
        if free[i]:
            xbar[i] = min(max(xc[i] + du[i], xl[i]), xu[i])
        dg += (xbar[i] - x[i]) * g[i]
    if dg < 0.0:
        return
    alpha = 1.0
    for i in range(n):
        if free[i] and du[i] != 0.0:
            if du[i] > 0.0:
                alpha = min(alpha, (xu[i] - xc[i]) / du[i])
            else:
                alpha = min(alpha, (xl[i] - xc[i]) / du[i])
    alpha = max(alpha, 0.0)
    for i in range(n):
        xbar[i] = min(max(xc[i] + alpha * du[i], xl[i]), xu[i]) if free[i] else xc[i]


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
    xc = np.zeros(n)
    xbar = np.zeros(n)
    d = np.zeros(n)
    free = np.zeros(n, np.bool_)
    S = np.zeros((mem, n))
    Y = np.zeros((mem, n))
    order = np.zeros(mem, np.int64)        # slots of the stored pairs, oldest first
    c = np.zeros(2 * mem)
    k = 0
    theta = 1.0
    M = np.zeros((0, 0))
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
        if k > 0:
            M, okm = _middle(S, Y, order, k, theta)
            if not okm:
                k = 0
                theta = 1.0
        cc = c[:2 * k]
        fr = _cauchy(x, g, xl, xu, S, Y, order, k, theta, M, xc, cc)
        _subspace(x, g, xl, xu, S, Y, order, k, theta, M, xc, cc, fr, xbar)
        gd = 0.0
        dn = 0.0
        for i in range(n):
            d[i] = xbar[i] - x[i]
            gd += g[i] * d[i]
            dn += d[i] * d[i]
        if not gd < 0.0:                   # not a descent direction: restart the memory
            fails += 1
            if k == 0 or fails >= 3:
                status = SMALL_STEP
                break
            k = 0
            theta = 1.0
            continue
        # ---- backtracking line search inside the box (x, xbar in the box: so is the segment)
        a = 1.0
        if k == 0:
            a = min(1.0, 1.0 / math.sqrt(dn))
        ok = False
        while a > 1e-20:
            for i in range(n):
                xt[i] = min(max(x[i] + a * d[i], xl[i]), xu[i])
            obj(xt.ctypes, p.ctypes, w.ctypes, fb.ctypes)
            stats[S_OBJ] += 1
            if np.isfinite(fb[0]) and fb[0] <= f + 1e-4 * a * gd:
                ok = True
                break
            a *= 0.5
        if ok and fb[0] < f + a * gd:
            # more decrease than the linear model predicts (negative curvature along d):
            # extrapolate while it keeps paying (unbounded problems get detected)
            ft = fb[0]
            while a < 1e30 and ft > -1e20:
                a2 = 2.0 * a
                for i in range(n):
                    gt[i] = min(max(x[i] + a2 * d[i], xl[i]), xu[i])
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
            if k == 0 or fails >= 3:
                status = SMALL_STEP
                break
            k = 0
            theta = 1.0
            continue
        fails = 0
        grad(xt.ctypes, p.ctypes, w.ctypes, gt.ctypes)
        stats[S_GRAD] += 1
        sy = 0.0
        yy = 0.0
        for i in range(n):
            sy += (xt[i] - x[i]) * (gt[i] - g[i])
            yy += (gt[i] - g[i]) * (gt[i] - g[i])
        if sy > 2.2e-16 * yy and sy > 0.0:
            if k < mem:
                slot = k
                order[k] = slot
                k += 1
            else:
                slot = order[0]
                for a2 in range(mem - 1):
                    order[a2] = order[a2 + 1]
                order[mem - 1] = slot
            for i in range(n):
                S[slot, i] = xt[i] - x[i]
                Y[slot, i] = gt[i] - g[i]
            theta = yy / sy
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
