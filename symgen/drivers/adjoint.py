"""Compiled backward drivers of the continuous adjoint (see :mod:`symgen.sensitivity.adjoint`).

Between two checkpoints the forward solution ``x(t)`` is known through the dense output
of a forward re-solve (``ts``, ``coeffs`` of :func:`~symgen.drivers.dopri5.dopri5`,
``kind = 0``, or of :func:`~symgen.drivers.radau5.radau5`, ``kind = 1``).  The drivers
integrate, from ``t_hi`` down to ``t_lo``, the adjoint state ``z = (lam, mu, q)``::

    lam' = -(J^T lam + h_x),   mu' = -(F_p^T lam + h_p),   q' = -h

with ``J = df/dy``, ``F_p = df/dp`` at ``(t, x(t), p)`` and ``h`` the integrand of the
loss (absent unless ``has_quad``), so that ``mu(t0) = integral of lam^T F_p + h_p`` and
``q(t0) = integral of h`` when both start at 0 at the final time.

* :func:`adjoint_explicit` (here): Dormand-Prince 5(4) with its embedded error
  estimate (on ``lam`` and ``q``; on ``mu`` too when its ``atol`` entries are finite);
  ``J^T lam`` and ``F_p^T lam`` come from the generated ``vjp``/``pvjp`` kernels (no
  matrix is formed).
* stiff models: Radau IIA drivers in :mod:`symgen.drivers.adjoint_stiff`.

Kernels follow :mod:`symgen.drivers.common` (``vjp``, ``pvjp`` and the loss integrand
``quad`` with the vector signature; ``quad`` writes ``[h, h_x (n), h_p (m)]``).
Status codes are those of :mod:`symgen.drivers.common`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .common import NONFINITE, ST_NFEV, ST_STEPS, SUCCESS
from .dopri5 import DOPRI5_TABLEAU
from .sens_common import add_jump, first_step, segment_target, step_control, step_start, too_small

__all__ = ["dense_state", "adjoint_explicit", "DENSE_DOPRI5", "DENSE_RADAU5", "DENSE_BDF"]

#: layouts of the forward dense output: dopri5 (5 coefficients per step), radau5 (4, the
#: collocation polynomial), bdf (6: powers 0..5 of the position in the step)
DENSE_DOPRI5, DENSE_RADAU5, DENSE_BDF = 0, 1, 2
_DP_A = np.ascontiguousarray(DOPRI5_TABLEAU["A"])
_DP_C = np.ascontiguousarray(DOPRI5_TABLEAU["c"])
_DP_E = np.ascontiguousarray(DOPRI5_TABLEAU["e"])


@njit(cache=True)
def dense_state(ts, cf, kind, t, x):
    """Write the forward dense output at ``t`` into ``x`` (``ts`` ascending)."""
    m = ts.shape[0]
    k = np.searchsorted(ts, t, side="right") - 1
    k = min(max(k, 0), m - 2)
    s = (t - ts[k]) / (ts[k + 1] - ts[k])
    if kind == DENSE_DOPRI5:
        s1 = 1.0 - s
        for i in range(x.shape[0]):
            x[i] = cf[k, 0, i] + s * (cf[k, 1, i] + s1 * (cf[k, 2, i] + s * (cf[k, 3, i] + s1 * cf[k, 4, i])))
    elif kind == DENSE_RADAU5:
        for i in range(x.shape[0]):
            x[i] = cf[k, 0, i] + s * (cf[k, 1, i] + s * (cf[k, 2, i] + s * cf[k, 3, i]))
    else:
        q = cf.shape[1] - 1
        for i in range(x.shape[0]):
            acc = cf[k, q, i]
            for j in range(q - 1, -1, -1):
                acc = acc * s + cf[k, j, i]
            x[i] = acc


@njit(cache=True)
def dopri_stage(h, s, K, y, ys):
    """``ys = y + h sum_{j<s} a_sj K[j]``: the input of Dormand-Prince stage ``s``."""
    for i in range(y.shape[0]):
        acc = y[i]
        for j in range(s):
            acc += h * _DP_A[s, j] * K[j, i]
        ys[i] = acc


@njit(cache=True)
def dopri_error(h, K, y, yn, atol, rtol, err, finite):
    """Add the squared scaled embedded errors of ``y -> yn`` to ``err``; returns ``(err,
    finite)`` with ``finite`` cleared when ``yn`` has a NaN/Inf."""
    for i in range(y.shape[0]):
        e = 0.0
        for j in range(7):
            e += _DP_E[j] * K[j, i]
        sk = atol[i] + rtol * max(abs(y[i]), abs(yn[i]))
        r = h * e / sk if sk > 0.0 else (0.0 if h * e == 0.0 else np.inf)
        err += r * r
        if not np.isfinite(yn[i]):
            finite = False
    return err, finite


@njit(cache=True)
def _adjoint_rhs(vjp, pvjp, quad, has_quad, ts, cf, kind, t, z, p, n, m, x, lam, gl, gp, qb, nodata, dz):
    dense_state(ts, cf, kind, t, x)
    for i in range(n):
        lam[i] = z[i]
    vjp(t, x.ctypes, p.ctypes, lam.ctypes, gl.ctypes)
    pvjp(t, x.ctypes, p.ctypes, lam.ctypes, gp.ctypes)
    if has_quad:
        quad(t, x.ctypes, p.ctypes, nodata.ctypes, qb.ctypes)
        for i in range(n):
            dz[i] = -(gl[i] + qb[1 + i])
        for j in range(m):
            dz[n + j] = -(gp[j] + qb[1 + n + j])
        dz[n + m] = -qb[0]
    else:
        for i in range(n):
            dz[i] = -gl[i]
        for j in range(m):
            dz[n + j] = -gp[j]
        dz[n + m] = 0.0


@njit(cache=True)
def adjoint_explicit(vjp, pvjp, quad, has_quad, ts, cf, kind, t_hi, t_lo, stops, jumps, z, p, n, m, rtol,
                     atol, h0, max_steps, stats):
    """Integrate ``z`` (length ``n + m + 1``, updated in place) from ``t_hi`` down to
    ``t_lo`` with Dormand-Prince 5(4), adding ``jumps[s]`` to ``z[:n+m]`` on reaching
    ``stops[s]`` (descending, inside ``[t_lo, t_hi]``: the point terms of the loss).

    ``atol`` has one entry per component of ``z``; an infinite entry leaves that
    component out of the error test (the quadratures ``mu``, ``q`` by default).
    Returns ``(status, t reached, last step size)``."""
    t = t_hi
    h = h0
    for s in range(stops.shape[0] + 1):
        target = segment_target(stops, s, t_lo)
        if target < t:
            status, t, h = _explicit_segment(vjp, pvjp, quad, has_quad, ts, cf, kind, t, target, z, p, n, m,
                                             rtol, atol, h, max_steps, stats)
            if status != SUCCESS:
                return status, t, h
        add_jump(z, stops, jumps, s, n + m)
    return SUCCESS, t, h


@njit(cache=True)
def _explicit_segment(vjp, pvjp, quad, has_quad, ts, cf, kind, t_hi, t_lo, z, p, n, m, rtol, atol,
                      h0, max_steps, stats):
    """One stretch of :func:`adjoint_explicit` without jumps."""
    N = z.shape[0]
    K = np.empty((7, N))
    zs = np.empty(N)
    zn = np.empty(N)
    x = np.empty(n)
    lam = np.empty(max(n, 1))
    gl = np.empty(max(n, 1))
    gp = np.empty(max(m, 1))
    qb = np.empty(1 + n + m)
    nodata = np.zeros(1)
    t = t_hi
    span = t_hi - t_lo
    if span <= 0.0:
        return SUCCESS, t, h0
    h = first_step(h0, span)
    _adjoint_rhs(vjp, pvjp, quad, has_quad, ts, cf, kind, t, z, p, n, m, x, lam, gl, gp, qb, nodata, K[0])
    stats[ST_NFEV] += 1
    reject = False
    steps = 0
    while t > t_lo:
        status, h, last = step_start(steps, max_steps, t, h, t - t_lo)
        if status != SUCCESS:
            return status, t, h
        hs = -h  # signed step (backwards in time)
        for s in range(1, 7):
            dopri_stage(hs, s, K, z, zs)
            _adjoint_rhs(vjp, pvjp, quad, has_quad, ts, cf, kind, t + _DP_C[s] * hs, zs, p, n, m,
                         x, lam, gl, gp, qb, nodata, K[s])
        stats[ST_NFEV] += 6
        steps += 1
        stats[ST_STEPS] += 1
        for i in range(N):
            zn[i] = zs[i]  # stage 7 is evaluated at the order-5 solution
        err, finite = dopri_error(hs, K, z, zn, atol, rtol, 0.0, True)
        err = np.sqrt(err / N) if N > 0 else 0.0
        if not finite or not np.isfinite(err):
            h *= 0.1
            reject = True
            if too_small(t, h):
                return NONFINITE, t, h
            continue
        accepted, h_new = step_control(h, err, reject, 0.2, 10.0, stats)
        if accepted:
            t = t_lo if last else t + hs
            for i in range(N):
                z[i] = zn[i]
                K[0, i] = K[6, i]
        h = h_new
        reject = not accepted
    return SUCCESS, t, h
