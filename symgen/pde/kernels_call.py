"""Calling the five-argument ``jtv`` kernel from Python."""
from __future__ import annotations

from numba import njit

__all__ = ["call_vec_kernel"]


@njit(cache=True)
def call_vec_kernel(f, t, y, p, v, out):
    """``f(t, y, p, v, out)`` for contiguous float64 arrays."""
    f(t, y.ctypes, p.ctypes, v.ctypes, out.ctypes)
