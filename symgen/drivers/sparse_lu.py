"""Static-pattern sparse LU for the Newton matrices ``s I - J`` of the implicit drivers.

The Jacobian ``J`` of a model has a static CSR pattern (known at compile time), so
everything that depends only on that pattern is done once per model by :func:`make_plan`
(plain Python/NumPy plus a compiled symbolic pass):

1. **Ordering.**  A fill-reducing symmetric permutation ``P`` computed on the
   symmetrized pattern of ``J + I``.  Two candidates are built and the one with the
   smaller ``nnz(L + U)`` is kept:

   * *approximate minimum degree* -- a quotient-graph minimum-degree ordering in the
     style of AMD (eliminated nodes become *elements*; adjacent elements are absorbed
     into the new one; the external degree of every variable next to the pivot is
     bounded by ``|A_i| + |L_p \\ i| + sum_e |L_e \\ L_p|``; elements found to lie inside
     the new one are absorbed aggressively; very dense rows are ordered last);
   * *reverse Cuthill-McKee* -- breadth-first from a pseudo-peripheral node of every
     connected component, neighbours by increasing degree, reversed (small profile,
     good for banded patterns).

2. **Symbolic factorization.**  The exact patterns of ``L`` and ``U`` for LU *without
   pivoting* of ``P (s I - J) P^T`` (nonsymmetric: row ``i`` of ``L\\U`` is the pattern of
   row ``i`` of the matrix merged with the ``U`` rows of the ``L`` entries of row ``i``,
   in increasing order).  ``L`` (unit lower, without its diagonal) and ``U`` are stored
   together row-wise in one CSR array; ``diag[i]`` is the position of ``U[i, i]``.

3. **Index maps.**  ``amap[k]`` is the slot in the factor storage of the ``k``-th CSR
   value of ``J`` (in the model's original ordering), ``diag`` that of the shift ``s``.

At run time :func:`sparse_lu_factor` refactors with new Jacobian values and a new shift
(one compiled implementation, specialized by Numba for ``float64`` and ``complex128``)
with the row-wise "up-looking" IKJ elimination over the static pattern (a dense work
row gathers row ``i``; each ``L`` entry ``l_ik`` subtracts ``l_ik`` times row ``k`` of
``U``, indirectly addressed, or as a contiguous loop for full rows; the completely
dense trailing block that minimum degree leaves is factored by blocked dense elimination
with the same operations in the same order; index arrays are ``uint32``), and
:func:`sparse_lu_solve` does the permuted triangular solves.  A pivot that is not finite
or not larger than ``1e-14`` times the largest entry of its row of ``s I - J`` is
reported as a failure (status ``i + 1``), which the Radau driver answers by halving h.
"""
from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

__all__ = ["SparseLUPlan", "make_plan", "save_plan", "load_plan", "symmetric_adjacency",
           "minimum_degree_order", "rcm_order", "symbolic_lu", "sparse_lu_factor", "sparse_lu_solve",
           "PIVOT_RTOL", "INDEX_DTYPE", "ilu0_plan", "gmres", "assemble_shifted"]

#: A pivot is rejected when ``|pivot| <= PIVOT_RTOL * max|row of s I - J|``.
PIVOT_RTOL = 1e-14
#: Integer type of the arrays the compiled kernels index with (unsigned 32-bit: half the
#: memory traffic of int64 and no negative-index wraparound test; ~1.5-2x faster).
INDEX_DTYPE = np.uint32
#: A completely dense trailing block of ``L\\U`` of at least this order is factored by
#: blocked dense elimination (panels of ``TAIL_BLOCK`` columns).
DENSE_TAIL_MIN = 48
TAIL_BLOCK = 32


