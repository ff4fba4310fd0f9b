"""Finite-difference weights derived symbolically, in exact rationals.

:func:`weights` solves the Taylor (moment) conditions on any set of integer offsets,
so interior stencils, one-sided boundary closures and upwind-biased stencils all come
from the same routine.  :func:`stencil` picks the offsets for a derivative of order
``m`` with accuracy ``p`` at a node that has ``room_lo`` nodes below and ``room_hi``
above it (``None``: unlimited).
"""
from __future__ import annotations

import functools

import sympy as sp

from ..errors import StencilOrderError

__all__ = ["weights", "stencil", "accuracy", "ORDERS"]

#: Accuracy orders offered.
ORDERS = (2, 4)


@functools.lru_cache(maxsize=None)
def weights(m: int, offsets: tuple) -> tuple:
    """Exact weights ``w`` with ``sum_j w_j f(x + s_j h) = h^m f^(m)(x) + O(h^(m+q))`` on
    the distinct integer ``offsets`` (``q = len(offsets) - m`` at least)."""
    offsets = tuple(int(s) for s in offsets)
    k = len(offsets)
    if len(set(offsets)) != k or k <= m:
        raise StencilOrderError(f"{k} distinct offsets cannot give a derivative of order {m}")
    A = sp.Matrix(k, k, lambda r, c: sp.Rational(offsets[c]) ** r / sp.factorial(r))
    rhs = sp.Matrix(k, 1, lambda r, _: 1 if r == m else 0)
    return tuple(sp.nsimplify(w) for w in A.LUsolve(rhs))


@functools.lru_cache(maxsize=None)
def accuracy(m: int, offsets: tuple) -> int:
    """Order of accuracy of :func:`weights` ``(m, offsets)`` (first nonzero moment)."""
    w = weights(m, offsets)
    r = len(offsets)
    while True:
        if sum(wj * sp.Rational(s) ** r for wj, s in zip(w, offsets)) != 0:
            return r - m
        r += 1


def _centered_width(m: int, p: int) -> int:
    return 2 * ((m + 1) // 2) - 1 + p


@functools.lru_cache(maxsize=None)
def stencil(m: int, p: int, room_lo=None, room_hi=None, bias: int = 0) -> tuple:
    """Offsets and weights ``((s_0, w_0), ...)`` for ``d^m/dx^m`` of accuracy ``p``.

    Centered where the room allows; else a window of ``m + p`` nodes pushed against the
    boundary (accuracy ``p``).  ``bias = -1`` / ``+1`` asks for an upwind window of
    ``m + p`` nodes reaching one node past the centre on the downstream side
    (backward / forward differences of order ``p``; first derivatives only).
    """
    if p not in ORDERS:
        raise StencilOrderError(f"finite-difference order {p} is not supported; choose one of {ORDERS}")
    if m < 1:
        raise StencilOrderError(f"derivative order must be positive, got {m}")
    if bias == 0:
        w = _centered_width(m, p)
        r = w // 2
        lo, hi = -r, r
    else:
        w = m + p
        if bias < 0:
            hi = 0 if p == 2 else 1
            lo = hi - w + 1
        else:
            lo = 0 if p == 2 else -1
            hi = lo + w - 1
    if (room_lo is not None and lo < -room_lo) or (room_hi is not None and hi > room_hi):
        w = max(w, m + p)  # a non-centred window needs m + p nodes for accuracy p
        if room_lo is not None and lo < -room_lo or (room_lo is not None and hi - lo + 1 < w):
            lo = -room_lo
            hi = lo + w - 1
        if room_hi is not None and hi > room_hi:
            hi = room_hi
            lo = hi - w + 1
        if room_lo is not None and lo < -room_lo:
            raise StencilOrderError(f"not enough grid nodes for a derivative of order {m} with accuracy {p}")
    offs = tuple(range(lo, hi + 1))
    wts = weights(m, offs)
    if accuracy(m, offs) < p:  # pragma: no cover - guarded by construction
        raise StencilOrderError(f"stencil {offs} of d^{m} has accuracy below {p}")
    return tuple((s, wj) for s, wj in zip(offs, wts) if wj != 0)
