"""The static CSR pattern of a stencil Jacobian, built region by region with NumPy.

Row ``(point, field)`` of a region lists the columns of its stencil entries in the order
of :attr:`PointStencil.jac` (the order the ``jac_values`` kernel writes them), so the
pattern costs a few vectorized operations per region and stencil entry, not a loop in
Python over points.
"""
from __future__ import annotations

import numpy as np

from .ir import StencilSystem

__all__ = ["axis_indices", "build_pattern"]


def axis_indices(cls, n: int, reach: int) -> np.ndarray:
    """Unknown indices along one axis covered by an :class:`AxisClass`."""
    k = cls.kind
    if k == "lo":
        return np.array([cls.q - 1])
    if k == "hi":
        return np.array([n - cls.q])
    if k == "plo":
        return np.array([cls.q])
    if k == "phi":
        return np.array([n - 1 - cls.q])
    if k == "in":
        return np.arange(reach, n - reach)
    return np.arange(n)  # "pw"


def _linear(idx, shape, nf, f):
    lin = np.zeros((), dtype=np.int64)
    for a, ia in enumerate(idx):
        lin = lin * shape[a] + ia
    return lin * nf + f


def build_pattern(ss: StencilSystem, shape: tuple):
    """``(indptr, indices)`` (int64) of the Jacobian of ``ss`` on a grid of unknown
    ``shape``."""
    nd, nf = ss.ndim, ss.nfields
    n = nf * int(np.prod(shape))
    periodic = [p for _, p in ss.axes]
    lens = np.zeros(n, dtype=np.int64)
    plan = []
    for region in ss.regions:
        idx1 = [axis_indices(c, shape[a], ss.reach[a]) for a, c in enumerate(region.classes)]
        if any(i.size == 0 for i in idx1):
            continue
        idx = np.meshgrid(*idx1, indexing="ij")
        for ps in region.points:
            rows = _linear(idx, shape, nf, ps.field).ravel()
            lens[rows] = len(ps.jac)
            plan.append((idx, rows, ps))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int64)
    for idx, rows, ps in plan:
        base = indptr[rows]
        for j, e in enumerate(ps.jac):
            cols = [(idx[a] + e.ref.offset[a]) % shape[a] if periodic[a] else idx[a] + e.ref.offset[a]
                    for a in range(nd)]
            indices[base + j] = _linear(cols, shape, nf, e.ref.field).ravel()
    return indptr, indices
