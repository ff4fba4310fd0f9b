"""Tests of the compiled Radau IIA(5) driver against independent references
(exact solutions, closed-form method constants, SciPy's Radau at tight tolerances)."""
import math

import numpy as np
import pytest
from numba import cfunc
from scipy.integrate import solve_ivp

from symgen.drivers.common import (KERNEL_SIG, MAX_STEPS, NONFINITE, SINGULAR, STAT_NAMES,
                                   SUCCESS)
from symgen.drivers.radau5 import (NO_SPARSE_PLAN, RADAU_IIA_CONSTANTS, lu_factor_complex,
                                   lu_factor_real, lu_solve_complex, lu_solve_real, radau5,
                                   radau5_dense_eval)
from driver_problems import MU, vdp_jac, vdp_py, vdp_py_jac, vdp_rhs

EMPTY = np.empty(0)


# ---- model kernels --------------------------------------------------------------------
@cfunc(KERNEL_SIG, cache=True)
def lin_rhs(t, y, p, dy):
    dy[0] = -p[0] * (y[0] - math.cos(t))


@cfunc(KERNEL_SIG, cache=True)
def lin_jac(t, y, p, J):
    J[0] = -p[0]


def lin_exact(t, lam=1000.0):
    """y' = -lam (y - cos t), y(0) = 0."""
    a = lam * lam / (lam * lam + 1.0)
    return a * np.cos(t) + lam / (lam * lam + 1.0) * np.sin(t) - a * np.exp(-lam * t)


@cfunc(KERNEL_SIG, cache=True)
def rob_rhs(t, y, p, dy):
    r1 = p[0] * y[0]
    r2 = p[1] * y[1] * y[1]
    r3 = p[2] * y[1] * y[2]
    dy[0] = -r1 + r3
    dy[1] = r1 - r2 - r3
    dy[2] = r2


@cfunc(KERNEL_SIG, cache=True)
def rob_jac(t, y, p, J):
    J[0] = -p[0]
    J[1] = p[2] * y[2]
    J[2] = p[2] * y[1]
    J[3] = p[0]
    J[4] = -2.0 * p[1] * y[1] - p[2] * y[2]
    J[5] = -p[2] * y[1]
    J[6] = 0.0
    J[7] = 2.0 * p[1] * y[1]
    J[8] = 0.0


ROB_K = np.array([0.04, 3e7, 1e4])


def rob_py(t, y):
    k1, k2, k3 = ROB_K
    return np.array([-k1 * y[0] + k3 * y[1] * y[2],
                     k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2,
                     k2 * y[1] ** 2])


def rob_py_jac(t, y):
    k1, k2, k3 = ROB_K
    return np.array([[-k1, k3 * y[2], k3 * y[1]],
                     [k1, -k3 * y[2] - 2 * k2 * y[1], -k3 * y[1]],
                     [0.0, 2 * k2 * y[1], 0.0]])


@cfunc(KERNEL_SIG, cache=True)
def nan_rhs(t, y, p, dy):
    if t > 1.0:
        dy[0] = np.nan
    else:
        dy[0] = -y[0]


@cfunc(KERNEL_SIG, cache=True)
def minus_one_jac(t, y, p, J):
    J[0] = -1.0


@cfunc(KERNEL_SIG, cache=True)
def square_rhs(t, y, p, dy):
    dy[0] = y[0] * y[0]


@cfunc(KERNEL_SIG, cache=True)
def square_jac(t, y, p, J):
    J[0] = 2.0 * y[0]


@cfunc(KERNEL_SIG, cache=True)
def decay2_rhs(t, y, p, dy):
    dy[0] = -y[0]
    dy[1] = -y[1]


@cfunc(KERNEL_SIG, cache=True)
def huge_rank1_jac(t, y, p, J):
    # finite but numerically rank-one at any moderate h: the Newton matrices are singular
    J[0] = 1e300
    J[1] = 1e300
    J[2] = 1e300
    J[3] = 1e300


@cfunc(KERNEL_SIG, cache=True)
def exp_rhs(t, y, p, dy):
    dy[0] = p[0] * y[0]


