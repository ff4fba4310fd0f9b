"""Tests of the static-pattern sparse LU (orderings, symbolic factorization, numeric
refactorization and solves) against independent references: ``numpy.linalg.solve``, a
dense NumPy LU without pivoting, and closed-form fill counts."""
import numpy as np
import pytest
import scipy.sparse as sps

from symgen.drivers.sparse_lu import (PIVOT_RTOL, load_plan, make_plan, minimum_degree_order,
                                      rcm_order, save_plan, sparse_lu_factor, sparse_lu_solve,
                                      symmetric_adjacency)


# ---- patterns ---------------------------------------------------------------------------
def _csr(rows, cols, n):
    m = sps.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    return m


def arrow(n, hub=0):
    r = [hub] * n + list(range(n)) + list(range(n))
    c = list(range(n)) + [hub] * n + list(range(n))
    return _csr(r, c, n)


def banded(n, lo=2, up=3):
    r, c = [], []
    for i in range(n):
        for j in range(max(0, i - lo), min(n, i + up + 1)):
            r.append(i)
            c.append(j)
    return _csr(r, c, n)


def random_pattern(n, per_row=3, seed=0, with_diag=False):
    rng = np.random.default_rng(seed)
    r = np.repeat(np.arange(n), per_row)
    c = rng.integers(0, n, n * per_row)
    if with_diag:
        r = np.concatenate([r, np.arange(n)])
        c = np.concatenate([c, np.arange(n)])
    return _csr(r, c, n)


def laplacian_2d(k):
    T = sps.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    I = sps.identity(k)
    m = sps.csr_matrix(sps.kron(I, T) + sps.kron(T, I))
    m.sort_indices()
    return m


def brusselator_1d_blocked(N):
    """Pattern of a 1-D two-species reaction-diffusion Jacobian, u block then v block."""
    r, c = [], []
    for i in range(N):
        for j in (i - 1, i, i + 1):
            if 0 <= j < N:
                r += [i, N + i]
                c += [j, N + j]
        r += [i, N + i]
        c += [N + i, i]
    return _csr(r, c, 2 * N)


def _sorted(m):
    m = sps.csr_matrix(m)
    m.sum_duplicates()
    m.sort_indices()
    return m


PATTERNS = {
    "arrow": lambda: arrow(40, hub=7),
    "banded": lambda: banded(60),
    "random": lambda: random_pattern(80, 3, seed=1),
    "random_dense_row": lambda: _sorted(random_pattern(120, 2, seed=2) + arrow(120, hub=5)),
    "laplacian": lambda: laplacian_2d(9),
    "reaction_diffusion": lambda: brusselator_1d_blocked(25),
    "empty": lambda: sps.csr_matrix((6, 6)),
    "one": lambda: _csr([0], [0], 1),
}


def _values(pattern, seed):
    rng = np.random.default_rng(seed)
    J = pattern.copy().astype(float)
    J.data = rng.standard_normal(J.nnz)
    return J


# ---- factor / solve against numpy.linalg.solve -----------------------------------------------
@pytest.mark.parametrize("name", sorted(PATTERNS))
@pytest.mark.parametrize("ordering", ["auto", "amd", "rcm", "natural"])
def test_factor_solve_matches_dense_solve(name, ordering):
    pat = PATTERNS[name]()
    n = pat.shape[0]
    plan = make_plan(pat.indptr, pat.indices, n, ordering=ordering)
    assert np.array_equal(np.sort(plan.perm), np.arange(n))
    assert np.array_equal(plan.perm[plan.iperm], np.arange(n))
    rng = np.random.default_rng(42)
    for trial in range(3):
        J = _values(pat, trial)
        Jd = J.toarray()
        dom = 1.0 + np.abs(Jd).sum(axis=1).max()  # s I - J strictly diagonally dominant
        for s in (dom, complex(0.6 * dom, 0.8 * dom), complex(dom, -3.0)):
            A = s * np.eye(n) - Jd
            b = rng.standard_normal(n) + (1j * rng.standard_normal(n) if isinstance(s, complex) else 0.0)
            st, lu = plan.factor(J.data, s)
            assert st == 0
            assert lu.dtype == (np.complex128 if isinstance(s, complex) else np.float64)
            x = plan.solve(lu, b)
            ref = np.linalg.solve(A, b)
            assert np.max(np.abs(x - ref)) <= 1e-12 * max(1.0, np.max(np.abs(ref)))
            # residual too (independent of the reference's own rounding)
            assert np.max(np.abs(A @ x - b)) <= 1e-12 * np.max(np.abs(A)) * max(1.0, np.max(np.abs(x)))


