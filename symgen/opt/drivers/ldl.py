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
No dynamic pivoting: the regularization ``dc > 0`` keeps the constraint block's pivots
away from zero, and the signs of ``D`` give the inertia (Sylvester's law of inertia),
which the driver uses to choose ``dw``.  Variables whose diagonal is structurally zero
(no curvature, no bounds -- e.g. the states of a discretized PDE constraint) would give
zero pivots; they are paired statically with a constraint row they appear in and each
pair is eliminated as one ``2 x 2`` block pivot ``[[w, a], [a, -dc]]`` (``D`` is block
diagonal; pairs are kept adjacent by ordering the compressed graph).  A pivot (or pair
determinant) that is not finite or smaller than ``tiny * max|A_kk|`` is reported, so the
driver can increase the regularization.
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
    pair: np.ndarray

    @property
    def nnz_l(self) -> int:
        return int(self.lptr[-1])

    def arrays(self):
        return self.perm, self.cptr, self.crow, self.amap, self.parent, self.lptr, self.pair


@njit(cache=True)
def _etree_counts(n, cptr, crow, pair):
    """Elimination tree and column counts of ``L`` from the upper triangle by columns
    (a row that reaches the second node of a pair also fills the first)."""
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
                if i > 0 and pair[i - 1] == 1 and flag[i - 1] != k:
                    cnt[i - 1] += 1
                    flag[i - 1] = k
                i = parent[i]
    return parent, cnt


def _expand(ids, corder, first, partner, n):
    perm, pair = [], []
    for s_ in ids[corder]:
        perm.append(s_)
        if first[s_]:
            perm.append(partner[s_])
            pair += [1, 0]
        else:
            pair.append(0)
    return np.asarray(perm, np.int64), np.asarray(pair, np.int64)


@njit(cache=True)
def _bfs_last(ptr, idx, start, mark, stamp, queue):
    """Breadth-first search from ``start`` over unmarked-by-``stamp`` nodes; returns
    ``(count, node of least degree in the last level)``."""
    queue[0] = start
    mark[start] = stamp
    head, tail = 0, 1
    level_start = 0
    while head < tail:
        level_end = tail
        level_start = head
        while head < level_end:
            v = queue[head]
            head += 1
            for q in range(ptr[v], ptr[v + 1]):
                w = idx[q]
                if mark[w] != stamp and mark[w] >= -1:
                    mark[w] = stamp
                    queue[tail] = w
                    tail += 1
    best = queue[level_start]
    for t in range(level_start, tail):
        v = queue[t]
        if ptr[v + 1] - ptr[v] < ptr[best + 1] - ptr[best]:
            best = v
    return tail, best


@njit(cache=True)
def rcm(ptr, idx, n):
    """Reverse Cuthill-McKee ordering (new -> old) of a symmetric adjacency without self
    loops: every connected component from a pseudo-peripheral node (two sweeps), the
    neighbours of each node in increasing degree."""
    mark = np.full(n, -1, np.int64)       # -1 unvisited; >= 0 search stamps; -2 ordered
    queue = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    deg = np.empty(n, np.int64)
    for v in range(n):
        deg[v] = ptr[v + 1] - ptr[v]
    pos = 0
    stamp = 0
    for s0 in np.argsort(deg):
        if mark[s0] == -2:
            continue
        start = s0
        for _ in range(2):
            cnt, far = _bfs_last(ptr, idx, start, mark, stamp, queue)
            stamp += 1
            start = far
        # ordered BFS from the pseudo-peripheral node
        base = pos
        order[pos] = start
        mark[start] = -2
        pos += 1
        head = base
        while head < pos:
            v = order[head]
            head += 1
            first = pos
            for q in range(ptr[v], ptr[v + 1]):
                w = idx[q]
                if mark[w] != -2:
                    mark[w] = -2
                    order[pos] = w
                    pos += 1
            # insertion sort of the new nodes by degree
            for a in range(first + 1, pos):
                w = order[a]
                b = a - 1
                while b >= first and deg[order[b]] > deg[w]:
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = w
        for t in range(base, pos):       # other components' searches must not see them
            mark[order[t]] = -2
    return order[::-1].copy()


def _rcm_dense_last(adj_ptr, adj_idx, nc):
    """Reverse Cuthill-McKee on the graph without its dense nodes (degree above
    ``max(16, 10 sqrt(n))``), which are ordered last."""
    deg = np.diff(adj_ptr)
    dense = deg > max(16.0, 10.0 * np.sqrt(nc))
    if not dense.any():
        return rcm(np.asarray(adj_ptr, np.int64), np.asarray(adj_idx, np.int64), nc)
    keep = np.nonzero(~dense)[0]
    new = np.full(nc, -1, np.int64)
    new[keep] = np.arange(keep.size)
    rows = np.repeat(np.arange(nc, dtype=np.int64), deg)
    ok = ~dense[rows] & ~dense[adj_idx]
    r, c = new[rows[ok]], new[adj_idx[ok]]
    ptr = np.zeros(keep.size + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=keep.size), out=ptr[1:])
    sub = rcm(ptr, c.astype(np.int64), keep.size) if keep.size else np.zeros(0, np.int64)
    return np.concatenate([keep[sub], np.nonzero(dense)[0]])


