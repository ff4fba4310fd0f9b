"""Implicit differentiation of steady states and of optimization solutions, against
closed forms differentiated by SymPy and finite differences of SciPy's optimizer."""
import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize, root

import symgen as sg
from symgen.errors import ModelError
from symgen.sensitivity import (OptimizationProblem, steady_state, steady_state_gradient,
                                steady_state_sensitivity)


def _chain():
    t = sg.time()
    x, y = sg.states("x y")
    a, b, c = sg.params("a b c")
    return sg.ODESystem([sg.D(x) == a - b * x, sg.D(y) == b * x - c * y ** 2], t, name="ss_chain")


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_steady_state_gradient_matches_closed_form(backend):
    model = sg.compile(_chain(), backend=backend, sensitivities=True)
    x, y = model.states
    a, b, c = model.params
    p = {a: 2.0, b: 0.5, c: 3.0}
    ss = steady_state(model, [1.0, 1.0], p)
    assert ss.success, ss.message
    # closed form x* = a/b, y* = sqrt(a/c)
    xs, ys = a / b, sp.sqrt(a / c)
    np.testing.assert_allclose(ss.x, [float(xs.subs(p)), float(ys.subs(p))], rtol=1e-13)
    g = x * y + a * y ** 2 + sp.sin(b * x)
    g_closed = g.subs({x: xs, y: ys})
    value, grad = steady_state_gradient(model, g, ss.x, p)
    assert value == pytest.approx(float(g_closed.subs(p)), rel=1e-13)
    ref = [float(sp.diff(g_closed, s).subs(p)) for s in model.params]
    np.testing.assert_allclose(grad, ref, rtol=1e-10)
    S = steady_state_sensitivity(model, ss.x, p)
    refS = [[float(sp.diff(e, s).subs(p)) for s in model.params] for e in (xs, ys)]
    np.testing.assert_allclose(S, refS, rtol=1e-10, atol=1e-14)


def test_steady_state_reports_failure():
    model = sg.compile(_chain(), sensitivities=True)
    ss = steady_state(model, [1.0, 1.0], [2.0, 0.5, 3.0], max_iter=1)
    assert not ss.success and "Newton" in ss.message
    with pytest.raises(ModelError, match="symbol: q"):
        steady_state_gradient(model, sp.Symbol("q") * model.states[0], [4.0, 1.0], [2.0, 0.5, 3.0])


def test_kkt_gradient_linear_quadratic_closed_form():
    """min 1/2 x^T Q x - p^T x  s.t.  sum(x) = s : the solution is linear in (p, s)."""
    x = sp.symbols("x0:3")
    p = sp.symbols("p0:3")
    s = sp.Symbol("s")
    Q = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]])
    phi = sum(Q[i, j] * x[i] * x[j] for i in range(3) for j in range(3)) / 2 - sum(pi * xi for pi, xi in zip(p, x))
    opt = OptimizationProblem(phi, x, list(p) + [s], constraints=[sum(x) - s]).compile()
    pv = np.array([1.0, -2.0, 0.5, 3.0])
    # independent solution of the linear KKT system
    K = np.block([[Q, np.ones((3, 1))], [np.ones((1, 3)), np.zeros((1, 1))]])
    rhs = np.concatenate([pv[:3], [pv[3]]])
    sol = np.linalg.solve(K, rhs)
    xs, nu = sol[:3], sol[3:]
    dsol = np.linalg.solve(K, np.eye(4))  # d(x, nu)/d(p, s)
    np.testing.assert_allclose(opt.solution_sensitivity(xs, pv), dsol[:3], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.multipliers(xs, pv), nu, rtol=1e-12)
    loss = x[0] ** 2 + x[1] * x[2] + s * x[0]
    val, grad = opt.loss_gradient(loss, xs, pv)
    lx = np.array([2 * xs[0] + pv[3], xs[2], xs[1]])
    ref = lx @ dsol[:3] + np.array([0, 0, 0, xs[0]])
    np.testing.assert_allclose(grad, ref, rtol=1e-12)


def test_kkt_gradient_nonlinear_vs_finite_differences():
    x0, x1 = sp.symbols("x0 x1")
    a, b, r = sp.symbols("a b r")
    phi = (x0 - a) ** 2 + b * (x1 - x0 ** 2) ** 2 + sp.exp(0.1 * x1)
    opt = OptimizationProblem(phi, [x0, x1], [a, b, r], constraints=[x0 ** 2 + x1 ** 2 - r ** 2])
    copt = opt.compile(backend="llvm")
    f = sp.lambdify([(x0, x1), (a, b, r)], phi)
    cons = sp.lambdify([(x0, x1), (a, b, r)], x0 ** 2 + x1 ** 2 - r ** 2)

    nu = sp.Symbol("nu")
    kkt = sp.lambdify([(x0, x1, nu), (a, b, r)], [sp.diff(phi + nu * (x0 ** 2 + x1 ** 2 - r ** 2), v) for v in (x0, x1)]
                      + [x0 ** 2 + x1 ** 2 - r ** 2])

    def solve(pv):  # SLSQP, then its KKT conditions polished to machine precision by SciPy's root
        res = minimize(f, [0.5, 0.5], args=(pv,), method="SLSQP", tol=1e-12,
                       constraints=[{"type": "eq", "fun": cons, "args": (pv,)}], options={"maxiter": 500})
        assert res.success
        pol = root(lambda z: kkt(z, pv), np.append(res.x, 0.0), method="lm", tol=1e-15)
        assert np.abs(kkt(pol.x, pv)).max() < 1e-13 and np.abs(pol.x[:2] - res.x).max() < 1e-5
        return pol.x[:2]

    pv = np.array([1.5, 2.0, 1.2])
    xs = solve(pv)
    S = copt.solution_sensitivity(xs, pv)
    fd = np.stack([(solve(pv + e) - solve(pv - e)) / 2e-4 for e in np.eye(3) * 1e-4], axis=1)
    np.testing.assert_allclose(S, fd, rtol=1e-5, atol=1e-7)


def test_optimization_bad_symbol():
    x, z = sp.symbols("x z")
    with pytest.raises(ModelError, match="symbol: z"):
        OptimizationProblem(x ** 2 + z, [x], [])