def test_factors_reproduce_the_permuted_matrix():
    """L U == P (s I - J) P^T entry by entry, from the stored rows (reciprocal pivots)."""
    pat = _sorted(random_pattern(50, 3, seed=5) + banded(50, 1, 1))
    n = 50
    J = _values(pat, 9)
    plan = make_plan(J.indptr, J.indices, n)
    s = 1.0 + np.abs(J.toarray()).sum(axis=1).max()
    st, vals = plan.factor(J.data, s)
    assert st == 0
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        for q in range(plan.indptr[i], plan.indptr[i + 1]):
            j = plan.indices[q]
            if j < i:
                L[i, j] = vals[q]
            elif j == i:
                U[i, i] = 1.0 / vals[q]
            else:
                U[i, j] = vals[q]
    P = np.eye(n)[plan.perm]
    A = s * np.eye(n) - J.toarray()
    np.testing.assert_allclose(L @ U, P @ A @ P.T, rtol=0, atol=1e-12 * np.abs(A).max())
    # both update paths ran: indirect rows, and full U rows of the trailing dense block
    ulen = plan.indptr[1:].astype(int) - plan.diag.astype(int) - 1
    full = ulen == n - 1 - np.arange(n)
    assert full[: n - 3].any() and not full.all()


def test_refactor_reuses_storage():
    pat = laplacian_2d(6)
    n = pat.shape[0]
    plan = make_plan(pat.indptr, pat.indices, n)
    vals = np.empty(plan.indices.size)
    work = np.empty(n)
    b0 = np.arange(1.0, n + 1.0)
    for s, seed in ((10.0, 0), (25.0, 1), (10.0, 2)):
        J = _values(pat, seed)
        assert sparse_lu_factor(plan.indptr, plan.indices, plan.diag, plan.amap, J.data, s, vals, work) == 0
        b = b0.copy()
        sparse_lu_solve(plan.indptr, plan.indices, plan.diag, plan.perm, vals, b, work)
        np.testing.assert_allclose(b, np.linalg.solve(s * np.eye(n) - J.toarray(), b0), rtol=1e-12)


# ---- symbolic factorization ----------------------------------------------------------------
def _dense_lu_nopivot(A):
    A = A.astype(float).copy()
    n = A.shape[0]
    for k in range(n):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return A


@pytest.mark.parametrize("name", ["random", "random_dense_row", "reaction_diffusion", "arrow"])
def test_symbolic_pattern_is_the_exact_fill(name):
    """With random values the numerical nonzeros of a dense no-pivot LU of P A P^T are
    exactly the symbolic pattern (no cancellation with probability one)."""
    pat = PATTERNS[name]()
    n = pat.shape[0]
    plan = make_plan(pat.indptr, pat.indices, n)
    J = _values(pat, 3)
    A = (n + 5.0) * np.eye(n) - J.toarray()
    # random diagonal too, so that only the structure matters
    A[np.diag_indices(n)] += np.random.default_rng(1).uniform(0.5, 1.5, n)
    F = _dense_lu_nopivot(A[np.ix_(plan.perm, plan.perm)])
    sym = np.zeros((n, n), bool)
    rows = np.repeat(np.arange(n), np.diff(plan.indptr))
    sym[rows, plan.indices] = True
    num = np.abs(F) > 1e-300
    assert np.array_equal(num, sym)
    assert plan.nnz_lu == sym.sum()
    assert np.all(np.diff(plan.indices)[np.diff(rows) == 0] > 0)  # sorted rows
    assert np.array_equal(plan.indices[plan.diag], np.arange(n))