def _symbolic(indptr, indices, n, perm, pair):
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
    parent, cnt = _etree_counts(n, cptr, crow, pair)
    lptr = np.zeros(n + 1, np.int64)
    np.cumsum(cnt, out=lptr[1:])
    return LDLPlan(n, perm, cptr, crow, amap, parent, lptr, pair)


def make_ldl_plan(indptr, indices, n, pairs=None) -> LDLPlan:
    """Plan the factorization of the symmetric matrix whose lower triangle has the CSR
    pattern ``(indptr, indices)`` (every diagonal entry must be present).

    ``pairs`` (``int[k, 2]``, optional): index pairs ``(a, b)`` with ``A[b, a]``
    structurally nonzero, each eliminated as one ``2 x 2`` block pivot.  The ordering is
    computed on the graph in which each pair is one node: reverse Cuthill-McKee (dense
    nodes last; cheap, and right for banded and chain-like problems) and, when that
    fills ``L`` beyond a few times ``nnz(A)``, approximate minimum degree; the plan with
    the smaller ``nnz(L)`` is kept.
    """
    indptr = np.asarray(indptr, np.int64)
    indices = np.asarray(indices, np.int64)
    pairs = np.zeros((0, 2), np.int64) if pairs is None else np.asarray(pairs, np.int64).reshape(-1, 2)
    sup = np.arange(n, dtype=np.int64)
    first = np.zeros(n, bool)
    partner = np.full(n, -1, np.int64)
    if pairs.size:
        sup[pairs[:, 1]] = pairs[:, 0]
        first[pairs[:, 0]] = True
        partner[pairs[:, 0]] = pairs[:, 1]
    ids, comp = np.unique(sup, return_inverse=True)
    nc = ids.size
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    key = np.unique(np.concatenate([comp[rows] * nc + comp[indices], np.arange(nc) * (nc + 1)]))
    cr, cc = key // nc, key % nc
    ptr = np.zeros(nc + 1, np.int64)
    np.cumsum(np.bincount(cr, minlength=nc), out=ptr[1:])
    adj_ptr, adj_idx = symmetric_adjacency(ptr, cc, nc)
    if nc <= 1:
        return _symbolic(indptr, indices, n, *_expand(ids, np.arange(nc), first, partner, n))
    best = _symbolic(indptr, indices, n, *_expand(ids, _rcm_dense_last(adj_ptr, adj_idx, nc), first,
                                                   partner, n))
    if best.nnz_l > 4 * indices.size + n:
        amd = _symbolic(indptr, indices, n, *_expand(ids, np.asarray(
            minimum_degree_order(adj_ptr, adj_idx, nc), np.int64), first, partner, n))
        if amd.nnz_l < best.nnz_l:
            best = amd
    return best


