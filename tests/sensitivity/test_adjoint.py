"""Adjoint gradients against central finite differences of the loss, where the loss is
computed independently: SciPy's solve_ivp at tight tolerances on the solution augmented
with the integral term, and the loss terms evaluated by SymPy-lambdified functions."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import symgen as sg
from symgen.errors import ModelError, SolverError
from symgen.sensitivity import Loss, adjoint_gradient


def lotka_volterra():
    t = sg.time()
    x, y = sg.states("x y")
    a, b, c, d = sg.params("a b c d")
    return sg.ODESystem([sg.D(x) == a * x - b * x * y, sg.D(y) == -c * y + d * x * y], t, name="lv_adj")


def reference_loss(model, loss, y0, t_span, p, t_obs, data, *, method, rtol, atol, rhs=None, jac=False):
    """sum_i g(t_i, x(t_i), d_i) + integral h, by solve_ivp on (x, q), q' = h."""
    pb = model.problem
    args = (pb.t, *pb.states, *pb.params)
    g = sp.lambdify(args + tuple(loss.data), loss.point, "math")
    h = sp.lambdify(args, loss.integrand, "math")
    if rhs is None:
        f = sp.lambdify(args, list(pb.rhs), "math")
        rhs = lambda t, x: np.array(f(t, *x, *p))  # noqa: E731
    n = len(pb.states)

    def aug(t, z):
        return np.append(rhs(t, z[:n]), h(t, *z[:n], *p))

    opts = {}
    if jac:  # SymPy's Jacobian of the augmented system (for the implicit reference)
        z = pb.states
        J = sp.lambdify(args, sp.Matrix(list(pb.rhs) + [loss.integrand]).jacobian(z).row_join(
            sp.zeros(n + 1, 1)), "numpy")
        opts["jac"] = lambda t, zz: np.array(J(t, *zz[:n], *p), dtype=float)
    sol = solve_ivp(aug, t_span, np.append(y0, 0.0), method=method, **opts, rtol=rtol, atol=np.append(np.broadcast_to(atol, (n,)), 1e-14),
                    t_eval=np.unique(np.append(t_obs, t_span[1])), dense_output=False)
    assert sol.success, sol.message
    xs = sol.y[:n, np.searchsorted(sol.t, t_obs)]
    total = sum(g(t, *xs[:, i], *p, *data[i]) for i, t in enumerate(t_obs))
    return total + sol.y[n, -1]


def fd_gradient(fun, x, rel):
    out = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = rel * max(abs(x[i]), 1e-3)
        out[i] = (fun(x + e) - fun(x - e)) / (2 * e[i])
    return out


@pytest.mark.parametrize("method", ["dopri5", "radau5"])
def test_lotka_volterra_gradient_matches_finite_differences(method):
    model = sg.compile(lotka_volterra(), sensitivities=True)
    x, y = model.states
    a = model.params[0]
    dx, dy = sp.symbols("dx dy")
    loss = Loss(point=(x - dx) ** 2 + (y - dy) ** 2, integrand=x * y / 10 + a * y, data=[dx, dy])
    p0, y0 = np.array([1.5, 1.0, 3.0, 1.0]), np.array([1.0, 1.0])
    t_obs = np.linspace(0.5, 10.0, 20)
    data = np.random.default_rng(0).uniform(0.5, 3.0, (20, 2))
    res = adjoint_gradient(model, loss, y0, (0.0, 10.0), p0, t_obs=t_obs, data=data, method=method,
                           rtol=1e-10, atol=1e-12, checkpoints=4)
    assert res.success, res.message

    def L(p, x0):
        return reference_loss(model, loss, x0, (0.0, 10.0), p, t_obs, data, method="DOP853", rtol=3e-14,
                              atol=1e-13)

    assert res.loss == pytest.approx(L(p0, y0), rel=1e-8)
    np.testing.assert_allclose(res.grad_p, fd_gradient(lambda p: L(p, y0), p0, 1e-5), rtol=1e-5)
    np.testing.assert_allclose(res.grad_y0, fd_gradient(lambda q: L(p0, q), y0, 1e-5), rtol=1e-5)


