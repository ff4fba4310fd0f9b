"""Compiled drivers of the forward sensitivity equations (see :mod:`symgen.sensitivity.forward`).

For ``k`` chosen directions the sensitivities ``S_c = dx/dq_c`` (``q_c`` a parameter or
an initial value) solve the linear equations ::

    S_c' = J(t) S_c + F_p(t)[:, col_c]      (no forcing term for an initial value)

with ``J = df/dy`` and ``F_p = df/dp`` along the state solution ``x(t)``, read from the
dense output of the ordinary forward solve (``kind`` as in :mod:`symgen.drivers.adjoint`).
The state is solved first and the sensitivities after it, each with its own error
control (a staggered scheme: the state never waits for the sensitivities, and adding
directions never changes the state's steps).

* :func:`sens_explicit`: Dormand-Prince 5(4) on all columns; ``J S_c`` from the
  generated ``jvp`` kernel (no matrix is formed), ``F_p`` from the ``pjac`` kernel.
* :func:`sens_implicit`: Radau IIA (order 5) for small stiff models; one ``3n x 3n``
  dense LU per step is shared by all ``k`` columns (the equations differ only in their
  forcing).
* :func:`sens_implicit_transformed`: the same steps for large stiff models, by
  simplified Newton iteration on the transformed stage equations (one real and one
  complex ``n x n`` LU per step, dense or sparse, shared by all columns).

``S`` is ``float64[k, n]`` (one row per direction), updated in place; ``scale[c]``
multiplies the forcing of direction ``c`` (the caller integrates ``scale_c dx/dq_c``,
which has the units of ``x``, so the state's absolute tolerances fit it).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .adjoint import _DP_C, dense_state, dopri_error, dopri_stage
from .common import ST_ACCEPTED, ST_NFEV, ST_NJEV, ST_NLU, ST_REJECTED, ST_STEPS, SUCCESS
from .sens_common import (_RA, _RALPHA, _RBETA, _RC, _RDD, _RGAMMA, _RT, _RTI, NEWTON_MAX, NEWTON_TOL,
                          NONFINITE, first_step, lu_failure, radau_tolerances, step_control, step_start,
                          too_small)
from .radau5 import lu_factor, lu_solve
from .sparse_lu import sparse_lu_factor, sparse_lu_solve

__all__ = ["sens_explicit", "sens_implicit", "sens_implicit_transformed"]


@njit(cache=True)
def _forcing(pjac, t, x, p, cols, scale, n, m, fp, F):
    """``F[c] = scale[c] F_p[:, cols[c]]`` (zero for ``cols[c] < 0``: an initial value)."""
    if m > 0:
        pjac(t, x.ctypes, p.ctypes, fp.ctypes)
    for c in range(cols.shape[0]):
        j = cols[c]
        for i in range(n):
            F[c, i] = scale[c] * fp[i * m + j] if j >= 0 else 0.0


@njit(cache=True)
def _sens_rhs(jvp, pjac, ts, cf, kind, t, S, p, cols, scale, n, m, x, fp, F, col, out, dS):
    dense_state(ts, cf, kind, t, x)
    _forcing(pjac, t, x, p, cols, scale, n, m, fp, F)
    for c in range(S.shape[0]):
        for i in range(n):
            col[i] = S[c, i]
        jvp(t, x.ctypes, p.ctypes, col.ctypes, out.ctypes)
        for i in range(n):
            dS[c, i] = out[i] + F[c, i]


@njit(cache=True)
def sens_explicit(jvp, pjac, ts, cf, kind, t_lo, t_hi, S, p, cols, scale, n, m, rtol, atol, h0, max_steps, stats):
    """Integrate ``S`` from ``t_lo`` to ``t_hi`` (> ``t_lo``) with Dormand-Prince 5(4).
    Returns ``(status, t reached, last step size)``."""
    k = S.shape[0]
    Kst = np.empty((7, k, n))
    Zs = np.empty((k, n))
    x = np.empty(n)
    fp = np.empty(max(n * m, 1))
    F = np.empty((k, n))
    col = np.empty(max(n, 1))
    out = np.empty(max(n, 1))
    t = t_lo
    span = t_hi - t_lo
    if span <= 0.0 or k == 0:
        return SUCCESS, t_hi, h0
    h = first_step(h0, span)
    _sens_rhs(jvp, pjac, ts, cf, kind, t, S, p, cols, scale, n, m, x, fp, F, col, out, Kst[0])
    stats[ST_NFEV] += 1
    reject = False
    steps = 0
    N = k * n
    while t < t_hi:
        status, h, last = step_start(steps, max_steps, t, h, t_hi - t)
        if status != SUCCESS:
            return status, t, h
        for s in range(1, 7):
            for c in range(k):
                dopri_stage(h, s, Kst[:, c], S[c], Zs[c])
            _sens_rhs(jvp, pjac, ts, cf, kind, t + _DP_C[s] * h, Zs, p, cols, scale, n, m, x, fp, F, col, out, Kst[s])
        stats[ST_NFEV] += 6
        steps += 1
        stats[ST_STEPS] += 1
        err = 0.0
        finite = True
        for c in range(k):
            err, finite = dopri_error(h, Kst[:, c], S[c], Zs[c], atol, rtol, err, finite)
        err = np.sqrt(err / N) if N > 0 else 0.0
        if not finite or not np.isfinite(err):
            h *= 0.1
            reject = True
            if too_small(t, h):
                return NONFINITE, t, h
            continue
        accepted, h_new = step_control(h, err, reject, 0.2, 10.0)
        if accepted:
            t = t_hi if last else t + h
            for c in range(k):
                for i in range(n):
                    S[c, i] = Zs[c, i]
                    Kst[0, c, i] = Kst[6, c, i]
            stats[ST_ACCEPTED] += 1
        else:
            stats[ST_REJECTED] += 1
        h = h_new
        reject = not accepted
    return SUCCESS, t, h


@njit(cache=True)
def _jac_dense(jacv, indptr, indices, t, x, p, vals, M):
    jacv(t, x.ctypes, p.ctypes, vals.ctypes)
    n = x.shape[0]
    M[:, :] = 0.0
    for i in range(n):
        for q in range(indptr[i], indptr[i + 1]):
            M[i, indices[q]] = vals[q]


@njit(cache=True)
def sens_implicit(jacv, indptr, indices, pjac, ts, cf, kind, t_lo, t_hi, S, p, cols, scale, n, m, rtol, atol,
                  h0, max_steps, stats):
    """Integrate ``S`` from ``t_lo`` to ``t_hi`` with Radau IIA order 5 (stiff models);
    ``rtol``/``atol`` converted like RADAU5's.  Returns ``(status, t reached, last h)``."""
    k = S.shape[0]
    t = t_lo
    span = t_hi - t_lo
    if span <= 0.0 or k == 0:
        return SUCCESS, t_hi, h0
    rt, at = radau_tolerances(rtol, atol, n)
    nn = 3 * n
    big = np.empty((nn, nn))
    piv = np.empty(nn, dtype=np.int64)
    Ms = np.empty((3, n, n))
    E = np.empty((n, n))
    J0 = np.empty((n, n))
    pive = np.empty(n, dtype=np.int64)
    Fs = np.empty((3, k, n))
    F0 = np.empty((k, n))
    rhs = np.empty((k, nn))
    vals = np.empty(max(indices.shape[0], 1))
    x = np.empty(n)
    fp = np.empty(max(n * m, 1))
    errv = np.empty(n)
    h = first_step(h0, span)
    reject = False
    steps = 0
    N = k * n
    while t < t_hi:
        status, h, last = step_start(steps, max_steps, t, h, t_hi - t)
        if status != SUCCESS:
            return status, t, h
        steps += 1
        stats[ST_STEPS] += 1
        for j in range(3):
            tj = t + _RC[j] * h
            dense_state(ts, cf, kind, tj, x)
            _jac_dense(jacv, indptr, indices, tj, x, p, vals, Ms[j])
            _forcing(pjac, tj, x, p, cols, scale, n, m, fp, Fs[j])
        stats[ST_NJEV] += 3
        for bi in range(3):
            for bj in range(3):
                a = h * _RA[bi, bj]
                for i in range(n):
                    for q in range(n):
                        big[bi * n + i, bj * n + q] = -a * Ms[bj, i, q]
                    if bi == bj:
                        big[bi * n + i, bj * n + i] += 1.0
            for c in range(k):
                for i in range(n):
                    acc = S[c, i]
                    for bj in range(3):
                        acc += h * _RA[bi, bj] * Fs[bj, c, i]
                    rhs[c, bi * n + i] = acc
        info = lu_factor(big, piv)
        stats[ST_NLU] += 1
        if info != 0:
            status, h = lu_failure(info, t, h)
            reject = True
            if status != SUCCESS:
                return status, t, h
            continue
        for c in range(k):
            lu_solve(big, piv, rhs[c])
        # error estimate per column: (gamma/h I - J(t))^-1 (f(t, S) + sum dd_j Z_j / h)
        dense_state(ts, cf, kind, t, x)
        _jac_dense(jacv, indptr, indices, t, x, p, vals, J0)
        _forcing(pjac, t, x, p, cols, scale, n, m, fp, F0)
        stats[ST_NJEV] += 1
        g = _RGAMMA / h
        for i in range(n):
            for q in range(n):
                E[i, q] = -J0[i, q]
            E[i, i] += g
        if lu_factor(E, pive) != 0:
            h *= 0.5
            reject = True
            continue
        err = 0.0
        for c in range(k):
            for i in range(n):
                acc = F0[c, i]
                for q in range(n):
                    acc += J0[i, q] * S[c, q]
                dz = 0.0
                for j in range(3):
                    dz += _RDD[j] * (rhs[c, j * n + i] - S[c, i])
                errv[i] = acc + dz / h
            lu_solve(E, pive, errv)
            for i in range(n):
                sk = at[i] + rt * max(abs(S[c, i]), abs(rhs[c, 2 * n + i]))
                r = errv[i] / sk if sk > 0.0 else (0.0 if errv[i] == 0.0 else np.inf)
                err += r * r
        err = max(np.sqrt(err / N), 1e-10)
        if not np.isfinite(err):
            h *= 0.1
            reject = True
            continue
        accepted, h_new = step_control(h, err, reject, 0.25, 5.0)
        if accepted:
            for c in range(k):
                for i in range(n):
                    S[c, i] = rhs[c, 2 * n + i]
            t = t_hi if last else t + h
            stats[ST_ACCEPTED] += 1
        else:
            stats[ST_REJECTED] += 1
        h = h_new
        reject = not accepted
    return SUCCESS, t, h


