"""Variable-order BDF driver: accuracy against SciPy at tight tolerances and exact
solutions, dense output, backward integration, sparse LU, failure statuses."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import symgen as sg
from symgen.drivers.bdf import _INTERP, MAX_ORDER


def _rob(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2], k2 * y[1] ** 2]


def _rob_jac(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [[-k1, k3 * y[2], k3 * y[1]], [k1, -2 * k2 * y[1] - k3 * y[2], -k3 * y[1]], [0, 2 * k2 * y[1], 0]]


def test_interpolation_weights_are_the_newton_basis():
    # P_j(s) = prod_{m<j} (s - 1 + m) / (m + 1), checked at random points
    s = np.linspace(-0.3, 1.2, 7)
    for j in range(MAX_ORDER + 1):
        expect = np.prod([(s - 1 + m) / (m + 1) for m in range(j)], axis=0) if j else np.ones_like(s)
        got = sum(_INTERP[j, q] * s**q for q in range(MAX_ORDER + 1))
        np.testing.assert_allclose(got, expect, rtol=1e-14, atol=1e-14)


def test_robertson_matches_scipy_radau(examples_path):
    import robertson
    model = sg.compile(robertson.build())
    atol = [1e-14, 1e-20, 1e-14]
    sol = model.solve([1.0, 0.0, 0.0], (0.0, 1e11), method="bdf", rtol=1e-8, atol=atol)
    assert sol.status == 0, sol.message
    ref = solve_ivp(_rob, (0.0, 1e11), [1.0, 0.0, 0.0], method="Radau", rtol=1e-12, atol=atol,
                    jac=_rob_jac)
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=2e-5, atol=1e-17)
    assert abs(sol["total"][-1] - 1.0) < 1e-10
    # one real factorization per Newton matrix, kept over many steps
    assert sol.stats["nlu"] < sol.stats["accepted"]


def test_van_der_pol_mu_1000_matches_scipy(examples_path):
    import van_der_pol
    model = sg.compile(van_der_pol.build())
    sol = model.solve([2.0, 0.0], (0.0, 3000.0), method="bdf", rtol=1e-8, atol=1e-8)
    assert sol.status == 0, sol.message
    mu = 1000.0
    ref = solve_ivp(lambda t, y: [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]], (0.0, 3000.0), [2.0, 0.0],
                    method="Radau", rtol=1e-11, atol=1e-11,
                    jac=lambda t, y: [[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]])
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-3)


def _linear_model(sign=1.0):
    """y' = A y, stiff and decaying in the direction of integration (sign = -1 for
    backward integration: a decaying system integrated backward blows up, rightly)."""
    t = sg.time()
    y = sg.states("y", shape=3)
    a = sg.params("a")
    A = sign * np.array([[-1.0, 0.5, 0.0], [0.0, -100.0, 1.0], [0.2, 0.0, -2000.0]])
    eqs = [sg.D(y[i]) == sum(float(A[i, j]) * (a if (i, j) == (0, 0) else 1) * y[j] for j in range(3))
           for i in range(3)]
    name = "bdf_linear" if sign > 0 else "bdf_linear_backward"
    return sg.compile(sg.ODESystem(eqs, t, defaults={a: 1.0}, name=name)), A


@pytest.mark.parametrize("span", [(0.0, 2.0), (2.0, 0.5)])
def test_linear_system_exact_solution_and_dense_output(span):
    t0, tf = span
    model, A = _linear_model(1.0 if tf > t0 else -1.0)
    y0 = np.array([1.0, -0.5, 2.0])
    t_eval = np.linspace(t0, tf, 9)
    sol = model.solve(y0, span, method="bdf", rtol=1e-10, atol=1e-12, t_eval=t_eval)
    assert sol.status == 0, sol.message
    exact = np.stack([expm(A * (tt - t0)) @ y0 for tt in t_eval], axis=1)
    np.testing.assert_allclose(sol.y, exact, rtol=1e-6, atol=1e-9)
    dense = model.solve(y0, span, method="bdf", rtol=1e-10, atol=1e-12)
    tq = np.linspace(t0, tf, 37)
    exact_q = np.stack([expm(A * (tt - t0)) @ y0 for tt in tq], axis=0)
    np.testing.assert_allclose(dense(tq).T, exact_q, rtol=1e-6, atol=1e-8)


def test_sparse_and_dense_linear_algebra_agree_with_scipy(examples_path):
    import brusselator
    model = sg.compile(brusselator.build_1d(40))
    N = 40
    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.concatenate([1 + np.sin(2 * np.pi * x), np.full(N, 3.0)])
    kw = dict(method="bdf", rtol=1e-8, atol=1e-10, dense=False)
    s_sp = model.solve(y0, (0.0, 10.0), linear_solver="sparse", **kw)
    s_de = model.solve(y0, (0.0, 10.0), linear_solver="dense", **kw)
    assert s_sp.linear_solver == "sparse" and s_de.linear_solver == "dense"
    assert s_sp.status == 0 and s_de.status == 0
    p = model.param_vector({})
    ref = solve_ivp(lambda t, y: model.rhs(t, y, p), (0.0, 10.0), y0, method="Radau", rtol=1e-12,
                    atol=1e-12, jac=lambda t, y: model.jac(t, y, p))
    np.testing.assert_allclose(s_sp.y[:, -1], ref.y[:, -1], rtol=1e-5)
    np.testing.assert_allclose(s_de.y[:, -1], ref.y[:, -1], rtol=1e-5)


def test_failures_report_status_and_time():
    t = sg.time()
    y = sg.states("y")
    model = sg.compile(sg.ODESystem([sg.D(y) == y**2], t, name="bdf_blowup"))
    sol = model.solve([1.0], (0.0, 2.0), method="bdf")   # y = 1/(1 - t) blows up at t = 1
    assert sol.status != 0
    assert 0.9 < sol.t_reached < 1.0 and "t = " in sol.message
    few = model.solve([1.0], (0.0, 0.5), method="bdf", max_steps=3)
    assert few.status == 1 and "maximum number of steps" in few.message


def test_krylov_newton_solver_matches_scipy(examples_path):
    import brusselator
    N = 40
    model = sg.compile(brusselator.build_1d(N))
    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.concatenate([1 + np.sin(2 * np.pi * x), np.full(N, 3.0)])
    sol = model.solve(y0, (0.0, 10.0), method="bdf", rtol=1e-8, atol=1e-10, dense=False,
                      linear_solver="krylov")
    assert sol.status == 0 and sol.linear_solver == "krylov"
    assert sol.stats["linear_solves"] > sol.stats["newton_iters"]   # GMRES iterated
    p = model.param_vector({})
    ref = solve_ivp(lambda t, y: model.rhs(t, y, p), (0.0, 10.0), y0, method="Radau", rtol=1e-12,
                    atol=1e-12, jac=lambda t, y: model.jac(t, y, p))
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-5)
    with pytest.raises(sg.SolverError, match="krylov"):
        model.solve(y0, (0.0, 1.0), method="radau5", linear_solver="krylov")


def test_gmres_with_ilu0_solves_the_newton_system():
    import scipy.sparse as sps
    from symgen.drivers.sparse_lu import assemble_shifted, gmres, ilu0_plan, sparse_lu_factor
    rng = np.random.default_rng(3)
    n = 300
    J = sps.random(n, n, density=0.02, random_state=rng, format="csr") - sps.diags(rng.uniform(1, 50, n))
    J.sort_indices()
    plan = ilu0_plan(J.indptr, J.indices, n)
    perm, ptr, idx, diag, amap = plan.arrays()
    c_lu, c = 0.05, 0.06           # preconditioner factored at a different c than solved for
    s_lu = 1.0 / c_lu
    avals = np.empty(idx.size)
    luv = np.empty(idx.size)
    work = np.empty(n)
    assemble_shifted(ptr, diag, amap, J.data, s_lu, avals)
    assert sparse_lu_factor(ptr, idx, diag, amap, J.data, s_lu, luv, work) == 0
    b = rng.standard_normal(n)
    scale = np.full(n, 1e-3) + 1e-3 * rng.uniform(size=n)
    m = 20
    x = np.empty(n)
    its = gmres(ptr, idx, diag, perm, avals, luv, s_lu, c, scale, b, x, m, 200, 1e-10,
                np.empty((m + 1, n)), np.empty((m + 1, m)), np.empty(m + 1), np.empty(m + 1),
                np.empty(m + 1), np.empty(n), np.empty(n), work)
    assert its > 0
    exact = np.linalg.solve(np.eye(n) - c * J.toarray(), b)
    r = (b - (x - c * (J @ x))) / scale
    assert np.sqrt(np.mean(r**2)) <= 1e-10
    np.testing.assert_allclose(x, exact, rtol=1e-9, atol=1e-12)


def test_auto_continues_large_stiff_systems_with_bdf(examples_path):
    import brusselator
    from symgen.solve import AUTO_BDF_MIN_STATES
    N = AUTO_BDF_MIN_STATES // 2
    model = sg.compile(brusselator.build_1d(N), backend="llvm")
    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.concatenate([1 + np.sin(2 * np.pi * x), np.full(N, 3.0)])
    sol = model.solve(y0, (0.0, 2.0), method="auto", rtol=1e-8, atol=1e-10, dense=False)
    assert sol.status == 0 and sol.method == "dopri5->bdf"
    ref = model.solve(y0, (0.0, 2.0), method="radau5", rtol=1e-10, atol=1e-12, dense=False)
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-5)
