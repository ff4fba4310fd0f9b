"""Method of manufactured solutions: helpers shared by the PDE convergence tests.

The exact solution is a SymPy expression of the coordinates and ``t``; the forcing and
the boundary values are derived from it symbolically, the numerical solution is
compared with it at the grid nodes (the reference never comes from symgen's output).
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp


def exact_fn(expr, coords, t):
    """NumPy callable ``f(t, *mesh)`` of a SymPy expression."""
    f = sp.lambdify((t, *coords), expr, "numpy")
    return lambda tt, *mesh: np.broadcast_to(f(tt, *mesh), mesh[0].shape).astype(float)


def observed_orders(errors) -> list:
    """``log2(e_k / e_{k+1})`` for grids whose spacing halves."""
    return [math.log2(a / b) for a, b in zip(errors, errors[1:])]


def nodes_for(n0: int, levels: int, periodic: bool) -> list:
    """Node counts whose spacing halves: ``n0 - 1`` doubles on a bounded axis, ``n0`` on a
    periodic one."""
    return [n0 * 2 ** k if periodic else (n0 - 1) * 2 ** k + 1 for k in range(levels)]


def outward_derivative(expr, coord, side):
    """``du/dn`` on the ``side`` (-1 lo, +1 hi) end of ``coord``."""
    return side * sp.diff(expr, coord)