@cfunc(KERNEL_SIG, cache=True)
def exp_jac(t, y, p, J):
    J[0] = p[0]


def run(rhs, jac, t0, tf, y0, p, rtol, atol, h0=0.0, hmax=0.0, max_steps=100000,
        t_eval=EMPTY, dense=False, jacv=None, splan=None):
    """Call the driver; dense linear algebra unless ``jacv`` and ``splan`` (a
    ``SparseLUPlan``) are given."""
    y0 = np.ascontiguousarray(y0, dtype=np.float64)
    atol = np.full(y0.shape[0], atol, dtype=np.float64) if np.isscalar(atol) else np.asarray(atol, float)
    sparse = splan is not None
    return radau5(rhs, jac, jacv if sparse else jac, float(t0), float(tf), y0,
                  np.asarray(p, dtype=np.float64), float(rtol), atol, float(h0), float(hmax),
                  int(max_steps), np.asarray(t_eval, dtype=np.float64), bool(dense), sparse,
                  splan.arrays() if sparse else NO_SPARSE_PLAN, 0)


# ---- references (computed once) -------------------------------------------------------
@pytest.fixture(scope="module")
def rob_ref():
    sol = solve_ivp(rob_py, (0.0, 1e11), [1.0, 0.0, 0.0], method="Radau", rtol=1e-12,
                    atol=[1e-20, 1e-22, 1e-20], jac=rob_py_jac)
    assert sol.status == 0
    return sol.y[:, -1]


@pytest.fixture(scope="module")
def vdp_ref():
    sol = solve_ivp(vdp_py, (0.0, 3000.0), [2.0, 0.0], method="Radau", rtol=1e-10,
                    atol=1e-10, jac=vdp_py_jac)
    assert sol.status == 0
    return sol.y[:, -1]


# ---- method constants and linear algebra ----------------------------------------------
def test_constants_against_closed_forms():
    K = RADAU_IIA_CONSTANTS
    s6 = math.sqrt(6.0)
    np.testing.assert_allclose(K["c"], [(4 - s6) / 10, (4 + s6) / 10, 1.0], rtol=1e-15)
    # Radau IIA(5) Butcher matrix (Hairer & Wanner II, Table IV.5.6)
    A = np.array([[(88 - 7 * s6) / 360, (296 - 169 * s6) / 1800, (-2 + 3 * s6) / 225],
                  [(296 + 169 * s6) / 1800, (88 + 7 * s6) / 360, (-2 - 3 * s6) / 225],
                  [(16 - s6) / 36, (16 + s6) / 36, 1 / 9]])
    np.testing.assert_allclose(K["A"], A, rtol=1e-14, atol=1e-16)
    # the real eigenvalue of A^-1 is 3 + 3^(2/3) - 3^(1/3)
    assert K["gamma"] == pytest.approx(3 + 3 ** (2 / 3) - 3 ** (1 / 3), rel=1e-14)
    lam = np.linalg.eigvals(np.linalg.inv(A))
    cplx = lam[np.argmax(lam.imag)]
    assert K["alpha"] == pytest.approx(cplx.real, rel=1e-12)
    assert K["beta"] == pytest.approx(cplx.imag, rel=1e-12)
    blk = K["TI"] @ np.linalg.inv(K["A"]) @ K["T"]
    want = np.array([[K["gamma"], 0, 0], [0, K["alpha"], -K["beta"]], [0, K["beta"], K["alpha"]]])
    np.testing.assert_allclose(blk, want, atol=1e-12)
    # error-estimate weights of RADAU5
    np.testing.assert_allclose(K["dd"], [-(13 + 7 * s6) / 3, (-13 + 7 * s6) / 3, -1 / 3], rtol=1e-14)
    # P maps stage increments to the collocation polynomial: u(c_i) = Z_i
    Z = np.array([[0.3], [-1.2], [2.5]])
    q = K["P"] @ Z
    for i, ci in enumerate(K["c"]):
        assert q[0, 0] * ci + q[1, 0] * ci ** 2 + q[2, 0] * ci ** 3 == pytest.approx(Z[i, 0], rel=1e-13)


