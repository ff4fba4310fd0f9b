"""Shared conventions of the compiled solver drivers.

Model kernels reach the drivers as Numba first-class functions (``cfunc`` objects or
any object with Numba's wrapper-address protocol).  Every kernel has the C signature::

    void kernel(double t, const double *y, const double *p, double *out)

* ``rhs``  writes ``out[i] = f_i(t, y, p)`` for ``i < n``.
* ``jac``  writes the dense Jacobian row-major: ``out[i*n + j] = d f_i / d y_j``.
* ``jacv`` writes the values of the sparse Jacobian in the order of its static CSR
  pattern (``indptr``, ``indices``) that the driver receives as arrays.

Kernels that take a vector (compiled with ``sensitivities=True``; the adjoint's loss
kernels) have a second signature, the same C type as the residual's::

    void kernel(double t, const double *y, const double *p, const double *v, double *out)

* ``jvp``  writes ``out = (df/dy) v``   (``n`` values; ``v`` has ``n`` entries);
* ``vjp``  writes ``out = (df/dy)^T v`` (``n`` values);
* ``pvjp`` writes ``out = (df/dp)^T v`` (one value per parameter);
* loss kernels (:mod:`symgen.sensitivity.loss`) read data values from ``v``.

The arrays passed to one call never overlap (the LLVM backend declares them
``noalias``).

Drivers are ``@njit(cache=True)`` functions compiled once per signature and reused by
every model, so a new model costs only its own kernels' compilation.
"""
from __future__ import annotations

import numpy as np
from numba import njit, objmode, types

from ..progress import solve_report

__all__ = [
    "KERNEL_SIG", "KERNEL_TYPE", "SUCCESS", "MAX_STEPS", "STEP_UNDERFLOW", "NONFINITE",
    "STIFF_DETECTED", "NEWTON_FAILED", "SINGULAR", "MESSAGES", "STAT_NAMES", "N_STATS",
    "ST_STEPS", "ST_ACCEPTED", "ST_REJECTED", "ST_NFEV", "ST_NJEV", "ST_NLU",
    "ST_NNEWTON", "ST_NSOLVE", "grow_rows", "grow_vec", "start_outputs", "finish_outputs",
    "dense_segments", "all_finite", "report_progress", "record_step",
]

_f64p = types.CPointer(types.float64)
#: Numba signature of every model kernel: ``void(t, y*, p*, out*)``.
KERNEL_SIG = types.void(types.float64, _f64p, _f64p, _f64p)
#: First-class function type the drivers accept for a kernel argument.
KERNEL_TYPE = types.FunctionType(KERNEL_SIG)

# ---- status codes returned by every driver ---------------------------------------
SUCCESS = 0          # reached the end of the time span
MAX_STEPS = 1        # gave up after max_steps steps
STEP_UNDERFLOW = 2   # step size fell below the floating-point resolution of t
NONFINITE = 3        # the RHS (or Jacobian) produced NaN/Inf that step rejection could not cure
STIFF_DETECTED = 4   # explicit method stopped because the problem looks stiff (method="auto")
NEWTON_FAILED = 5    # the implicit method's Newton iteration failed repeatedly
SINGULAR = 6         # the Newton matrix was singular repeatedly

MESSAGES = {
    SUCCESS: "the solver reached the end of the time span",
    MAX_STEPS: "maximum number of steps reached",
    STEP_UNDERFLOW: "step size became too small",
    NONFINITE: "non-finite values (NaN/Inf) in the right-hand side",
    STIFF_DETECTED: "problem detected as stiff",
    NEWTON_FAILED: "Newton iteration failed to converge at the smallest step size",
    SINGULAR: "Newton matrix singular",
}

# ---- layout of the int64 stats array every driver returns ------------------------
ST_STEPS, ST_ACCEPTED, ST_REJECTED, ST_NFEV, ST_NJEV, ST_NLU, ST_NNEWTON, ST_NSOLVE = range(8)
N_STATS = 8
STAT_NAMES = ("steps", "accepted", "rejected", "nfev", "njev", "nlu", "newton_iters", "linear_solves")


