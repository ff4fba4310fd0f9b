"""Tests of the compiled Dormand–Prince 5(4) driver against independent references
(Runge–Kutta order conditions, exact solutions, the method's known stability polynomial,
SciPy's DOP853/Radau at tight tolerances)."""
import math
from fractions import Fraction

import numpy as np
import pytest
from numba import cfunc
from scipy.integrate import solve_ivp

from symgen.drivers.common import (KERNEL_SIG, MAX_STEPS, NONFINITE, STAT_NAMES,
                                   STEP_UNDERFLOW, STIFF_DETECTED, SUCCESS)
from symgen.drivers.dopri5 import DOPRI5_TABLEAU, dopri5, dopri5_dense_eval
from driver_problems import MU, vdp_py, vdp_py_jac, vdp_rhs

EMPTY = np.empty(0)


# ---- model kernels --------------------------------------------------------------------
@cfunc(KERNEL_SIG, cache=True)
def exp_rhs(t, y, p, dy):
    dy[0] = p[0] * y[0]


@cfunc(KERNEL_SIG, cache=True)
def osc_rhs(t, y, p, dy):
    dy[0] = y[1]
    dy[1] = -y[0]


def osc_exact(t):
    """y'' = -y, y(0) = 1, y'(0) = 0."""
    t = np.asarray(t, dtype=float)
    return np.stack([np.cos(t), -np.sin(t)], axis=-1)


@cfunc(KERNEL_SIG, cache=True)
def lorenz_rhs(t, y, p, dy):
    dy[0] = p[0] * (y[1] - y[0])
    dy[1] = y[0] * (p[1] - y[2]) - y[1]
    dy[2] = y[0] * y[1] - p[2] * y[2]


LORENZ_P = np.array([10.0, 28.0, 8.0 / 3.0])


def lorenz_py(t, y):
    s, r, b = LORENZ_P
    return [s * (y[1] - y[0]), y[0] * (r - y[2]) - y[1], y[0] * y[1] - b * y[2]]


@cfunc(KERNEL_SIG, cache=True)
def nan_rhs(t, y, p, dy):
    if t > 0.5:
        dy[0] = np.nan
    else:
        dy[0] = -y[0]


@cfunc(KERNEL_SIG, cache=True)
def square_rhs(t, y, p, dy):
    dy[0] = y[0] * y[0]


def run(rhs, t0, tf, y0, p, rtol, atol, h0=0.0, hmax=0.0, max_steps=1000000, t_eval=EMPTY,
        dense=False, detect_stiff=False):
    y0 = np.ascontiguousarray(y0, dtype=np.float64)
    atol = np.full(y0.shape[0], atol, dtype=np.float64) if np.isscalar(atol) else np.asarray(atol, float)
    return dopri5(rhs, float(t0), float(tf), y0, np.asarray(p, dtype=np.float64), float(rtol),
                  atol, float(h0), float(hmax), int(max_steps),
                  np.asarray(t_eval, dtype=np.float64), bool(dense), bool(detect_stiff), 0)


# ---- the tableau against the Runge–Kutta order conditions ----------------------------
def _trees(order):
    """All rooted trees with ``order`` nodes, as sorted tuples of their subtrees."""
    if order == 1:
        return [()]
    out = set()

    def forests(n, max_tree):
        # multisets of trees with n nodes in total, trees in non-increasing order
        if n == 0:
            yield ()
            return
        for k in range(n, 0, -1):
            for tr in _trees(k):
                key = (k, tr)
                if max_tree is not None and key > max_tree:
                    continue
                for rest in forests(n - k, key):
                    yield (tr,) + rest
    for f in forests(order - 1, None):
        out.add(tuple(sorted(f)))
    return sorted(out)


def _weights(tree, A, c):
    """Stage weights of ``tree``: prod over subtrees of ``A @ weights(subtree)``."""
    g = np.ones(len(c))
    for sub in tree:
        g = g * (A @ _weights(sub, A, c))
    return g


def _density(tree):
    n = 1 + sum(_size(s) for s in tree)
    return n * math.prod(_density(s) for s in tree)