def test_lu_real_and_complex():
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 17):
        a = rng.standard_normal((n, n))
        if n > 1:
            a[0, 0] = 0.0  # forces a pivot swap
        b = rng.standard_normal(n)
        lu = a.copy()
        piv = np.empty(n, np.int64)
        assert lu_factor_real(lu, piv) == 0
        x = b.copy()
        lu_solve_real(lu, piv, x)
        np.testing.assert_allclose(a @ x, b, atol=1e-10)

        ac = a + 1j * rng.standard_normal((n, n))
        bc = b + 1j * rng.standard_normal(n)
        luc = ac.copy()
        assert lu_factor_complex(luc, piv) == 0
        xc = bc.copy()
        lu_solve_complex(luc, piv, xc)
        np.testing.assert_allclose(ac @ xc, bc, atol=1e-10)
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert lu_factor_real(s.copy(), np.empty(2, np.int64)) == 2
    assert lu_factor_complex(s.astype(complex), np.empty(2, np.int64)) == 2
    assert lu_factor_real(np.array([[np.nan, 1.0], [1.0, 1.0]]), np.empty(2, np.int64)) != 0


# ---- accuracy on problems with known solutions ----------------------------------------
def test_linear_stiff_vs_exact_and_dense():
    st, tr, ts, ys, cf, ye, ne, stats = run(lin_rhs, lin_jac, 0.0, 2.0, [0.0], [1000.0],
                                            1e-10, 1e-12, dense=True)
    assert st == SUCCESS and tr == 2.0 and ts[-1] == 2.0
    assert cf.shape == (len(ts) - 1, 4, 1)
    np.testing.assert_allclose(ys[:, 0], lin_exact(ts), rtol=0, atol=1e-7)
    # constant Jacobian: reused across steps
    s = dict(zip(STAT_NAMES, stats))
    assert s["njev"] < s["accepted"] / 2
    assert s["steps"] == s["accepted"] + s["rejected"]
    tq = np.sort(np.random.default_rng(0).uniform(0.0, 2.0, 400))
    yq = radau5_dense_eval(ts, cf, tq)
    assert yq.shape == (400, 1)
    np.testing.assert_allclose(yq[:, 0], lin_exact(tq), rtol=0, atol=1e-6)
    # at the step points the dense output reproduces the steps
    np.testing.assert_allclose(radau5_dense_eval(ts, cf, ts), ys, rtol=1e-13, atol=1e-15)


def test_error_follows_tolerance():
    # RADAU5 convention: the error is controlled at rtol' = 0.1 rtol^(2/3) (looser than
    # SciPy's Radau at the same rtol); the global error must shrink with rtol and stay
    # within a small multiple of rtol'.
    errs = []
    for rtol in (1e-4, 1e-6, 1e-8, 1e-10):
        st, _, ts, ys, *_ = run(lin_rhs, lin_jac, 0.0, 2.0, [0.0], [1000.0], rtol, rtol * 1e-2)
        assert st == SUCCESS
        err = np.max(np.abs(ys[:, 0] - lin_exact(ts)))
        assert err < rtol ** (2.0 / 3.0)
        errs.append(err)
    assert errs == sorted(errs, reverse=True)


def test_t_eval_matches_dense_output():
    rng = np.random.default_rng(3)
    t_eval = np.concatenate([[0.0], np.sort(rng.uniform(0.0, 2.0, 50)), [2.0]])
    st, tr, ts, ys, cf, ye, ne, _ = run(lin_rhs, lin_jac, 0.0, 2.0, [0.0], [1000.0], 1e-6, 1e-9,
                                        t_eval=t_eval, dense=True)
    assert st == SUCCESS and ne == len(t_eval) and ye.shape == (len(t_eval), 1)
    np.testing.assert_allclose(ye, radau5_dense_eval(ts, cf, t_eval), rtol=1e-12, atol=1e-14)
    assert ye[0, 0] == 0.0 and ye[-1, 0] == ys[-1, 0]
    np.testing.assert_allclose(ye[:, 0], lin_exact(t_eval), atol=1e-3)
    # without dense storage t_eval still works and coeffs is empty
    st2, _, ts2, _, cf2, ye2, ne2, _ = run(lin_rhs, lin_jac, 0.0, 2.0, [0.0], [1000.0], 1e-6, 1e-9,
                                           t_eval=t_eval, dense=False)
    assert st2 == SUCCESS and cf2.shape == (0, 4, 1) and ne2 == len(t_eval)
    np.testing.assert_array_equal(ye2, ye)