def test_flop_count_of_a_dense_pattern():
    n = 12
    full = _csr(np.repeat(np.arange(n), n), np.tile(np.arange(n), n), n)
    plan = make_plan(full.indptr, full.indices, n)
    assert plan.nnz_lu == n * n
    # row i: i divisions and for each k < i the update of the (n - k - 1) U entries
    assert plan.flops == sum(n - k for i in range(n) for k in range(i))


# ---- orderings ---------------------------------------------------------------------------
def test_laplacian_fill_much_smaller_than_natural():
    pat = laplacian_2d(30)
    n = pat.shape[0]
    nat = make_plan(pat.indptr, pat.indices, n, ordering="natural")
    amd = make_plan(pat.indptr, pat.indices, n, ordering="amd")
    rcm = make_plan(pat.indptr, pat.indices, n, ordering="rcm")
    auto = make_plan(pat.indptr, pat.indices, n)
    # natural order of the 5-point grid is banded (half-bandwidth 30): nnz(L+U) is close to
    # 2 * 30 * n; minimum degree brings it to about n log n
    assert nat.nnz_lu > 1.7 * 30 * n
    assert nat.nnz_lu > 2.4 * amd.nnz_lu
    assert nat.flops > 3.5 * amd.flops
    assert rcm.nnz_lu > 1.5 * amd.nnz_lu
    assert auto.ordering == "amd" and auto.nnz_lu == amd.nnz_lu
    assert set(auto.candidates) == {"amd", "rcm"}
    # a scrambled numbering is hopeless without an ordering; the ordering does not care
    rng = np.random.default_rng(0)
    q = rng.permutation(n)
    scr = sps.csr_matrix(pat[q][:, q])
    scr.sort_indices()
    nat_s = make_plan(scr.indptr, scr.indices, n, ordering="natural")
    amd_s = make_plan(scr.indptr, scr.indices, n)
    assert nat_s.nnz_lu > 5 * amd_s.nnz_lu
    assert amd_s.nnz_lu < 1.3 * amd.nnz_lu


def test_minimum_degree_has_no_fill_on_trees_and_arrows():
    for pat in (arrow(300, hub=0), arrow(50, hub=17), banded(100, 1, 1)):
        n = pat.shape[0]
        plan = make_plan(pat.indptr, pat.indices, n, ordering="amd")
        assert plan.nnz_lu == plan.nnz_a
    nat = make_plan(*(lambda p: (p.indptr, p.indices))(arrow(300)), 300, ordering="natural")
    assert nat.nnz_lu == 300 * 300  # the hub first fills everything


def test_dense_rows_are_ordered_last():
    n = 2000
    pat = _sorted(banded(n, 1, 1) + arrow(n, hub=3) + arrow(n, hub=1500))
    ptr, idx = symmetric_adjacency(pat.indptr, pat.indices, n)
    perm = minimum_degree_order(ptr, idx, n)
    assert set(perm[-2:].tolist()) == {3, 1500}
    plan = make_plan(pat.indptr, pat.indices, n)
    assert plan.nnz_lu < 1.5 * plan.nnz_a


def test_rcm_bandwidth_on_a_scrambled_band():
    n = 200
    pat = banded(n, 2, 2)
    q = np.random.default_rng(3).permutation(n)
    scr = sps.csr_matrix(pat[q][:, q])
    scr.sort_indices()
    ptr, idx = symmetric_adjacency(scr.indptr, scr.indices, n)
    perm = rcm_order(ptr, idx, n)
    assert np.array_equal(np.sort(perm), np.arange(n))
    iperm = np.empty(n, int)
    iperm[perm] = np.arange(n)
    r, c = scr.nonzero()
    assert np.max(np.abs(iperm[r] - iperm[c])) <= 4  # recovers a band of width 2 * 2
    # components are ordered one after the other
    two = sps.block_diag([pat, pat]).tocsr()
    ptr, idx = symmetric_adjacency(two.indptr, two.indices, 2 * n)
    perm2 = rcm_order(ptr, idx, 2 * n)
    assert np.array_equal(np.sort(perm2), np.arange(2 * n))
    assert len(set((perm2[:n] < n).tolist())) == 1


