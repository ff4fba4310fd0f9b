"""Feasibility restoration of the interior-point method.

Entered when the barrier step cannot make progress on the merit function while the
constraints are violated (line search fails, or the violation stalls while the
multipliers grow).  It forgets the objective and minimizes the violation

    theta(z) = 1/2 |C(z)|^2 + mu_r * barrier(z)        (z = (x, s) strictly inside its bounds)

with damped Gauss-Newton (Levenberg-Marquardt) steps, each one solve with the *same*
static-pattern ``L D L^T`` as the main iteration:

    [ rho I + mu_r B   J^T ] [dz]   [ -mu_r grad barrier ]
    [ J               -I   ] [dy] = [ -C                 ]

(eliminating ``dy`` gives ``(rho I + mu_r B + J^T J) dz = -(J^T C + mu_r grad barrier)``;
the matrix is quasi-definite, so its inertia is right by construction).  Steps keep
``z`` inside the bounds (fraction to the boundary) and must decrease ``theta``
(Armijo); ``rho`` shrinks after a success and grows after a failure.

Outcome: ``RESTORED`` once the violation is below ``target``; ``STATIONARY`` when the
scaled gradient of the violation vanishes at a point that is not feasible (a local
minimizer of infeasibility: the problem is reported locally infeasible); ``STUCK``
when the iteration or damping limit is reached.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .common import S_CONS, S_FACT, S_JAC
from .ldl import ldl_factor, ldl_solve

__all__ = ["restore", "RESTORED", "STATIONARY", "STUCK"]

RESTORED = 0
STATIONARY = 1
STUCK = 2


@njit(cache=True)
def _violation(n, z, c, cl, eq, slack_of, C):
    """``C(z)`` into ``C``; returns ``(1/2 |C|^2, max |C_j|)``."""
    half = 0.0
    cinf = 0.0
    for j in range(cl.shape[0]):
        C[j] = c[j] - cl[j] if eq[j] else c[j] - z[n + slack_of[j]]
        half += 0.5 * C[j] * C[j]
        cinf = max(cinf, abs(C[j]))
    return half, cinf


@njit(cache=True)
def _log_barrier(z, zl, zu):
    b = 0.0
    for i in range(z.shape[0]):
        if zl[i] > -1e300:
            b -= math.log(z[i] - zl[i])
        if zu[i] < 1e300:
            b -= math.log(zu[i] - z[i])
    return b


@njit(cache=True)
def restore(cons, jac, n, z, zl, zu, cl, eq, slack_of, slack_row, p, jrow, jcol,
            perm, cptr, crow, parent, lptr, pair, kmap_j, kdiag, kslack,
            c, jv, mu_r, target, max_it, stats):
    """Move ``z`` (in place; ``c``/``jv`` follow it) towards feasibility.

    Returns ``(outcome, iterations, violation)``.
    """
    m = cl.shape[0]
    nz = z.shape[0]
    N = nz + m
    ns = slack_row.shape[0]
    w = np.zeros(m + 1)
    C = np.zeros(m)
    Ct = np.zeros(m)
    ct = np.zeros(max(m, 1))
    zt = np.zeros(nz)
    gphi = np.zeros(nz)
    gb = np.zeros(nz)
    bvec = np.zeros(N)
    dz = np.zeros(N)
    cval = np.zeros(cptr[N])
    nl = lptr[N]
    lidx = np.zeros(max(nl, 1), np.int64)
    lval = np.zeros(max(nl, 1))
    dd = np.zeros(N)
    ee = np.zeros(N)
    wy = np.zeros(N)
    flag = np.zeros(N, np.int64)
    pattern = np.zeros(N, np.int64)
    lnz = np.zeros(N, np.int64)
    zsave = np.zeros(N)
    rmax = np.zeros(N)
    work = np.zeros(N)
    rho = 1e-4
    half, cinf = _violation(n, z, c, cl, eq, slack_of, C)
    theta = half + mu_r * _log_barrier(z, zl, zu)
    small = 0
    for k in range(max_it):
        if cinf <= target:
            return RESTORED, k, cinf
        # gradient of 1/2 |C|^2 (x part: J^T C; slack part: -C on its row)
        gphi[:] = 0.0
        for q in range(jrow.shape[0]):
            gphi[jcol[q]] += jv[q] * C[jrow[q]]
        for s in range(ns):
            gphi[n + s] -= C[slack_row[s]]
        # stationarity of the violation, scaled by the distance to the bounds a
        # gradient component pushes against (Coleman-Li scaling)
        stat = 0.0
        for i in range(nz):
            dist = 1.0
            if gphi[i] > 0.0 and zl[i] > -1e300:
                dist = min(dist, z[i] - zl[i])
            if gphi[i] < 0.0 and zu[i] < 1e300:
                dist = min(dist, zu[i] - z[i])
            stat = max(stat, abs(gphi[i]) * dist)
        if stat <= 1e-9 * max(cinf, 1e-300) or stat <= 1e-14:
            return STATIONARY, k, cinf
        for i in range(nz):
            gb[i] = 0.0
            if zl[i] > -1e300:
                gb[i] -= mu_r / (z[i] - zl[i])
            if zu[i] < 1e300:
                gb[i] += mu_r / (zu[i] - z[i])
        accepted = False
        while not accepted:
            if rho > 1e20:
                return STUCK, k, cinf
            cval[:] = 0.0
            for q in range(jrow.shape[0]):
                cval[kmap_j[q]] += jv[q]
            for s in range(ns):
                cval[kslack[s]] += -1.0
            for i in range(nz):
                h = rho
                if zl[i] > -1e300:
                    h += mu_r / ((z[i] - zl[i]) * (z[i] - zl[i]))
                if zu[i] < 1e300:
                    h += mu_r / ((zu[i] - z[i]) * (zu[i] - z[i]))
                cval[kdiag[i]] += h
            for j in range(m):
                cval[kdiag[nz + j]] -= 1.0
            st, npos, nneg = ldl_factor(N, cptr, crow, parent, lptr, pair, cval, lidx, lval, dd, ee,
                                        wy, flag, pattern, lnz, zsave, rmax, 1e-14)
            stats[S_FACT] += 1
            if st != 0:
                rho *= 10.0
                continue
            for i in range(nz):
                bvec[i] = -gb[i]
            for j in range(m):
                bvec[nz + j] = -C[j]
            dz[:] = bvec
            ldl_solve(N, perm, lptr, lidx, lval, dd, ee, pair, dz, work)
            amax = 1.0
            slope = 0.0
            for i in range(nz):
                d = dz[i]
                if zl[i] > -1e300 and d < 0.0:
                    amax = min(amax, -0.99 * (z[i] - zl[i]) / d)
                if zu[i] < 1e300 and d > 0.0:
                    amax = min(amax, 0.99 * (zu[i] - z[i]) / d)
                slope += (gphi[i] + gb[i]) * d
            if not slope < 0.0 or not np.isfinite(slope):
                rho *= 10.0
                continue
            alpha = amax
            while alpha > 1e-12:
                for i in range(nz):
                    zt[i] = z[i] + alpha * dz[i]
                cons(zt.ctypes, p.ctypes, w.ctypes, ct.ctypes)
                stats[S_CONS] += 1
                ht, cinft = _violation(n, zt, ct, cl, eq, slack_of, Ct)
                tt = ht + mu_r * _log_barrier(zt, zl, zu)
                if np.isfinite(tt) and tt <= theta + 1e-4 * alpha * slope:
                    accepted = True
                    break
                alpha *= 0.5
            if not accepted:
                rho *= 10.0
        rel = (theta - tt) / max(abs(theta), 1e-300)
        z[:] = zt
        c[:m] = ct[:m]
        C[:] = Ct
        half = ht
        cinf = cinft
        theta = tt
        jac(z.ctypes, p.ctypes, w.ctypes, jv.ctypes)
        stats[S_JAC] += 1
        rho = max(rho / 4.0, 1e-10) if alpha == amax else rho
        small = small + 1 if rel < 1e-10 else 0
        if small >= 5:
            return STATIONARY, k + 1, cinf
    return STUCK, max_it, cinf
