"""Compiled variable-order BDF driver (orders 1 to 5) for large stiff systems.

Radau IIA needs a real and a complex factorization per Newton matrix; a BDF step needs
one real one, and a multistep method can keep that factorization over many steps.  For
large sparse systems whose cost is the factorizations (reaction-diffusion grids,
networks) this is the cheaper method; Radau stays the more accurate one per step.

The method is the numerical differentiation formula family of Shampine & Reichelt
("The MATLAB ODE Suite", SIAM J. Sci. Comput. 18, 1997) in their quasi-constant step
size form:

* the solution history is a table of modified divided differences ``D`` (rows 0 to
  order + 2); a step-size change by ``factor`` rescales the table with the matrices
  ``R(order, factor) R(order, 1)`` (interpolation onto the new equidistant grid), so the
  formulas always work with constant steps;
* the corrector ``y - c f(t+h, y) = psi`` (``c = h / alpha_k``) is solved by a modified
  Newton iteration with the matrix ``I - c J``;  the matrix is factored once and kept
  while ``c`` stays within ``LU_REUSE`` (30 %) of the ``c`` it was factored with, the
  correction being scaled by ``2 / (1 + c / c_lu)`` (the strategy of CVODE: it balances
  the error of the stale matrix between the stiff and the non-stiff modes);  the
  Jacobian is re-evaluated only when Newton fails with a Jacobian that is not current;
* the local error is ``error_const(k) * (y - y_pred)``; after ``k + 1`` steps of the same
  size the orders ``k - 1``, ``k`` and ``k + 1`` are compared and the one allowing the
  largest step is taken; an increase of the step by less than ``GROW_MIN`` (1.5) at the
  same order is not made (as in CVODE), which keeps the step and the factored matrix.

Linear algebra as in :mod:`symgen.drivers.radau5` (same ``splan`` convention): dense LU
with partial pivoting, or the static-pattern sparse LU of :mod:`symgen.drivers.sparse_lu`;
or, for systems too large to factor, restarted GMRES preconditioned with ILU(0).

Dense output: the BDF interpolating polynomial of each accepted step written in the
position ``s`` in ``[0, 1]`` across that step, ``y(t) = sum_q coeffs[k, q] s**q`` (degree
at most 5, six coefficient rows per step).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .common import (MAX_STEPS, N_STATS, NONFINITE, SINGULAR, ST_ACCEPTED, ST_NFEV, ST_NJEV,
                     ST_NLU, ST_NNEWTON, ST_NSOLVE, ST_REJECTED, ST_STEPS, SUCCESS,
                     all_finite, dense_segments, finish_outputs, grow_rows,
                     record_step, report_progress, start_outputs)
from .radau5 import (_FAIL_ERROR, _FAIL_NEWTON, _FAIL_NONE, _FAIL_NONFINITE, _FAIL_SINGULAR,
                     EPS, MAX_SINGULAR, _underflow_status, _wrms, load_jacobian,
                     lu_factor, lu_solve, starting_step)
from .sparse_lu import assemble_shifted, gmres, sparse_lu_factor, sparse_lu_solve

__all__ = ["bdf", "bdf_dense_eval", "MAX_ORDER", "NDF_KAPPA", "DENSE_LU", "SPARSE_LU", "KRYLOV"]

#: linear algebra of the Newton iterations (the ``linsolve`` argument)
DENSE_LU, SPARSE_LU, KRYLOV = 0, 1, 2

MAX_ORDER = 5
NEWTON_MAXITER = 4
MIN_FACTOR = 0.2      # smallest step-size ratio after a rejection
MAX_FACTOR = 10.0     # largest step-size ratio
LU_REUSE = 0.3        # keep the factored Newton matrix while |c / c_lu - 1| <= LU_REUSE
GROW_MIN = 1.5        # a step-size increase smaller than this is not worth a change (CVODE)
KRYLOV_RESTART = 20   # GMRES restart length
KRYLOV_MAXITER = 60   # GMRES iterations per Newton iteration at most
KRYLOV_TOL = 0.05     # GMRES tolerance as a fraction of the Newton tolerance (CVODE's eplifac)
NEWTON_COEF = 0.03    # Newton stops when its remaining error is below this fraction of the error test
CRATE_DOWN = 0.3      # the convergence-rate estimate decays at most by this factor per iteration
NEWTON_DIVERGE = 2.0  # a correction this much larger than the previous one is divergence

#: Shampine & Reichelt's NDF coefficients (kappa = 0 would give the classical BDFs).
NDF_KAPPA = (0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0)


def _constants():
    kappa = np.array(NDF_KAPPA)
    gamma = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, MAX_ORDER + 1))))
    alpha = (1.0 - kappa) * gamma
    err_const = kappa * gamma + 1.0 / np.arange(1, MAX_ORDER + 2)
    # P[j, q]: coefficient of s**q of prod_{m<j} (s - 1 + m) / (m + 1), the weight of D[j]
    # in the interpolant across the last step (s = 0 at its start, 1 at its end)
    P = np.zeros((MAX_ORDER + 1, MAX_ORDER + 1))
    P[0, 0] = 1.0
    for j in range(1, MAX_ORDER + 1):
        for q in range(MAX_ORDER + 1):
            lower = P[j - 1, q - 1] if q > 0 else 0.0
            P[j, q] = (lower + (j - 2) * P[j - 1, q]) / j
    return gamma, alpha, err_const, P


_GAMMA, _ALPHA, _ERR_CONST, _INTERP = _constants()


@njit(cache=True)
def _rescale(D, order, factor, RU, tmp):
    """Change the step size of the difference table ``D`` by ``factor`` (rows 0..order)."""
    k = order + 1
    # R(order, factor) into RU, R(order, 1) into tmp rows, then RU <- R(factor) @ R(1)
    R = np.empty((k, k))
    U = np.empty((k, k))
    for j in range(k):
        R[0, j] = 1.0
        U[0, j] = 1.0
    for i in range(1, k):
        R[i, 0] = 0.0
        U[i, 0] = 0.0
        for j in range(1, k):
            R[i, j] = R[i - 1, j] * (i - 1 - factor * j) / i
            U[i, j] = U[i - 1, j] * (i - 1 - j) / i
    for i in range(k):
        for j in range(k):
            s = 0.0
            for m in range(k):
                s += R[i, m] * U[m, j]
            RU[i, j] = s
    n = D.shape[1]
    for c in range(n):
        for j in range(k):
            s = 0.0
            for i in range(k):
                s += RU[i, j] * D[i, c]
            tmp[j] = s
        for j in range(k):
            D[j, c] = tmp[j]


@njit(cache=True)
def bdf(rhs, jac, jacv, t0, tf, y0, p, rtol, atol, h0, hmax, max_steps, t_eval, dense, linsolve,
        splan, progress=0):
    """Integrate ``y' = rhs(t, y, p)`` from ``t0`` to ``tf`` with variable-order BDF (NDF).

    Arguments and results as :func:`symgen.drivers.radau5.radau5` (same kernels, the same
    ``splan`` convention, the same status codes and stats), except that

    * ``linsolve`` (int) replaces ``sparse``: :data:`DENSE_LU`, :data:`SPARSE_LU` (``splan``
      a complete factorization plan) or :data:`KRYLOV`: restarted GMRES on ``I - c J``
      (matrix-vector products with the sparse Jacobian values) right-preconditioned by
      the factors of ``splan``, usually an ILU(0) plan (:func:`~symgen.drivers.sparse_lu.ilu0_plan`);
      each Newton correction is solved to ``KRYLOV_TOL`` times the Newton tolerance;
    * ``coeffs`` is ``float64[m-1, 6, n]``: the interpolating polynomial of each step in
      powers of the position ``s`` across it (see :func:`bdf_dense_eval`);
    * ``nlu`` counts the real (or incomplete) factorizations, the only kind this method
      needs; ``linear_solves`` the triangular solves (one per GMRES iteration).
    """
    n = y0.shape[0]
    sparse = linsolve != DENSE_LU
    krylov = linsolve == KRYLOV
    if sparse and (splan[3].shape[0] != n or splan[1].shape[0] != n + 1):
        raise ValueError("bdf: the sparse LU plan does not match the number of states")
    stats = np.zeros(N_STATS, np.int64)
    k_eval = t_eval.shape[0]
    nq = MAX_ORDER + 1
    y, ts, ys, cf, yeval, n_eval, m, t, direction, span = start_outputs(
        t0, tf, y0, t_eval, dense, nq * n, stats)
    status = SUCCESS

    f = np.empty(n)
    if n > 0:
        rhs(t, y.ctypes, p.ctypes, f.ctypes)
        stats[ST_NFEV] += 1
        if not all_finite(f):
            status = NONFINITE
            span = 0.0
    rtol_ = max(rtol, 100.0 * EPS)
    hmax_ = span if hmax <= 0.0 else min(abs(hmax), span)

    # ---- work arrays -----------------------------------------------------------------
    nd = 0 if sparse else n
    J = np.empty((nd, nd))
    E = np.empty((nd, nd))
    piv = np.empty(nd, np.int64)
    from_values = (not sparse) and splan[1].shape[0] == n + 1
    jv = np.empty(splan[4].shape[0] if sparse else (splan[2].shape[0] if from_values else 0))
    luv = np.empty(splan[2].shape[0] if sparse else 0)
    luw = np.empty(n if sparse else 0)
    nk = n if krylov else 0
    mk = KRYLOV_RESTART if krylov else 0
    avals = np.empty(splan[2].shape[0] if krylov else 0)
    KV = np.empty((mk + 1, nk))
    KH = np.empty((mk + 1, mk))
    kcs = np.empty(mk + 1)
    ksn = np.empty(mk + 1)
    kg = np.empty(mk + 1)
    kz = np.empty(nk)
    ktmp = np.empty(nk)
    kx = np.empty(nk)
    sp_perm, sp_ptr, sp_idx, sp_diag, sp_amap = splan
    D = np.zeros((MAX_ORDER + 3, n))
    RU = np.empty((nq, nq))
    tmp = np.empty(nq)
    y_pred = np.empty(n)
    psi = np.empty(n)
    d = np.empty(n)
    b = np.empty(n)
    scale = np.empty(n)
    err_v = np.empty(n)

    h = starting_step(rhs, t0, y, f, p, direction, rtol_, atol, h0, hmax_, span, 1, stats)
    for i in range(n):
        D[0, i] = y[i]
        D[1, i] = f[i] * h

    order = 1
    n_equal = 0
    need_jac = True
    jac_current = False
    lu_ok = False
    c_lu = 0.0
    crate = 1.0
    n_sing = 0
    fail_reason = _FAIL_NONE

    while span > 0.0:
        if stats[ST_STEPS] >= max_steps:
            status = MAX_STEPS
            break
        if h == 0.0 or abs(h) <= 10.0 * EPS * abs(t):
            status = _underflow_status(fail_reason)
            break
        stats[ST_STEPS] += 1

        # ---- do not step past tf --------------------------------------------------------
        last = False
        if (t + h - tf) * direction >= 0.0:
            factor = (tf - t) / h
            if factor != 1.0:
                _rescale(D, order, factor, RU, tmp)
                n_equal = 0
            h = tf - t
            last = True
        t_new = tf if last else t + h

        # ---- predictor and corrector right-hand side -------------------------------------
        for i in range(n):
            s = 0.0
            for j in range(order + 1):
                s += D[j, i]
            y_pred[i] = s
            scale[i] = atol[i] + rtol_ * abs(s)
            q = 0.0
            for j in range(1, order + 1):
                q += _GAMMA[j] * D[j, i]
            psi[i] = q / _ALPHA[order]
        c = h / _ALPHA[order]

        # ---- Newton matrix I - c J (factored as (1/c) I - J) --------------------------------
        if need_jac:
            jfinite = load_jacobian(jac, jacv, t_new, y_pred, p, sparse, from_values, sp_ptr, sp_idx, J, jv)
            stats[ST_NJEV] += 1
            if not jfinite:
                status = NONFINITE
                break
            need_jac = False
            jac_current = True
            lu_ok = False
        if not lu_ok or abs(c / c_lu - 1.0) > LU_REUSE:
            s_lu = 1.0 / c
            stats[ST_NLU] += 1
            if sparse:
                if krylov:
                    assemble_shifted(sp_ptr, sp_diag, sp_amap, jv, s_lu, avals)
                ier = sparse_lu_factor(sp_ptr, sp_idx, sp_diag, sp_amap, jv, s_lu, luv, luw)
            else:
                for i in range(n):
                    for j in range(n):
                        E[i, j] = -J[i, j]
                    E[i, i] += s_lu
                ier = lu_factor(E, piv)
            if ier != 0:
                n_sing += 1
                fail_reason = _FAIL_SINGULAR
                lu_ok = False
                if n_sing >= MAX_SINGULAR:
                    status = SINGULAR
                    break
                _rescale(D, order, 0.5, RU, tmp)
                h *= 0.5
                n_equal = 0
                continue
            lu_ok = True
            c_lu = c
            crate = 1.0
        ratio = c / c_lu
        corr = 2.0 / (1.0 + ratio)
        s_lu = 1.0 / c_lu

        # ---- modified Newton iteration -------------------------------------------------------
        for i in range(n):
            y[i] = y_pred[i]
            d[i] = 0.0
        converged = False
        finite = True
        dy_old = -1.0
        n_iter = 0
        for k in range(NEWTON_MAXITER):
            rhs(t_new, y.ctypes, p.ctypes, f.ctypes)
            stats[ST_NFEV] += 1
            if not all_finite(f):
                finite = False
                break
            if krylov:
                # the exact Newton matrix at the current c; the factors only precondition
                for i in range(n):
                    b[i] = c * f[i] - psi[i] - d[i]
                its = gmres(sp_ptr, sp_idx, sp_diag, sp_perm, avals, luv, s_lu, c, scale, b, kx,
                            KRYLOV_RESTART, KRYLOV_MAXITER, KRYLOV_TOL * NEWTON_COEF / _ERR_CONST[order],
                            KV, KH, kcs, ksn, kg, kz, ktmp, luw)
                for i in range(n):
                    b[i] = kx[i]
                stats[ST_NSOLVE] += abs(its) + 1
            else:
                for i in range(n):
                    b[i] = (c * f[i] - psi[i] - d[i]) * s_lu
                if sparse:
                    sparse_lu_solve(sp_ptr, sp_idx, sp_diag, sp_perm, luv, b, luw)
                else:
                    lu_solve(E, piv, b)
                stats[ST_NSOLVE] += 1
            stats[ST_NNEWTON] += 1
            n_iter = k + 1
            if ratio != 1.0 and not krylov:
                for i in range(n):
                    b[i] *= corr
            dy = _wrms(b, scale)
            if not np.isfinite(dy):
                finite = False
                break
            if k > 0:
                if dy > NEWTON_DIVERGE * dy_old:
                    break
                crate = max(CRATE_DOWN * crate, dy / dy_old)
            for i in range(n):
                y[i] += b[i]
                d[i] += b[i]
            # CVODE's test: the remaining Newton error, estimated by the correction times
            # the convergence rate (kept from the previous steps while the matrix is the
            # same), is a small fraction of what the local error test allows
            if dy * min(1.0, crate) * _ERR_CONST[order] <= NEWTON_COEF:
                converged = True
                break
            dy_old = dy

        if not converged:
            fail_reason = _FAIL_NEWTON if finite else _FAIL_NONFINITE
            if not jac_current:
                need_jac = True          # retry the same step with a fresh Jacobian
                continue
            _rescale(D, order, 0.5, RU, tmp)
            h *= 0.5
            n_equal = 0
            continue

        # ---- error test -------------------------------------------------------------------
        safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + max(n_iter, 2))
        for i in range(n):
            scale[i] = atol[i] + rtol_ * abs(y[i])
            err_v[i] = _ERR_CONST[order] * d[i]
        err = _wrms(err_v, scale)
        if not err <= 1.0:
            fail_reason = _FAIL_ERROR if np.isfinite(err) else _FAIL_NONFINITE
            factor = MIN_FACTOR
            if np.isfinite(err):
                factor = max(MIN_FACTOR, safety * err ** (-1.0 / (order + 1)))
            _rescale(D, order, factor, RU, tmp)
            h *= factor
            n_equal = 0
            continue

        # ---- accepted ---------------------------------------------------------------------
        stats[ST_ACCEPTED] += 1
        if progress > 0 and stats[ST_ACCEPTED] % progress == 0:
            report_progress(t_new, stats[ST_STEPS])
        n_sing = 0
        fail_reason = _FAIL_NONE
        jac_current = False
        t_old = t
        t = t_new
        for i in range(n):
            D[order + 2, i] = d[i] - D[order + 1, i]
            D[order + 1, i] = d[i]
        for j in range(order, -1, -1):
            for i in range(n):
                D[j, i] += D[j + 1, i]
        n_equal += 1

        ts, ys = record_step(ts, ys, m, t, y)
        if dense:
            if m - 1 >= cf.shape[0]:
                cf = grow_rows(cf, m)
            for q in range(nq):
                for i in range(n):
                    s = 0.0
                    for j in range(order + 1):
                        s += _INTERP[j, q] * D[j, i]
                    cf[m - 1, q * n + i] = s
        m += 1
        while n_eval < k_eval and (t_eval[n_eval] - t) * direction <= 0.0:
            te = t_eval[n_eval]
            if te == t:
                for i in range(n):
                    yeval[n_eval, i] = y[i]
            else:
                sq = (te - t_old) / (t - t_old)
                for i in range(n):
                    acc = 0.0
                    for q in range(nq - 1, -1, -1):
                        s = 0.0
                        for j in range(order + 1):
                            s += _INTERP[j, q] * D[j, i]
                        acc = acc * sq + s
                    yeval[n_eval, i] = acc
            n_eval += 1
        if last:
            status = SUCCESS
            break

        # ---- step size and order for the next step --------------------------------------------
        if n_equal < order + 1:
            continue
        e_cur = err
        e_m = np.inf
        e_p = np.inf
        if order > 1:
            for i in range(n):
                err_v[i] = _ERR_CONST[order - 1] * D[order, i]
            e_m = _wrms(err_v, scale)
        if order < MAX_ORDER:
            for i in range(n):
                err_v[i] = _ERR_CONST[order + 1] * D[order + 2, i]
            e_p = _wrms(err_v, scale)
        f_m = np.inf if e_m == 0.0 else e_m ** (-1.0 / order)
        f_c = np.inf if e_cur == 0.0 else e_cur ** (-1.0 / (order + 1))
        f_p = np.inf if e_p == 0.0 else e_p ** (-1.0 / (order + 2))
        best = f_c
        new_order = order
        if f_m > best:
            best = f_m
            new_order = order - 1
        if f_p > best:
            best = f_p
            new_order = order + 1
        factor = min(MAX_FACTOR, safety * best)
        if abs(h) * factor > hmax_:
            factor = hmax_ / abs(h)
        if new_order == order and 1.0 <= factor < GROW_MIN:
            continue             # keep h (and the factored matrix)
        order = new_order
        _rescale(D, order, factor, RU, tmp)
        h *= factor
        n_equal = 0

    stats[ST_REJECTED] = stats[ST_STEPS] - stats[ST_ACCEPTED]
    ts_out, ys_out, coeffs = finish_outputs(ts, ys, cf, m, dense, nq)
    return status, t, ts_out, ys_out, coeffs, yeval, n_eval, stats


def bdf_dense_eval(ts, coeffs, tq):
    """Evaluate the continuous output of :func:`bdf` at the times ``tq`` (plain NumPy);
    queries outside ``[ts[0], ts[-1]]`` use the first or last step's polynomial."""
    c, s = dense_segments(ts, coeffs, tq, MAX_ORDER + 1)
    out = c[:, MAX_ORDER]
    for q in range(MAX_ORDER - 1, -1, -1):
        out = out * s + c[:, q]
    return out