# ---- failures ------------------------------------------------------------------------------
def test_zero_and_tiny_pivots_are_reported():
    # s I - J = [[1, -1], [-1, 1]] is singular: the second pivot is exactly zero
    pat = _csr([0, 0, 1, 1], [0, 1, 0, 1], 2)
    J = np.ones(4)
    plan = make_plan(pat.indptr, pat.indices, 2)
    st, _ = plan.factor(J, 2.0)
    assert st == 2
    st, _ = plan.factor(J, complex(2.0, 0.0))
    assert st == 2
    # nearly singular: pivot 1e-16 relative to its row
    st, _ = plan.factor(np.array([1.0, 1.0, 1.0, 1.0 - 1e-16]), 2.0)
    assert st == 2
    # just above the threshold: accepted, and the solve is right
    eps = 1e3 * PIVOT_RTOL
    Jv = np.array([0.0, -1.0, -1.0, -eps])  # s I - J = [[1, 1], [1, 1 + eps]] at s = 1
    st, lu = plan.factor(Jv, 1.0)
    assert st == 0
    x = plan.solve(lu, np.array([2.0, 2.0 + eps]))
    np.testing.assert_allclose(x, [1.0, 1.0], rtol=1e-3)  # condition number 4 / eps
    # an all-zero row (s = 0 and J row empty) fails in that row
    pat3 = _csr([0, 0, 2], [0, 1, 2], 3)
    plan3 = make_plan(pat3.indptr, pat3.indices, 3)
    st, _ = plan3.factor(np.array([1.0, 2.0, 3.0]), 0.0)
    assert st == plan3.iperm[1] + 1
    # non-finite values
    st, _ = plan.factor(np.array([np.nan, 0.0, 0.0, 1.0]), 2.0)
    assert st < 0
    st, _ = plan.factor(np.array([np.inf, 0.0, 0.0, 1.0]), complex(2.0, 1.0))
    assert st < 0


def test_input_validation():
    pat = banded(5)
    with pytest.raises(ValueError):
        make_plan(pat.indptr, pat.indices, 6)
    with pytest.raises(ValueError):
        make_plan(pat.indptr, pat.indices, 5, ordering="metis")
    plan = make_plan(pat.indptr, pat.indices, 5)
    with pytest.raises(ValueError):
        plan.factor(np.ones(3), 1.0)


def test_plan_save_load_roundtrip(tmp_path):
    pat = brusselator_1d_blocked(30)
    n = pat.shape[0]
    plan = make_plan(pat.indptr, pat.indices, n)
    path = tmp_path / "plan.npz"
    save_plan(plan, path)
    back = load_plan(path, pat.indptr, pat.indices, n)
    assert back is not None
    for name in ("perm", "iperm", "indptr", "indices", "diag", "amap"):
        assert np.array_equal(getattr(back, name), getattr(plan, name))
    assert (back.nnz_lu, back.flops, back.ordering) == (plan.nnz_lu, plan.flops, plan.ordering)
    assert load_plan(path, pat.indptr, pat.indices, n + 1) is None
    assert load_plan(tmp_path / "missing.npz", pat.indptr, pat.indices, n) is None
    # a plan that does not fit the pattern (same n and nnz, other entries) is not used
    q = np.random.default_rng(8).permutation(n)
    other = _sorted(pat[q][:, q])
    assert other.nnz == pat.nnz and load_plan(path, other.indptr, other.indices, n) is None
    # nor one written by other planning code
    import json
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["code"] = "something else"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_plan(tmp_path / "old.npz", pat.indptr, pat.indices, n) is None


# ---- the blocked / run-vectorized factorization is the plain row-wise elimination ---------
from numba import njit  # noqa: E402

