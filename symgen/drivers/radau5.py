"""Compiled Radau IIA (order 5, three stages) driver for stiff ODEs.

The method and its control strategy follow Hairer & Wanner, *Solving Ordinary
Differential Equations II*, section IV.8 (the RADAU5 code):

* the stage equations are solved by a simplified Newton iteration on the system
  transformed with the eigen-decomposition of ``A^-1`` (one real and one complex
  ``n x n`` LU factorization per (re)factorization: dense with partial pivoting, or,
  with ``sparse=True``, the static-pattern sparse LU of :mod:`symgen.drivers.sparse_lu`
  on the model's Jacobian pattern in a fill-reducing order);
* convergence is monitored through the contraction-rate estimate ``theta``; the
  Jacobian is reused across steps while Newton converges fast and the LU is reused while
  the step size hardly changes;
* the local error is estimated with the embedded order-3 formula filtered through the
  real Newton matrix (with a second filtered evaluation on the first step and after a
  rejection), and the step size is controlled with Gustafsson's predictive controller;
* Newton starts from the collocation polynomial of the previous step, which is also the
  continuous (dense) output.

User tolerances are converted like RADAU5 does (``rtol' = 0.1 rtol^(2/3)``,
``atol' = atol * rtol' / rtol``) because the error estimate is that of an order-3
formula while the solution is order 5; the resulting accuracy is comparable to (usually
somewhat better than) the requested ``rtol``.

Model kernels arrive as Numba first-class functions following
:mod:`symgen.drivers.common`, so :func:`radau5` is compiled once and shared by every
model.

Dense output: for accepted step ``k`` (from ``ts[k]`` to ``ts[k+1]``) ``coeffs[k]`` holds
``(y_k, q1, q2, q3)`` and ``y(t) = y_k + q1*s + q2*s**2 + q3*s**3`` with
``s = (t - ts[k]) / (ts[k+1] - ts[k])`` (valid for backward integration too).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .common import (MAX_STEPS, N_STATS, NEWTON_FAILED, NONFINITE, SINGULAR, ST_ACCEPTED,
                     ST_NFEV, ST_NJEV, ST_NLU, ST_NNEWTON, ST_NSOLVE, ST_REJECTED, ST_STEPS,
                     STEP_UNDERFLOW, SUCCESS, all_finite, dense_segments, finish_outputs,
                     grow_rows, record_step, report_progress, start_outputs)
from .sparse_lu import INDEX_DTYPE, sparse_lu_factor, sparse_lu_solve

__all__ = ["radau5", "radau5_dense_eval", "lu_factor", "lu_solve", "lu_factor_real", "lu_solve_real",
           "lu_factor_complex", "lu_solve_complex", "RADAU_IIA_CONSTANTS", "NO_SPARSE_PLAN",
           "dense_from_values_plan", "load_jacobian"]

#: The ``splan`` argument of :func:`radau5` for dense linear algebra with a dense Jacobian
#: kernel ``jac`` (five empty arrays).
NO_SPARSE_PLAN = tuple(np.empty(0, INDEX_DTYPE) for _ in range(5))


def dense_from_values_plan(indptr, indices):
    """The ``splan`` argument for dense linear algebra with the Jacobian taken from the
    sparse values kernel ``jacv`` and scattered into a dense matrix (CSR ``indptr``,
    ``indices`` of the Jacobian); ``jac`` is then not called."""
    e = np.empty(0, INDEX_DTYPE)
    return (e, np.asarray(indptr, INDEX_DTYPE), np.asarray(indices, INDEX_DTYPE), e, e)


# ---------------------------------------------------------------------------------------
# Method constants, derived from the collocation conditions (not typed in by hand)
# ---------------------------------------------------------------------------------------
def _derive_constants():
    """Radau IIA(5) constants computed from the collocation conditions (float64).

    Returns a dict with the nodes ``c``, ``A``, the eigenvalues ``gamma`` (real) and
    ``alpha +- i beta`` of ``A^-1``, the real transformation ``T`` with
    ``T^-1 A^-1 T = [[gamma, 0, 0], [0, alpha, -beta], [0, beta, alpha]]`` and its
    inverse ``TI``, the error-estimate weights ``dd`` and the matrix ``P`` that maps stage
    increments ``Z`` to the monomial coefficients of the collocation polynomial.
    Only NumPy is used so that exported drivers do not need SymPy/mpmath.
    """
    s6 = np.sqrt(6.0)
    c = np.array([(4.0 - s6) / 10.0, (4.0 + s6) / 10.0, 1.0])
    k = np.arange(3)
    # collocation: sum_j a_ij c_j^(k-1) = c_i^k / k,  k = 1..3   ->  A V = C
    V = c[:, None] ** k[None, :]
    C = c[:, None] ** (k[None, :] + 1) / (k[None, :] + 1)
    A = np.linalg.solve(V.T, C.T).T
    Ainv = np.linalg.inv(A)
    ev, er = np.linalg.eig(Ainv)
    ir = int(np.argmin(np.abs(ev.imag)))
    ic = int(np.argmax(ev.imag))
    gamma, alpha, beta = ev[ir].real, ev[ic].real, ev[ic].imag
    # eigenvectors scaled so that the last (c = 1) component is 1
    v1 = (er[:, ir] / er[2, ir]).real
    vc = er[:, ic] / er[2, ic]
    # A^-1 (t2 - i t3) = (alpha + i beta)(t2 - i t3)
    T = np.column_stack([v1, vc.real, -vc.imag])
    TI = np.linalg.inv(T)
    # embedded formula  y0 + h (g0 f(y0) + sum bhat_i f(Y_i)),  g0 = 1/gamma, order 3:
    # d = bhat - b solves sum_i d_i c_i^k = -g0 [k == 0], k = 0, 1, 2
    d = np.linalg.solve(V.T, np.array([-1.0 / gamma, 0.0, 0.0]))
    # h sum_i d_i f(Y_i) = sum_j (d^T A^-1)_j Z_j; scaled by gamma so that the filtered
    # estimate is (gamma/h I - J)^-1 (f(y0) + sum_j dd_j Z_j / h)
    dd = gamma * (d @ Ainv)
    # collocation polynomial u(s) = sum_j q_j s^(j+1) with u(c_i) = Z_i  ->  q = P Z
    P = np.linalg.inv(c[:, None] ** (k[None, :] + 1))
    return {"c": c, "A": A, "gamma": float(gamma), "alpha": float(alpha), "beta": float(beta),
            "T": T, "TI": TI, "dd": dd, "P": P}


RADAU_IIA_CONSTANTS = _derive_constants()
_K = RADAU_IIA_CONSTANTS

C1, C2 = float(_K["c"][0]), float(_K["c"][1])
GAMMA, ALPHA, BETA = _K["gamma"], _K["alpha"], _K["beta"]
T11, T12, T13 = (float(x) for x in _K["T"][0])
T21, T22, T23 = (float(x) for x in _K["T"][1])
T31, T32, T33 = (float(x) for x in _K["T"][2])
TI11, TI12, TI13 = (float(x) for x in _K["TI"][0])
TI21, TI22, TI23 = (float(x) for x in _K["TI"][1])
TI31, TI32, TI33 = (float(x) for x in _K["TI"][2])
DD1, DD2, DD3 = (float(x) for x in _K["dd"])
P11, P12, P13 = (float(x) for x in _K["P"][0])
P21, P22, P23 = (float(x) for x in _K["P"][1])
P31, P32, P33 = (float(x) for x in _K["P"][2])

# ---- control parameters (RADAU5 defaults) ---------------------------------------------
NIT = 7             # maximum Newton iterations per step
SAFE = 0.9          # safety factor of the step-size controller
THET = 0.001        # reuse the Jacobian when the Newton rate stays below this
QUOT1 = 1.0         # keep h (and the LU) when  QUOT1 <= hnew/h <= QUOT2
QUOT2 = 1.2
# large systems (expensive Jacobians and factorizations): RADAU5's documentation advises
# reusing them longer; measured on the 2D Brusselator (2048 states, sparse LU)
# 1.40 s -> 0.86 s, BCR 36 s -> 20 s, results within the tolerances
LARGE_N = 500
THET_LARGE, QUOT1_LARGE, QUOT2_LARGE = 0.1, 0.99, 2.0
FACL = 5.0          # hnew/h >= 1/FACL
FACR = 0.125        # hnew/h <= 1/FACR
MAX_SINGULAR = 5    # consecutive singular Newton matrices before giving up
EPS = 2.220446049250313e-16

# reasons of the last failed attempt (decide the status if h underflows)
_FAIL_NONE, _FAIL_ERROR, _FAIL_NEWTON, _FAIL_NONFINITE, _FAIL_SINGULAR = 0, 1, 2, 3, 4


# ---------------------------------------------------------------------------------------
# Dense LU with partial pivoting (kept separate so a sparse variant can replace them)
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def lu_factor(a, piv):
    """In-place LU of the C-contiguous ``a`` (n x n, float64 or complex128) with row
    pivoting: ``P a = L U``; the pivot size is ``|re| + |im|`` (``|a|`` for real ``a``).

    ``piv[k]`` is the row swapped with row ``k`` at elimination step ``k``.  Returns 0 on
    success, ``k + 1`` if the pivot of column ``k`` is zero and ``-(k + 1)`` if it is not
    finite.  Numba compiles one specialization per element type.
    """
    n = a.shape[0]
    for k in range(n):
        pk = k
        amax = abs(a[k, k].real) + abs(a[k, k].imag)
        for i in range(k + 1, n):
            v = abs(a[i, k].real) + abs(a[i, k].imag)
            if v > amax:
                amax = v
                pk = i
        piv[k] = pk
        if not np.isfinite(amax):
            return -(k + 1)
        if amax == 0.0:
            return k + 1
        if pk != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[pk, j]
                a[pk, j] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            lik = a[i, k] * inv
            a[i, k] = lik
            if lik.real != 0.0 or lik.imag != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= lik * a[k, j]
    return 0


@njit(cache=True)
def lu_solve(lu, piv, b):
    """Solve ``A x = b`` in place with the factors of :func:`lu_factor` (real or complex)."""
    n = lu.shape[0]
    for k in range(n):
        pk = piv[k]
        if pk != k:
            tmp = b[k]
            b[k] = b[pk]
            b[pk] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= lu[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= lu[i, j] * b[j]
        b[i] = s / lu[i, i]


#: the names the real and the complex Newton matrices are factored and solved with
lu_factor_real = lu_factor_complex = lu_factor
lu_solve_real = lu_solve_complex = lu_solve


# ---------------------------------------------------------------------------------------
# Dense or sparse Newton matrices (``sparse`` picks the branch; the solves are written
# out in the driver: helpers taking the plan tuple cost ~0.1 us per call)
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def _factor_newton(sparse, J, jv, fac1, ab, E1, E2, piv1, piv2, v1, v2, w1, w2, ip, ix, dg, am, stats):
    """Form and factor ``E1 = fac1 I - J`` and ``E2 = ab I - J`` (dense, or sparse with
    the plan arrays ``ip, ix, dg, am``); returns the first nonzero status of the two
    factorizations (0 on success)."""
    if sparse:
        stats[ST_NLU] += 1
        ier = sparse_lu_factor(ip, ix, dg, am, jv, fac1, v1, w1)
        if ier == 0:
            stats[ST_NLU] += 1
            ier = sparse_lu_factor(ip, ix, dg, am, jv, ab, v2, w2)
        return ier
    n = J.shape[0]
    for i in range(n):
        for j in range(n):
            E1[i, j] = -J[i, j]
            E2[i, j] = -J[i, j]
        E1[i, i] += fac1
        E2[i, i] += ab
    stats[ST_NLU] += 1
    ier = lu_factor_real(E1, piv1)
    if ier == 0:
        stats[ST_NLU] += 1
        ier = lu_factor_complex(E2, piv2)
    return ier


@njit(cache=True)
def load_jacobian(jac, jacv, t, y, p, sparse, from_values, sp_ptr, sp_idx, J, jv):
    """Evaluate the Jacobian at ``(t, y)``: its sparse values into ``jv`` (``sparse``), or
    into the dense ``J`` from the values kernel (``from_values``, CSR ``sp_ptr, sp_idx``)
    or from the dense kernel ``jac``.  Returns whether every value is finite."""
    if sparse:
        jacv(t, y.ctypes, p.ctypes, jv.ctypes)
        return all_finite(jv)
    if from_values:
        jacv(t, y.ctypes, p.ctypes, jv.ctypes)
        J[:, :] = 0.0
        for i in range(J.shape[0]):
            for kk in range(sp_ptr[i], sp_ptr[i + 1]):
                J[i, sp_idx[kk]] = jv[kk]
        return all_finite(jv)
    jac(t, y.ctypes, p.ctypes, J.ctypes)
    return all_finite(J)


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def _wrms(v, scal):
    n = v.shape[0]
    s = 0.0
    for i in range(n):
        r = v[i] / scal[i]
        s += r * r
    return np.sqrt(s / n)


@njit(cache=True)
def _initial_step(rhs, t0, y0, f0, p, direction, rtol, atol, hmax, order):
    """Starting step from the size of ``y0``, ``f0`` and a finite-difference estimate of
    the second derivative (Hairer, Norsett & Wanner I, II.4); one extra RHS call."""
    n = y0.shape[0]
    scal = np.empty(n)
    for i in range(n):
        scal[i] = atol[i] + rtol * abs(y0[i])
    d0 = _wrms(y0, scal)
    d1 = _wrms(f0, scal)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, hmax)
    y1 = np.empty(n)
    for i in range(n):
        y1[i] = y0[i] + direction * h0 * f0[i]
    f1 = np.empty(n)
    rhs(t0 + direction * h0, y1.ctypes, p.ctypes, f1.ctypes)
    for i in range(n):
        f1[i] -= f0[i]
    d2 = _wrms(f1, scal) / h0
    if not np.isfinite(d2):
        return min(h0 * 1e-3, hmax)
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1, hmax)


@njit(cache=True)
def starting_step(rhs, t0, y0, f0, p, direction, rtol, atol, h0, hmax, span, order, stats):
    """The signed first step: ``|h0|`` (at most ``hmax``) when given, else the estimate
    of :func:`_initial_step` (one RHS call, counted in ``stats``); 0 for an empty span."""
    if span <= 0.0:
        return 0.0
    if h0 != 0.0:
        return min(abs(h0), hmax) * direction
    stats[ST_NFEV] += 1
    return _initial_step(rhs, t0, y0, f0, p, direction, rtol, atol, hmax, order) * direction


@njit(cache=True)
def _underflow_status(reason):
    if reason == _FAIL_NONFINITE:
        return NONFINITE
    if reason == _FAIL_NEWTON:
        return NEWTON_FAILED
    if reason == _FAIL_SINGULAR:
        return SINGULAR
    return STEP_UNDERFLOW


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def radau5(rhs, jac, jacv, t0, tf, y0, p, rtol, atol, h0, hmax, max_steps, t_eval, dense, sparse,
           splan, progress=0):
    """Integrate ``y' = rhs(t, y, p)`` from ``t0`` to ``tf`` with Radau IIA (order 5).

    Arguments: ``rhs``, ``jac`` (dense), ``jacv`` (sparse values) kernels
    (``common.KERNEL_SIG``; only the one the linear algebra uses is called); ``t0``, ``tf`` floats
    (``tf < t0`` integrates backwards); ``y0`` float64[n]; ``p`` float64[m];
    ``rtol`` float; ``atol`` float64[n]; ``h0`` initial step (0.0: automatic); ``hmax``
    largest step (0.0: ``|tf - t0|``); ``max_steps`` attempted steps allowed; ``t_eval``
    float64[k] sorted in the direction of integration, evaluated with the dense output;
    ``dense`` store the per-step dense-output coefficients; ``sparse`` use the
    static-pattern sparse LU of :mod:`symgen.drivers.sparse_lu` with ``splan`` =
    ``SparseLUPlan.arrays()`` = ``(perm, indptr, indices, diag, amap)`` (the Jacobian is
    then evaluated with ``jacv``), else dense LU with partial pivoting and ``jac``
    (``splan`` = :data:`NO_SPARSE_PLAN`).  One compiled signature serves both.
    ``progress > 0`` reports ``t`` to :mod:`symgen.progress` every ``progress`` accepted
    steps (0 = never).

    Returns ``(status, t_reached, ts, ys, coeffs, yeval, n_eval, stats)``: ``ts`` the
    accepted times including ``t0``, ``ys`` the states there, ``coeffs`` float64[m-1, 4, n]
    (``(0, 4, n)`` unless ``dense``), ``yeval`` float64[k, n] whose first ``n_eval`` rows
    are filled (rows of ``t_eval`` points before ``t0`` are NaN), ``stats`` int64 array in
    the layout of ``common.STAT_NAMES`` (``nlu`` counts the real and the complex
    factorization separately, ``linear_solves`` every back-substitution).
    """
    n = y0.shape[0]
    if sparse and (splan[3].shape[0] != n or splan[1].shape[0] != n + 1):
        raise ValueError("radau5: the sparse LU plan does not match the number of states")
    stats = np.zeros(N_STATS, np.int64)
    k_eval = t_eval.shape[0]
    y, ts, ys, cf, yeval, n_eval, m, t, direction, span = start_outputs(t0, tf, y0, t_eval, dense, 4 * n,
                                                                       stats)

    status = SUCCESS

    f0 = np.empty(n)
    if n > 0:
        rhs(t, y.ctypes, p.ctypes, f0.ctypes)
        stats[ST_NFEV] += 1
        if not all_finite(f0):
            status = NONFINITE
            span = 0.0  # skip the integration loop

    # ---- tolerances (RADAU5 convention) ----------------------------------------------
    rtol_u = max(rtol, 100.0 * EPS)
    rtol_i = 0.1 * rtol_u ** (2.0 / 3.0)
    atol_i = np.empty(n)
    for i in range(n):
        atol_i[i] = atol[i] * (rtol_i / rtol_u)
    fnewt = max(10.0 * EPS / rtol_i, min(0.03, np.sqrt(rtol_i)))
    cfac = SAFE * (1.0 + 2.0 * NIT)

    hmax_ = span if hmax <= 0.0 else min(abs(hmax), span)

    # ---- work arrays -----------------------------------------------------------------
    nd = 0 if sparse else n                   # dense work arrays only when dense
    ns = n if sparse else 0
    J = np.empty((nd, nd))
    E1 = np.empty((nd, nd))
    E2 = np.empty((nd, nd), np.complex128)
    piv1 = np.empty(nd, np.int64)
    piv2 = np.empty(nd, np.int64)
    # dense Newton matrices from the sparse values kernel: splan = (-, indptr, indices, -, -)
    # of the Jacobian's own CSR pattern (see :data:`NO_SPARSE_PLAN` for a dense kernel)
    from_values = (not sparse) and splan[1].shape[0] == n + 1
    jv = np.empty(splan[4].shape[0] if sparse else (splan[2].shape[0] if from_values else 0))
    luv1 = np.empty(splan[2].shape[0] if sparse else 0)   # sparse factors of E1 and E2
    luv2 = np.empty(splan[2].shape[0] if sparse else 0, np.complex128)
    luw1 = np.empty(ns)
    luw2 = np.empty(ns, np.complex128)
    sp_perm, sp_ptr, sp_idx, sp_diag, sp_amap = splan
    Z = np.zeros((3, n))
    W = np.zeros((3, n))
    F = np.empty((3, n))
    Q = np.zeros((3, n))          # collocation polynomial of the last accepted step
    rre = np.empty(n)
    rc = np.empty(n, np.complex128)
    ytmp = np.empty(n)
    ftmp = np.empty(n)
    dz = np.empty(n)
    err_v = np.empty(n)
    scal = np.empty(n)
    y_old = np.empty(n)
    f_row = np.empty(n)

    h = starting_step(rhs, t0, y, f0, p, direction, rtol, atol, h0, hmax_, span, 3, stats)
    last = False
    if span > 0.0 and (t + 1.01 * h - tf) * direction >= 0.0:
        h = tf - t
        last = True

    for i in range(n):
        scal[i] = atol_i[i] + rtol_i * abs(y[i])

    need_jac = True
    need_lu = True
    jac_current = False
    first = True
    reject = False
    faccon = 1.0
    large = n >= LARGE_N
    thet = THET_LARGE if large else THET
    quot1 = QUOT1_LARGE if large else QUOT1
    quot2 = QUOT2_LARGE if large else QUOT2
    theta = thet
    hacc = h
    erracc = 1e-2
    hold = h
    n_acc = 0
    n_sing = 0
    fail_reason = _FAIL_NONE
    fac1 = 0.0
    alphn = 0.0
    betan = 0.0

    while span > 0.0:
        # ---- bookkeeping of the attempt ------------------------------------------------
        if stats[ST_STEPS] >= max_steps:
            status = MAX_STEPS
            break
        if h == 0.0 or 0.1 * abs(h) <= abs(t) * EPS:
            status = _underflow_status(fail_reason)
            break
        stats[ST_STEPS] += 1

        # ---- Jacobian and Newton matrices ----------------------------------------------
        if need_jac:
            jfinite = load_jacobian(jac, jacv, t, y, p, sparse, from_values, sp_ptr, sp_idx, J, jv)
            stats[ST_NJEV] += 1
            if not jfinite:
                status = NONFINITE
                break
            jac_current = True
            need_jac = False
            need_lu = True
        if need_lu:
            fac1 = GAMMA / h
            alphn = ALPHA / h
            betan = BETA / h
            ab = complex(alphn, betan)
            ier = _factor_newton(sparse, J, jv, fac1, ab, E1, E2, piv1, piv2, luv1, luv2, luw1, luw2,
                                 sp_ptr, sp_idx, sp_diag, sp_amap, stats)
            need_lu = False
            if ier != 0:
                # singular (or overflowing) Newton matrix: halve h and retry
                n_sing += 1
                fail_reason = _FAIL_SINGULAR
                if n_sing >= MAX_SINGULAR:
                    status = SINGULAR
                    break
                h *= 0.5
                reject = True
                last = False
                need_lu = True
                if not jac_current:
                    need_jac = True
                continue

        # ---- starting values for Newton from the last collocation polynomial -----------
        if first:
            for s in range(3):
                for i in range(n):
                    Z[s, i] = 0.0
                    W[s, i] = 0.0
        else:
            r = h / hold
            for s in range(3):
                cs = C1 if s == 0 else (C2 if s == 1 else 1.0)
                th = 1.0 + cs * r
                th2 = th * th
                th3 = th2 * th
                for i in range(n):
                    Z[s, i] = Q[0, i] * (th - 1.0) + Q[1, i] * (th2 - 1.0) + Q[2, i] * (th3 - 1.0)
            for i in range(n):
                z1 = Z[0, i]
                z2 = Z[1, i]
                z3 = Z[2, i]
                W[0, i] = TI11 * z1 + TI12 * z2 + TI13 * z3
                W[1, i] = TI21 * z1 + TI22 * z2 + TI23 * z3
                W[2, i] = TI31 * z1 + TI32 * z2 + TI33 * z3

        # ---- simplified Newton iteration -----------------------------------------------
        faccon = max(faccon, EPS) ** 0.8
        theta = thet
        newt = 0
        dynold = 0.0
        thqold = 0.0
        nfail = _FAIL_NONE
        hhfac = 0.5
        while True:
            if newt >= NIT:
                nfail = _FAIL_NEWTON
                break
            finite = True
            for s in range(3):
                cs = C1 if s == 0 else (C2 if s == 1 else 1.0)
                for i in range(n):
                    ytmp[i] = y[i] + Z[s, i]
                rhs(t + cs * h, ytmp.ctypes, p.ctypes, f_row.ctypes)
                stats[ST_NFEV] += 1
                for i in range(n):
                    v = f_row[i]
                    if not np.isfinite(v):
                        finite = False
                    F[s, i] = v
                if not finite:
                    break
            if not finite:
                nfail = _FAIL_NONFINITE
                break
            for i in range(n):
                a1 = F[0, i]
                a2 = F[1, i]
                a3 = F[2, i]
                w1 = W[0, i]
                w2 = W[1, i]
                w3 = W[2, i]
                rre[i] = TI11 * a1 + TI12 * a2 + TI13 * a3 - fac1 * w1
                rc[i] = complex(TI21 * a1 + TI22 * a2 + TI23 * a3 - (alphn * w2 - betan * w3),
                                TI31 * a1 + TI32 * a2 + TI33 * a3 - (betan * w2 + alphn * w3))
            if sparse:
                sparse_lu_solve(sp_ptr, sp_idx, sp_diag, sp_perm, luv1, rre, luw1)
                sparse_lu_solve(sp_ptr, sp_idx, sp_diag, sp_perm, luv2, rc, luw2)
            else:
                lu_solve_real(E1, piv1, rre)
                lu_solve_complex(E2, piv2, rc)
            stats[ST_NSOLVE] += 2
            stats[ST_NNEWTON] += 1
            newt += 1
            acc = 0.0
            for i in range(n):
                si = scal[i]
                d1 = rre[i] / si
                d2 = rc[i].real / si
                d3 = rc[i].imag / si
                acc += d1 * d1 + d2 * d2 + d3 * d3
            dyno = np.sqrt(acc / (3 * n))
            if not np.isfinite(dyno):
                nfail = _FAIL_NONFINITE
                break
            if newt > 1 and newt < NIT:
                thq = dyno / dynold
                if newt == 2:
                    theta = thq
                else:
                    theta = np.sqrt(thq * thqold)
                thqold = thq
                if theta < 0.99:
                    faccon = theta / (1.0 - theta)
                    dyth = faccon * dyno * theta ** (NIT - 1 - newt) / fnewt
                    if dyth >= 1.0:
                        # would not converge within NIT iterations: retry with a smaller h
                        qnewt = max(1e-4, min(20.0, dyth))
                        hhfac = 0.8 * qnewt ** (-1.0 / (4.0 + NIT - 1 - newt))
                        nfail = _FAIL_NEWTON
                        break
                else:
                    nfail = _FAIL_NEWTON
                    hhfac = 0.5
                    break
            dynold = max(dyno, EPS)
            for i in range(n):
                w1 = W[0, i] + rre[i]
                w2 = W[1, i] + rc[i].real
                w3 = W[2, i] + rc[i].imag
                W[0, i] = w1
                W[1, i] = w2
                W[2, i] = w3
                Z[0, i] = T11 * w1 + T12 * w2 + T13 * w3
                Z[1, i] = T21 * w1 + T22 * w2 + T23 * w3
                Z[2, i] = T31 * w1 + T32 * w2 + T33 * w3
            if faccon * dyno <= fnewt:
                break

        if nfail != _FAIL_NONE:
            # unexpected rejection: shrink h, refactor (new Jacobian unless it is current)
            fail_reason = nfail
            h *= hhfac
            reject = True
            last = False
            need_lu = True
            if not jac_current:
                need_jac = True
            continue

        # ---- error estimate ------------------------------------------------------------
        hinv = 1.0 / h
        for i in range(n):
            dz[i] = (DD1 * Z[0, i] + DD2 * Z[1, i] + DD3 * Z[2, i]) * hinv
            err_v[i] = f0[i] + dz[i]
        if sparse:
            sparse_lu_solve(sp_ptr, sp_idx, sp_diag, sp_perm, luv1, err_v, luw1)
        else:
            lu_solve_real(E1, piv1, err_v)
        stats[ST_NSOLVE] += 1
        err = max(_wrms(err_v, scal), 1e-10)
        if err >= 1.0 and (first or reject):
            # second filtered evaluation (removes the error estimate's stiff overshoot)
            for i in range(n):
                ytmp[i] = y[i] + err_v[i]
            rhs(t, ytmp.ctypes, p.ctypes, ftmp.ctypes)
            stats[ST_NFEV] += 1
            if all_finite(ftmp):
                for i in range(n):
                    err_v[i] = ftmp[i] + dz[i]
                if sparse:
                    sparse_lu_solve(sp_ptr, sp_idx, sp_diag, sp_perm, luv1, err_v, luw1)
                else:
                    lu_solve_real(E1, piv1, err_v)
                stats[ST_NSOLVE] += 1
                err2 = _wrms(err_v, scal)
                if np.isfinite(err2):
                    err = max(err2, 1e-10)
        if not np.isfinite(err):
            fail_reason = _FAIL_NONFINITE
            h *= 0.5
            reject = True
            last = False
            need_lu = True
            if not jac_current:
                need_jac = True
            continue

        # ---- new step size ---------------------------------------------------------------
        fac = min(SAFE, cfac / (newt + 2 * NIT))
        quot = max(FACR, min(FACL, err ** 0.25 / fac))
        hnew = h / quot

        if err < 1.0:
            # ---- accepted --------------------------------------------------------------
            first = False
            n_acc += 1
            stats[ST_ACCEPTED] += 1
            if progress > 0 and stats[ST_ACCEPTED] % progress == 0:
                report_progress(t + h, stats[ST_STEPS])
            if n_acc > 1:
                # Gustafsson's predictive controller
                facgus = (hacc / h) * (err * err / erracc) ** 0.25 / SAFE
                facgus = max(FACR, min(FACL, facgus))
                quot = max(quot, facgus)
                hnew = h / quot
            hacc = h
            erracc = max(1e-2, err)

            t_old = t
            hold = h
            t = tf if last else t + h
            for i in range(n):
                y_old[i] = y[i]
                y[i] += Z[2, i]
            for i in range(n):
                z1 = Z[0, i]
                z2 = Z[1, i]
                z3 = Z[2, i]
                Q[0, i] = P11 * z1 + P12 * z2 + P13 * z3
                Q[1, i] = P21 * z1 + P22 * z2 + P23 * z3
                Q[2, i] = P31 * z1 + P32 * z2 + P33 * z3

            # store the step
            ts, ys = record_step(ts, ys, m, t, y)
            if dense:
                if m - 1 >= cf.shape[0]:
                    cf = grow_rows(cf, m)
                for i in range(n):
                    cf[m - 1, i] = y_old[i]
                    cf[m - 1, n + i] = Q[0, i]
                    cf[m - 1, 2 * n + i] = Q[1, i]
                    cf[m - 1, 3 * n + i] = Q[2, i]
            m += 1

            # t_eval points inside (t_old, t]
            while n_eval < k_eval and (t_eval[n_eval] - t) * direction <= 0.0:
                te = t_eval[n_eval]
                if te == t:
                    for i in range(n):
                        yeval[n_eval, i] = y[i]
                else:
                    sq = (te - t_old) / hold
                    for i in range(n):
                        yeval[n_eval, i] = y_old[i] + sq * (Q[0, i] + sq * (Q[1, i] + sq * Q[2, i]))
                n_eval += 1

            for i in range(n):
                scal[i] = atol_i[i] + rtol_i * abs(y[i])
            jac_current = False
            n_sing = 0
            fail_reason = _FAIL_NONE
            if last:
                status = SUCCESS
                break
            rhs(t, y.ctypes, p.ctypes, f0.ctypes)
            stats[ST_NFEV] += 1
            if not all_finite(f0):
                status = NONFINITE
                break

            hnew = direction * min(abs(hnew), hmax_)
            if reject:
                hnew = direction * min(abs(hnew), abs(h))
            reject = False
            if (t + 1.01 * hnew - tf) * direction >= 0.0:
                h = tf - t
                last = True
            else:
                qt = hnew / h
                if theta <= thet and qt >= quot1 and qt <= quot2:
                    continue  # keep h, the Jacobian and the LU factors
                h = hnew
            if theta <= thet:
                need_lu = True
            else:
                need_jac = True
        else:
            # ---- rejected by the error test -------------------------------------------------
            fail_reason = _FAIL_ERROR
            reject = True
            last = False
            if first:
                h *= 0.1
            else:
                h = hnew
            need_lu = True
            if not jac_current:
                need_jac = True

    stats[ST_REJECTED] = stats[ST_STEPS] - stats[ST_ACCEPTED]
    ts_out, ys_out, coeffs = finish_outputs(ts, ys, cf, m, dense, 4)
    return status, t, ts_out, ys_out, coeffs, yeval, n_eval, stats


# ---------------------------------------------------------------------------------------
# Dense output evaluation (plain NumPy)
# ---------------------------------------------------------------------------------------
def radau5_dense_eval(ts, coeffs, tq):
    """Evaluate the continuous output of :func:`radau5` at the times ``tq``.

    ``ts`` (ascending or descending, length ``m >= 2``) and ``coeffs`` (``(m-1, 4, n)``)
    are the driver's outputs.  Each query uses the step that contains it; queries outside
    ``[ts[0], ts[-1]]`` are extrapolated with the first or last step's polynomial.
    Returns ``float64[len(tq), n]``.
    """
    c, s = dense_segments(ts, coeffs, tq, 4)
    return c[:, 0] + s * (c[:, 1] + s * (c[:, 2] + s * c[:, 3]))