@njit(cache=True)
def grow_rows(a, nrows):
    """Return a copy of 2-D ``a`` with room for at least ``nrows`` rows."""
    cap = a.shape[0]
    while cap < nrows:
        cap = 2 * cap + 1
    b = np.empty((cap, a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def grow_vec(a, n):
    """Return a copy of 1-D ``a`` with room for at least ``n`` entries."""
    cap = a.shape[0]
    while cap < n:
        cap = 2 * cap + 1
    b = np.empty(cap, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def start_outputs(t0, tf, y0, t_eval, dense, width, stats):
    """The output buffers every driver starts with.

    Returns ``(y, ts, ys, cf, yeval, n_eval, m, t, direction, span)``: a copy ``y`` of
    ``y0``; accepted times ``ts`` and states ``ys`` (capacity 64, the first row ``t0``,
    ``y0``, ``m`` rows used); dense-output rows ``cf`` of ``width`` values (none unless
    ``dense``); ``yeval`` (NaN-filled, one row per ``t_eval`` point) with the points at
    ``t0`` filled and ``n_eval`` counting the points passed; the current time ``t``, the
    direction of integration and the length of the span still to integrate.  With no
    states there is nothing to integrate: one trivial step to ``tf`` is recorded (in
    ``stats`` too) and the span left is 0.
    """
    n = y0.shape[0]
    k_eval = t_eval.shape[0]
    yeval = np.full((k_eval, n), np.nan)
    direction = 1.0 if tf >= t0 else -1.0
    span = abs(tf - t0)
    y = np.empty(n)
    for i in range(n):
        y[i] = y0[i]
    cap = 64
    ts = np.empty(cap)
    ys = np.empty((cap, n))
    cf = np.empty((cap if dense else 0, width))
    ts[0] = t0
    ys[0] = y
    m = 1
    t = t0
    n_eval = 0
    while n_eval < k_eval and (t_eval[n_eval] - t0) * direction <= 0.0:
        if t_eval[n_eval] == t0:
            for i in range(n):
                yeval[n_eval, i] = y[i]
        n_eval += 1
    if n == 0 and span > 0.0:
        ts[1] = tf
        m = 2
        stats[ST_STEPS] = 1
        stats[ST_ACCEPTED] = 1
        while n_eval < k_eval and (t_eval[n_eval] - tf) * direction <= 0.0:
            n_eval += 1
        t = tf
        span = 0.0
    return y, ts, ys, cf, yeval, n_eval, m, t, direction, span


@njit(cache=True)
def finish_outputs(ts, ys, cf, m, dense, k):
    """The driver's returned ``(ts, ys, coeffs)``: the ``m`` accepted rows, and the dense
    output as ``(m - 1, k, n)`` (``(0, k, n)`` unless ``dense``)."""
    n = ys.shape[1]
    if dense:
        coeffs = cf[: m - 1].copy().reshape((m - 1, k, n))
    else:
        coeffs = np.empty((0, k, n))
    return ts[:m].copy(), ys[:m].copy(), coeffs


def dense_segments(ts, coeffs, tq, k):
    """For evaluating a driver's dense output (plain NumPy): ``(c, s)`` with ``c`` the
    coefficients ``(len(tq), k, n)`` of the step holding each query (the first or last
    step for queries outside ``[ts[0], ts[-1]]``) and ``s`` the position in that step,
    0 at its start and 1 at its end, shape ``(len(tq), 1)``; ``ts`` may descend."""
    ts = np.asarray(ts, dtype=np.float64)
    coeffs = np.asarray(coeffs, dtype=np.float64)
    tq = np.atleast_1d(np.asarray(tq, dtype=np.float64))
    m = ts.shape[0]
    if m < 2 or coeffs.ndim != 3 or coeffs.shape[:2] != (m - 1, k):
        raise ValueError(f"dense output needs at least one step and coeffs of shape (len(ts)-1, {k}, n)")
    if ts[-1] >= ts[0]:
        idx = np.searchsorted(ts, tq, side="right") - 1
    else:
        idx = np.searchsorted(-ts, -tq, side="right") - 1
    idx = np.clip(idx, 0, m - 2)
    s = ((tq - ts[idx]) / (ts[idx + 1] - ts[idx]))[:, None]
    return coeffs[idx], s


@njit(cache=True)
def all_finite(a):
    """Whether every entry of the array ``a`` is finite."""
    for v in a.flat:
        if not np.isfinite(v):
            return False
    return True


@njit(cache=True)
def report_progress(t, steps):
    """Hand ``t`` and the step count to the active progress reporter (Python, object
    mode).  Drivers call it every few accepted steps, and only when reporting is on."""
    with objmode():
        solve_report(t, steps)


@njit(cache=True)
def record_step(ts, ys, m, t, y):
    """Store the accepted time ``t`` and state ``y`` as row ``m`` (growing the buffers);
    returns ``(ts, ys)``."""
    if m >= ts.shape[0]:
        ts = grow_vec(ts, m + 1)
        ys = grow_rows(ys, m + 1)
    ts[m] = t
    for i in range(y.shape[0]):
        ys[m, i] = y[i]
    return ts, ys