def _size(tree):
    return 1 + sum(_size(s) for s in tree)


def test_tree_enumeration():
    # number of rooted trees with 1..5 nodes (OEIS A000081)
    assert [len(_trees(k)) for k in range(1, 6)] == [1, 1, 2, 4, 9]


def test_tableau_order_conditions():
    T = DOPRI5_TABLEAU
    A, b, c, e, d = T["A"], T["b"], T["c"], T["e"], T["d"]
    np.testing.assert_allclose(A.sum(axis=1), c, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(A[6], b)  # FSAL: the last stage is f(t + h, y_new)
    assert c[6] == 1.0 and np.all(np.triu(A) == 0.0)
    bhat = b - e
    for order in range(1, 6):
        for tr in _trees(order):
            want = 1.0 / _density(tr)
            got = b @ _weights(tr, A, c)
            got_hat = bhat @ _weights(tr, A, c)
            if order <= 5:
                assert got == pytest.approx(want, abs=1e-14), (order, tr)
            if order <= 4:
                assert got_hat == pytest.approx(want, abs=1e-14), (order, tr)
    # the embedded formula is exactly order 4: some order-5 condition fails
    assert max(abs(bhat @ _weights(tr, A, c) - 1.0 / _density(tr)) for tr in _trees(5)) > 1e-4
    # the continuous extension is order 4 for every s: its weights b(s) satisfy
    # b(s) . Phi(tree) = s^|tree| / gamma(tree)
    e1 = np.eye(7)[0]
    e7 = np.eye(7)[6]
    for s in (0.1, 0.37, 0.5, 0.81):
        bs = s * b + s * (1 - s) * (e1 - b) + s * s * (1 - s) * (2 * b - e1 - e7) \
            + (s * (1 - s)) ** 2 * d
        for order in range(1, 5):
            for tr in _trees(order):
                assert bs @ _weights(tr, A, c) == pytest.approx(s ** order / _density(tr),
                                                                abs=1e-14)
    # the published rationals
    assert Fraction(b[4]).limit_denominator(10 ** 5) == Fraction(-2187, 6784)
    assert Fraction(e[6]).limit_denominator(10 ** 5) == Fraction(-1, 40)


# ---- one step: stability polynomial and local error order -----------------------------
def _one_step(h, lam=1.0):
    # h0 = hmax = tf - t0 and loose tolerances: exactly one step of size h
    return run(exp_rhs, 0.0, h, [1.0], [lam], 1e3, 1e3, h0=h, dense=True)


def test_single_step_is_the_stability_polynomial():
    # DOPRI5 applied to y' = lam y gives R(z) = sum_{k<=5} z^k/k! + z^6/600
    for h, lam in ((0.3, 1.0), (0.5, -2.0), (0.1, -30.0)):
        st, tr, ts, ys, cf, _, _, stats = _one_step(h, lam)
        assert st == SUCCESS and tr == h and len(ts) == 2 and stats[0] == 1
        z = h * lam
        R = sum(z ** k / math.factorial(k) for k in range(6)) + z ** 6 / 600
        assert ys[1, 0] == pytest.approx(R, rel=1e-14)


def test_local_error_order():
    err = {}
    mid = {}
    for h in (0.2, 0.1, 0.05):
        st, _, ts, ys, cf, _, _, _ = _one_step(h)
        assert st == SUCCESS
        err[h] = abs(ys[1, 0] - math.exp(h))
        mid[h] = abs(dopri5_dense_eval(ts, cf, [0.5 * h])[0, 0] - math.exp(0.5 * h))
    # order 5: local error O(h^6); continuous extension order 4: O(h^5)
    for h in (0.2, 0.1):
        assert 40 < err[h] / err[h / 2] < 90
        assert 20 < mid[h] / mid[h / 2] < 45


# ---- accuracy on problems with known solutions ----------------------------------------
def test_decay_error_follows_tolerance():
    errs = []
    for rtol in (1e-6, 1e-10):
        st, tr, ts, ys, *_ = run(exp_rhs, 0.0, 5.0, [1.0], [-1.0], rtol, rtol * 1e-3)
        assert st == SUCCESS and tr == 5.0 and ts[-1] == 5.0
        rel = abs(ys[-1, 0] / math.exp(-5.0) - 1.0)
        assert rel < 10 * rtol
        errs.append(rel)
    assert errs[1] < 1e-3 * errs[0]


def test_oscillator_accuracy_and_dense_output():
    tq = np.sort(np.random.default_rng(0).uniform(0.0, 20.0, 500))
    errs = []
    for rtol in (1e-6, 1e-10):
        st, tr, ts, ys, cf, _, _, stats = run(osc_rhs, 0.0, 20.0, [1.0, 0.0], EMPTY, rtol,
                                              rtol, dense=True)
        assert st == SUCCESS and tr == 20.0
        assert cf.shape == (len(ts) - 1, 5, 2)
        err = np.max(np.abs(ys[-1] - osc_exact(20.0)))
        assert err < 20 * rtol
        errs.append(err)
        yq = dopri5_dense_eval(ts, cf, tq)
        assert yq.shape == (500, 2)
        np.testing.assert_allclose(yq, osc_exact(tq), rtol=0, atol=20 * rtol)
        # at the step points the dense output reproduces the steps
        np.testing.assert_allclose(dopri5_dense_eval(ts, cf, ts), ys, rtol=1e-14, atol=1e-14)
    assert errs[1] < 1e-3 * errs[0]


@pytest.fixture(scope="module")
def lorenz_ref():
    sol = solve_ivp(lorenz_py, (0.0, 20.0), [1.0, 0.0, 0.0], method="DOP853", rtol=1e-13,
                    atol=1e-13)
    assert sol.status == 0
    return sol.y[:, -1]


def test_lorenz_vs_dop853(lorenz_ref):
    st, tr, ts, ys, _, _, _, stats = run(lorenz_rhs, 0.0, 20.0, [1.0, 0.0, 0.0], LORENZ_P,
                                         1e-12, 1e-12, detect_stiff=True)
    assert st == SUCCESS and tr == 20.0
    rel = np.abs(ys[-1] - lorenz_ref) / np.abs(lorenz_ref)
    print(f"\nLorenz t=20, rtol=atol=1e-12 vs DOP853 1e-13: max rel err {rel.max():.2e} "
          f"({stats[0]} steps)")
    assert rel.max() < 1e-6


def test_backward_integration():
    t_eval = np.linspace(1.0, 0.0, 11)
    st, tr, ts, ys, cf, ye, ne, _ = run(exp_rhs, 1.0, 0.0, [math.exp(-1.0)], [-1.0], 1e-10,
                                        1e-13, t_eval=t_eval, dense=True)
    assert st == SUCCESS and tr == 0.0 and ts[-1] == 0.0 and np.all(np.diff(ts) < 0)
    assert ys[-1, 0] == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(ys[:, 0], np.exp(-ts), rtol=1e-9)
    tq = np.random.default_rng(5).uniform(0.0, 1.0, 200)
    np.testing.assert_allclose(dopri5_dense_eval(ts, cf, tq)[:, 0], np.exp(-tq), rtol=1e-9)
    assert ne == 11
    np.testing.assert_allclose(ye[:, 0], np.exp(-t_eval), rtol=1e-9)


def test_t_eval_filled_and_exact():
    rng = np.random.default_rng(3)
    t_eval = np.concatenate([[0.0], np.sort(rng.uniform(0.0, 20.0, 60)), [20.0]])
    st, tr, ts, ys, cf, ye, ne, _ = run(osc_rhs, 0.0, 20.0, [1.0, 0.0], EMPTY, 1e-8, 1e-8,
                                        t_eval=t_eval, dense=True)
    assert st == SUCCESS and ne == len(t_eval) and ye.shape == (len(t_eval), 2)
    assert ye[0, 0] == 1.0 and ye[0, 1] == 0.0
    np.testing.assert_array_equal(ye[-1], ys[-1])
    np.testing.assert_allclose(ye, osc_exact(t_eval), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ye, dopri5_dense_eval(ts, cf, t_eval), rtol=1e-13, atol=1e-14)
    # without dense storage t_eval still works and coeffs is empty
    st2, _, _, _, cf2, ye2, ne2, _ = run(osc_rhs, 0.0, 20.0, [1.0, 0.0], EMPTY, 1e-8, 1e-8,
                                         t_eval=t_eval)
    assert st2 == SUCCESS and cf2.shape == (0, 5, 2) and ne2 == len(t_eval)
    np.testing.assert_array_equal(ye2, ye)


def test_h0_and_hmax():
    st, tr, ts, ys, *_ = run(exp_rhs, 0.0, 3.0, [1.0], [1.0], 1e-9, 1e-12, h0=1e-3, hmax=0.05)
    assert st == SUCCESS and tr == 3.0
    assert ts[1] - ts[0] == pytest.approx(1e-3, rel=1e-14)
    assert np.max(np.diff(ts)) <= 0.05 * (1 + 1e-12)
    assert ys[-1, 0] == pytest.approx(math.exp(3.0), rel=1e-8)
    # the step grows at most tenfold from one accepted step to the next
    st, _, ts, *_ = run(osc_rhs, 0.0, 50.0, [1.0, 0.0], EMPTY, 1e-6, 1e-6, h0=1e-8)
    assert st == SUCCESS
    dt = np.diff(ts)
    assert np.max(dt[1:] / dt[:-1]) <= 10.0 * (1 + 1e-12)


# ---- stiffness detection ----------------------------------------------------------------
def test_stiffness_detected_on_van_der_pol():
    args = (vdp_rhs, 0.0, 3000.0, [2.0, 0.0], [MU], 1e-6, 1e-6)
    st, tr, ts, ys, _, _, _, stats = run(*args, detect_stiff=True)
    assert st == STIFF_DETECTED
    assert tr == ts[-1] and 0.0 < tr < 1.0 and stats[0] < 500
    # the switch state (radau5 continues from it) is accurate to the tolerances
    ref = solve_ivp(vdp_py, (0.0, tr), [2.0, 0.0], method="Radau", rtol=1e-12, atol=1e-12,
                    jac=vdp_py_jac)
    np.testing.assert_allclose(ys[-1], ref.y[:, -1], rtol=1e-5, atol=1e-5)
    # without detection the explicit method crawls (stability-limited) until max_steps
    st, tr, ts, _, _, _, _, stats = run(*args, max_steps=2000)
    assert st == MAX_STEPS and tr == ts[-1] < 3000.0 and stats[0] == 2000


def test_stiff_stop_counts_only_filled_t_eval():
    t_eval = np.concatenate([np.linspace(0.0, 0.02, 21), np.linspace(1.0, 3000.0, 50)])
    st, tr, ts, ys, cf, ye, ne, _ = run(vdp_rhs, 0.0, 3000.0, [2.0, 0.0], [MU], 1e-6, 1e-6,
                                        t_eval=t_eval, dense=True, detect_stiff=True)
    assert st == STIFF_DETECTED
    assert ne == np.count_nonzero(t_eval <= tr) and ne < len(t_eval)
    assert not np.isnan(ye[:ne]).any() and np.isnan(ye[ne:]).all()
    np.testing.assert_allclose(ye[:ne], dopri5_dense_eval(ts, cf, t_eval[:ne]), rtol=1e-13,
                               atol=1e-14)


@pytest.mark.parametrize("rtol", [1e-3, 1e-6, 1e-10])
def test_non_stiff_problem_never_flags(rtol):
    st, tr, *_ = run(osc_rhs, 0.0, 500.0, [1.0, 0.0], EMPTY, rtol, rtol, detect_stiff=True)
    assert st == SUCCESS and tr == 500.0


# ---- failure modes ----------------------------------------------------------------------
def test_nonfinite_rhs_stops_near_the_bad_region():
    st, tr, ts, ys, _, _, _, stats = run(nan_rhs, 0.0, 5.0, [1.0], EMPTY, 1e-6, 1e-9)
    assert st in (NONFINITE, STEP_UNDERFLOW)
    assert tr == ts[-1] and abs(tr - 0.5) < 1e-6
    assert ys[-1, 0] == pytest.approx(math.exp(-tr), rel=1e-6)
    assert stats[0] < 1000
    # finite at t0 = 0.5 but not beyond: every trial step fails and h shrinks tenfold
    # per attempt until it underflows
    st, tr, ts, _, _, _, _, stats = run(nan_rhs, 0.5, 5.0, [1.0], EMPTY, 1e-6, 1e-9)
    assert st == NONFINITE and tr == 0.5 and len(ts) == 1
    assert stats[1] == 0 and stats[0] < 25
    # non-finite at t0: stops at once
    st, tr, ts, *_ = run(nan_rhs, 1.0, 5.0, [1.0], EMPTY, 1e-6, 1e-9)
    assert st == NONFINITE and tr == 1.0 and len(ts) == 1


def test_blow_up_returns_promptly():
    st, tr, ts, _, _, _, _, stats = run(square_rhs, 0.0, 10.0, [1.0], EMPTY, 1e-6, 1e-9)
    assert stats[0] < 2000  # a bounded amount of work, far below max_steps
    assert st != SUCCESS and tr == ts[-1] and tr < 1.0 + 1e-6


def test_max_steps():
    st, tr, ts, ys, _, _, _, stats = run(osc_rhs, 0.0, 20.0, [1.0, 0.0], EMPTY, 1e-8, 1e-8,
                                         max_steps=5)
    assert st == MAX_STEPS
    assert stats[0] == 5 and len(ts) <= 6 and tr == ts[-1] < 20.0


# ---- bookkeeping ------------------------------------------------------------------------
def test_stats_consistency():
    for h0, extra in ((0.0, 2), (1e-3, 1)):  # f(t0) [+ the HINIT probe]
        st, _, ts, _, _, _, _, stats = run(lorenz_rhs, 0.0, 5.0, [1.0, 0.0, 0.0], LORENZ_P,
                                           1e-5, 1e-5, h0=h0)
        s = dict(zip(STAT_NAMES, stats))
        assert st == SUCCESS
        assert s["accepted"] + s["rejected"] == s["steps"]
        assert s["accepted"] == len(ts) - 1
        assert s["rejected"] > 0  # loose tolerance on a chaotic problem rejects some steps
        assert s["nfev"] == 6 * s["steps"] + extra
        assert s["njev"] == s["nlu"] == s["newton_iters"] == s["linear_solves"] == 0


def test_empty_state_and_trivial_span():
    st, tr, ts, ys, cf, ye, ne, stats = run(exp_rhs, 0.0, 1.0, EMPTY, [1.0], 1e-6, EMPTY,
                                            t_eval=np.array([0.0, 0.5, 1.0]), dense=True)
    assert st == SUCCESS and tr == 1.0 and list(ts) == [0.0, 1.0]
    assert ys.shape == (2, 0) and cf.shape == (1, 5, 0) and ye.shape == (3, 0) and ne == 3
    assert stats[0] == stats[1] == 1 and stats[3] == 0
    st, tr, ts, ys, cf, ye, ne, _ = run(exp_rhs, 1.0, 1.0, [0.5], [1.0], 1e-6, 1e-9,
                                        t_eval=np.array([1.0]), dense=True)
    assert st == SUCCESS and tr == 1.0 and len(ts) == 1 and cf.shape == (0, 5, 1)
    assert ne == 1 and ye[0, 0] == 0.5


def test_compiled_once_for_all_models():
    run(exp_rhs, 0.0, 1.0, [1.0], [-1.0], 1e-6, 1e-9)
    n_sig = len(dopri5.signatures)
    st, *_ = run(osc_rhs, 0.0, 1.0, [1.0, 0.0], EMPTY, 1e-6, 1e-9, dense=True,
                 t_eval=np.array([0.5]), detect_stiff=True)
    st2, *_ = run(lorenz_rhs, 0.0, 1.0, [1.0, 0.0, 0.0], LORENZ_P, 1e-6, 1e-9)
    assert st == SUCCESS and st2 == SUCCESS
    assert len(dopri5.signatures) == n_sig