@njit(cache=True)
def sens_implicit_transformed(jacv, jptr, jidx, jvp, pjac, sparse, splan, ts, cf, kind, t_lo, t_hi, S, p, cols,
                              scale, n, m, rtol, atol, h0, max_steps, stats):
    """As :func:`sens_implicit`, for large stiff models: the Radau IIA stage equations of
    every direction are solved by simplified Newton iteration with ``J(t_n)`` in the
    eigenbasis of ``A^-1``: one real and one complex ``n x n`` LU per step shared by all
    directions, dense or the static-pattern sparse LU of the model's Jacobian pattern
    (``splan = (perm, indptr, indices, diag, amap)`` of :func:`symgen.solve.sparse_plan`);
    stage residuals through the ``jvp`` kernel.  Returns ``(status, t reached, last h)``."""
    perm, sptr, sidx, sdiag, samap = splan
    k = S.shape[0]
    t = t_lo
    span = t_hi - t_lo
    if span <= 0.0 or k == 0:
        return SUCCESS, t_hi, h0
    rt, at = radau_tolerances(rtol, atol, n)
    vals = np.empty(max(jidx.shape[0], 1))
    dn = 0 if sparse else n
    E1 = np.empty((dn, dn))
    E2 = np.empty((dn, dn), dtype=np.complex128)
    piv1 = np.empty(n, dtype=np.int64)
    piv2 = np.empty(n, dtype=np.int64)
    luv1 = np.empty(sidx.shape[0] if sparse else 0)
    luv2 = np.empty(sidx.shape[0] if sparse else 0, dtype=np.complex128)
    luw1 = np.empty(n)
    luw2 = np.empty(n, dtype=np.complex128)
    Z = np.zeros((k, 3, n))
    W = np.zeros((k, 3, n))
    F = np.empty((3, n))
    Fs = np.empty((3, k, n))
    F0 = np.empty((k, n))
    xs = np.empty((3, n))
    x = np.empty(n)
    fp = np.empty(max(n * m, 1))
    col = np.empty(max(n, 1))
    out = np.empty(max(n, 1))
    rre = np.empty(n)
    rc = np.empty(n, dtype=np.complex128)
    h = first_step(h0, span)
    reject = False
    steps = 0
    N = k * n
    while t < t_hi:
        status, h, last = step_start(steps, max_steps, t, h, t_hi - t)
        if status != SUCCESS:
            return status, t, h
        steps += 1
        stats[ST_STEPS] += 1
        dense_state(ts, cf, kind, t, x)
        jacv(t, x.ctypes, p.ctypes, vals.ctypes)
        _forcing(pjac, t, x, p, cols, scale, n, m, fp, F0)
        stats[ST_NJEV] += 1
        fac1 = _RGAMMA / h
        alphn = _RALPHA / h
        betan = _RBETA / h
        if sparse:
            ier = sparse_lu_factor(sptr, sidx, sdiag, samap, vals, fac1, luv1, luw1)
            if ier == 0:
                ier = sparse_lu_factor(sptr, sidx, sdiag, samap, vals, complex(alphn, betan), luv2, luw2)
        else:
            for i in range(n):
                for q in range(n):
                    E1[i, q] = 0.0
                    E2[i, q] = 0.0
                E1[i, i] = fac1
                E2[i, i] = complex(alphn, betan)
                for q in range(jptr[i], jptr[i + 1]):
                    E1[i, jidx[q]] -= vals[q]
                    E2[i, jidx[q]] -= vals[q]
            ier = lu_factor(E1, piv1)
            if ier == 0:
                ier = lu_factor(E2, piv2)
        stats[ST_NLU] += 2
        if ier != 0:
            status, h = lu_failure(ier, t, h)
            reject = True
            if status != SUCCESS:
                return status, t, h
            continue
        for j in range(3):
            tj = t + _RC[j] * h
            dense_state(ts, cf, kind, tj, x)
            for i in range(n):
                xs[j, i] = x[i]
            _forcing(pjac, tj, x, p, cols, scale, n, m, fp, Fs[j])
        for c in range(k):
            for j in range(3):
                for i in range(n):
                    Z[c, j, i] = 0.0
                    W[c, j, i] = 0.0
        ok = False
        dynold = 0.0
        for it in range(NEWTON_MAX):
            acc = 0.0
            for c in range(k):
                for j in range(3):
                    for i in range(n):
                        col[i] = S[c, i] + Z[c, j, i]
                    jvp(t + _RC[j] * h, xs[j].ctypes, p.ctypes, col.ctypes, out.ctypes)
                    for i in range(n):
                        F[j, i] = out[i] + Fs[j, c, i]
                for i in range(n):
                    a1 = F[0, i]
                    a2 = F[1, i]
                    a3 = F[2, i]
                    rre[i] = _RTI[0, 0] * a1 + _RTI[0, 1] * a2 + _RTI[0, 2] * a3 - fac1 * W[c, 0, i]
                    rc[i] = complex(
                        _RTI[1, 0] * a1 + _RTI[1, 1] * a2 + _RTI[1, 2] * a3 - (alphn * W[c, 1, i] - betan * W[c, 2, i]),
                        _RTI[2, 0] * a1 + _RTI[2, 1] * a2 + _RTI[2, 2] * a3 - (betan * W[c, 1, i] + alphn * W[c, 2, i]))
                if sparse:
                    sparse_lu_solve(sptr, sidx, sdiag, perm, luv1, rre, luw1)
                    sparse_lu_solve(sptr, sidx, sdiag, perm, luv2, rc, luw2)
                else:
                    lu_solve(E1, piv1, rre)
                    lu_solve(E2, piv2, rc)
                for i in range(n):
                    W[c, 0, i] += rre[i]
                    W[c, 1, i] += rc[i].real
                    W[c, 2, i] += rc[i].imag
                    sc = at[i] + rt * abs(S[c, i])
                    d1 = rre[i] / sc
                    d2 = rc[i].real / sc
                    d3 = rc[i].imag / sc
                    acc += d1 * d1 + d2 * d2 + d3 * d3
                    w1 = W[c, 0, i]
                    w2 = W[c, 1, i]
                    w3 = W[c, 2, i]
                    Z[c, 0, i] = _RT[0, 0] * w1 + _RT[0, 1] * w2 + _RT[0, 2] * w3
                    Z[c, 1, i] = _RT[1, 0] * w1 + _RT[1, 1] * w2 + _RT[1, 2] * w3
                    Z[c, 2, i] = _RT[2, 0] * w1 + _RT[2, 1] * w2 + _RT[2, 2] * w3
            stats[ST_NFEV] += 3 * k
            dyno = np.sqrt(acc / (3 * N))
            if not np.isfinite(dyno):
                break
            if dyno <= NEWTON_TOL:
                ok = True
                break
            if it >= 1 and dyno > 0.9 * dynold:
                break
            dynold = dyno
        if not ok:
            stats[ST_REJECTED] += 1
            h *= 0.5
            reject = True
            continue
        # error estimate per direction: (gamma/h I - J)^-1 (f(t, S_c) + sum dd_j Z_j / h)
        dense_state(ts, cf, kind, t, x)
        err = 0.0
        for c in range(k):
            for i in range(n):
                col[i] = S[c, i]
            jvp(t, x.ctypes, p.ctypes, col.ctypes, out.ctypes)
            for i in range(n):
                rre[i] = out[i] + F0[c, i] + (_RDD[0] * Z[c, 0, i] + _RDD[1] * Z[c, 1, i] + _RDD[2] * Z[c, 2, i]) / h
            if sparse:
                sparse_lu_solve(sptr, sidx, sdiag, perm, luv1, rre, luw1)
            else:
                lu_solve(E1, piv1, rre)
            for i in range(n):
                sk = at[i] + rt * max(abs(S[c, i]), abs(S[c, i] + Z[c, 2, i]))
                r = rre[i] / sk if sk > 0.0 else (0.0 if rre[i] == 0.0 else np.inf)
                err += r * r
        err = max(np.sqrt(err / N), 1e-10)
        if not np.isfinite(err):
            h *= 0.1
            reject = True
            continue
        accepted, h_new = step_control(h, err, reject, 0.25, 5.0)
        if accepted:
            for c in range(k):
                for i in range(n):
                    S[c, i] += Z[c, 2, i]
            t = t_hi if last else t + h
            stats[ST_ACCEPTED] += 1
        else:
            stats[ST_REJECTED] += 1
        h = h_new
        reject = not accepted
    return SUCCESS, t, h