def test_robertson_stiff_gradient_matches_finite_differences(examples_path):
    import robertson
    model = sg.compile(robertson.build(), sensitivities=True)
    y1, y2, y3 = model.states
    loss = Loss(point=y1 ** 2 + 1e4 * y2 + y3, integrand=1e3 * y2)
    p0 = model.param_vector({"k1": 0.04, "k2": 3e7, "k3": 1e4})
    t_obs = np.array([0.4, 4.0, 40.0])

    def L(p, x):
        return reference_loss(model, loss, x, (0.0, 40.0), p, t_obs, np.zeros((3, 0)), method="Radau",
                              rtol=1e-12, atol=[1e-14, 1e-18, 1e-14], jac=True)

    # parameters from the classical start (1, 0, 0); initial values from a start with every
    # component positive (a finite difference of y3(0) = 0 would leave the positive cone)
    for x0, check_p in (([1.0, 0.0, 0.0], True), ([0.99, 1e-5, 0.01], False)):
        x0 = np.array(x0)
        ref = fd_gradient(lambda p: L(p, x0), p0, 1e-4) if check_p else fd_gradient(lambda x: L(p0, x), x0, 1e-4)
        # every linear algebra of the implicit backward solve: coupled 3n x 3n stage system,
        # transformed real + complex n x n systems dense or sparse (on the pattern of J^T)
        for mode in ("coupled", "dense", "sparse"):
            res = adjoint_gradient(model, loss, x0, (0.0, 40.0), p0, t_obs=t_obs, method="radau5", rtol=1e-10,
                                   atol=[1e-12, 1e-16, 1e-12], checkpoints=4, adjoint_linear_solver=mode)
            assert res.success, res.message
            assert res.stats["backward_nlu"] > 0 and res.stats["adjoint_linear_solver"] == mode
            np.testing.assert_allclose(res.grad_p if check_p else res.grad_y0, ref, rtol=1e-5, err_msg=mode)


@pytest.mark.parametrize("method", ["bdf", "auto"])
def test_robertson_bdf_and_auto_gradient_matches_finite_differences(examples_path, method):
    """BDF forward solves (checkpoints and re-solves) with the Radau IIA adjoint along BDF's
    dense output; ``auto``: dopri5 until stiffness is detected inside an interval, then radau5."""
    import robertson
    model = sg.compile(robertson.build(), sensitivities=True)
    y1, y2, y3 = model.states
    loss = Loss(point=y1 ** 2 + 1e4 * y2 + y3, integrand=1e3 * y2)
    p0 = model.param_vector({"k1": 0.04, "k2": 3e7, "k3": 1e4})
    t_obs = np.array([1e-3, 0.4, 4.0, 40.0])

    def L(p, x):
        return reference_loss(model, loss, x, (0.0, 40.0), p, t_obs, np.zeros((4, 0)), method="Radau",
                              rtol=1e-12, atol=[1e-14, 1e-18, 1e-14], jac=True)

    x0 = np.array([0.99, 1e-5, 0.01])
    res = adjoint_gradient(model, loss, x0, (0.0, 40.0), p0, t_obs=t_obs, method=method, rtol=1e-10,
                           atol=[1e-12, 1e-16, 1e-12], checkpoints=4)
    assert res.success, res.message
    assert res.stats["methods"] == ("bdf" if method == "bdf" else "dopri5->radau5")
    assert res.loss == pytest.approx(L(p0, x0), rel=1e-8)
    np.testing.assert_allclose(res.grad_p, fd_gradient(lambda p: L(p, x0), p0, 1e-4), rtol=1e-5)
    np.testing.assert_allclose(res.grad_y0, fd_gradient(lambda x: L(p0, x), x0, 1e-4), rtol=1e-5)


def test_brusselator_2d_n16_gradient_matches_finite_differences(examples_path):
    import brusselator
    model = sg.compile(brusselator.build(16), backend="llvm", sensitivities=True)
    st = model.states
    A = model.params[0]
    loss = Loss(point=sum(s ** 2 for s in st[0:80:2]) / 40, integrand=A * sum(st[1::14]))
    p0, x0 = model.param_vector({}), brusselator.initial(16)
    t_obs = np.array([0.05, 0.1])
    # explicit backward solve, and the implicit one with sparse LU on the pattern of J^T
    results = [adjoint_gradient(model, loss, x0, (0.0, 0.1), p0, t_obs=t_obs, method=method, rtol=1e-10,
                                atol=1e-10, checkpoints=4) for method in ("dopri5", "radau5")]
    assert results[1].stats["adjoint_linear_solver"] == "sparse"

    def L(p, x):
        fun, _ = model.scipy_functions(p)
        return reference_loss(model, loss, x, (0.0, 0.1), p, t_obs, np.zeros((2, 0)), method="DOP853",
                              rtol=1e-12, atol=1e-12, rhs=fun)

    ref_p = fd_gradient(lambda p: L(p, x0), p0, 1e-5)
    v = np.random.default_rng(3).standard_normal(x0.size)  # directional derivative in x0
    eps = 1e-5
    fd = (L(p0, x0 + eps * v) - L(p0, x0 - eps * v)) / (2 * eps)
    for res in results:
        assert res.success, res.message
        np.testing.assert_allclose(res.grad_p, ref_p, rtol=1e-5)
        assert res.grad_y0 @ v == pytest.approx(fd, rel=1e-5)


