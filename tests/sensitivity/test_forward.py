"""Forward sensitivities against central finite differences of SciPy solutions at tight
tolerances (right-hand sides and Jacobians lambdified from SymPy, independent of symgen)."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import symgen as sg
from symgen.errors import SolverError
from symgen.sensitivity import forward_sensitivities

from test_adjoint import lotka_volterra


def scipy_solution(pb, x0, t_span, p, t_eval, method, rtol, atol):
    args = (pb.t, *pb.states, *pb.params)
    f = sp.lambdify(args, list(pb.rhs), "math")
    J = sp.lambdify(args, sp.Matrix(pb.rhs).jacobian(pb.states), "numpy")
    extra = {} if method in ("RK45", "DOP853") else {"jac": lambda t, x: np.array(J(t, *x, *p), dtype=float)}
    sol = solve_ivp(lambda t, x: np.array(f(t, *x, *p)), t_span, x0, method=method, rtol=rtol, atol=atol,
                    t_eval=t_eval, **extra)
    assert sol.success
    return sol.y.T  # (T, n)


def fd_sensitivities(pb, x0, p, t_span, t_eval, rel, with_x0=True, **kw):
    cols = []
    for i in range(len(p)):
        e = np.zeros(len(p))
        e[i] = rel * abs(p[i])
        cols.append((scipy_solution(pb, x0, t_span, p + e, t_eval, **kw)
                     - scipy_solution(pb, x0, t_span, p - e, t_eval, **kw)) / (2 * e[i]))
    for i in range(len(x0) if with_x0 else 0):
        e = np.zeros(len(x0))
        e[i] = rel
        cols.append((scipy_solution(pb, x0 + e, t_span, p, t_eval, **kw)
                     - scipy_solution(pb, x0 - e, t_span, p, t_eval, **kw)) / (2 * e[i]))
    return np.stack(cols, axis=-1)  # (T, n, k)


@pytest.mark.parametrize("method", ["dopri5", "radau5"])
def test_lotka_volterra_sensitivities(method):
    model = sg.compile(lotka_volterra(), sensitivities=True)
    p0, y0 = np.array([1.5, 1.0, 3.0, 1.0]), np.array([1.0, 1.0])
    t_eval = [1.0, 5.0, 10.0]
    res = forward_sensitivities(model, y0, (0.0, 10.0), p0, wrt_y0=model.states, t_eval=t_eval, method=method,
                                rtol=1e-10, atol=1e-12)
    assert res.success, res.message
    assert res.wrt == ("a", "b", "c", "d", "x(t0)", "y(t0)")
    ref = fd_sensitivities(model.problem, y0, p0, (0.0, 10.0), t_eval, 1e-5, method="DOP853", rtol=3e-14,
                           atol=1e-14)
    np.testing.assert_allclose(res.sens, ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())


def test_robertson_sensitivities_subset(examples_path):
    import robertson
    model = sg.compile(robertson.build(), sensitivities=True)
    p0, x0 = model.param_vector({"k1": 0.04, "k2": 3e7, "k3": 1e4}), np.array([1.0, 0.0, 0.0])
    t_eval = [0.4, 4.0, 40.0]
    results = [forward_sensitivities(model, x0, (0.0, 40.0), p0, wrt_params=["k1", "k3"], t_eval=t_eval,
                                     method="radau5", rtol=1e-10, atol=[1e-12, 1e-16, 1e-12],
                                     sens_linear_solver=mode) for mode in ("coupled", "dense", "sparse")]
    for res, mode in zip(results, ("coupled", "dense", "sparse")):
        assert res.success and res.sens.shape == (3, 3, 2) and res.stats["sens_nlu"] > 0
        assert res.stats["sens_linear_solver"] == mode
    # the state from BDF (its own dense output), sensitivities by Radau IIA along it
    bdf = forward_sensitivities(model, x0, (0.0, 40.0), p0, wrt_params=["k1", "k3"], t_eval=t_eval, method="bdf",
                                rtol=1e-10, atol=[1e-12, 1e-16, 1e-12])
    assert bdf.success, bdf.message
    assert bdf.stats["sens_linear_solver"] == "coupled" and bdf.stats["nlu"] > 0
    results.append(bdf)
    with pytest.raises(SolverError, match="forward sensitivities"):
        forward_sensitivities(model, x0, (0.0, 40.0), p0, method="auto")
    ref = fd_sensitivities(model.problem, x0, p0, (0.0, 40.0), t_eval, 1e-4, with_x0=False, method="Radau", rtol=1e-12,
                           atol=[1e-14, 1e-18, 1e-14])
    ref = ref[:, :, [model._pidx["k1"], model._pidx["k3"]]]
    for res in results:
        for c in range(2):  # each direction at its own scale (dx/dk3 is 1e-9 of dx/dk1)
            np.testing.assert_allclose(res.sens[:, :, c], ref[:, :, c], rtol=1e-5,
                                       atol=1e-8 * np.abs(ref[:, :, c]).max())


def test_brusselator_2d_n16_stiff_sensitivities(examples_path):
    """Sparse transformed Radau sensitivities (512 states) vs central differences of
    tight solves."""
    import brusselator
    model = sg.compile(brusselator.build(16), backend="llvm", sensitivities=True)
    p0, x0 = model.param_vector({}), brusselator.initial(16)
    res = forward_sensitivities(model, x0, (0.0, 0.1), p0, wrt_params=["A"], wrt_y0=[model.states[5]],
                                t_eval=[0.1], method="radau5", rtol=1e-9, atol=1e-10)
    assert res.success and res.stats["sens_linear_solver"] == "sparse"

    def final(p, x):
        return model.solve(x, (0.0, 0.1), p, method="radau5", rtol=1e-12, atol=1e-12).y[:, -1]

    ia = model._pidx["A"]
    e = np.zeros(len(p0))
    e[ia] = 1e-5 * p0[ia]
    fd_a = (final(p0 + e, x0) - final(p0 - e, x0)) / (2 * e[ia])
    d = np.zeros(x0.size)
    d[5] = 1e-5
    fd_x = (final(p0, x0 + d) - final(p0, x0 - d)) / 2e-5
    for c, fd in enumerate((fd_a, fd_x)):
        np.testing.assert_allclose(res.sens[0, :, c], fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_bad_directions():
    model = sg.compile(lotka_volterra(), sensitivities=True)
    with pytest.raises(SolverError, match="symbol: q"):
        forward_sensitivities(model, [1, 1], (0, 1), [1, 1, 1, 1], wrt_params=["q"])
    with pytest.raises(SolverError, match="sens_linear_solver"):
        forward_sensitivities(model, [1, 1], (0, 1), [1, 1, 1, 1], sens_linear_solver="qr")
    with pytest.raises(SolverError, match="symbol: w"):
        forward_sensitivities(model, [1, 1], (0, 1), [1, 1, 1, 1], wrt_y0=["w"])