# ---------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SparseLUPlan:
    """Everything the numeric factorization needs, computed once per pattern.

    Attributes
    ----------
    n : int
        Matrix order.
    perm : uint32[n]
        ``perm[i]`` is the original index of row/column ``i`` of the permuted matrix.
    iperm : int64[n]
        Inverse permutation.
    indptr, indices : uint32 arrays
        Row-wise CSR pattern of ``L\\U`` (sorted columns; ``L`` strictly left of the
        diagonal, ``U`` from the diagonal on), in the permuted ordering.
    diag : uint32[n]
        Position of ``U[i, i]`` in ``indices``.
    amap : uint32[nnz(J)]
        Slot in the factor storage of each CSR value of ``J``.
    nnz_a : int
        ``nnz(J + I)`` (the matrix to factor).
    nnz_lu : int
        ``nnz(L + U)`` with ``L``'s unit diagonal not stored.
    flops : int
        Multiply-adds of one numeric factorization.
    ordering : str
        ``"amd"``, ``"rcm"`` or ``"natural"``.
    candidates : dict
        ``{ordering: (nnz_lu, flops)}`` of every ordering tried.
    seconds : dict
        Time of each stage of the plan.
    """

    n: int
    perm: np.ndarray
    iperm: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    diag: np.ndarray
    amap: np.ndarray
    nnz_a: int
    nnz_lu: int
    flops: int
    ordering: str
    candidates: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    @property
    def fill_ratio(self) -> float:
        """``nnz(L + U) / nnz(J + I)``."""
        return self.nnz_lu / max(self.nnz_a, 1)

    def arrays(self):
        """``(perm, indptr, indices, diag, amap)``: the plan as the drivers take it."""
        return self.perm, self.indptr, self.indices, self.diag, self.amap

    # -- convenience wrappers (Python level; the drivers call the compiled kernels) ---
    def factor(self, jac_values, shift):
        """Factor ``shift * I - J`` (J given by its CSR values).  Returns ``(status, lu)``;
        ``status`` 0 on success, ``i + 1`` for a tiny pivot in (permuted) row ``i``,
        ``-(i + 1)`` for a non-finite one.  ``lu`` is real or complex like ``shift``."""
        jv = np.ascontiguousarray(jac_values, dtype=np.float64)
        if jv.shape != self.amap.shape:
            raise ValueError(f"expected {self.amap.size} Jacobian values, got {jv.size}")
        cplx = isinstance(shift, complex) or np.iscomplexobj(shift)
        dt = np.complex128 if cplx else np.float64
        vals = np.empty(self.indices.size, dtype=dt)
        work = np.empty(self.n, dtype=dt)
        st = sparse_lu_factor(self.indptr, self.indices, self.diag, self.amap, jv, dt(shift), vals, work)
        return int(st), vals

    def solve(self, lu, b):
        """Solve with the factors from :meth:`factor`; returns a new array."""
        x = np.array(b, dtype=lu.dtype, copy=True)
        sparse_lu_solve(self.indptr, self.indices, self.diag, self.perm, lu, x, np.empty(self.n, lu.dtype))
        return x