from symgen.drivers.sparse_lu import DENSE_TAIL_MIN, dense_tail  # noqa: E402


@njit(cache=True)
def _plain_rowwise_lu(indptr, indices, diag, amap, jv, s, vals, work):
    """The textbook up-looking elimination over the static pattern, one entry at a time
    (the reference the optimized kernel must reproduce bit for bit)."""
    n = diag.shape[0]
    vals[:] = 0.0
    for k in range(jv.shape[0]):
        vals[amap[k]] -= jv[k]
    for i in range(n):
        vals[diag[i]] += s
    for i in range(n):
        for q in range(indptr[i], indptr[i + 1]):
            work[indices[q]] = vals[q]
        for q in range(indptr[i], diag[i]):
            k = indices[q]
            lk = work[k] * vals[diag[k]]
            work[k] = lk
            for q2 in range(diag[k] + 1, indptr[k + 1]):
                work[indices[q2]] -= lk * vals[q2]
        for q in range(indptr[i], indptr[i + 1]):
            vals[q] = work[indices[q]]
        vals[diag[i]] = 1.0 / work[i]


def _periodic_two_species(k):
    """Pattern of a periodic 2-D two-species reaction-diffusion Jacobian (k x k grid)."""
    idx = np.arange(k * k).reshape(k, k)
    r, c = [], []
    for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = np.roll(np.roll(idx, di, 0), dj, 1).ravel()
        for s in (0, 1):
            r.append(2 * idx.ravel() + s)
            c.append(2 * nb + s)
    r.append(2 * idx.ravel())
    c.append(2 * idx.ravel() + 1)
    r.append(2 * idx.ravel() + 1)
    c.append(2 * idx.ravel())
    return _csr(np.concatenate(r), np.concatenate(c), 2 * k * k)


@pytest.mark.parametrize("shift", [37.0, 37.0 + 11.0j])
def test_blocked_factorization_is_bit_identical_to_plain_elimination(shift):
    pat = _periodic_two_species(20)
    n = pat.shape[0]
    plan = make_plan(pat.indptr, pat.indices, n, ordering="amd")
    t = dense_tail(plan.indptr, plan.indices, plan.diag)
    assert t >= DENSE_TAIL_MIN            # the blocked dense path is exercised
    rng = np.random.default_rng(3)
    jv = rng.standard_normal(pat.nnz)
    dt = np.complex128 if isinstance(shift, complex) else np.float64
    got, ref = np.empty(plan.indices.size, dt), np.empty(plan.indices.size, dt)
    assert sparse_lu_factor(plan.indptr, plan.indices, plan.diag, plan.amap, jv, dt(shift), got,
                            np.empty(n, dt)) == 0
    _plain_rowwise_lu(plan.indptr, plan.indices, plan.diag, plan.amap, jv, dt(shift), ref, np.empty(n, dt))
    assert np.array_equal(got, ref)
    # and the factors solve the system (independent check against NumPy)
    A = shift * np.eye(n) - sps.csr_matrix((jv, pat.indices, pat.indptr), shape=(n, n)).toarray()
    b = rng.standard_normal(n).astype(dt)
    x = plan.solve(got, b)
    assert np.allclose(A @ x, b, rtol=0, atol=1e-10 * np.abs(b).max())


def test_tiny_pivot_inside_the_dense_block_is_reported_with_its_row():
    pat = _periodic_two_species(20)
    n = pat.shape[0]
    plan = make_plan(pat.indptr, pat.indices, n, ordering="amd")
    t = dense_tail(plan.indptr, plan.indices, plan.diag)
    jv = np.zeros(pat.nnz)
    # J = 0 except a diagonal entry cancelling the shift in the last row of the dense block
    row = int(plan.perm[n - 1])
    q = pat.indptr[row] + int(np.flatnonzero(pat.indices[pat.indptr[row]:pat.indptr[row + 1]] == row)[0])
    jv[q] = 5.0
    st, _ = plan.factor(jv, 5.0)
    assert st == n      # permuted row n - 1 (status i + 1), inside the block of order t
    assert t > 1
