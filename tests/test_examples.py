"""The issue-2 acceptance problems end to end (DSL -> compiled model -> solve), each
against SciPy at much tighter tolerance, and every example's main() runs."""
import importlib

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import symgen as sg

EXAMPLES = ["lorenz", "robertson", "van_der_pol", "forced_chain"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name, examples_path):
    mod = importlib.import_module(name)
    out = mod.main(quiet=True)
    sols = out[1] if isinstance(out, tuple) else out
    for sol in (sols if isinstance(sols, (list, tuple)) else [sols]):
        assert sol.status == 0, sol.message
        assert np.all(np.isfinite(sol.y))


def _rob(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2], k2 * y[1] ** 2]


def _rob_jac(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [[-k1, k3 * y[2], k3 * y[1]], [k1, -2 * k2 * y[1] - k3 * y[2], -k3 * y[1]], [0, 2 * k2 * y[1], 0]]


def test_robertson_to_1e11_matches_scipy_radau(examples_path):
    import robertson
    _, sol = robertson.main(quiet=True)
    ref = solve_ivp(_rob, (0.0, 1e11), [1.0, 0.0, 0.0], method="Radau", rtol=1e-12,
                    atol=[1e-14, 1e-20, 1e-14], jac=_rob_jac)
    yf, rf = sol.y[:, -1], ref.y[:, -1]
    assert sol.t[-1] == 1e11
    np.testing.assert_allclose(yf, rf, rtol=1e-6, atol=1e-17)
    assert abs(sol["total"][-1] - 1.0) < 1e-12
    assert "radau5" in sol.method  # auto switched to the stiff method
    assert sol.stats["nlu"] > 0 and sol.stats["njev"] > 0


def test_van_der_pol_mu_1000_matches_scipy(examples_path):
    import van_der_pol
    _, sol = van_der_pol.main(quiet=True)
    mu = 1000.0
    ref = solve_ivp(lambda t, y: [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]], (0.0, 3000.0), [2.0, 0.0],
                    method="Radau", rtol=1e-10, atol=1e-10,
                    jac=lambda t, y: [[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]])
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-3)
    assert sol.stats["steps"] < 5000


def test_lorenz_matches_dop853_and_dense_output(examples_path):
    import lorenz
    model = sg.compile(lorenz.build())
    x, y, z = model.states
    p = {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0}
    sol = model.solve({x: 1.0, y: 0.0, z: 0.0}, (0.0, 20.0), params=p, method="dopri5",
                      rtol=1e-12, atol=1e-12)

    def f(t, u):
        return [10.0 * (u[1] - u[0]), u[0] * (28.0 - u[2]) - u[1], u[0] * u[1] - 8.0 / 3.0 * u[2]]

    ref = solve_ivp(f, (0.0, 20.0), [1.0, 0.0, 0.0], method="DOP853", rtol=1e-13, atol=1e-13,
                    dense_output=True)
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-6)
    tq = np.linspace(0.3, 19.7, 37)
    np.testing.assert_allclose(sol(tq), ref.sol(tq), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sol[x], sol.y[0])
    assert set(sol.stats) >= {"steps", "rejected", "nfev", "njev", "nlu"}


def test_failed_solve_reports_time_reached():
    t = sg.time()
    u = sg.states("u")
    model = sg.compile(sg.ODESystem([sg.D(u) == u**2], t, name="blowup"))
    sol = model.solve({u: 1.0}, (0.0, 2.0), method="auto")
    assert sol.status != 0
    assert "t = 0.99" in sol.message or "t = 1" in sol.message
    assert sol.t[-1] < 1.0 + 1e-6


def _brusselator_numpy(t, y, N, A=3.4, B=1.0):
    """Hand-written periodic 2D Brusselator (independent of the DSL)."""
    xy = np.linspace(0.0, 1.0, N)
    alpha = 10.0 / (xy[1] - xy[0]) ** 2
    u, v = y.reshape(N, N, 2)[..., 0], y.reshape(N, N, 2)[..., 1]

    def lap(a):
        return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a

    X, Y = np.meshgrid(xy, xy, indexing="ij")
    f = np.where(((X - 0.3) ** 2 + (Y - 0.6) ** 2 <= 0.01) & (t >= 1.1), 5.0, 0.0)
    du = alpha * lap(u) + B + u * u * v - (A + 1) * u + f
    dv = alpha * lap(v) + A * u - u * u * v
    return np.stack([du, dv], axis=-1).reshape(-1)


@pytest.mark.parametrize("t", [0.5, 2.0])
def test_brusselator_rhs_and_jacobian(examples_path, t):
    import brusselator
    N = 6
    model = sg.compile(brusselator.build(N), backend="numba")
    y0 = brusselator.initial(N)
    p = model.param_vector({})
    np.testing.assert_allclose(model.rhs(t, y0, p), _brusselator_numpy(t, y0, N), rtol=1e-12, atol=1e-9)
    J = model.jac_sparse(t, y0, p)
    assert J.nnz == 2 * N * N * 6  # 5-point stencil in own field + the other field
    h = 1e-6
    fd = np.array([(_brusselator_numpy(t, y0 + h * e, N) - _brusselator_numpy(t, y0 - h * e, N)) / (2 * h)
                   for e in np.eye(y0.size)]).T
    np.testing.assert_allclose(J.toarray(), fd, rtol=1e-6, atol=1e-4)