def test_backward_integration():
    # y' = +1000 (y - cos t) is stable backwards; y(t) = lin_exact(-t)
    t_eval = np.linspace(0.0, -2.0, 41)
    st, tr, ts, ys, cf, ye, ne, _ = run(lin_rhs, lin_jac, 0.0, -2.0, [0.0], [-1000.0], 1e-10, 1e-12,
                                        t_eval=t_eval, dense=True)
    assert st == SUCCESS and tr == -2.0 and np.all(np.diff(ts) < 0)
    np.testing.assert_allclose(ys[:, 0], lin_exact(-ts), atol=1e-7)
    tq = np.random.default_rng(5).uniform(-2.0, 0.0, 200)
    np.testing.assert_allclose(radau5_dense_eval(ts, cf, tq)[:, 0], lin_exact(-tq), atol=1e-6)
    assert ne == 41
    np.testing.assert_allclose(ye, radau5_dense_eval(ts, cf, t_eval), rtol=1e-12, atol=1e-14)


def test_exponential_growth_h0_hmax():
    st, tr, ts, ys, _, _, _, _ = run(exp_rhs, exp_jac, 0.0, 3.0, [1.0], [1.0], 1e-9, 1e-12,
                                     h0=1e-3, hmax=0.05)
    assert st == SUCCESS
    assert ts[1] - ts[0] == pytest.approx(1e-3)
    assert np.max(np.abs(np.diff(ts))) <= 0.05 * (1 + 1e-12)
    assert ys[-1, 0] == pytest.approx(math.exp(3.0), rel=1e-8)


def test_robertson_vs_scipy(rob_ref):
    st, tr, ts, ys, _, _, _, stats = run(rob_rhs, rob_jac, 0.0, 1e11, [1.0, 0.0, 0.0], ROB_K,
                                         1e-8, 1e-14)
    assert st == SUCCESS and tr == 1e11
    yf = ys[-1]
    big = np.abs(rob_ref) > 1e-12
    assert big.sum() == 2
    np.testing.assert_allclose(yf[big], rob_ref[big], rtol=1e-6)
    assert abs(yf.sum() - 1.0) < 1e-10
    assert np.all(np.abs(ys.sum(axis=1) - 1.0) < 1e-10)
    assert stats[0] < 2000


def test_van_der_pol_vs_scipy(vdp_ref):
    st, tr, ts, ys, _, _, _, stats = run(vdp_rhs, vdp_jac, 0.0, 3000.0, [2.0, 0.0], [MU], 1e-6, 1e-6)
    assert st == SUCCESS and tr == 3000.0
    np.testing.assert_allclose(ys[-1], vdp_ref, rtol=1e-4)
    s = dict(zip(STAT_NAMES, stats))
    assert s["steps"] < 3000 and s["rejected"] < s["accepted"] / 3
    assert s["njev"] <= s["steps"] and s["nlu"] <= 2 * s["steps"]


# ---- failure modes ----------------------------------------------------------------------
def test_nonfinite_rhs_stops_near_the_bad_region():
    st, tr, ts, ys, _, _, _, stats = run(nan_rhs, minus_one_jac, 0.0, 5.0, [1.0], EMPTY, 1e-6, 1e-9)
    assert st == NONFINITE
    assert tr == ts[-1] and abs(tr - 1.0) < 1e-6
    assert ys[-1, 0] == pytest.approx(math.exp(-tr), rel=1e-5)
    assert stats[0] < 1000


