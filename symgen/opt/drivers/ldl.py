"""Static-pattern sparse ``L D L^T`` of symmetric (indefinite) matrices, with inertia.

The interior-point driver factors KKT matrices ``[[W + Sigma + dw I, J^T], [J, -dc I]]``
whose pattern never changes.  Everything that depends only on the pattern is done once
(:func:`make_ldl_plan`): a fill-reducing symmetric ordering (the approximate-minimum-
degree ordering of :mod:`symgen.drivers.sparse_lu`), the elimination tree and the column
counts of ``L``, and the map from the matrix's lower-triangular CSR values to the
permuted upper-triangular column storage the factorization reads.

The numeric factorization (:func:`ldl_factor`) is the *up-looking* variant: row ``k``
of ``L`` is the solution of a sparse triangular system whose pattern is the set of
elimination-tree ancestors reached from the nonzeros of column ``k`` of the upper
triangle; it is computed in a dense work vector and appended to the columns of ``L``.
No pivoting: the regularization ``dc > 0`` keeps the constraint block's pivots away
from zero, and the signs of ``D`` give the inertia (Sylvester's law of inertia), which
the driver uses to choose ``dw``.  A pivot that is not finite or smaller than
``tiny * max|A_kk|`` is reported, so the driver can increase the regularization.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ...drivers.sparse_lu import minimum_degree_order, symmetric_adjacency

__all__ = ["LDLPlan", "make_ldl_plan", "ldl_factor", "ldl_solve"]


@dataclass(frozen=True)
class LDLPlan:
    """Ordering and symbolic factorization of one symmetric pattern.

    ``perm[k]`` is the original index of the ``k``-th pivot; ``(cptr, crow)`` the upper
    triangle of the permuted matrix by columns; ``amap[q]`` the slot in ``cval`` of the
    ``q``-th lower-CSR value of the original matrix; ``parent`` the elimination tree;
    ``lptr`` the column pointers of ``L`` (from the column counts).
    """

    n: int
    perm: np.ndarray
    cptr: np.ndarray
    crow: np.ndarray
    amap: np.ndarray
    parent: np.ndarray
    lptr: np.ndarray

    @property
    def nnz_l(self) -> int:
        return int(self.lptr[-1])

    def arrays(self):
        return self.perm, self.cptr, self.crow, self.amap, self.parent, self.lptr


@njit(cache=True)
def _etree_counts(n, cptr, crow):
    """Elimination tree and column counts of ``L`` from the upper triangle by columns."""
    parent = np.full(n, -1, np.int64)
    flag = np.full(n, -1, np.int64)
    cnt = np.zeros(n, np.int64)
    for k in range(n):
        flag[k] = k
        for q in range(cptr[k], cptr[k + 1]):
            i = crow[q]
            if i >= k:
                continue
            while flag[i] != k:
                if parent[i] == -1:
                    parent[i] = k
                cnt[i] += 1
                flag[i] = k
                i = parent[i]
    return parent, cnt


def make_ldl_plan(indptr, indices, n) -> LDLPlan:
    """Plan the factorization of the symmetric matrix whose lower triangle has the CSR
    pattern ``(indptr, indices)`` (every diagonal entry must be present)."""
    indptr = np.asarray(indptr, np.int64)
    indices = np.asarray(indices, np.int64)
    adj_ptr, adj_idx = symmetric_adjacency(indptr, indices, n)
    perm = np.asarray(minimum_degree_order(adj_ptr, adj_idx, n), np.int64) if n > 1 else np.arange(n)
    inv = np.empty(n, np.int64)
    inv[perm] = np.arange(n)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    pi, pj = inv[rows], inv[indices]
    r, c = np.minimum(pi, pj), np.maximum(pi, pj)       # upper triangle: row <= col
    order = np.lexsort((r, c))
    cptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(c, minlength=n), out=cptr[1:])
    crow = r[order]
    amap = np.empty(order.size, np.int64)
    amap[order] = np.arange(order.size)
    parent, cnt = _etree_counts(n, cptr, crow)
    lptr = np.zeros(n + 1, np.int64)
    np.cumsum(cnt, out=lptr[1:])
    return LDLPlan(n, perm, cptr, crow, amap, parent, lptr)


@njit(cache=True)
def ldl_factor(n, cptr, crow, parent, lptr, cval, lidx, lval, d, y, flag, pattern, lnz, tiny):
    """Numeric ``L D L^T`` of the permuted matrix with upper-triangle values ``cval``.

    Work arrays: ``y`` float64[n], ``flag``/``pattern``/``lnz`` int64[n]; ``lidx``/``lval``
    of length ``lptr[n]``.  Returns ``(status, n_pos, n_neg)``; status 0 = success,
    ``k + 1`` = pivot ``k`` tiny or not finite (the counts are then meaningless).
    """
    amax = 0.0
    for k in range(n):
        for q in range(cptr[k], cptr[k + 1]):
            if crow[q] == k and abs(cval[q]) > amax:
                amax = abs(cval[q])
    thresh = tiny * max(amax, 1.0)
    npos = 0
    nneg = 0
    for k in range(n):
        y[k] = 0.0
        top = n
        flag[k] = k
        lnz[k] = 0
        for q in range(cptr[k], cptr[k + 1]):
            i = crow[q]
            y[i] += cval[q]
            length = 0
            while flag[i] != k:
                pattern[length] = i
                length += 1
                flag[i] = k
                i = parent[i]
            while length > 0:
                top -= 1
                length -= 1
                pattern[top] = pattern[length]
        dk = y[k]
        y[k] = 0.0
        for t in range(top, n):
            i = pattern[t]
            yi = y[i]
            y[i] = 0.0
            p2 = lptr[i] + lnz[i]
            for p in range(lptr[i], p2):
                y[lidx[p]] -= lval[p] * yi
            lki = yi / d[i]
            dk -= lki * yi
            lidx[p2] = k
            lval[p2] = lki
            lnz[i] += 1
        if not (abs(dk) > thresh) or not np.isfinite(dk):
            return k + 1, npos, nneg
        d[k] = dk
        if dk > 0.0:
            npos += 1
        else:
            nneg += 1
    return 0, npos, nneg


@njit(cache=True)
def ldl_solve(n, perm, lptr, lidx, lval, d, b, work):
    """Solve ``A x = b`` in place in ``b`` with the factors of :func:`ldl_factor`."""
    for k in range(n):
        work[k] = b[perm[k]]
    for j in range(n):                      # L y = b   (L by columns)
        wj = work[j]
        if wj != 0.0:
            for p in range(lptr[j], lptr[j + 1]):
                work[lidx[p]] -= lval[p] * wj
    for j in range(n):
        work[j] /= d[j]
    for j in range(n - 1, -1, -1):          # L^T x = y
        s = work[j]
        for p in range(lptr[j], lptr[j + 1]):
            s -= lval[p] * work[lidx[p]]
        work[j] = s
    for k in range(n):
        b[perm[k]] = work[k]
