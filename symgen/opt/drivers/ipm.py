"""Primal-dual interior-point method for ``min f(x)  s.t.  cl <= c(x) <= cu, xl <= x <= xu``.

Formulation (in the spirit of IPOPT, written from the published algorithm): inequality
rows get slacks ``s`` (``c_I(x) - s = 0``, ``cl_I <= s <= cu_I``), so with
``z = (x, s)`` the problem is ``min f  s.t.  C(z) = 0, zl <= z <= zu``.  For a decreasing
barrier parameter ``mu`` (monotone Fiacco-McCormick rule) each iteration solves the
primal-dual Newton system

    [ W + Sigma + dw I    J^T  ] [dz]     [ grad f - mu/(z - zl) + mu/(zu - z) + J^T y ]
    [ J                 -dc I  ] [dy] = - [ C(z)                                        ]

with the static-pattern sparse ``L D L^T`` of :mod:`.ldl`; the inertia read from ``D``
must be ``(n_z, m, 0)``, otherwise ``dw`` is increased (inertia correction).  The step
keeps ``z`` and the bound multipliers strictly inside their bounds (fraction to the
boundary), and a backtracking line search on the exact-penalty merit function
``phi_mu(z) + nu |C(z)|_1`` (``nu`` raised so the step is a descent direction) decides
its length.  When the step cannot make progress while the constraints are violated (the
line search fails, or the violation stalls while the multipliers grow), a feasibility
restoration phase (:mod:`.restoration`) minimizes the violation alone and the barrier
iteration restarts from its result with reset multipliers; a restoration that ends at a
stationary point of the violation reports the problem locally infeasible.  All of it
runs in one compiled call.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .common import (INFEASIBLE, LINEAR_SOLVER, MAX_ITER, N_STATS, NONFINITE, S_CONS, S_FACT,
                     S_GRAD, S_HESS, S_JAC, S_OBJ, S_REST, S_REST_IT, SMALL_STEP, SUCCESS, UNBOUNDED)
from .ldl import ldl_factor, ldl_solve
from .restoration import RESTORED, restore

MAX_RESTORATIONS = 8

__all__ = ["ipm"]


@njit(cache=True)
def _push(v, lo, hi, k1):
    """Move ``v`` strictly inside ``[lo, hi]`` (IPOPT-style bound push)."""
    if lo > -1e300 and hi < 1e300:
        pl = min(k1 * max(1.0, abs(lo)), k1 * (hi - lo))
        pu = min(k1 * max(1.0, abs(hi)), k1 * (hi - lo))
        return min(max(v, lo + pl), hi - pu)
    if lo > -1e300:
        return max(v, lo + k1 * max(1.0, abs(lo)))
    if hi < 1e300:
        return min(v, hi - k1 * max(1.0, abs(hi)))
    return v


@njit(cache=True)
def _barrier(z, zl, zu, mu):
    b = 0.0
    for i in range(z.shape[0]):
        if zl[i] > -1e300:
            b -= math.log(z[i] - zl[i])
        if zu[i] < 1e300:
            b -= math.log(zu[i] - z[i])
    return mu * b


@njit(cache=True)
def _residual_c(n, z, c, cl, eq, slack_of, out):
    """``C(z)``: ``c - cl`` on equality rows, ``c - s`` on inequality rows; returns |C|_1."""
    tot = 0.0
    for j in range(cl.shape[0]):
        if eq[j]:
            out[j] = c[j] - cl[j]
        else:
            out[j] = c[j] - z[n + slack_of[j]]
        tot += abs(out[j])
    return tot


@njit(cache=True)
def _solve_refined(N, perm, cptr, crow, cval, lptr, lidx, lval, dd, ee, pair, b, x, r, work,
                   steps, nz, dw_off, best):
    """``x = K^{-1} b`` with the factors of ``F = K + dw_off I_primal`` (``cval`` holds
    ``F``), improved by up to ``steps`` rounds of iterative refinement against ``K``
    (static pivoting: a primal shift that only made the pivots nonzero is removed
    again); the iterate of smallest residual is kept."""
    x[:] = b
    ldl_solve(N, perm, lptr, lidx, lval, dd, ee, pair, x, work)
    best_r = math.inf
    for _ in range(steps + 1):
        # r = b - K x   (permuted storage: entry (i, k), i <= k, couples perm[i], perm[k])
        r[:] = b
        for k in range(N):
            pk = perm[k]
            for q in range(cptr[k], cptr[k + 1]):
                pi = perm[crow[q]]
                v = cval[q]
                r[pi] -= v * x[pk]
                if pi != pk:
                    r[pk] -= v * x[pi]
        for i in range(nz):
            r[i] += dw_off * x[i]
        rn = 0.0
        bn = 0.0
        for i in range(N):
            rn = max(rn, abs(r[i]))
            bn = max(bn, abs(b[i]))
        if rn < best_r:
            best_r = rn
            best[:] = x
        elif rn > 2.0 * best_r:
            break
        if rn <= 1e-14 * max(bn, 1e-300):
            break
        ldl_solve(N, perm, lptr, lidx, lval, dd, ee, pair, r, work)
        for i in range(N):
            x[i] += r[i]
    x[:] = best
    bn = 0.0
    for i in range(N):
        bn = max(bn, abs(b[i]))
    return best_r / max(bn, 1e-300)


@njit(cache=True)
def _restoration(cons, jac, n, z, zl, zu, cl, eq, slack_of, slack_row, p, jrow, jcol, perm, cptr, crow,
                 parent, lptr, pair, kmap_j, kdiag, kslack, c, jv, mu, cinf, constr_tol, stats):
    """Run the restoration phase from ``z``; ``True`` when it reduced the violation to a
    tenth (or below the tolerance), ``False`` when it ended at a stationary point of
    the violation or got stuck (locally infeasible)."""
    stats[S_REST] += 1
    target = max(0.1 * cinf, 0.5 * constr_tol)
    outcome, its, _ = restore(cons, jac, n, z, zl, zu, cl, eq, slack_of, slack_row, p, jrow, jcol,
                              perm, cptr, crow, parent, lptr, pair, kmap_j, kdiag, kslack, c, jv,
                              min(mu, 1e-6), target, 500, stats)
    stats[S_REST_IT] += its
    return outcome == RESTORED


@njit(cache=True)
def _after_restoration(obj, grad, z, zl, zu, p, w, fbuf, g, obj_scale, y, vl, vu):
    """Objective and gradient at the restored point; multipliers reset (``y = 0``,
    bound multipliers 1 as at the start); returns ``(f, nu)``."""
    obj(z.ctypes, p.ctypes, w.ctypes, fbuf.ctypes)
    grad(z.ctypes, p.ctypes, w.ctypes, g.ctypes)
    for i in range(g.shape[0]):
        g[i] *= obj_scale
    y[:] = 0.0
    for i in range(z.shape[0]):
        vl[i] = 1.0 if zl[i] > -1e300 else 0.0
        vu[i] = 1.0 if zu[i] < 1e300 else 0.0
    return fbuf[0] * obj_scale, 1.0


@njit(cache=True)
def ipm(obj, grad, cons, jac, hess, n, x0, xl, xu, cl, cu, p, jrow, jcol, hrow, hcol, hw,
        perm, cptr, crow, parent, lptr, pair, kmap_h, kmap_j, kdiag, kslack, slack_row,
        tol, max_iter, mu0, obj_scale, constr_tol):
    """Solve the NLP; returns ``(status, iters, x, f, y, vl, vu, stats, kkt_error)``.

    Arrays: ``jrow/jcol`` COO of the constraint Jacobian (kernel order), ``hrow/hcol/hw``
    COO of the Lagrangian Hessian's lower triangle and weights; the ``L D L^T`` plan of
    the KKT pattern; ``kmap_h``/``kmap_j``/``kdiag``/``kslack`` positions in the permuted
    KKT values of the Hessian, Jacobian, diagonal and slack entries; ``slack_row[k]``
    the constraint row of slack ``k``.  ``y`` follows ``L = f + y . c``.
    """
    m = cl.shape[0]
    ns = slack_row.shape[0]
    nz = n + ns
    N = nz + m
    stats = np.zeros(N_STATS, np.int64)
    eq = np.zeros(m, np.bool_)
    slack_of = np.full(m, -1, np.int64)
    for k in range(ns):
        slack_of[slack_row[k]] = k
    for j in range(m):
        eq[j] = slack_of[j] < 0
    zl = np.empty(nz)
    zu = np.empty(nz)
    zl[:n] = xl
    zu[:n] = xu
    for k in range(ns):
        zl[n + k] = cl[slack_row[k]]
        zu[n + k] = cu[slack_row[k]]
    z = np.empty(nz)
    for i in range(n):
        z[i] = _push(x0[i], xl[i], xu[i], 1e-2)
    w = np.zeros(m + 1)
    fbuf = np.zeros(1)
    g = np.zeros(n)
    c = np.zeros(max(m, 1))
    jv = np.zeros(max(jrow.shape[0], 1))
    hv = np.zeros(max(hrow.shape[0], 1))
    obj(z.ctypes, p.ctypes, w.ctypes, fbuf.ctypes)
    grad(z.ctypes, p.ctypes, w.ctypes, g.ctypes)
    cons(z.ctypes, p.ctypes, w.ctypes, c.ctypes)
    jac(z.ctypes, p.ctypes, w.ctypes, jv.ctypes)
    stats[S_OBJ] += 1
    stats[S_GRAD] += 1
    stats[S_CONS] += 1
    stats[S_JAC] += 1
    for k in range(ns):
        z[n + k] = _push(c[slack_row[k]], zl[n + k], zu[n + k], 1e-2)
    f = fbuf[0] * obj_scale
    for i in range(n):
        g[i] *= obj_scale
    y = np.zeros(m)
    vl = np.zeros(nz)
    vu = np.zeros(nz)
    for i in range(nz):
        if zl[i] > -1e300:
            vl[i] = 1.0
        if zu[i] < 1e300:
            vu[i] = 1.0
    mu = mu0
    # work arrays
    C = np.zeros(m)
    gl = np.zeros(nz)
    rhs = np.zeros(N)
    bvec = np.zeros(N)
    xbest = np.zeros(N)
    rres = np.zeros(N)
    cval = np.zeros(cptr[N])
    nl = lptr[N]
    lidx = np.zeros(max(nl, 1), np.int64)
    lval = np.zeros(max(nl, 1))
    dd = np.zeros(N)
    ee = np.zeros(N)
    zsave = np.zeros(N)
    rmax = np.zeros(N)
    wy = np.zeros(N)
    flag = np.zeros(N, np.int64)
    pattern = np.zeros(N, np.int64)
    lnz = np.zeros(N, np.int64)
    work = np.zeros(N)
    zt = np.empty(nz)
    zs = np.empty(nz)
    cs = np.zeros(max(m, 1))
    ct = np.zeros(max(m, 1))
    Ct = np.zeros(m)
    dvl = np.zeros(nz)
    dvu = np.zeros(nz)
    dw_last = 0.0
    nu = 1.0
    status = MAX_ITER
    it = 0
    err0 = 0.0
    fails = 0
    tau_min = 0.99
    best_c = math.inf
    stall = 0
    y_stall = 0.0
    best_f = math.inf
    bsoc = np.zeros(N)
    psoc = np.zeros(N)
    dw_off = 0.0
    n_rest = 0
    trace = np.full((max_iter + 1, 7), np.nan)   # f, |C|, dual, mu, dw, alpha, trials
    for it in range(max_iter + 1):
        # ---- optimality measures at the current point
        c1 = _residual_c(n, z, c, cl, eq, slack_of, C)
        gl[:n] = g
        gl[n:] = 0.0
        for k in range(jrow.shape[0]):
            gl[jcol[k]] += jv[k] * y[jrow[k]]
        for k in range(ns):
            gl[n + k] -= y[slack_row[k]]
        finite = np.isfinite(f) and np.isfinite(c1)
        for i in range(n):
            if not np.isfinite(g[i]):
                finite = False
        if not finite:
            status = NONFINITE
            break
        dual = 0.0
        comp0 = 0.0
        compmu = 0.0
        ysum = 0.0
        for j in range(m):
            ysum += abs(y[j])
        for i in range(nz):
            r = gl[i] - vl[i] + vu[i]
            dual = max(dual, abs(r))
            ysum += vl[i] + vu[i]
            if zl[i] > -1e300:
                comp0 = max(comp0, abs((z[i] - zl[i]) * vl[i]))
                compmu = max(compmu, abs((z[i] - zl[i]) * vl[i] - mu))
            if zu[i] < 1e300:
                comp0 = max(comp0, abs((zu[i] - z[i]) * vu[i]))
                compmu = max(compmu, abs((zu[i] - z[i]) * vu[i] - mu))
        sd = max(100.0, ysum / max(m + 2 * nz, 1)) / 100.0
        cinf = 0.0
        for j in range(m):
            cinf = max(cinf, abs(C[j]))
        err0 = max(dual / sd, cinf, comp0 / sd)
        trace[it, 0] = f / obj_scale
        trace[it, 1] = cinf
        trace[it, 2] = dual / sd
        trace[it, 3] = mu
        if err0 <= tol and cinf <= constr_tol:
            status = SUCCESS
            break
        xmax = 0.0
        for i in range(n):
            xmax = max(xmax, abs(z[i]))
        # feasibility up to the rounding error of large iterates
        cround = 1e-12 * xmax
        # (the regularized Newton steps of a linear objective grow only linearly,
        # so the interior-point method stops at -1e15 rather than -1e20)
        if f < -1e15 * obj_scale and cinf <= constr_tol + cround:
            status = UNBOUNDED
            break
        if xmax > 1e20:
            status = UNBOUNDED
            break
        # ---- local infeasibility: the violation stays put while the multipliers grow
        ymax = 0.0
        for j in range(m):
            ymax = max(ymax, abs(y[j]))
        fcur = f / obj_scale
        if (cinf < 0.9999 * best_c or cinf <= max(constr_tol, 1e-6) + cround
                or fcur < best_f - 1e-6 * max(1.0, abs(best_f))):
            best_c = min(best_c, cinf)
            best_f = min(best_f, fcur)
            stall = 0
            y_stall = ymax
        else:
            stall += 1
            if (stall >= 25 and ymax > 10.0 * max(y_stall, 1.0)) or stall >= 100:
                restart = False
                if m > 0 and cinf > constr_tol and n_rest < MAX_RESTORATIONS:
                    n_rest += 1
                    restart = _restoration(cons, jac, n, z, zl, zu, cl, eq, slack_of, slack_row, p, jrow,
                                           jcol, perm, cptr, crow, parent, lptr, pair, kmap_j, kdiag,
                                           kslack, c, jv, mu, cinf, constr_tol, stats)
                if not restart:
                    status = INFEASIBLE
                    break
                f, nu = _after_restoration(obj, grad, z, zl, zu, p, w, fbuf, g, obj_scale, y, vl, vu)
                best_c = math.inf
                best_f = math.inf
                stall = 0
                y_stall = 0.0
                fails = 0
                continue
        if it == max_iter:
            status = MAX_ITER
            break
        # ---- barrier parameter (monotone): decrease while the barrier problem is solved
        errmu = max(dual / sd, cinf, compmu / sd)
        while errmu <= 10.0 * mu and mu > tol / 10.0:
            mu = max(tol / 10.0, min(0.2 * mu, mu ** 1.5))
            compmu = 0.0
            for i in range(nz):
                if zl[i] > -1e300:
                    compmu = max(compmu, abs((z[i] - zl[i]) * vl[i] - mu))
                if zu[i] < 1e300:
                    compmu = max(compmu, abs((zu[i] - z[i]) * vu[i] - mu))
            errmu = max(dual / sd, cinf, compmu / sd)
        tau = max(tau_min, 1.0 - mu)
        # ---- Hessian of the Lagrangian
        w[0] = obj_scale
        w[1:] = y
        hess(z.ctypes, p.ctypes, w.ctypes, hv.ctypes)
        stats[S_HESS] += 1
        # ---- right-hand side of the Newton system
        for i in range(nz):
            r = gl[i]
            if zl[i] > -1e300:
                r -= mu / (z[i] - zl[i])
            if zu[i] < 1e300:
                r += mu / (zu[i] - z[i])
            bvec[i] = -r
        for j in range(m):
            bvec[nz + j] = -C[j]
        # ---- factor the KKT matrix with inertia correction, solve
        dc = 1e-9 * max(1.0, mu) if m > 0 else 0.0
        dw = 0.0
        dw_piv = 0.0
        tries = 0
        ok = False
        while tries < 60:
            cval[:] = 0.0
            for k in range(hrow.shape[0]):
                cval[kmap_h[k]] += hv[k] * hw[k]
            for k in range(jrow.shape[0]):
                cval[kmap_j[k]] += jv[k]
            for k in range(ns):
                cval[kslack[k]] += -1.0
            for i in range(nz):
                sig = dw
                if zl[i] > -1e300:
                    sig += vl[i] / (z[i] - zl[i])
                if zu[i] < 1e300:
                    sig += vu[i] / (zu[i] - z[i])
                cval[kdiag[i]] += sig
            for j in range(m):
                cval[kdiag[nz + j]] -= dc
            st, npos, nneg = ldl_factor(N, cptr, crow, parent, lptr, pair, cval, lidx, lval, dd, ee,
                                        wy, flag, pattern, lnz, zsave, rmax, 1e-14)
            stats[S_FACT] += 1
            tries += 1
            if st == 0 and npos == nz and nneg == m:
                dw_off = dw if (dw_piv > 0.0 and dw == dw_piv) else 0.0
                res = _solve_refined(N, perm, cptr, crow, cval, lptr, lidx, lval, dd, ee, pair, bvec,
                                     rhs, rres, work, 10, nz, dw_off, xbest)
                if dw_off == 0.0 or res <= 1e-8:
                    ok = True
                    break
                # the unshifted matrix is (nearly) singular: regularize for real
                dw_piv = 0.0
                dw = max(1e-4, 10.0 * dw) if dw_last == 0.0 else max(dw_last / 3.0, 1e-20)
                continue
            if st != 0 and dw == 0.0:
                # a zero pivot (W + Sigma singular on a variable the ordering takes
                # early), not wrong inertia: static pivoting, a small primal shift
                # removed again by iterative refinement
                kmax = 0.0
                for q in range(cval.shape[0]):
                    kmax = max(kmax, abs(cval[q]))
                dw = 1e-8 * max(kmax, 1.0)
                dw_piv = dw
            elif dw == 0.0:
                dw = 1e-4 if dw_last == 0.0 else max(1e-20, dw_last / 3.0)
            else:
                dw = dw * (10.0 if st != 0 else (100.0 if dw_last == 0.0 else 8.0))
            if dw > 1e40:
                break
        if not ok:
            status = INFEASIBLE if stall >= 5 else LINEAR_SOLVER
            break
        if dw > 0.0 and dw_off == 0.0:
            dw_last = dw
        trace[it, 4] = dw
        # ---- step lengths to the boundary
        amax = 1.0
        for i in range(nz):
            d = rhs[i]
            if zl[i] > -1e300 and d < 0.0:
                amax = min(amax, -tau * (z[i] - zl[i]) / d)
            if zu[i] < 1e300 and d > 0.0:
                amax = min(amax, tau * (zu[i] - z[i]) / d)
        az = 1.0
        for i in range(nz):
            d = rhs[i]
            if zl[i] > -1e300:
                dvl[i] = mu / (z[i] - zl[i]) - vl[i] - vl[i] / (z[i] - zl[i]) * d
                if dvl[i] < 0.0:
                    az = min(az, -tau * vl[i] / dvl[i])
            else:
                dvl[i] = 0.0
            if zu[i] < 1e300:
                dvu[i] = mu / (zu[i] - z[i]) - vu[i] + vu[i] / (zu[i] - z[i]) * d
                if dvu[i] < 0.0:
                    az = min(az, -tau * vu[i] / dvu[i])
            else:
                dvu[i] = 0.0
        # ---- merit function and its directional derivative
        dphi = 0.0
        for i in range(nz):
            gphi = (g[i] if i < n else 0.0)
            if zl[i] > -1e300:
                gphi -= mu / (z[i] - zl[i])
            if zu[i] < 1e300:
                gphi += mu / (zu[i] - z[i])
            dphi += gphi * rhs[i]
        if c1 > 0.0:
            # quadratic term d^T (W + Sigma) d
            quad = 0.0
            for k in range(hrow.shape[0]):
                r = hrow[k]
                cc = hcol[k]
                h = hv[k] * hw[k]
                quad += h * rhs[r] * rhs[cc] * (1.0 if r == cc else 2.0)
            for i in range(nz):
                sig = dw
                if zl[i] > -1e300:
                    sig += vl[i] / (z[i] - zl[i])
                if zu[i] < 1e300:
                    sig += vu[i] / (zu[i] - z[i])
                quad += sig * rhs[i] * rhs[i]
            nu_t = (dphi + 0.5 * max(quad, 0.0)) / (0.9 * c1)
            # the penalty follows the multipliers (it may decrease again: a penalty
            # inflated by a far-away start otherwise stalls the steps near feasibility)
            ynew = 0.0
            for j in range(m):
                ynew = max(ynew, abs(y[j] + rhs[nz + j]))
            nu_min = max(nu_t, 1.1 * ynew + 1e-6)
            if nu < nu_min:
                nu = 1.1 * nu_min
            elif nu > 10.0 * nu_min:
                nu = 2.0 * nu_min
        phi0 = f + _barrier(z, zl, zu, mu) + nu * c1
        D = dphi - nu * c1
        alpha = amax
        ntrial = 0
        accepted = False
        small = True
        for i in range(nz):
            if abs(rhs[i]) > 1e-15 * (1.0 + abs(z[i])):
                small = False
        if small:
            accepted = True
            alpha = amax
            for i in range(nz):
                zt[i] = z[i] + alpha * rhs[i]
            obj(zt.ctypes, p.ctypes, w.ctypes, fbuf.ctypes)
            cons(zt.ctypes, p.ctypes, w.ctypes, ct.ctypes)
            stats[S_OBJ] += 1
            stats[S_CONS] += 1
        while not accepted:
            for i in range(nz):
                zt[i] = z[i] + alpha * rhs[i]
            obj(zt.ctypes, p.ctypes, w.ctypes, fbuf.ctypes)
            cons(zt.ctypes, p.ctypes, w.ctypes, ct.ctypes)
            stats[S_OBJ] += 1
            stats[S_CONS] += 1
            ntrial += 1
            ft = fbuf[0] * obj_scale
            c1t = _residual_c(n, zt, ct, cl, eq, slack_of, Ct)
            phit = ft + _barrier(zt, zl, zu, mu) + nu * c1t
            if np.isfinite(phit) and phit <= phi0 + 1e-4 * alpha * min(D, 0.0) + 1e-14 * abs(phi0):
                accepted = True
                break
            if ntrial == 1 and m > 0 and c1t > 0.0 and np.isfinite(c1t):
                # second-order correction (against the Maratos effect): the full step
                # plus a least-change step back to the constraints' linearization
                bsoc[:] = 0.0
                for j in range(m):
                    bsoc[nz + j] = -Ct[j]
                _solve_refined(N, perm, cptr, crow, cval, lptr, lidx, lval, dd, ee, pair, bsoc, psoc,
                               rres, work, 3, nz, dw_off, xbest)
                inside = True
                for i in range(nz):
                    v = zt[i] + psoc[i]
                    if zl[i] > -1e300 and v - zl[i] < (1.0 - tau) * (z[i] - zl[i]):
                        inside = False
                    if zu[i] < 1e300 and zu[i] - v < (1.0 - tau) * (zu[i] - z[i]):
                        inside = False
                if inside:
                    for i in range(nz):
                        zs[i] = zt[i] + psoc[i]
                    obj(zs.ctypes, p.ctypes, w.ctypes, fbuf.ctypes)
                    cons(zs.ctypes, p.ctypes, w.ctypes, cs.ctypes)
                    stats[S_OBJ] += 1
                    stats[S_CONS] += 1
                    fs_ = fbuf[0] * obj_scale
                    c1s = _residual_c(n, zs, cs, cl, eq, slack_of, Ct)
                    phis = fs_ + _barrier(zs, zl, zu, mu) + nu * c1s
                    if np.isfinite(phis) and phis <= phi0 + 1e-4 * alpha * min(D, 0.0) + 1e-14 * abs(phi0):
                        zt[:] = zs
                        ct[:] = cs
                        accepted = True
                        break
            alpha *= 0.5
            if alpha < 1e-14:
                break
        trace[it, 5] = alpha
        trace[it, 6] = ntrial
        # no progress (the line search failed, or only a vanishing step was accepted)
        # while infeasible: restoration phase
        if ((not accepted or (alpha < 1e-9 and not small)) and m > 0 and cinf > constr_tol
                and n_rest < MAX_RESTORATIONS):
            n_rest += 1
            if not _restoration(cons, jac, n, z, zl, zu, cl, eq, slack_of, slack_row, p, jrow, jcol, perm,
                                cptr, crow, parent, lptr, pair, kmap_j, kdiag, kslack, c, jv, mu, cinf,
                                constr_tol, stats):
                status = INFEASIBLE
                break
            f, nu = _after_restoration(obj, grad, z, zl, zu, p, w, fbuf, g, obj_scale, y, vl, vu)
            best_c = math.inf
            best_f = math.inf
            stall = 0
            y_stall = 0.0
            fails = 0
            continue
        if not accepted:
            fails += 1
            if fails >= 3:
                status = INFEASIBLE if cinf > constr_tol else SMALL_STEP
                break
            # take a short step anyway (watchdog): the next iterate re-linearizes
            alpha = min(amax, 1e-4)
            for i in range(nz):
                zt[i] = z[i] + alpha * rhs[i]
            obj(zt.ctypes, p.ctypes, w.ctypes, fbuf.ctypes)
            cons(zt.ctypes, p.ctypes, w.ctypes, ct.ctypes)
        else:
            fails = 0
        if nu > 1e20:
            status = INFEASIBLE
            break
        # ---- accept
        z[:] = zt
        f = fbuf[0] * obj_scale
        c[:m] = ct[:m]
        for j in range(m):
            y[j] += alpha * rhs[nz + j]
        for i in range(nz):
            vl[i] += az * dvl[i]
            vu[i] += az * dvu[i]
            # keep the bound multipliers near the central path (IPOPT's kappa_Sigma rule)
            if zl[i] > -1e300:
                s = z[i] - zl[i]
                vl[i] = max(min(vl[i], 1e10 * mu / s), mu / (1e10 * s))
            if zu[i] < 1e300:
                s = zu[i] - z[i]
                vu[i] = max(min(vu[i], 1e10 * mu / s), mu / (1e10 * s))
        grad(z.ctypes, p.ctypes, w.ctypes, g.ctypes)
        jac(z.ctypes, p.ctypes, w.ctypes, jv.ctypes)
        stats[S_GRAD] += 1
        stats[S_JAC] += 1
        for i in range(n):
            g[i] *= obj_scale
    x = z[:n].copy()
    for j in range(m):
        y[j] /= obj_scale
    return (status, it, x, f / obj_scale, y, vl[:n] / obj_scale, vu[:n] / obj_scale, stats, err0,
            trace[:it + 1])