def make_plan(indptr, indices, n, ordering: str = "auto", dense_row_factor: float = 10.0) -> SparseLUPlan:
    """Ordering + symbolic factorization of ``s I - J`` for the CSR pattern of ``J``.

    ``ordering``: ``"auto"`` (the better of AMD and RCM), ``"amd"``, ``"rcm"`` or
    ``"natural"``.
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    n = int(n)
    if indptr.shape != (n + 1,) or indptr[-1] != indices.size:
        raise ValueError("inconsistent CSR pattern")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError("column index out of range")
    secs = {}
    t0 = time.perf_counter()
    adj_ptr, adj_idx = symmetric_adjacency(indptr, indices, n)
    secs["adjacency"] = time.perf_counter() - t0
    if ordering == "auto":
        names = ["amd", "rcm"]
    elif ordering in ("amd", "rcm", "natural"):
        names = [ordering]
    else:
        raise ValueError(f"unknown ordering {ordering!r}")
    results = {}
    for name in names:
        t0 = time.perf_counter()
        if name == "amd":
            perm = minimum_degree_order(adj_ptr, adj_idx, n, dense_row_factor)
        elif name == "rcm":
            perm = rcm_order(adj_ptr, adj_idx, n)
        else:
            perm = np.arange(n, dtype=np.int64)
        secs[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = symbolic_lu(indptr, indices, n, perm)
        secs[f"symbolic_{name}"] = time.perf_counter() - t0
        results[name] = (perm,) + res
    best = min(names, key=lambda k: (results[k][5], results[k][6]))  # nnz_lu, then flops
    perm, lu_ptr, lu_idx, diag, amap, nnz_lu, flops = results[best]
    if nnz_lu >= 2 ** 32 - 1:
        raise ValueError(f"the sparse factors would have {nnz_lu} entries, too many")
    iperm = np.empty(n, np.int64)
    iperm[perm] = np.arange(n, dtype=np.int64)
    perm, lu_ptr, lu_idx, diag, amap = (np.ascontiguousarray(a, dtype=INDEX_DTYPE)
                                        for a in (perm, lu_ptr, lu_idx, diag, amap))
    nnz_a = int(indices.size + n - np.count_nonzero(_has_diag(indptr, indices, n)))
    return SparseLUPlan(n, perm, iperm, lu_ptr, lu_idx, diag, amap, nnz_a, int(nnz_lu), int(flops), best,
                        {k: (int(v[5]), int(v[6])) for k, v in results.items()}, secs)


def ilu0_plan(indptr, indices, n) -> SparseLUPlan:
    """A plan whose factor pattern is the pattern of ``J + I`` itself (natural order, no
    fill): :func:`sparse_lu_factor` on it computes the incomplete factorization ILU(0)
    (updates outside the pattern are dropped), the preconditioner of the Krylov solver
    (:func:`gmres`)."""
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    n = int(n)
    if indptr.shape != (n + 1,) or indptr[-1] != indices.size:
        raise ValueError("inconsistent CSR pattern")
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    key = np.unique(np.concatenate([rows * n + indices, np.arange(n, dtype=np.int64) * (n + 1)]))
    pr, pc = key // n, key % n
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pr, minlength=n), out=ptr[1:])
    diag = np.searchsorted(key, np.arange(n, dtype=np.int64) * (n + 1)).astype(np.int64)
    amap = _value_map(ptr, pc, rows, indices)
    perm = np.arange(n, dtype=np.int64)
    nnz = int(pc.size)
    flops = int(np.sum(np.diff(ptr) ** 2))  # rough: a row's L entries times its U entries
    return SparseLUPlan(n, *(np.ascontiguousarray(a, dtype=INDEX_DTYPE) for a in (perm, perm, ptr, pc, diag, amap)),
                        nnz, nnz, flops, "ilu0", {"ilu0": (nnz, flops)}, {})


_PLAN_ARRAYS = ("perm", "iperm", "indptr", "indices", "diag", "amap")


def _plan_code_hash() -> str:
    """Hash of this module's source: a saved plan is reused only by the code that made it
    (the model cache key does not cover the drivers)."""
    global _CODE_HASH
    if _CODE_HASH is None:
        import hashlib
        try:
            with open(__file__, "rb") as fh:
                _CODE_HASH = hashlib.sha256(fh.read()).hexdigest()
        except OSError:  # pragma: no cover
            _CODE_HASH = "unknown"
    return _CODE_HASH


_CODE_HASH = None


def save_plan(plan: SparseLUPlan, path) -> None:
    """Write ``plan`` to ``path`` (``.npz``; atomically; errors are ignored: the plan is
    a cache)."""
    import json
    import os
    from pathlib import Path
    path = Path(path)
    meta = {"code": _plan_code_hash(), "n": plan.n, "nnz_a": plan.nnz_a, "nnz_lu": plan.nnz_lu,
            "flops": plan.flops,
            "ordering": plan.ordering, "candidates": plan.candidates, "seconds": plan.seconds}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **{k: getattr(plan, k) for k in _PLAN_ARRAYS})
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def load_plan(path, indptr, indices, n) -> SparseLUPlan | None:
    """Read a plan written by :func:`save_plan`; ``None`` if it is missing, unreadable,
    written by other planning code, or not a valid plan for the pattern
    ``(indptr, indices, n)``."""
    import json
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrs = {k: np.ascontiguousarray(z[k], dtype=np.int64 if k == "iperm" else INDEX_DTYPE)
                    for k in _PLAN_ARRAYS}
    except (OSError, KeyError, ValueError):
        return None
    n = int(n)
    if meta.get("code") != _plan_code_hash() or meta.get("n") != n:
        return None
    if not _consistent(arrs, np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64), n):
        return None
    return SparseLUPlan(n, arrs["perm"], arrs["iperm"], arrs["indptr"], arrs["indices"], arrs["diag"],
                        arrs["amap"], int(meta["nnz_a"]), int(meta["nnz_lu"]), int(meta["flops"]),
                        str(meta["ordering"]), {k: tuple(v) for k, v in meta["candidates"].items()},
                        dict(meta["seconds"]))


def _consistent(a, indptr, indices, n) -> bool:
    """Cheap (O(nnz)) validity check of plan arrays against the pattern of ``J``."""
    perm, iperm = a["perm"].astype(np.int64), a["iperm"]
    ptr, idx = a["indptr"].astype(np.int64), a["indices"].astype(np.int64)
    diag, amap = a["diag"].astype(np.int64), a["amap"].astype(np.int64)
    if (perm.shape != (n,) or iperm.shape != (n,) or ptr.shape != (n + 1,) or diag.shape != (n,)
            or amap.shape != indices.shape or indptr.shape != (n + 1,)):
        return False
    if n == 0:
        return idx.size == 0 and amap.size == 0
    if not (np.array_equal(np.sort(perm), np.arange(n)) and np.array_equal(iperm[perm], np.arange(n))):
        return False
    if ptr[0] != 0 or ptr[-1] != idx.size or np.any(np.diff(ptr) < 1) or np.any(idx >= n):
        return False
    if np.any(diag < ptr[:-1]) or np.any(diag >= ptr[1:]) or not np.array_equal(idx[diag], np.arange(n)):
        return False
    rows = iperm[np.repeat(np.arange(n), np.diff(indptr))]
    if amap.size and (np.any(amap < ptr[rows]) or np.any(amap >= ptr[rows + 1])
                      or not np.array_equal(idx[amap], iperm[indices])):
        return False
    return True


def _has_diag(indptr, indices, n):
    rows = np.repeat(np.arange(n), np.diff(indptr))
    has = np.zeros(n, bool)
    has[rows[indices == rows]] = True
    return has


def symmetric_adjacency(indptr, indices, n):
    """CSR adjacency (without self loops, sorted, unique) of the pattern of ``A + A^T``."""
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    r = np.concatenate([rows, indices])
    c = np.concatenate([indices, rows])
    keep = r != c
    key = np.unique(r[keep] * n + c[keep])
    r, c = key // n, key % n
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=ptr[1:])
    return ptr, c.astype(np.int64)


# ---------------------------------------------------------------------------------------
# Orderings (symmetric, on the adjacency of A + A^T)
# ---------------------------------------------------------------------------------------
def minimum_degree_order(adj_ptr, adj_idx, n, dense_row_factor: float = 10.0) -> np.ndarray:
    """Approximate-minimum-degree ordering on a quotient graph.

    Variables hold their remaining original neighbours ``A[i]`` and the elements
    (eliminated nodes) they belong to ``E[i]``; element ``e`` holds its variables
    ``L[e]``.  Eliminating the variable ``p`` of least approximate degree makes ``p``
    an element with ``L[p] = A[p] + union of L[e] for e in E[p]`` (those elements are
    absorbed), prunes ``A[i]`` of the variables ``i`` in ``L[p]`` (their edges inside
    ``L[p]`` are now implied by the element), absorbs every element with
    ``L[e] <= L[p]``, and recomputes the degrees of ``L[p]`` with the AMD bound
    ``min(n_left - 1, d_old + |L[p]| - 1, |A[i]| + |L[p] \\ i| + sum_e |L[e] \\ L[p]|)``.
    Nodes of degree above ``max(16, dense_row_factor * sqrt(n))`` are ordered last.
    Returns ``perm`` (new -> old).
    """
    adj_ptr = np.asarray(adj_ptr)
    adj_idx = np.asarray(adj_idx)
    n = int(n)
    degree0 = np.diff(adj_ptr)
    dense_lim = max(16, int(dense_row_factor * math.sqrt(max(n, 1))))
    dense = set(np.flatnonzero(degree0 > dense_lim).tolist()) if n > 2 * dense_lim else set()
    idx_list = adj_idx.tolist()
    ptr_list = adj_ptr.tolist()
    A = [None] * n
    for i in range(n):
        if i in dense:
            continue
        A[i] = set(idx_list[ptr_list[i]:ptr_list[i + 1]]) - dense if dense else \
            set(idx_list[ptr_list[i]:ptr_list[i + 1]])
    E = [set() if i not in dense else None for i in range(n)]
    L = {}
    deg = [len(A[i]) if A[i] is not None else 0 for i in range(n)]
    heap = [(deg[i], i) for i in range(n) if i not in dense]
    heapq.heapify(heap)
    eliminated = [False] * n
    order = []
    n_left = n - len(dense)
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        d, p = heappop(heap)
        if eliminated[p] or d != deg[p]:
            continue  # stale heap entry
        # ---- form the new element L[p] ---------------------------------------------
        Ep = E[p]
        Lp = set(A[p])
        for e in Ep:
            Lp |= L.pop(e)
        Lp.discard(p)
        eliminated[p] = True
        order.append(p)
        n_left -= 1
        A[p] = None
        E[p] = None
        # ---- update the variables of L[p] ---------------------------------------------
        wmap = {}
        for i in Lp:
            Ai = A[i]
            Ai.discard(p)
            if Ai:
                A[i] = Ai - Lp
            Ei = E[i]
            if Ep:
                Ei -= Ep
            for e in Ei:
                w = wmap.get(e)
                wmap[e] = (len(L[e]) if w is None else w) - 1
            Ei.add(p)
        # aggressive absorption of elements inside L[p]
        for e, w in wmap.items():
            if w == 0:
                for i in L.pop(e):
                    E[i].discard(e)
        L[p] = Lp
        lp = len(Lp)
        for i in Lp:
            ext = 0
            for e in E[i]:
                if e != p:
                    ext += wmap[e]
            dn = min(n_left - 1, deg[i] + lp - 1, len(A[i]) + lp - 1 + ext)
            if dn != deg[i]:
                deg[i] = dn
                heappush(heap, (dn, i))
    if dense:
        order.extend(sorted(dense, key=lambda i: (degree0[i], i)))
    return np.asarray(order, dtype=np.int64)


def rcm_order(adj_ptr, adj_idx, n) -> np.ndarray:
    """Reverse Cuthill-McKee ordering (every connected component from a pseudo-peripheral
    node).  Returns ``perm`` (new -> old)."""
    ptr = np.asarray(adj_ptr).tolist()
    idx = np.asarray(adj_idx).tolist()
    n = int(n)
    degree = [ptr[i + 1] - ptr[i] for i in range(n)]
    visited = [False] * n
    order = []

    def bfs_levels(root, seen):
        # level structure restricted to root's component; `seen` is a scratch dict
        levels = [[root]]
        seen[root] = True
        while True:
            nxt = []
            for v in levels[-1]:
                for w in idx[ptr[v]:ptr[v + 1]]:
                    if w not in seen:
                        seen[w] = True
                        nxt.append(w)
            if not nxt:
                return levels
            levels.append(nxt)

    for start in sorted(range(n), key=lambda i: (degree[i], i)):
        if visited[start]:
            continue
        # George-Liu pseudo-peripheral node
        root = start
        levels = bfs_levels(root, {})
        for _ in range(8):
            cand = min(levels[-1], key=lambda v: (degree[v], v))
            lv = bfs_levels(cand, {})
            if len(lv) > len(levels):
                root, levels = cand, lv
            else:
                break
        # Cuthill-McKee from root
        visited[root] = True
        comp = [root]
        head = 0
        while head < len(comp):
            v = comp[head]
            head += 1
            nb = [w for w in idx[ptr[v]:ptr[v + 1]] if not visited[w]]
            nb.sort(key=lambda w: (degree[w], w))
            for w in nb:
                visited[w] = True
            comp.extend(nb)
        order.extend(comp)
    return np.asarray(order[::-1], dtype=np.int64)


# ---------------------------------------------------------------------------------------
# Symbolic factorization (compiled: its cost is that of one numeric factorization)
# ---------------------------------------------------------------------------------------
def symbolic_lu(indptr, indices, n, perm):
    """Patterns of ``L\\U`` for ``P (s I - J) P^T`` without pivoting and the value maps.

    Returns ``(lu_indptr, lu_indices, diag, amap, nnz_lu, flops)``.
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    perm = np.ascontiguousarray(perm, dtype=np.int64)
    if perm.shape != (n,) or not np.array_equal(np.sort(perm), np.arange(n)):
        raise ValueError("perm is not a permutation")
    iperm = np.empty(n, np.int64)
    iperm[perm] = np.arange(n, dtype=np.int64)
    # permuted pattern of J + I, rows sorted
    rows = iperm[np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))]
    cols = iperm[indices]
    r = np.concatenate([rows, np.arange(n, dtype=np.int64)])
    c = np.concatenate([cols, np.arange(n, dtype=np.int64)])
    key = np.unique(r * n + c)
    pr, pc = key // n, key % n
    pptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pr, minlength=n), out=pptr[1:])
    lu_ptr, lu_idx, diag, flops = _symbolic_rows(pptr, pc.astype(np.int64), n)
    amap = _value_map(lu_ptr, lu_idx, rows, cols)
    return lu_ptr, lu_idx, diag, amap, int(lu_idx.size), int(flops)


