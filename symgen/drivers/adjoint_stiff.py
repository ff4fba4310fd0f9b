"""Backward Radau IIA drivers of the continuous adjoint for stiff models (see
:mod:`symgen.drivers.adjoint` for the equations and the explicit driver).

* :func:`adjoint_implicit` -- small models: the adjoint equation is linear in ``lam``, so
  a Radau IIA (order 5) step is one linear solve with the coupled stage matrix
  ``I - h A (x) M_j`` (``M_j = -J(t_j)^T`` from the generated sparse Jacobian values
  scattered densely; one ``3n x 3n`` dense LU, exact).
* :func:`adjoint_implicit_transformed` -- large models: the same step, its stage
  equations solved by simplified Newton iteration with ``M = -J(t_n)^T`` in the
  eigenbasis of ``A^-1`` (one real and one complex ``n x n`` LU per step, dense or the
  static-pattern sparse LU of :mod:`symgen.drivers.sparse_lu` on the pattern of
  ``J^T``); stage residuals through the ``vjp`` kernel.

Both control the step with RADAU5's embedded order-3 estimate filtered through
``gamma/h I - M`` (tolerances converted like RADAU5's), plus an embedded order-3
quadrature estimate for the integral term ``q`` (and for ``mu`` on request).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .adjoint import dense_state
from .common import ST_NFEV, ST_NJEV, ST_NLU, ST_REJECTED, ST_STEPS, SUCCESS
from .radau5 import lu_factor, lu_solve
from .sens_common import (_RA, _RALPHA, _RBETA, _RC, _RD, _RDD, _RG0, _RGAMMA, NEWTON_MAX, NEWTON_TOL, add_jump,
                          coupled_stage_matrix, coupled_stage_rhs, first_step, jac_dense, lu_failure,
                          newton_verdict, radau_tolerances, scaled_ssq, segment_target, shifted_matrix,
                          step_control, step_start, transformed_factor, transformed_residual, transformed_solve,
                          transformed_solve_real, transformed_update)

__all__ = ["adjoint_implicit", "adjoint_implicit_transformed", "NEWTON_MAX", "NEWTON_TOL", "JAC_REUSE_THETA"]

#: the transformed driver keeps its Jacobian while the simplified Newton iteration
#: contracts at least this fast (RADAU5's default ``thet``)
JAC_REUSE_THETA = 1e-3


@njit(cache=True)
def adjoint_implicit(jacv, indptr, indices, pvjp, quad, has_quad, ts, cf, kind, t_hi, t_lo, stops, jumps, z,
                     p, n, m, rtol, atol, qatol, h0, max_steps, stats):
    """As :func:`adjoint_explicit`, with Radau IIA order 5 on the linear adjoint equation
    (stiff models); ``atol`` has one entry per component of ``lam``, ``qatol`` one per
    quadrature (``mu``, then ``q``; infinite: not error-controlled)."""
    t = t_hi
    h = h0
    for s in range(stops.shape[0] + 1):
        target = segment_target(stops, s, t_lo)
        if target < t:
            status, t, h = _implicit_segment(jacv, indptr, indices, pvjp, quad, has_quad, ts, cf, kind, t, target,
                                             z, p, n, m, rtol, atol, qatol, h, max_steps, stats)
            if status != SUCCESS:
                return status, t, h
        add_jump(z, stops, jumps, s, n + m)
    return SUCCESS, t, h


@njit(cache=True)
def _quadrature_step(pvjp, quad, has_quad, t, hs, xs, x0, Lam, lam0, p, n, m, qatol, rt, rtol, z, G, G0, gp, qb,
                     nodata, inc):
    """Radau quadrature of ``(mu, q)`` over one step: increments into ``inc`` (``m + 1``);
    returns the sum of squared scaled errors of the controlled components (``qatol``
    finite, converted like the state tolerances) and their number.  ``lam0`` receives
    ``lam`` at the step start (``z[:n]``)."""
    for i in range(n):
        lam0[i] = z[i]
    for j in range(3):
        tj = t + _RC[j] * hs
        pvjp(tj, xs[j].ctypes, p.ctypes, Lam[j].ctypes, gp.ctypes)
        if has_quad:
            quad(tj, xs[j].ctypes, p.ctypes, nodata.ctypes, qb.ctypes)
        for k in range(m):
            G[j, k] = gp[k] + (qb[1 + n + k] if has_quad else 0.0)
        G[j, m] = qb[0] if has_quad else 0.0
    need_mu = False
    for k in range(m):
        if np.isfinite(qatol[k]):
            need_mu = True
    if need_mu:
        pvjp(t, x0.ctypes, p.ctypes, lam0.ctypes, gp.ctypes)
    if has_quad:
        quad(t, x0.ctypes, p.ctypes, nodata.ctypes, qb.ctypes)
    for k in range(m):
        G0[k] = (gp[k] if need_mu else 0.0) + (qb[1 + n + k] if has_quad else 0.0)
    G0[m] = qb[0] if has_quad else 0.0
    ssq = 0.0
    cnt = 0
    for k in range(m + 1):
        acc = 0.0
        est = _RG0 * G0[k]
        for j in range(3):
            acc += _RA[2, j] * G[j, k]
            est += _RD[j] * G[j, k]
        inc[k] = -hs * acc
        if np.isfinite(qatol[k]):
            sk = qatol[k] * rt / rtol + rt * max(abs(z[n + k]), abs(z[n + k] + inc[k]))
            r = hs * est / sk if sk > 0.0 else (0.0 if est == 0.0 else np.inf)
            ssq += r * r
            cnt += 1
    return ssq, cnt


@njit(cache=True)
def _implicit_segment(jacv, indptr, indices, pvjp, quad, has_quad, ts, cf, kind, t_hi, t_lo, z, p, n, m,
                      rtol, atol, qatol, h0, max_steps, stats):
    """Integrate ``z`` (length ``n + m + 1``, in place) from ``t_hi`` down to ``t_lo`` with
    Radau IIA order 5 on the linear adjoint equation (stiff models).

    ``rtol`` and ``atol`` (per component of ``lam``) are converted like RADAU5's.
    Returns ``(status, t reached, last step size)``."""
    t = t_hi
    span = t_hi - t_lo
    if span <= 0.0:
        return SUCCESS, t, h0
    rt, at = radau_tolerances(rtol, atol, n)
    nn = 3 * n
    big = np.empty((nn, nn))
    piv = np.empty(nn, dtype=np.int64)
    Ms = np.empty((3, n, n))
    M0 = np.empty((n, n))
    E = np.empty((n, n))
    pive = np.empty(n, dtype=np.int64)
    R = np.empty((3, max(n, 1)))
    Hs = np.empty((3, 1 + n + m))
    xs = np.empty((3, n))
    rhs = np.empty(nn)
    vals = np.empty(max(indices.shape[0], 1))
    x = np.empty(n)
    lam = np.empty(max(n, 1))
    gp = np.empty(max(m, 1))
    qb = np.empty(1 + n + m)
    f0 = np.empty(n)
    errv = np.empty(n)
    nodata = np.zeros(1)
    Lam = np.empty((3, max(n, 1)))
    Gq = np.empty((3, m + 1))
    G0 = np.empty(m + 1)
    inc = np.empty(m + 1)
    h = first_step(h0, span)
    reject = False
    steps = 0
    while t > t_lo:
        status, h, last = step_start(steps, max_steps, t, h, t - t_lo)
        if status != SUCCESS:
            return status, t, h
        hs = -h
        steps += 1
        stats[ST_STEPS] += 1
        # stage matrices and forcing at t + c_j hs
        for j in range(3):
            tj = t + _RC[j] * hs
            dense_state(ts, cf, kind, tj, x)
            for i in range(n):
                xs[j, i] = x[i]
            jac_dense(jacv, indptr, indices, tj, x, p, vals, -1.0, True, Ms[j])  # M = -J^T
            if has_quad:
                quad(tj, x.ctypes, p.ctypes, nodata.ctypes, qb.ctypes)
                for i in range(1 + n + m):
                    Hs[j, i] = qb[i]
                for i in range(n):
                    R[j, i] = -qb[1 + i]
            else:
                for i in range(1 + n + m):
                    Hs[j, i] = 0.0
                for i in range(n):
                    R[j, i] = 0.0
        stats[ST_NJEV] += 3
        # (I - hs A (x) M) Lam = 1 (x) lam_n + hs (A (x) I) R
        coupled_stage_matrix(hs, Ms, n, big)
        coupled_stage_rhs(hs, z, R, n, rhs)
        info = lu_factor(big, piv)
        stats[ST_NLU] += 1
        if info != 0:
            status, h = lu_failure(info, t, h)
            reject = True
            if status != SUCCESS:
                return status, t, h
            continue
        lu_solve(big, piv, rhs)
        # error estimate: (gamma/hs I - M(t))^-1 (f(t, lam_n) + sum dd_j Z_j / hs)
        dense_state(ts, cf, kind, t, x)
        jac_dense(jacv, indptr, indices, t, x, p, vals, -1.0, True, M0)
        stats[ST_NJEV] += 1
        r0 = np.zeros(n)
        if has_quad:
            quad(t, x.ctypes, p.ctypes, nodata.ctypes, qb.ctypes)
            for i in range(n):
                r0[i] = -qb[1 + i]
        for i in range(n):
            acc = r0[i]
            for k in range(n):
                acc += M0[i, k] * z[k]
            f0[i] = acc
        shifted_matrix(_RGAMMA / hs, M0, E)
        for i in range(n):
            dz = 0.0
            for j in range(3):
                dz += _RDD[j] * (rhs[j * n + i] - z[i])
            errv[i] = f0[i] + dz / hs
        infoe = lu_factor(E, pive)
        if infoe != 0:
            h *= 0.5
            reject = True
            continue
        lu_solve(E, pive, errv)
        err = scaled_ssq(errv, z, rhs[2 * n:], at, rt, 0.0)
        for j in range(3):
            for i in range(n):
                Lam[j, i] = rhs[j * n + i]
        qssq, qcnt = _quadrature_step(pvjp, quad, has_quad, t, hs, xs, x, Lam, lam, p, n, m, qatol, rt, rtol, z,
                                      Gq, G0, gp, qb, nodata, inc)
        err = max(np.sqrt((err + qssq) / (n + qcnt)) if n + qcnt > 0 else 0.0, 1e-10)
        if not np.isfinite(err):
            h *= 0.1
            reject = True
            continue
        accepted, h_new = step_control(h, err, reject, 0.25, 5.0, stats)
        if accepted:
            for k in range(m + 1):
                z[n + k] += inc[k]
            for i in range(n):
                z[i] = rhs[2 * n + i]
            t = t_lo if last else t + hs
        h = h_new
        reject = not accepted
    return SUCCESS, t, h


# ---------------------------------------------------------------------------------------
# Large stiff models: simplified Newton on the transformed stage equations
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _adjoint_stage(vjp, quad, has_quad, t, x, p, lam, out, qb, nodata, n):
    """``out = -(J^T lam + h_x)`` at ``(t, x)``."""
    vjp(t, x.ctypes, p.ctypes, lam.ctypes, out.ctypes)
    if has_quad:
        quad(t, x.ctypes, p.ctypes, nodata.ctypes, qb.ctypes)
        for i in range(n):
            out[i] = -(out[i] + qb[1 + i])
    else:
        for i in range(n):
            out[i] = -out[i]


@njit(cache=True)
def adjoint_implicit_transformed(jacv, jptr, jidx, vjp, pvjp, quad, has_quad, sparse, tmap, splan, ts, cf, kind, t_hi,
                                 t_lo, stops, jumps, z, p, n, m, rtol, atol, qatol, h0, max_steps, stats):
    """As :func:`adjoint_implicit`, for large stiff models: the Radau IIA stage equations
    of the linear adjoint are solved by simplified Newton iteration with ``M = -J(t_n)^T``
    in the eigenbasis of ``A^-1`` (one real and one complex ``n x n`` LU per step, dense,
    or with ``sparse`` the static-pattern sparse LU of :mod:`symgen.drivers.sparse_lu` on
    the pattern of ``J^T``; ``tmap[k]`` is the CSR index in ``J`` of the ``k``-th entry of
    ``J^T``, ``splan = (perm, indptr, indices, diag, amap)`` planned for that pattern).
    Stage residuals use the ``vjp`` kernel (no matrix per stage)."""
    t = t_hi
    h = h0
    for s in range(stops.shape[0] + 1):
        target = segment_target(stops, s, t_lo)
        if target < t:
            status, t, h = _transformed_segment(jacv, jptr, jidx, vjp, pvjp, quad, has_quad, sparse, tmap, splan, ts, cf,
                                                kind, t, target, z, p, n, m, rtol, atol, qatol, h, max_steps, stats)
            if status != SUCCESS:
                return status, t, h
        add_jump(z, stops, jumps, s, n + m)
    return SUCCESS, t, h


@njit(cache=True)
def _transformed_segment(jacv, jptr, jidx, vjp, pvjp, quad, has_quad, sparse, tmap, splan, ts, cf, kind, t_hi, t_lo, z, p,
                         n, m, rtol, atol, qatol, h0, max_steps, stats):
    sidx = splan[2]
    t = t_hi
    span = t_hi - t_lo
    if span <= 0.0:
        return SUCCESS, t, h0
    rt, at = radau_tolerances(rtol, atol, n)
    nnz = max(jidx.shape[0], 1)
    vals = np.empty(nnz)
    jvt = np.empty(nnz)
    E1 = np.empty((n if not sparse else 0, n if not sparse else 0))
    E2 = np.empty((n if not sparse else 0, n if not sparse else 0), dtype=np.complex128)
    piv1 = np.empty(n, dtype=np.int64)
    piv2 = np.empty(n, dtype=np.int64)
    luv1 = np.empty(sidx.shape[0] if sparse else 0)
    luv2 = np.empty(sidx.shape[0] if sparse else 0, dtype=np.complex128)
    luw1 = np.empty(n)
    luw2 = np.empty(n, dtype=np.complex128)
    Z = np.zeros((3, n))
    W = np.zeros((3, n))
    F = np.empty((3, n))
    xs = np.empty((3, n))
    rre = np.empty(n)
    rc = np.empty(n, dtype=np.complex128)
    x = np.empty(n)
    lam = np.empty(max(n, 1))
    out = np.empty(max(n, 1))
    f0 = np.empty(n)
    gp = np.empty(max(m, 1))
    qb = np.zeros(1 + n + m)
    nodata = np.zeros(1)
    scal = np.empty(n)
    Lam = np.empty((3, max(n, 1)))
    Gq = np.empty((3, m + 1))
    G0 = np.empty(m + 1)
    inc = np.empty(m + 1)
    lu = (E1, piv1, E2, piv2, luv1, luw1, luv2, luw2)
    h = first_step(h0, span)
    reject = False
    steps = 0
    # as RADAU5: the Jacobian is re-evaluated only when the last Newton iteration
    # contracted slowly (theta > JAC_REUSE_THETA) or failed, and the factorization is kept
    # while the proposed step stays within [1, 1.2] of the factored one (h then kept)
    need_jac = True
    need_lu = True
    h_lu = 0.0
    fac1 = alphn = betan = 0.0
    while t > t_lo:
        status, h, last = step_start(steps, max_steps, t, h, t - t_lo)
        if status != SUCCESS:
            return status, t, h
        hs = -h
        steps += 1
        stats[ST_STEPS] += 1
        if h != h_lu:
            need_lu = True
        if need_lu:
            if need_jac:
                # M = -J(t)^T; E1 = gamma/hs I - M, E2 = (alpha + i beta)/hs I - M
                dense_state(ts, cf, kind, t, x)
                jacv(t, x.ctypes, p.ctypes, vals.ctypes)
                stats[ST_NJEV] += 1
                if sparse:
                    for k in range(tmap.shape[0]):
                        jvt[k] = -vals[tmap[k]]   # A = -J^T; the factor is  s I - A
                need_jac = False
            fac1 = _RGAMMA / hs
            alphn = _RALPHA / hs
            betan = _RBETA / hs
            ier = transformed_factor(sparse, splan, lu, jvt if sparse else vals, jptr, jidx, 1.0, True, fac1, alphn,
                                     betan)
            stats[ST_NLU] += 2
            if ier != 0:
                status, h = lu_failure(ier, t, h)
                reject = True
                need_jac = True
                if status != SUCCESS:
                    return status, t, h
                continue
            need_lu = False
            h_lu = h
        for j in range(3):
            dense_state(ts, cf, kind, t + _RC[j] * hs, x)
            for i in range(n):
                xs[j, i] = x[i]
        for i in range(n):
            scal[i] = at[i] + rt * abs(z[i])
            for j in range(3):
                Z[j, i] = 0.0
                W[j, i] = 0.0
        # ---- simplified Newton iteration (linear problem: converges at the rate theta)
        ok = False
        dynold = 0.0
        theta = 0.0
        for it in range(NEWTON_MAX):
            for j in range(3):
                for i in range(n):
                    lam[i] = z[i] + Z[j, i]
                _adjoint_stage(vjp, quad, has_quad, t + _RC[j] * hs, xs[j], p, lam, out, qb, nodata, n)
                for i in range(n):
                    F[j, i] = out[i]
            stats[ST_NFEV] += 3
            transformed_residual(F, W, fac1, alphn, betan, rre, rc)
            transformed_solve(sparse, splan, lu, rre, rc)
            acc = transformed_update(W, Z, rre, rc, scal, 0.0)
            dyno = np.sqrt(acc / (3 * n)) if n > 0 else 0.0
            if it >= 1 and dynold > 0.0:
                theta = max(theta, dyno / dynold)
            verdict = newton_verdict(it, dyno, dynold)  # -1: diverging or too slow: smaller step
            if verdict != 0:
                ok = verdict > 0
                break
            dynold = dyno
        if not ok:
            stats[ST_REJECTED] += 1
            h *= 0.5
            reject = True
            need_jac = True
            continue
        # ---- error estimate (gamma/hs I - M)^-1 (f(t, lam_n) + sum dd_j Z_j / hs)
        dense_state(ts, cf, kind, t, x)
        for i in range(n):
            lam[i] = z[i]
        _adjoint_stage(vjp, quad, has_quad, t, x, p, lam, f0, qb, nodata, n)
        for i in range(n):
            rre[i] = f0[i] + (_RDD[0] * Z[0, i] + _RDD[1] * Z[1, i] + _RDD[2] * Z[2, i]) / hs
        transformed_solve_real(sparse, splan, lu, rre)
        for j in range(3):
            for i in range(n):
                Lam[j, i] = z[i] + Z[j, i]
        err = scaled_ssq(rre, z, Lam[2], at, rt, 0.0)
        qssq, qcnt = _quadrature_step(pvjp, quad, has_quad, t, hs, xs, x, Lam, lam, p, n, m, qatol, rt, rtol, z,
                                      Gq, G0, gp, qb, nodata, inc)
        err = max(np.sqrt((err + qssq) / (n + qcnt)) if n + qcnt > 0 else 0.0, 1e-10)
        if not np.isfinite(err):
            h *= 0.1
            reject = True
            continue
        accepted, h_new = step_control(h, err, reject, 0.25, 5.0, stats)
        if accepted:
            for k in range(m + 1):
                z[n + k] += inc[k]
            for i in range(n):
                z[i] += Z[2, i]
            t = t_lo if last else t + hs
            if theta > JAC_REUSE_THETA:
                need_jac = True
            elif 1.0 <= h_new / h <= 1.2:
                h_new = h
        h = h_new
        reject = not accepted
    return SUCCESS, t, h
