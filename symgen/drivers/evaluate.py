"""Small compiled helpers that call model kernels from Python or over many points."""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["call_kernel", "call_residual", "residual_from_rhs", "kernel_over_points", "call_vector",
           "vector_kernel_over_points"]


@njit(cache=True)
def call_kernel(f, t, y, p, out):
    """``f(t, y, p, out)`` for contiguous float64 arrays."""
    f(t, y.ctypes, p.ctypes, out.ctypes)


@njit(cache=True)
def call_residual(f, t, y, yp, p, out):
    """Residual kernel ``F(t, y, yp, p, out)``."""
    f(t, y.ctypes, yp.ctypes, p.ctypes, out.ctypes)


@njit(cache=True)
def residual_from_rhs(f, t, y, yp, p, out):
    """ODE residual ``out = yp - f(t, y, p)`` from the rhs kernel ``f``."""
    f(t, y.ctypes, p.ctypes, out.ctypes)
    for i in range(out.shape[0]):
        out[i] = yp[i] - out[i]


@njit(cache=True)
def kernel_over_points(f, ts, ys, p, nout):
    """Evaluate ``f`` at every ``(ts[k], ys[k])``; returns ``float64[len(ts), nout]``."""
    m = ts.shape[0]
    out = np.empty((m, nout))
    y = np.empty(ys.shape[1])
    buf = np.empty(max(nout, 1))
    for k in range(m):
        for i in range(ys.shape[1]):
            y[i] = ys[k, i]
        f(ts[k], y.ctypes, p.ctypes, buf.ctypes)
        for i in range(nout):
            out[k, i] = buf[i]
    return out


@njit(cache=True)
def call_vector(f, t, y, p, v, out):
    """Vector-input kernel ``f(t, y, p, v, out)`` (JVP/VJP and loss kernels)."""
    f(t, y.ctypes, p.ctypes, v.ctypes, out.ctypes)


@njit(cache=True)
def vector_kernel_over_points(f, ts, ys, p, vs, out):
    """``out[k] = f(ts[k], ys[k], p, vs[k])`` for a vector-input kernel (rows contiguous)."""
    y = np.empty(ys.shape[1])
    v = np.empty(vs.shape[1])
    buf = np.empty(out.shape[1])
    for k in range(ts.shape[0]):
        for i in range(ys.shape[1]):
            y[i] = ys[k, i]
        for i in range(vs.shape[1]):
            v[i] = vs[k, i]
        f(ts[k], y.ctypes, p.ctypes, v.ctypes, buf.ctypes)
        for i in range(out.shape[1]):
            out[k, i] = buf[i]
