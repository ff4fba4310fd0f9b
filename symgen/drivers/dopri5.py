"""Compiled Dormand–Prince 5(4) driver for non-stiff ODEs.

The method and its control strategy follow Hairer, Norsett & Wanner, *Solving Ordinary
Differential Equations I*, sections II.4–II.6 and the description of the DOPRI5 code:

* the explicit 7-stage Dormand–Prince pair of orders 5 and 4; the last stage is the
  right-hand side at the new (order-5) solution, so it is reused as the first stage of
  the next step (FSAL, six RHS calls per step);
* the error is measured as ``sqrt(mean((err_i / sk_i)**2))`` with
  ``sk_i = atol_i + rtol * max(|y_i|, |ynew_i|)``; the step size is controlled with the
  PI (Lund) stabilised rule ``fac = err**(0.2 - 0.75 beta) * errold**(-beta)``
  (``beta = 0.04``, safety ``0.9``, ``hnew/h`` within ``[0.2, 10]``, no growth right after
  a rejection), the starting step by Hairer's HINIT algorithm;
* stiffness is detected from ``h * lambda ~ |h| ||k7 - k6|| / ||y7 - y6||`` (the last two
  stages are evaluated at the same time): 15 consecutive accepted steps with an estimate
  above :data:`STIFF_HLAMB` flag the problem as stiff, 6 steps below it reset the count;
* a trial step whose stages are not finite is rejected and ``h`` is divided by 10.

Model kernels arrive as Numba first-class functions following
:mod:`symgen.drivers.common`, so :func:`dopri5` is compiled once and shared by every
model.

Dense output (Hairer's continuous extension of order 4): for accepted step ``k`` (from
``ts[k]`` to ``ts[k+1]``) ``coeffs[k]`` holds ``(r1, r2, r3, r4, r5)`` and ::

    y(t) = r1 + s*(r2 + (1-s)*(r3 + s*(r4 + (1-s)*r5))),   s = (t - ts[k]) / (ts[k+1] - ts[k])

(valid for backward integration too), where ``r1 = y_k``, ``r2 = y_{k+1} - y_k``,
``r3 = h k1 - r2``, ``r4 = r2 - h k7 - r3`` and ``r5 = h sum_j d_j k_j``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .common import (MAX_STEPS, N_STATS, NONFINITE, ST_ACCEPTED, ST_NFEV, ST_REJECTED,
                     ST_STEPS, STEP_UNDERFLOW, STIFF_DETECTED, SUCCESS, dense_segments,
                     all_finite, finish_outputs, grow_rows, start_outputs,
                     record_step, report_progress)

__all__ = ["dopri5", "dopri5_dense_eval", "DOPRI5_TABLEAU"]

# ---------------------------------------------------------------------------------------
# Dormand–Prince 5(4) tableau (row 6 of A is b: first-same-as-last)
# ---------------------------------------------------------------------------------------
_C = np.array([0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0])
_A = np.zeros((7, 7))
_A[1, 0] = 1.0 / 5.0
_A[2, :2] = [3.0 / 40.0, 9.0 / 40.0]
_A[3, :3] = [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0]
_A[4, :4] = [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0]
_A[5, :5] = [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0]
_A[6, :6] = [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0]
# e = b - bhat (difference of the order-5 and the embedded order-4 weights)
_E = np.array([71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0,
               22.0 / 525.0, -1.0 / 40.0])
# weights of the last term of the continuous extension
_D = np.array([-12715105075.0 / 11282082432.0, 0.0, 87487479700.0 / 32700410799.0,
               -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
               -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0])

#: The tableau as read-only copies: ``c``, ``A`` (7 x 7), ``b``, ``e = b - bhat``, ``d``.
DOPRI5_TABLEAU = {"c": _C.copy(), "A": _A.copy(), "b": _A[6].copy(), "e": _E.copy(),
                  "d": _D.copy()}
for _v in DOPRI5_TABLEAU.values():
    _v.setflags(write=False)

# ---- control parameters (DOPRI5 defaults) -----------------------------------------------
SAFE = 0.9           # safety factor
BETA = 0.04          # PI (Lund) stabilisation
EXPO1 = 0.2 - 0.75 * BETA
FACMIN = 0.2         # hnew/h >= FACMIN
FACMAX = 10.0        # hnew/h <= FACMAX
# |h lambda| beyond which a step counts as a stiffness hit.  Lower than DOPRI5's 3.25:
# the estimate from one difference vector underestimates |lambda| when the stiff
# component is small (Robertson's y2 ~ 1e-5), so with 3.25 Robertson ran ~3900
# stability-limited explicit steps before switching; with 2.0 it switches after ~100,
# while Lorenz at rtol 1e-3 .. 1e-10 is never flagged.
STIFF_HLAMB = 2.0
STIFF_HITS = 15      # consecutive hits that flag stiffness
STIFF_RESET = 6      # consecutive non-stiff steps that reset the hit count
EPS = 2.220446049250313e-16


@njit(cache=True)
def _initial_step(rhs, t0, y0, f0, p, direction, rtol, atol, hmax, f1, y1):
    """Hairer's HINIT: starting step from ``||y0||``, ``||f0||`` and a difference
    estimate of ``||y''||`` after an explicit Euler step (one RHS call).  Components
    with a zero scale ``atol_i + rtol |y0_i|`` are left out of the norms."""
    n = y0.shape[0]
    dnf = 0.0
    dny = 0.0
    for i in range(n):
        sk = atol[i] + rtol * abs(y0[i])
        if sk > 0.0:
            dnf += (f0[i] / sk) ** 2
            dny += (y0[i] / sk) ** 2
    dnf /= n
    dny /= n
    if dnf <= 1e-10 or dny <= 1e-10:
        h = 1e-6
    else:
        h = 0.01 * np.sqrt(dny / dnf)
    h = min(h, hmax)
    for i in range(n):
        y1[i] = y0[i] + direction * h * f0[i]
    rhs(t0 + direction * h, y1.ctypes, p.ctypes, f1.ctypes)
    der2 = 0.0
    for i in range(n):
        sk = atol[i] + rtol * abs(y0[i])
        if sk > 0.0:
            der2 += ((f1[i] - f0[i]) / sk) ** 2
    der2 = np.sqrt(der2 / n) / h
    if not np.isfinite(der2):
        return h  # the Euler probe failed; the step rejection will shrink h if needed
    der12 = max(der2, np.sqrt(dnf))
    if der12 <= 1e-15:
        h1 = max(1e-6, h * 1e-3)
    else:
        h1 = (0.01 / der12) ** 0.2
    return min(100.0 * h, h1, hmax)


@njit(cache=True)
def dopri5(rhs, t0, tf, y0, p, rtol, atol, h0, hmax, max_steps, t_eval, dense, detect_stiff,
           progress=0):
    """Integrate ``y' = rhs(t, y, p)`` from ``t0`` to ``tf`` with Dormand–Prince 5(4).

    Parameters
    ----------
    rhs : kernel
        Right-hand side (``common.KERNEL_SIG``).
    t0, tf : float
        Time span; ``tf < t0`` integrates backwards.
    y0 : float64[n]
        Initial state.
    p : float64[m]
        Parameters.
    rtol : float
        Relative tolerance.
    atol : float64[n]
        Absolute tolerances.
    h0 : float
        Initial step size (0.0: automatic, Hairer's HINIT).
    hmax : float
        Largest step size (0.0: ``|tf - t0|``).
    max_steps : int
        Attempted steps allowed.
    t_eval : float64[k]
        Output times sorted in the direction of integration, evaluated with the dense
        output as the steps pass them.
    dense : bool
        Store the per-step dense-output coefficients.
    detect_stiff : bool
        Stop with ``STIFF_DETECTED`` at the current accepted time when the problem
        looks stiff.
    progress : int
        When positive, report ``t`` to :mod:`symgen.progress` every ``progress``
        accepted steps (object-mode callback; 0 = never).

    Returns
    -------
    tuple
        ``(status, t_reached, ts, ys, coeffs, yeval, n_eval, stats)``: ``t_reached`` the
        time of the last accepted step, ``ts`` the accepted times including ``t0``,
        ``ys`` the states there, ``coeffs`` float64[m-1, 5, n] (see the module docstring;
        ``(0, 5, n)`` unless ``dense``), ``yeval`` float64[k, n] whose first ``n_eval``
        rows are filled (rows of ``t_eval`` points before ``t0`` are NaN), ``stats`` int64
        array in the layout of ``common.STAT_NAMES``.
    """
    n = y0.shape[0]
    stats = np.zeros(N_STATS, np.int64)
    k_eval = t_eval.shape[0]
    y, ts, ys, cf, yeval, n_eval, m, t, direction, span = start_outputs(t0, tf, y0, t_eval, dense, 5 * n,
                                                                       stats)

    status = SUCCESS
    K = np.zeros((7, n))          # stages; K[0] = f(t, y) (FSAL)
    ytmp = np.empty(n)
    ynew = np.empty(n)
    y6 = np.empty(n)              # argument of stage 6 (stiffness estimate)
    rc = np.empty((5, n))         # dense-output coefficients of the current step

    if span > 0.0:
        rhs(t, y.ctypes, p.ctypes, K[0].ctypes)
        stats[ST_NFEV] += 1
        if not all_finite(K[0]):
            status = NONFINITE
            span = 0.0  # skip the integration loop

    hmax_ = span if hmax == 0.0 else min(abs(hmax), span)
    h = 0.0
    last = False
    if span > 0.0:
        if h0 != 0.0:
            h = min(abs(h0), hmax_)
        else:
            h = _initial_step(rhs, t, y, K[0], p, direction, rtol, atol, hmax_, ynew, ytmp)
            stats[ST_NFEV] += 1
        h *= direction
        if (t + 1.01 * h - tf) * direction >= 0.0:
            h = tf - t
            last = True

    facold = 1e-4
    reject = False
    fail_nonfinite = False
    n_hits = 0
    n_calm = 0

    while span > 0.0:
        if stats[ST_STEPS] >= max_steps:
            status = MAX_STEPS
            break
        if h == 0.0 or 0.1 * abs(h) <= abs(t) * EPS:
            status = NONFINITE if fail_nonfinite else STEP_UNDERFLOW
            break
        stats[ST_STEPS] += 1
        tnew = tf if last else t + h

        # ---- stages 2..7 (stage 7 is evaluated at ynew) ------------------------------
        finite = True
        for s in range(1, 7):
            for i in range(n):
                acc = 0.0
                for j in range(s):
                    acc += _A[s, j] * K[j, i]
                ytmp[i] = y[i] + h * acc
            if s == 5:
                for i in range(n):
                    y6[i] = ytmp[i]
            elif s == 6:
                for i in range(n):
                    ynew[i] = ytmp[i]
                if not all_finite(ynew):
                    finite = False
                    break
            rhs(tnew if s == 6 else t + _C[s] * h, ytmp.ctypes, p.ctypes, K[s].ctypes)
            stats[ST_NFEV] += 1
            if not all_finite(K[s]):
                finite = False
                break

        # ---- error estimate -----------------------------------------------------------
        err = np.inf
        if finite:
            acc = 0.0
            for i in range(n):
                e = 0.0
                for j in range(7):
                    e += _E[j] * K[j, i]
                e *= h
                sk = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
                if sk > 0.0:
                    acc += (e / sk) ** 2
                elif e != 0.0:
                    acc = np.inf
            err = np.sqrt(acc / n)
        if not finite or np.isnan(err):
            # non-finite trial step: reject and shrink h tenfold
            fail_nonfinite = True
            h *= 0.1
            reject = True
            last = False
            continue

        fac11 = err ** EXPO1
        if err <= 1.0:
            # ---- accepted ---------------------------------------------------------------
            fac = fac11 / facold ** BETA
            fac = max(1.0 / FACMAX, min(1.0 / FACMIN, fac / SAFE))
            hnew = h / fac
            facold = max(err, 1e-4)
            stats[ST_ACCEPTED] += 1
            if progress > 0 and stats[ST_ACCEPTED] % progress == 0:
                report_progress(t + h, stats[ST_STEPS])
            fail_nonfinite = False

            stiff = False
            if detect_stiff:
                stnum = 0.0
                stden = 0.0
                for i in range(n):
                    stnum += (K[6, i] - K[5, i]) ** 2
                    stden += (ynew[i] - y6[i]) ** 2
                if stden > 0.0:
                    if abs(h) * np.sqrt(stnum / stden) > STIFF_HLAMB:
                        n_calm = 0
                        n_hits += 1
                        stiff = n_hits >= STIFF_HITS
                    else:
                        n_calm += 1
                        if n_calm == STIFF_RESET:
                            n_hits = 0

            t_old = t
            t = tnew
            if dense or n_eval < k_eval:
                for i in range(n):
                    d5 = 0.0
                    for j in range(7):
                        d5 += _D[j] * K[j, i]
                    r2 = ynew[i] - y[i]
                    r3 = h * K[0, i] - r2
                    rc[0, i] = y[i]
                    rc[1, i] = r2
                    rc[2, i] = r3
                    rc[3, i] = r2 - h * K[6, i] - r3
                    rc[4, i] = h * d5
            for i in range(n):
                y[i] = ynew[i]
                K[0, i] = K[6, i]

            # store the step
            ts, ys = record_step(ts, ys, m, t, y)
            if dense:
                if m - 1 >= cf.shape[0]:
                    cf = grow_rows(cf, m)
                for r in range(5):
                    for i in range(n):
                        cf[m - 1, r * n + i] = rc[r, i]
            m += 1

            # t_eval points inside (t_old, t]
            while n_eval < k_eval and (t_eval[n_eval] - t) * direction <= 0.0:
                te = t_eval[n_eval]
                if te == t:
                    for i in range(n):
                        yeval[n_eval, i] = y[i]
                else:
                    sq = (te - t_old) / (t - t_old)
                    s1 = 1.0 - sq
                    for i in range(n):
                        yeval[n_eval, i] = rc[0, i] + sq * (rc[1, i] + s1 * (
                            rc[2, i] + sq * (rc[3, i] + s1 * rc[4, i])))
                n_eval += 1

            if last:
                status = SUCCESS
                break
            if stiff:
                status = STIFF_DETECTED
                break

            hnew = direction * min(abs(hnew), hmax_)
            if reject:
                hnew = direction * min(abs(hnew), abs(h))
            reject = False
            if (t + 1.01 * hnew - tf) * direction >= 0.0:
                if abs(tf - t) <= hmax_:
                    h = tf - t
                    last = True
                else:
                    h = 0.5 * (tf - t)  # within 1 % beyond hmax: two equal steps
            else:
                h = hnew
        else:
            # ---- rejected by the error test ----------------------------------------------
            fail_nonfinite = False
            h = h / min(1.0 / FACMIN, fac11 / SAFE)
            reject = True
            last = False

    stats[ST_REJECTED] = stats[ST_STEPS] - stats[ST_ACCEPTED]
    ts_out, ys_out, coeffs = finish_outputs(ts, ys, cf, m, dense, 5)
    return status, t, ts_out, ys_out, coeffs, yeval, n_eval, stats


# ---------------------------------------------------------------------------------------
# Dense output evaluation (plain NumPy)
# ---------------------------------------------------------------------------------------
def dopri5_dense_eval(ts, coeffs, tq):
    """Evaluate the continuous output of :func:`dopri5` at the times ``tq``.

    Parameters
    ----------
    ts : float64[m]
        Accepted times (ascending or descending, ``m >= 2``) returned by the driver.
    coeffs : float64[m-1, 5, n]
        Dense-output coefficients returned by the driver (layout in the module docstring).
    tq : array_like
        Query times.  Each query uses the step that contains it; queries outside
        ``[ts[0], ts[-1]]`` are extrapolated with the first or last step's polynomial.

    Returns
    -------
    float64[len(tq), n]
    """
    c, s = dense_segments(ts, coeffs, tq, 5)
    s1 = 1.0 - s
    return c[:, 0] + s * (c[:, 1] + s1 * (c[:, 2] + s * (c[:, 3] + s1 * c[:, 4])))