@njit(cache=True)
def _symbolic_rows(pptr, pidx, n):
    """Row-by-row merge: row i of L\\U = row i of A + U rows of its L entries (ascending)."""
    cap = max(2 * pidx.shape[0], 16)
    out = np.empty(cap, np.int64)
    lu_ptr = np.zeros(n + 1, np.int64)
    diag = np.empty(n, np.int64)
    nxt = np.empty(n + 1, np.int64)   # linked list of the row's columns; n is the head
    mark = np.full(n, -1, np.int64)
    head = n
    nz = 0
    flops = 0
    for i in range(n):
        prev = head
        for q in range(pptr[i], pptr[i + 1]):
            c = pidx[q]
            nxt[prev] = c
            mark[c] = i
            prev = c
        nxt[prev] = -1
        k = nxt[head]
        while k != -1 and k < i:
            # merge U row k (columns > k, sorted) into the list after k
            pos = k
            for q in range(diag[k] + 1, lu_ptr[k + 1]):
                j = out[q]
                if mark[j] != i:
                    while nxt[pos] != -1 and nxt[pos] < j:
                        pos = nxt[pos]
                    nxt[j] = nxt[pos]
                    nxt[pos] = j
                    mark[j] = i
                pos = j
            flops += lu_ptr[k + 1] - diag[k]  # one division + the row update
            k = nxt[k]
        # store the row
        c = nxt[head]
        while c != -1:
            if nz >= out.shape[0]:
                bigger = np.empty(2 * out.shape[0], np.int64)
                bigger[:nz] = out[:nz]
                out = bigger
            if c == i:
                diag[i] = nz
            out[nz] = c
            nz += 1
            c = nxt[c]
        lu_ptr[i + 1] = nz
    return lu_ptr, out[:nz].copy(), diag, flops