@njit(cache=True)
def ldl_factor(n, cptr, crow, parent, lptr, pair, cval, lidx, lval, d, e, y, flag, pattern, lnz,
               zsave, rmax, tiny):
    """Numeric ``L D L^T`` of the permuted matrix with upper-triangle values ``cval``.

    ``D`` is block diagonal: ``d`` its diagonal, ``e[k]`` the off-diagonal entry of the
    ``2 x 2`` block of a pair starting at ``k`` (``pair[k] == 1``).  Work arrays: ``y``,
    ``zsave``/``rmax`` float64[n], ``flag``/``pattern``/``lnz`` int64[n]; ``lidx``/``lval`` of
    length ``lptr[n]``.  Returns ``(status, n_pos, n_neg)``; status 0 = success, ``k + 1``
    = pivot (block) ``k`` not finite or below ``tiny`` times the largest entry of its row
    of the matrix (the counts are then meaningless).
    """
    rmax[:] = 0.0
    for k in range(n):
        for q in range(cptr[k], cptr[k + 1]):
            v = abs(cval[q])
            i = crow[q]
            rmax[i] = max(rmax[i], v)
            rmax[k] = max(rmax[k], v)
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
        second = k > 0 and pair[k - 1] == 1
        for t in range(top, n):
            i = pattern[t]
            yi = y[i]
            y[i] = 0.0
            p2 = lptr[i] + lnz[i]
            for p in range(lptr[i], p2):
                y[lidx[p]] -= lval[p] * yi
            if pair[i] == 1:
                if second and i == k - 1:
                    # the pair's own coupling goes into D; L keeps an explicit zero
                    e[i] = yi
                    lidx[p2] = k
                    lval[p2] = 0.0
                    lnz[i] += 1
                else:
                    zsave[i] = yi       # wait for the partner i + 1
                    flag[i] = -2 - k    # marks: value saved in this row
                continue
            if i > 0 and pair[i - 1] == 1:
                j = i - 1
                zj = zsave[j] if flag[j] == -2 - k else 0.0
                det = d[j] * d[i] - e[j] * e[j]
                lj = (d[i] * zj - e[j] * yi) / det
                li = (d[j] * yi - e[j] * zj) / det
                dk -= lj * zj + li * yi
                p3 = lptr[j] + lnz[j]
                lidx[p3] = k
                lval[p3] = lj
                lnz[j] += 1
                lidx[p2] = k
                lval[p2] = li
                lnz[i] += 1
                flag[j] = k
                continue
            lki = yi / d[i]
            dk -= lki * yi
            lidx[p2] = k
            lval[p2] = lki
            lnz[i] += 1
        if not np.isfinite(dk):
            return k + 1, npos, nneg
        d[k] = dk
        if pair[k] == 1:
            continue                    # judged with its partner
        if second:
            j = k - 1
            det = d[j] * d[k] - e[j] * e[j]
            if not (abs(det) > tiny * tiny * rmax[j] * rmax[k]) or not np.isfinite(det):
                return k + 1, npos, nneg
            if det < 0.0:
                npos += 1
                nneg += 1
            elif d[j] + d[k] > 0.0:
                npos += 2
            else:
                nneg += 2
            continue
        if not (abs(dk) > tiny * rmax[k]) or rmax[k] == 0.0:
            return k + 1, npos, nneg
        if dk > 0.0:
            npos += 1
        else:
            nneg += 1
    return 0, npos, nneg


@njit(cache=True)
def ldl_solve(n, perm, lptr, lidx, lval, d, e, pair, b, work):
    """Solve ``A x = b`` in place in ``b`` with the factors of :func:`ldl_factor`."""
    for k in range(n):
        work[k] = b[perm[k]]
    for j in range(n):                      # L y = b   (L by columns)
        wj = work[j]
        if wj != 0.0:
            for p in range(lptr[j], lptr[j + 1]):
                work[lidx[p]] -= lval[p] * wj
    j = 0
    while j < n:                            # D (block diagonal)
        if pair[j] == 1:
            det = d[j] * d[j + 1] - e[j] * e[j]
            a = work[j]
            b2 = work[j + 1]
            work[j] = (d[j + 1] * a - e[j] * b2) / det
            work[j + 1] = (d[j] * b2 - e[j] * a) / det
            j += 2
        else:
            work[j] /= d[j]
            j += 1
    for j in range(n - 1, -1, -1):          # L^T x = y
        s = work[j]
        for p in range(lptr[j], lptr[j + 1]):
            s -= lval[p] * work[lidx[p]]
        work[j] = s
    for k in range(n):
        b[perm[k]] = work[k]
