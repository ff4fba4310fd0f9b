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
from .common import ST_NFEV, ST_NJEV, ST_NLU, ST_REJECTED, ST_STEPS, SUCCESS
from .sens_common import (_RALPHA, _RBETA, _RC, _RDD, _RGAMMA, NEWTON_MAX, NONFINITE, coupled_stage_matrix,
                          coupled_stage_rhs, first_step, jac_dense, lu_failure, newton_verdict, radau_tolerances,
                          scaled_ssq, shifted_matrix, step_control, step_start, too_small, transformed_factor,
                          transformed_residual, transformed_solve, transformed_solve_real, transformed_update)
from .radau5 import lu_factor, lu_solve

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
        accepted, h_new = step_control(h, err, reject, 0.2, 10.0, stats)
        if accepted:
            t = t_hi if last else t + h
            for c in range(k):
                for i in range(n):
                    S[c, i] = Zs[c, i]
                    Kst[0, c, i] = Kst[6, c, i]
        h = h_new
        reject = not accepted
    return SUCCESS, t, h


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
            jac_dense(jacv, indptr, indices, tj, x, p, vals, 1.0, False, Ms[j])
            _forcing(pjac, tj, x, p, cols, scale, n, m, fp, Fs[j])
        stats[ST_NJEV] += 3
        coupled_stage_matrix(h, Ms, n, big)
        for c in range(k):
            coupled_stage_rhs(h, S[c], Fs[:, c], n, rhs[c])
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
        jac_dense(jacv, indptr, indices, t, x, p, vals, 1.0, False, J0)
        _forcing(pjac, t, x, p, cols, scale, n, m, fp, F0)
        stats[ST_NJEV] += 1
        shifted_matrix(_RGAMMA / h, J0, E)
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
            err = scaled_ssq(errv, S[c], rhs[c, 2 * n:], at, rt, err)
        err = max(np.sqrt(err / N), 1e-10)
        if not np.isfinite(err):
            h *= 0.1
            reject = True
            continue
        accepted, h_new = step_control(h, err, reject, 0.25, 5.0, stats)
        if accepted:
            for c in range(k):
                for i in range(n):
                    S[c, i] = rhs[c, 2 * n + i]
            t = t_hi if last else t + h
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
    sidx = splan[2]
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
    scal = np.empty(n)
    lu = (E1, piv1, E2, piv2, luv1, luw1, luv2, luw2)
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
        ier = transformed_factor(sparse, splan, lu, vals, jptr, jidx, -1.0, False, fac1, alphn, betan)
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
                transformed_residual(F, W[c], fac1, alphn, betan, rre, rc)
                transformed_solve(sparse, splan, lu, rre, rc)
                for i in range(n):
                    scal[i] = at[i] + rt * abs(S[c, i])
                acc = transformed_update(W[c], Z[c], rre, rc, scal, acc)
            stats[ST_NFEV] += 3 * k
            dyno = np.sqrt(acc / (3 * N))
            verdict = newton_verdict(it, dyno, dynold)
            if verdict != 0:
                ok = verdict > 0
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
            transformed_solve_real(sparse, splan, lu, rre)
            for i in range(n):
                col[i] = S[c, i] + Z[c, 2, i]
            err = scaled_ssq(rre, S[c], col, at, rt, err)
        err = max(np.sqrt(err / N), 1e-10)
        if not np.isfinite(err):
            h *= 0.1
            reject = True
            continue
        accepted, h_new = step_control(h, err, reject, 0.25, 5.0, stats)
        if accepted:
            for c in range(k):
                for i in range(n):
                    S[c, i] += Z[c, 2, i]
            t = t_hi if last else t + h
        h = h_new
        reject = not accepted
    return SUCCESS, t, h