def test_max_steps():
    st, tr, ts, ys, _, _, _, stats = run(lin_rhs, lin_jac, 0.0, 2.0, [0.0], [1000.0], 1e-8, 1e-10,
                                         max_steps=5)
    assert st == MAX_STEPS
    assert stats[0] == 5 and len(ts) <= 6 and tr == ts[-1] < 2.0


def test_blow_up_returns_promptly():
    st, tr, ts, ys, _, _, _, stats = run(square_rhs, square_jac, 0.0, 10.0, [1.0], EMPTY, 1e-6, 1e-9)
    assert st != SUCCESS
    assert stats[0] < 2000  # gives up after a bounded amount of work, not at max_steps
    assert tr < 1.01 and tr == ts[-1]


def test_singular_newton_matrix():
    st, tr, ts, ys, _, _, _, stats = run(decay2_rhs, huge_rank1_jac, 0.0, 1.0, [1.0, 1.0], EMPTY,
                                         1e-6, 1e-9)
    assert st == SINGULAR and tr == 0.0 and len(ts) == 1


def test_trivial_spans():
    st, tr, ts, ys, cf, ye, ne, _ = run(lin_rhs, lin_jac, 1.0, 1.0, [0.5], [1000.0], 1e-6, 1e-9,
                                        t_eval=np.array([1.0]), dense=True)
    assert st == SUCCESS and tr == 1.0 and len(ts) == 1 and cf.shape == (0, 4, 1)
    assert ne == 1 and ye[0, 0] == 0.5


# ---- compile-once -----------------------------------------------------------------------
def test_compiled_once_for_all_models():
    run(lin_rhs, lin_jac, 0.0, 1.0, [0.0], [1000.0], 1e-6, 1e-9)
    n_sig = len(radau5.signatures)
    st, *_ = run(exp_rhs, exp_jac, 0.0, 1.0, [1.0], [-2.0], 1e-6, 1e-9)
    st2, *_ = run(vdp_rhs, vdp_jac, 0.0, 1.0, [2.0, 0.0], [MU], 1e-6, 1e-9, dense=True,
                  t_eval=np.array([0.5]))
    # sparse linear algebra goes through the same compiled driver
    st3, *_ = run(vdp_rhs, vdp_jac, 0.0, 1.0, [2.0, 0.0], [MU], 1e-6, 1e-9, jacv=vdp_jac,
                  splan=full_plan(2))
    assert st == SUCCESS and st2 == SUCCESS and st3 == SUCCESS
    assert len(radau5.signatures) == n_sig == 1


# ---- sparse linear algebra ------------------------------------------------------------------
# the dense kernels above write row-major values, which are the CSR values of a full pattern
def full_plan(n):
    from symgen.drivers.sparse_lu import make_plan
    return make_plan(np.arange(0, n * n + 1, n), np.tile(np.arange(n), n), n)


@pytest.mark.parametrize("case", ["robertson", "vdp"])
def test_sparse_linear_algebra_matches_dense(case):
    if case == "robertson":
        args = (rob_rhs, rob_jac, 0.0, 1e11, [1.0, 0.0, 0.0], ROB_K, 1e-8, 1e-14)
        plan = full_plan(3)
    else:
        args = (vdp_rhs, vdp_jac, 0.0, 3000.0, [2.0, 0.0], [MU], 1e-6, 1e-6)
        plan = full_plan(2)
    st_d, tr_d, ts_d, ys_d, *_, stats_d = run(*args)
    st_s, tr_s, ts_s, ys_s, *_, stats_s = run(*args, jacv=args[1], splan=plan)
    assert st_d == st_s == SUCCESS and tr_d == tr_s
    # Static-order LU vs partial pivoting differ only in rounding, which the step-size
    # feedback amplifies over hundreds of steps (measured: ~3e-8 relative at the end);
    # the work done is the same up to a few factorizations.
    np.testing.assert_allclose(ys_s[-1], ys_d[-1], rtol=1e-6, atol=1e-20)
    sd, ss = dict(zip(STAT_NAMES, stats_d)), dict(zip(STAT_NAMES, stats_s))
    for key in ("steps", "newton_iters", "nlu", "njev"):
        assert abs(ss[key] - sd[key]) <= 0.02 * sd[key] + 2, key