def test_memory_bounded_by_checkpoints():
    model = sg.compile(lotka_volterra(), sensitivities=True)
    x, y = model.states
    loss = Loss(point=x * y)
    kw = dict(t_obs=[30.0], rtol=1e-9, atol=1e-11)
    peaks, grads = [], []
    for k in (1, 4, 16):
        r = adjoint_gradient(model, loss, [1.0, 1.0], (0.0, 30.0), [1.5, 1.0, 3.0, 1.0], checkpoints=k, **kw)
        assert r.success
        peaks.append(r.memory["peak_interval"])
        grads.append(r.grad_p)
        assert r.memory["checkpoints"] == k * 2 * 8
    assert peaks[1] < 0.5 * peaks[0] and peaks[2] < 0.5 * peaks[1]
    np.testing.assert_allclose(grads[0], grads[2], rtol=1e-5)


def test_bad_input():
    model = sg.compile(lotka_volterra(), sensitivities=True)
    x, y = model.states
    z = sp.Symbol("z")
    with pytest.raises(ModelError, match="symbol: z"):
        adjoint_gradient(model, Loss(point=x * z), [1, 1], (0, 1), [1, 1, 1, 1], t_obs=[1.0])
    with pytest.raises(SolverError, match="t_obs"):
        adjoint_gradient(model, Loss(point=x), [1, 1], (0, 1), [1, 1, 1, 1], t_obs=[2.0])
    with pytest.raises(SolverError, match="data"):
        adjoint_gradient(model, Loss(point=x - z, data=[z]), [1, 1], (0, 1), [1, 1, 1, 1], t_obs=[1.0],
                         data=np.zeros((2, 1)))
    with pytest.raises(SolverError, match="sensitivities=True"):
        adjoint_gradient(sg.compile(lotka_volterra()), Loss(point=x), [1, 1], (0, 1), [1, 1, 1, 1], t_obs=[1.0])
    with pytest.raises(SolverError, match="adjoint_linear_solver"):
        adjoint_gradient(model, Loss(point=x), [1, 1], (0, 1), [1, 1, 1, 1], adjoint_linear_solver="qr")
    with pytest.raises(SolverError, match="forward time span"):
        adjoint_gradient(model, Loss(point=x), [1, 1], (1, 0), [1, 1, 1, 1])


def test_failed_forward_solve_reports_time():
    model = sg.compile(lotka_volterra(), sensitivities=True)
    x, _ = model.states
    r = adjoint_gradient(model, Loss(integrand=x), [1, 1], (0, 10), [1.5, 1.0, 3.0, 1.0], max_steps=5)
    assert not r.success and "t = " in r.message and np.isnan(r.loss)


def test_model_without_parameters_and_integral_only_loss():
    """x' = -x^2 (no parameters), L = integral_0^1 x dt = log(1 + x0) for x(0) = x0."""
    t = sg.time()
    x = sg.states("x")
    model = sg.compile(sg.ODESystem([sg.D(x) == -x ** 2], t, name="no_params_adj"), sensitivities=True)
    for method in ("dopri5", "radau5"):
        r = adjoint_gradient(model, Loss(integrand=x), [2.0], (0.0, 1.0), None, method=method, rtol=1e-10,
                             atol=1e-12, checkpoints=3)
        assert r.success, r.message
        assert r.grad_p.shape == (0,)
        assert r.loss == pytest.approx(np.log(3.0), rel=1e-8)
        assert r.grad_y0[0] == pytest.approx(1.0 / 3.0, rel=1e-7)
    assert sg.compile(model.problem, sensitivities=False).key == sg.compile(model.problem).key