@njit(cache=True)
def _value_map(lu_ptr, lu_idx, rows, cols):
    m = rows.shape[0]
    amap = np.empty(m, np.int64)
    for k in range(m):
        r = rows[k]
        c = cols[k]
        lo = lu_ptr[r]
        hi = lu_ptr[r + 1] - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if lu_idx[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        amap[k] = lo
    return amap


# ---------------------------------------------------------------------------------------
# Numeric factorization and solve (compiled; real and complex from one implementation)
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def dense_tail(indptr, indices, diag):
    """Order ``t`` of the trailing block of ``L\\U`` that is completely dense (every row
    ``i >= n - t`` holds all columns ``n - t .. n - 1``); 0 if there is none."""
    n = diag.shape[0]
    t = 0
    while t < n and indptr[n - t] - diag[n - 1 - t] == t + 1:   # U row n-1-t is full
        t += 1
    while t > 0:
        s0 = n - t
        ok = True
        for i in range(s0, n):
            q = diag[i] - (i - s0)
            if q < indptr[i] or indices[q] != s0:
                ok = False
                break
        if ok:
            break
        t -= 1
    return t


@njit(cache=True)
def _dense_lu_nopivot(T, rmax, nb):
    """In-place LU without pivoting of the dense block ``T`` (unit lower ``L`` below the
    diagonal, ``U`` on and above), blocked right-looking with panels of ``nb`` columns.

    Every entry receives exactly the updates of the row-wise elimination in
    :func:`sparse_lu_factor`, in the same order (``l_ik = a_ik * (1 / u_kk)``, then
    ``a_ij -= l_ik * u_kj`` for increasing ``k``), so the factors are bit-identical; the
    blocking only keeps the rows in cache.  Returns 0, ``r + 1`` for a tiny pivot in row
    ``r`` (relative to ``rmax[r]``) or ``-(r + 1)`` for a non-finite one."""
    t = T.shape[0]
    B = np.empty((nb, t), T.dtype)
    for kb in range(0, t, nb):
        ke = min(kb + nb, t)
        w = ke - kb
        # panel: columns kb .. ke-1 of rows kb .. t-1
        for k in range(kb, ke):
            piv = T[k, k]
            apiv = abs(piv)
            if not np.isfinite(apiv):
                return -(k + 1)
            if not apiv > PIVOT_RTOL * rmax[k]:
                return k + 1
            inv = 1.0 / piv
            for i in range(k + 1, t):
                li = T[i, k] * inv
                T[i, k] = li
                for j in range(k + 1, ke):
                    T[i, j] -= li * T[k, j]
        # block row of U: rows kb .. ke-1, columns ke .. t-1
        for k in range(kb, ke):
            uk = T[k, ke:]
            for i in range(k + 1, ke):
                li = T[i, k]
                ui = T[i, ke:]
                for j in range(t - ke):
                    ui[j] -= li * uk[j]
        # trailing block: rows and columns ke .. t-1, one rank-1 update per panel column
        m = t - ke
        for kk in range(w):
            for j in range(m):
                B[kk, j] = T[kb + kk, ke + j]
        for i in range(ke, t):
            c = T[i, ke:]
            for kk in range(w):
                li = T[i, kb + kk]
                b = B[kk]
                for j in range(m):
                    c[j] -= li * b[j]
    return 0


@njit(cache=True)
def sparse_lu_factor(indptr, indices, diag, amap, jv, s, vals, work):
    """Factor ``s I - J`` over the static pattern of the plan into ``vals``.

    ``jv`` are the CSR values of ``J`` (float64), ``s`` the shift (float64 or
    complex128, like ``vals`` and ``work``; ``work`` has length ``n``).  On return
    ``vals`` holds ``L`` (unit diagonal not stored) and ``U`` row-wise, with the
    *reciprocal* of each pivot in the diagonal slot.  Returns 0, ``i + 1`` if the pivot
    of permuted row ``i`` is tiny (``|u_ii| <= PIVOT_RTOL * max|row i|``, also for an
    all-zero row) or ``-(i + 1)`` if row ``i`` is not finite.

    Rows are eliminated one by one (up-looking IKJ: row ``i`` gathered into ``work``,
    each ``L`` entry ``l_ik`` subtracts ``l_ik`` times ``U`` row ``k``, with a unit-stride
    loop where that row is full, else with indirect addressing).  A completely dense
    trailing block of at least ``DENSE_TAIL_MIN`` rows (minimum degree leaves one: the
    top separators) is gathered after its rows' sparse updates and factored by blocked
    dense elimination (:func:`_dense_lu_nopivot`) with the same operations in the same
    order: the factors are bit-identical to the plain row-wise elimination (about 10%
    faster on the 2-D Brusselator at N=64, whose block has order 419).
    """
    n = diag.shape[0]
    t = dense_tail(indptr, indices, diag)
    if t < DENSE_TAIL_MIN:
        t = 0
    s0 = n - t
    T = np.empty((t, t), vals.dtype)
    rmaxs = np.empty(t)
    for q in range(vals.shape[0]):
        vals[q] = 0.0
    for k in range(jv.shape[0]):
        vals[amap[k]] -= jv[k]
    for i in range(n):
        vals[diag[i]] += s
    for i in range(n):
        rs = indptr[i]
        re = indptr[i + 1]
        rmax = 0.0
        for q in range(rs, re):
            v = vals[q]
            work[indices[q]] = v
            a = abs(v)
            if a > rmax:
                rmax = a
        if not np.isfinite(rmax):
            return -(i + 1)
        for q in range(rs, diag[i]):
            k = indices[q]
            if k >= s0:
                break           # the dense block's own columns: done by _dense_lu_nopivot
            lk = work[k] * vals[diag[k]]   # diag slot holds 1 / u_kk
            work[k] = lk
            d = diag[k] + 1
            e = indptr[k + 1]
            if e - d == n - 1 - k:
                # U row k is full: contiguous columns k+1 .. n-1
                wk = work[k + 1:]
                uk = vals[d:e]
                for u in range(e - d):
                    wk[u] -= lk * uk[u]
            else:
                for q2 in range(d, e):
                    work[indices[q2]] -= lk * vals[q2]
        if i < s0:
            piv = work[i]
            apiv = abs(piv)
            if not np.isfinite(apiv):
                return -(i + 1)
            if not apiv > PIVOT_RTOL * rmax:
                return i + 1
            for q in range(rs, re):
                vals[q] = work[indices[q]]
            vals[diag[i]] = 1.0 / piv
        else:
            r = i - s0
            rmaxs[r] = rmax
            for q in range(rs, diag[i] - r):
                vals[q] = work[indices[q]]
            for j in range(t):
                T[r, j] = work[s0 + j]
    if t > 0:
        st = _dense_lu_nopivot(T, rmaxs, TAIL_BLOCK)
        if st != 0:
            return st + s0 if st > 0 else st - s0
        for r in range(t):
            base = diag[s0 + r] - r
            for j in range(t):
                vals[base + j] = T[r, j]
            vals[diag[s0 + r]] = 1.0 / T[r, r]
    return 0


@njit(cache=True)
def sparse_lu_solve(indptr, indices, diag, perm, vals, b, work):
    """Solve ``(s I - J) x = b`` in place in ``b`` with the factors of
    :func:`sparse_lu_factor` (``b`` and ``work`` of the factors' dtype, length ``n``)."""
    n = diag.shape[0]
    for i in range(n):
        work[i] = b[perm[i]]
    for i in range(n):
        acc = work[i]
        for q in range(indptr[i], diag[i]):
            acc -= vals[q] * work[indices[q]]
        work[i] = acc
    for i in range(n - 1, -1, -1):
        acc = work[i]
        for q in range(diag[i] + 1, indptr[i + 1]):
            acc -= vals[q] * work[indices[q]]
        work[i] = acc * vals[diag[i]]
    for i in range(n):
        b[perm[i]] = work[i]


# ---------------------------------------------------------------------------------------
# Krylov solver: restarted GMRES for (I - c J) x = b, right-preconditioned with the
# (incomplete) factors of s_lu I - J
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def _newton_op(indptr, indices, perm, avals, s_lu, c, scale, v, out, tmp):
    """``out = S^-1 (I - c J) S v`` with ``J = s_lu I - A`` (``A`` in the plan's order)."""
    n = v.shape[0]
    for i in range(n):
        tmp[i] = v[i] * scale[i]
    a0 = 1.0 - c * s_lu
    for i in range(n):
        acc = 0.0
        for q in range(indptr[i], indptr[i + 1]):
            acc += avals[q] * tmp[perm[indices[q]]]
        r = perm[i]
        out[r] = (a0 * tmp[r] + c * acc) / scale[r]


@njit(cache=True)
def gmres(indptr, indices, diag, perm, avals, luv, s_lu, c, scale, b, x, restart, max_iter, tol,
          V, H, cs, sn, g, z, tmp, work):
    """Solve ``(I - c J) x = b`` to ``||S^-1 r||_2 / sqrt(n) <= tol`` (``S = diag(scale)``).

    ``avals`` holds ``A = s_lu I - J`` on the plan's pattern and ``luv`` its (incomplete or
    complete) factors; the preconditioner is ``(c_lu A)^-1`` with ``c_lu = 1 / s_lu``.
    Right preconditioning, modified Gram-Schmidt Arnoldi, Givens rotations, restarts
    every ``restart`` iterations, at most ``max_iter`` iterations.  ``x`` starts at 0.
    Work arrays: ``V (restart+1, n)``, ``H (restart+1, restart)``, ``cs``, ``sn``, ``g``
    (``restart + 1``), ``z``, ``tmp``, ``work`` (``n``).  Returns the iterations done,
    negated if the tolerance was not reached.
    """
    n = b.shape[0]
    for i in range(n):
        x[i] = 0.0
    if n == 0:
        return 0
    target = tol * np.sqrt(n)
    it = 0
    # residual of x = 0, scaled
    for i in range(n):
        V[0, i] = b[i] / scale[i]
    while True:
        beta = 0.0
        for i in range(n):
            beta += V[0, i] * V[0, i]
        beta = np.sqrt(beta)
        if beta <= target:
            return it
        if it >= max_iter:
            return -it
        for i in range(n):
            V[0, i] /= beta
        for k in range(restart + 1):
            g[k] = 0.0
        g[0] = beta
        kdone = 0
        for k in range(restart):
            # z = M^-1 v_k (scaled space), w = op(z)
            for i in range(n):
                tmp[i] = V[k, i] * scale[i] * s_lu
            sparse_lu_solve(indptr, indices, diag, perm, luv, tmp, work)
            for i in range(n):
                z[i] = tmp[i] / scale[i]
            _newton_op(indptr, indices, perm, avals, s_lu, c, scale, z, V[k + 1], tmp)
            for j in range(k + 1):
                h = 0.0
                for i in range(n):
                    h += V[j, i] * V[k + 1, i]
                H[j, k] = h
                for i in range(n):
                    V[k + 1, i] -= h * V[j, i]
            hn = 0.0
            for i in range(n):
                hn += V[k + 1, i] * V[k + 1, i]
            hn = np.sqrt(hn)
            H[k + 1, k] = hn
            if hn > 0.0:
                for i in range(n):
                    V[k + 1, i] /= hn
            for j in range(k):
                a = H[j, k]
                bb = H[j + 1, k]
                H[j, k] = cs[j] * a + sn[j] * bb
                H[j + 1, k] = -sn[j] * a + cs[j] * bb
            a = H[k, k]
            bb = H[k + 1, k]
            r = np.sqrt(a * a + bb * bb)
            if r == 0.0:
                cs[k] = 1.0
                sn[k] = 0.0
            else:
                cs[k] = a / r
                sn[k] = bb / r
            H[k, k] = r
            H[k + 1, k] = 0.0
            g[k + 1] = -sn[k] * g[k]
            g[k] = cs[k] * g[k]
            it += 1
            kdone = k + 1
            if abs(g[k + 1]) <= target or it >= max_iter or hn == 0.0:
                break
        # y = H^-1 g (upper triangular), x += M^-1 (V y) in the original space
        for j in range(kdone - 1, -1, -1):
            acc = g[j]
            for l in range(j + 1, kdone):
                acc -= H[j, l] * g[l]
            g[j] = acc / H[j, j] if H[j, j] != 0.0 else 0.0
        for i in range(n):
            acc = 0.0
            for j in range(kdone):
                acc += V[j, i] * g[j]
            tmp[i] = acc * scale[i] * s_lu
        sparse_lu_solve(indptr, indices, diag, perm, luv, tmp, work)
        for i in range(n):
            x[i] += tmp[i]
        # new residual b - op(x), scaled, into V[0]
        for i in range(n):
            z[i] = x[i] / scale[i]
        _newton_op(indptr, indices, perm, avals, s_lu, c, scale, z, V[1], tmp)
        for i in range(n):
            V[0, i] = b[i] / scale[i] - V[1, i]


@njit(cache=True)
def assemble_shifted(indptr, diag, amap, jv, s, avals):
    """``avals`` = ``s I - J`` on the plan's pattern (``J`` from its CSR values ``jv``)."""
    for q in range(avals.shape[0]):
        avals[q] = 0.0
    for k in range(jv.shape[0]):
        avals[amap[k]] -= jv[k]
    for i in range(diag.shape[0]):
        avals[diag[i]] += s