def test_sparse_singular_newton_matrix():
    st, tr, ts, *_ = run(decay2_rhs, huge_rank1_jac, 0.0, 1.0, [1.0, 1.0], EMPTY, 1e-6, 1e-9,
                         jacv=huge_rank1_jac, splan=full_plan(2))
    assert st == SINGULAR and tr == 0.0 and len(ts) == 1


# 1-D Brusselator (Hairer & Wanner II, BRUSS), u block then v block:
#   u_i' = 1 + u_i^2 v_i - 4 u_i + c (u_{i-1} - 2 u_i + u_{i+1}),
#   v_i' = 3 u_i - u_i^2 v_i + c (v_{i-1} - 2 v_i + v_{i+1}),  c = alpha (N + 1)^2,
# boundary values u = 1, v = 3.  p = (alpha, N).
@cfunc(KERNEL_SIG, cache=True)
def bruss_rhs(t, y, p, dy):
    N = int(p[1])
    c = p[0] * (N + 1) * (N + 1)
    for i in range(N):
        u = y[i]
        v = y[N + i]
        ul = y[i - 1] if i > 0 else 1.0
        ur = y[i + 1] if i < N - 1 else 1.0
        vl = y[N + i - 1] if i > 0 else 3.0
        vr = y[N + i + 1] if i < N - 1 else 3.0
        dy[i] = 1.0 + u * u * v - 4.0 * u + c * (ul - 2.0 * u + ur)
        dy[N + i] = 3.0 * u - u * u * v + c * (vl - 2.0 * v + vr)


@cfunc(KERNEL_SIG, cache=True)
def bruss_jacv(t, y, p, out):
    # CSR order: row u_i: u_{i-1}, u_i, u_{i+1}, v_i; then row v_i: u_i, v_{i-1}, v_i, v_{i+1}
    N = int(p[1])
    c = p[0] * (N + 1) * (N + 1)
    k = 0
    for i in range(N):
        u = y[i]
        v = y[N + i]
        if i > 0:
            out[k] = c
            k += 1
        out[k] = 2.0 * u * v - 4.0 - 2.0 * c
        k += 1
        if i < N - 1:
            out[k] = c
            k += 1
        out[k] = u * u
        k += 1
    for i in range(N):
        u = y[i]
        v = y[N + i]
        out[k] = 3.0 - 2.0 * u * v
        k += 1
        if i > 0:
            out[k] = c
            k += 1
        out[k] = -u * u - 2.0 * c
        k += 1
        if i < N - 1:
            out[k] = c
            k += 1


def bruss_pattern(N):
    indptr, indices = [0], []
    for i in range(N):
        indices += [j for j in (i - 1, i, i + 1) if 0 <= j < N] + [N + i]
        indptr.append(len(indices))
    for i in range(N):
        indices += [i] + [N + j for j in (i - 1, i, i + 1) if 0 <= j < N]
        indptr.append(len(indices))
    return np.array(indptr), np.array(indices)


def bruss_py(N, alpha=1.0 / 50.0):
    import scipy.sparse as sps
    c = alpha * (N + 1) ** 2
    indptr, indices = bruss_pattern(N)

    def f(t, y):
        u, v = y[:N], y[N:]
        ue = np.concatenate([[1.0], u, [1.0]])
        ve = np.concatenate([[3.0], v, [3.0]])
        lu = ue[:-2] - 2 * u + ue[2:]
        lv = ve[:-2] - 2 * v + ve[2:]
        return np.concatenate([1 + u * u * v - 4 * u + c * lu, 3 * u - u * u * v + c * lv])

    def jac(t, y):  # written independently of bruss_jacv: diagonal blocks via scipy.sparse
        u, v = y[:N], y[N:]
        T = sps.diags([np.full(N - 1, c), np.full(N, -2 * c), np.full(N - 1, c)], [-1, 0, 1])
        return sps.bmat([[T + sps.diags(2 * u * v - 4), sps.diags(u * u)],
                         [sps.diags(3 - 2 * u * v), T - sps.diags(u * u)]], format="csr")

    return f, jac, indptr, indices


