"""Adjoint and forward sensitivities through a PDE model (the 2D Brusselator in PDE form,
N = 16, 512 states): gradients with respect to the parameters and the initial field
against central finite differences of an independent reference, SciPy's DOP853 at
tolerance 1e-12 on a hand-written NumPy right-hand side (periodic five-point Laplacian),
with the loss summed over the grid in NumPy."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import symgen as sg
from symgen.errors import ModelError
from symgen.sensitivity import Loss, adjoint_gradient, forward_sensitivities

N = 16
T_OBS = np.array([0.05, 0.1])


@pytest.fixture(scope="module")
def setup(examples_path):
    import brusselator_pde
    model = sg.compile(brusselator_pde.build(N))
    y0 = model.initial_vector(brusselator_pde.initial(N))
    return model, y0


def numpy_rhs(p):
    """The Brusselator (forcing off for t < 1.1) written directly in NumPy."""
    A, B, alpha = p
    h = 1.0 / (N - 1)

    def lap(w):
        return (np.roll(w, 1, 0) + np.roll(w, -1, 0) + np.roll(w, 1, 1) + np.roll(w, -1, 1) - 4 * w) / h ** 2

    def f(t, y):
        assert t < 1.1
        Y = y.reshape(N, N, 2)
        u, v = Y[..., 0], Y[..., 1]
        out = np.empty_like(Y)
        out[..., 0] = alpha * lap(u) + B + u * u * v - (A + 1) * u
        out[..., 1] = alpha * lap(v) + A * u - u * u * v
        return out.ravel()
    return f


def reference_loss(p, y0, data):
    """sum_obs sum_grid (u - d)^2 + integral of sum_grid A v x / N^2 (x: first coordinate)."""
    f = numpy_rhs(p)
    x = (np.arange(N) * (1.0 / (N - 1)))[:, None] * np.ones((1, N))

    def aug(t, z):
        Y = z[:-1].reshape(N, N, 2)
        return np.append(f(t, z[:-1]), np.sum(p[0] * Y[..., 1] * x) / N ** 2)

    sol = solve_ivp(aug, (0.0, T_OBS[-1]), np.append(y0, 0.0), method="DOP853", rtol=1e-12, atol=1e-12,
                    t_eval=T_OBS)
    assert sol.success, sol.message
    total = sol.y[-1, -1]
    for k in range(T_OBS.size):
        u = sol.y[:-1, k].reshape(N, N, 2)[..., 0]
        total += np.sum((u - data[k]) ** 2)
    return total


def the_loss(model):
    u, v = model.fields
    A = model.params[0]
    x, _ = model.grid.coords
    d = sp.Symbol("d")
    return Loss(point=(u - d) ** 2, integrand=A * v * x / N ** 2, data=[d])


P0 = np.array([3.4, 1.0, 10.0])


@pytest.fixture(scope="module")
def reference(setup):
    """Loss, central differences in each parameter and in two directions of the initial
    field (steps of 1e-4 relative in the parameters and of length 1e-2 in the field: the
    loss is ~100 and some derivatives ~0.05, so smaller steps leave the reference's
    1e-12 solve error above 1e-5 of them)."""
    model, y0 = setup
    data = np.random.default_rng(5).uniform(0.5, 2.0, (T_OBS.size, N, N))
    fd_p = []
    for j in range(3):
        dp = np.zeros(3)
        dp[j] = 1e-4 * P0[j]
        fd_p.append((reference_loss(P0 + dp, y0, data) - reference_loss(P0 - dp, y0, data)) / (2 * dp[j]))
    rng = np.random.default_rng(11)
    fd_y = []
    for direction in (rng.standard_normal(model.n), np.eye(1, model.n, 2 * (5 * N + 7) + 1)[0]):
        eps = 1e-2 / np.linalg.norm(direction)
        fd_y.append((direction, (reference_loss(P0, y0 + eps * direction, data)
                                 - reference_loss(P0, y0 - eps * direction, data)) / (2 * eps)))
    return data, reference_loss(P0, y0, data), np.array(fd_p), fd_y


@pytest.mark.parametrize("method", ["dopri5", "radau5", "bdf"])
def test_brusselator_pde_n16_gradient_matches_finite_differences(setup, reference, method):
    model, y0 = setup
    data, ref, fd_p, fd_y = reference
    res = adjoint_gradient(model, the_loss(model), y0, (0.0, T_OBS[-1]), P0, t_obs=T_OBS, data=data[..., None],
                           method=method, rtol=1e-10, atol=1e-10, checkpoints=3)
    assert res.success, res.message
    assert res.grad_y0.shape == (model.n,) and res.grad_p.shape == (3,)
    if method != "dopri5":
        assert res.stats["adjoint_linear_solver"] == "sparse"
    assert res.loss == pytest.approx(ref, rel=1e-8)
    np.testing.assert_allclose(res.grad_p, fd_p, rtol=1e-5)
    for direction, fd in fd_y:
        assert res.grad_y0 @ direction == pytest.approx(fd, rel=1e-5), method


def test_brusselator_pde_forward_sensitivities(setup):
    model, y0 = setup
    A, B, _ = model.params
    p0 = P0
    k = 2 * (3 * N + 4)  # u at grid point (3, 4)
    r = forward_sensitivities(model, y0, (0.0, 0.1), p0, wrt_params=[A, "B"], wrt_y0=[k], method="radau5",
                              rtol=1e-10, atol=1e-10)
    assert r.success, r.message and r.wrt[-1] == f"{model.states[k]}(t0)"
    f0 = numpy_rhs(p0)

    def final(p, y):
        s = solve_ivp(numpy_rhs(p) if p is not p0 else f0, (0.0, 0.1), y, method="DOP853", rtol=1e-12, atol=1e-12)
        return s.y[:, -1]

    cols = []
    for j in range(2):
        dp = np.zeros(3)
        dp[j] = 1e-5 * p0[j]
        cols.append((final(p0 + dp, y0) - final(p0 - dp, y0)) / (2 * dp[j]))
    e = np.zeros(model.n)
    e[k] = 1e-5
    cols.append((final(p0, y0 + e) - final(p0, y0 - e)) / 2e-5)
    fd = np.array(cols).T
    S = r.sens[-1]
    np.testing.assert_allclose(S, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_pde_loss_bad_symbol(setup):
    model, y0 = setup
    u, _ = model.fields
    z = sp.Symbol("z")
    with pytest.raises(ModelError, match="symbol: z"):
        adjoint_gradient(model, Loss(point=u * z), y0, (0, 0.1), t_obs=[0.1])
    d = sp.Symbol("d")
    with pytest.raises(ModelError, match="symbol: d"):
        adjoint_gradient(model, Loss(integrand=u * d, data=[d]), y0, (0, 0.1))