def test_sparse_reaction_diffusion_vs_scipy():
    from symgen.drivers.sparse_lu import make_plan
    N = 500
    f, jac, indptr, indices = bruss_py(N)
    p = np.array([1.0 / 50.0, N])
    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.concatenate([1.0 + np.sin(2 * np.pi * x), np.full(N, 3.0)])
    # the compiled values kernel agrees with the independent SciPy Jacobian
    from symgen.drivers.evaluate import call_kernel
    jv = np.empty(indices.size)
    ytest = y0 + 0.1 * np.cos(np.arange(2 * N))
    call_kernel(bruss_jacv, 0.0, ytest, p, jv)
    import scipy.sparse as sps
    np.testing.assert_allclose(sps.csr_matrix((jv, indices, indptr), shape=(2 * N, 2 * N)).toarray(),
                               jac(0.0, ytest).toarray(), rtol=1e-14)
    plan = make_plan(indptr, indices, 2 * N)
    assert plan.ordering != "natural" and plan.nnz_lu < 3 * plan.nnz_a  # blocked layout, little fill
    t_eval = np.array([1.0, 5.0, 10.0])
    st, tr, ts, ys, _, ye, ne, stats = run(bruss_rhs, bruss_rhs, 0.0, 10.0, y0, p, 1e-9, 1e-9,
                                           t_eval=t_eval, jacv=bruss_jacv, splan=plan)
    assert st == SUCCESS and tr == 10.0 and ne == 3
    s = dict(zip(STAT_NAMES, stats))
    assert s["njev"] > 0 and s["nlu"] >= 2 * s["njev"]
    ref = solve_ivp(f, (0.0, 10.0), y0, method="Radau", rtol=1e-11, atol=1e-11, jac=jac, t_eval=t_eval)
    assert ref.status == 0
    np.testing.assert_allclose(ye, ref.y.T, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(ys[-1], ref.y[:, -1], rtol=1e-7, atol=1e-7)


# ---- the model route: CompiledModel.solve(..., linear_solver=...) ---------------------------
@pytest.mark.parametrize("name", ["robertson", "van_der_pol"])
def test_model_solve_sparse_matches_dense(name, examples_path):
    import importlib

    import symgen as sg
    mod = importlib.import_module(name)
    model = sg.compile(mod.build())
    if name == "robertson":
        y1, y2, y3 = model.states
        kw = dict(y0={y1: 1.0, y2: 0.0, y3: 0.0}, t_span=(0.0, 1e11), rtol=1e-8,
                  atol={y1: 1e-14, y2: 1e-20, y3: 1e-14})
    else:
        x, v = model.states
        kw = dict(y0={x: 2.0, v: 0.0}, t_span=(0.0, 3000.0), rtol=1e-6, atol=1e-6)
    sols = {ls: model.solve(method="radau5", linear_solver=ls, **kw) for ls in ("dense", "sparse", "auto")}
    assert all(s.status == 0 for s in sols.values())
    assert sols["sparse"].linear_solver == "sparse" and sols["dense"].linear_solver == "dense"
    assert sols["auto"].linear_solver == "dense"  # 2 or 3 states
    d, s = sols["dense"], sols["sparse"]
    np.testing.assert_allclose(s.y[:, -1], d.y[:, -1], rtol=1e-9, atol=1e-22)
    for key in ("steps", "newton_iters", "nlu", "njev"):
        assert abs(s.stats[key] - d.stats[key]) <= 0.02 * d.stats[key] + 2, key
    assert s.stats["nlu"] > 0 and s.stats["njev"] > 0


def test_model_solve_reaction_diffusion_sparse(examples_path):
    """A compiled 1-D Brusselator (100 states): auto picks the sparse LU; it agrees with
    the dense LU and with SciPy's BDF driven by the model's own sparse Jacobian."""
    import symgen as sg
    from brusselator import build_1d
    from symgen.cache import entry_dir
    from symgen.errors import SolverError
    from symgen.solve import sparse_plan
    N = 50
    model = sg.compile(build_1d(N))
    n = 2 * N
    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.zeros(n)
    for i, s in enumerate(model.states):  # by name: independent of the state order
        nm, k = str(s).split("[")
        k = int(k.rstrip("]"))
        y0[i] = 1.0 + np.sin(2 * np.pi * x[k]) if nm == "u" else 3.0
    t_eval = np.linspace(0.0, 10.0, 11)
    auto = model.solve(y0, (0.0, 10.0), method="radau5", rtol=1e-9, atol=1e-9, t_eval=t_eval)
    dense = model.solve(y0, (0.0, 10.0), method="radau5", rtol=1e-9, atol=1e-9, t_eval=t_eval,
                        linear_solver="dense")
    assert auto.status == 0 and dense.status == 0
    assert auto.linear_solver == "sparse" and dense.linear_solver == "dense"
    np.testing.assert_allclose(auto.y, dense.y, rtol=1e-8, atol=1e-10)
    plan = sparse_plan(model)
    assert plan is model._sparse_lu_plan and plan.nnz_lu < 2 * plan.nnz_a
    assert (entry_dir(model.key) / "sparse_lu_plan.npz").exists()
    again = sg.compile(build_1d(N))  # a new model object from the disk cache loads the plan
    assert again is not model and not hasattr(again, "_sparse_lu_plan")
    plan2 = sparse_plan(again)
    assert plan2 is not plan and np.array_equal(plan2.perm, plan.perm)
    assert np.array_equal(plan2.indices, plan.indices) and np.array_equal(plan2.amap, plan.amap)
    p = model.param_vector({})
    ref = solve_ivp(lambda t, y: model.rhs(t, y, p), (0.0, 10.0), y0, method="BDF", rtol=1e-12,
                    atol=1e-12, jac=lambda t, y: model.jac_sparse(t, y, p), t_eval=t_eval)
    assert ref.status == 0
    np.testing.assert_allclose(auto.y, ref.y, rtol=2e-7, atol=2e-7)
    with pytest.raises(SolverError):
        model.solve(y0, (0.0, 1.0), method="radau5", linear_solver="banded")


def test_auto_linear_solver_choice():
    """``auto``: dense for small systems and for patterns whose sparse LU would cost close
    to the dense one; sparse otherwise."""
    from types import SimpleNamespace

    from symgen.ir.system import Sparsity
    from symgen.solve import choose_linear_solver

    def fake(n, rows_cols):
        indptr, indices = [0], []
        for i in range(n):
            indices += sorted(rows_cols(i))
            indptr.append(len(indices))
        return SimpleNamespace(states=tuple(range(n)), key="0" * 64,
                               jac_sparsity=Sparsity(n, n, tuple(indptr), tuple(indices)))

    tri = lambda n: fake(n, lambda i: {j for j in (i - 1, i, i + 1) if 0 <= j < n})  # noqa: E731
    assert choose_linear_solver(tri(49), "auto")[0] is False
    sparse, splan = choose_linear_solver(tri(50), "auto")
    assert sparse is True and len(splan) == 5 and splan[1].size == 51
    assert choose_linear_solver(tri(50), "dense")[0] is False
    assert choose_linear_solver(tri(3), "sparse")[0] is True
    full = fake(60, lambda i: set(range(60)))
    assert choose_linear_solver(full, "auto")[0] is False
    assert choose_linear_solver(full, "sparse")[0] is True
    # one dense row and column (an arrow) costs nothing extra once ordered last
    arrow = fake(200, lambda i: set(range(200)) if i == 0 else {0, i})
    assert choose_linear_solver(arrow, "auto")[0] is True


def test_sparse_plan_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="plan"):
        run(vdp_rhs, vdp_jac, 0.0, 1.0, [2.0, 0.0], [MU], 1e-6, 1e-9, jacv=vdp_jac, splan=full_plan(3))
