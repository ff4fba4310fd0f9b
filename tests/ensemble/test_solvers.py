"""Ensemble solvers on the CPU: tableaus, convergence orders against exact solutions,
per-trajectory agreement with SciPy at tight tolerance, float32, failures and errors."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import symgen as sg
from symgen.drivers.common import NONFINITE, MAX_STEPS, STEP_UNDERFLOW, SUCCESS
from symgen.ensemble.tableaus import TSIT5

from .ensemble_models import (blowup, lorenz_py, oscillator, riccati_exact, riccati_forced,
                              robertson_py)


@pytest.fixture(scope="module")
def lorenz(examples_path):
    from lorenz import build
    return sg.compile(build())


@pytest.fixture(scope="module")
def robertson(examples_path):
    from robertson import build
    return sg.compile(build())


def test_tsit5_tableau_order_conditions():
    c, a = np.array(TSIT5["c"]), TSIT5["a"]
    A = np.zeros((7, 7))
    for i, row in enumerate(a):
        A[i, :len(row)] = row
    b = A[6]
    assert np.allclose(A.sum(axis=1), c, atol=1e-14)
    # order conditions of the fifth-order weights (a subset of the 17 trees)
    assert math.isclose(b.sum(), 1, abs_tol=1e-14)
    for q in range(1, 5):
        assert math.isclose(b @ c**q, 1 / (q + 1), abs_tol=1e-12)
    assert math.isclose(b @ A @ c, 1 / 6, abs_tol=1e-12)
    assert math.isclose(b @ A @ A @ c, 1 / 24, abs_tol=1e-12)
    assert math.isclose(b @ (c * (A @ c)), 1 / 8, abs_tol=1e-12)
    # the embedded fourth-order weights (stage 7 is f at the new solution, c7 = 1)
    bhat = b - np.array(TSIT5["btilde"])
    assert math.isclose(bhat.sum(), 1, abs_tol=1e-12)
    for q in range(1, 4):
        assert math.isclose(bhat @ c**q, 1 / (q + 1), abs_tol=1e-10)
    assert math.isclose(bhat @ A @ c, 1 / 6, abs_tol=1e-10)
    assert math.isclose(bhat @ A @ A @ c, 1 / 24, abs_tol=1e-10)


def _fixed_error(model, method, dt, t_end=1.0):
    sol = model.ensemble(params=[1.5] if model.name != "ens_riccati_forced" else [2.0],
                         y0=[1.0, 0.0] if model.name == "ens_oscillator" else [1.0, 0.3],
                         t_span=(0.0, t_end), method=method, adaptive=False, dt=dt)
    assert sol.success
    if model.name == "ens_oscillator":
        exact = np.array([math.cos(1.5 * t_end), -1.5 * math.sin(1.5 * t_end)])
    else:
        exact = riccati_exact(t_end, 1.0, 0.3, 2.0)
    return np.abs(sol.u[0, -1] - exact).max()


@pytest.mark.parametrize("method,model_fn,order,dts", [
    ("tsit5", oscillator, 5, (0.1, 0.05)),
    ("rosenbrock", riccati_forced, 3, (0.02, 0.01)),   # nonlinear, non-autonomous (df/dt)
])
def test_fixed_step_convergence_order(method, model_fn, order, dts):
    model = sg.compile(model_fn())
    e1, e2 = (_fixed_error(model, method, dt) for dt in dts)
    observed = math.log2(e1 / e2)
    # at least the method's order (Tsit5's small leading error term can look higher
    # before the asymptotic regime)
    assert order - 0.35 < observed < order + 1.5, (e1, e2, observed)


def test_lorenz_cpu_ensemble_matches_scipy(lorenz):
    rng = np.random.default_rng(1)
    n = 12
    ps = np.column_stack([9 + 2 * rng.random(n), 27 + 2 * rng.random(n), 2 + rng.random(n)])
    y0 = np.column_stack([rng.random(n), rng.random(n), 20 + rng.random(n)])
    ts = np.array([0.25, 0.5, 1.0, 2.0])
    sol = lorenz.ensemble(params=ps, y0=y0, t_span=(0, 2), saveat=ts, rtol=1e-11, atol=1e-11)
    assert sol.success and sol.u.shape == (n, 4, 3)
    for i in range(n):
        ref = solve_ivp(lorenz_py(ps[i]), (0, 2), y0[i], method="DOP853", rtol=1e-13, atol=1e-13,
                        t_eval=ts)
        np.testing.assert_allclose(sol.u[i], ref.y.T, rtol=1e-7, atol=1e-7)


def test_robertson_rosenbrock_matches_scipy_radau(robertson):
    k = np.array([[0.04, 3e7, 1e4], [0.05, 2e7, 2e4], [0.03, 4e7, 5e3]])
    ps = k[:, [0, 2, 1]] if [str(s) for s in robertson.params] == ["k1", "k3", "k2"] else k
    ps = np.array([[dict(zip(("k1", "k2", "k3"), row))[str(s)] for s in robertson.params] for row in k])
    ts = np.array([0.1, 1.0, 10.0, 100.0, 1000.0])
    sol = robertson.ensemble(params=ps, y0=[1.0, 0.0, 0.0], t_span=(0, 1000), saveat=ts,
                             method="rosenbrock", rtol=1e-9, atol=1e-14)
    assert sol.success, [sol.message(i) for i in sol.failed]
    assert np.all(sol.stat("njev") > 0) and np.all(sol.stat("nlu") >= sol.stat("accepted"))
    for i in range(len(k)):
        f, jac = robertson_py(k[i])
        ref = solve_ivp(f, (0, 1000), [1.0, 0.0, 0.0], method="Radau", jac=jac, rtol=1e-12,
                        atol=1e-20, t_eval=ts)
        np.testing.assert_allclose(sol.u[i], ref.y.T, rtol=2e-6, atol=1e-12)


def test_float32_ensemble_stays_close_to_float64(lorenz):
    kw = dict(params=[10.0, 28.0, 8 / 3], y0=[[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]], t_span=(0, 1),
              saveat=[0.5, 1.0], rtol=1e-5, atol=1e-5)
    s32 = lorenz.ensemble(dtype=np.float32, **kw)
    s64 = lorenz.ensemble(dtype=np.float64, rtol=1e-12, atol=1e-12,
                          **{k: v for k, v in kw.items() if k not in ("rtol", "atol")})
    assert s32.u.dtype == np.float32 and s32.success
    np.testing.assert_allclose(s32.u, s64.u, rtol=2e-3, atol=2e-3)


def test_dict_inputs_and_indexing(lorenz):
    x, y, z = lorenz.states
    rho = np.linspace(20, 30, 5)
    sol = lorenz.ensemble(params={"rho": rho}, y0={x: 1.0, y: 0.0, z: 0.0}, t_span=(0, 0.5))
    assert sol.u.shape == (5, 1, 3) and sol.success
    np.testing.assert_array_equal(sol[x], sol.u[:, :, 0])
    one = lorenz.ensemble(params={"rho": rho[3], "sigma": 10.0, "beta": 8 / 3}, y0=[1.0, 0.0, 0.0],
                          t_span=(0, 0.5))
    np.testing.assert_array_equal(one.u[0], sol.u[3])


def test_failed_trajectories_report_status_and_time():
    model = sg.compile(blowup())
    sol = model.ensemble(y0=[[1.0], [0.1]], t_span=(0, 2), saveat=[0.5, 1.5, 2.0])
    assert sol.status[0] in (NONFINITE, STEP_UNDERFLOW, MAX_STEPS)
    assert sol.status[1] == SUCCESS          # 0.1 blows up only at t = 10
    assert np.isfinite(sol.u[0, 0]).all() and np.isnan(sol.u[0, 1:]).all()
    assert "t = 0.5" in sol.message(0)
    np.testing.assert_allclose(sol.u[1, :, 0], 0.1 / (1 - 0.1 * np.array([0.5, 1.5, 2.0])), rtol=1e-6)
    short = model.ensemble(y0=[0.1], t_span=(0, 2), max_steps=3, rtol=1e-10, atol=1e-10)
    assert short.status[0] == MAX_STEPS


def test_bad_options_raise(lorenz):
    ok = dict(params=[10.0, 28.0, 8 / 3], y0=[1.0, 0.0, 0.0], t_span=(0, 1))
    with pytest.raises(sg.SolverError, match="unknown ensemble method"):
        lorenz.ensemble(method="rk4", **ok)
    with pytest.raises(sg.SolverError, match="backend"):
        lorenz.ensemble(backend="tpu", **ok)
    with pytest.raises(sg.SolverError, match="saveat"):
        lorenz.ensemble(saveat=[0.5, 2.0], **ok)
    with pytest.raises(sg.SolverError, match="dt > 0"):
        lorenz.ensemble(adaptive=False, **ok)
    with pytest.raises(sg.SolverError, match="float32 or float64"):
        lorenz.ensemble(dtype=np.int32, **ok)
    with pytest.raises(sg.NonFiniteValueError, match="trajectory 1.*symbol: rho"):
        lorenz.ensemble(params={"rho": [28.0, np.nan]}, y0=[1.0, 0.0, 0.0], t_span=(0, 1))
    with pytest.raises(sg.SymgenError, match="symbol: nope"):
        lorenz.ensemble(params={"nope": 1.0}, y0=[1.0, 0.0, 0.0], t_span=(0, 1))
    with pytest.raises(sg.SolverError, match="2 sets of initial values but 3"):
        lorenz.ensemble(params=np.ones((3, 3)), y0=np.ones((2, 3)), t_span=(0, 1))


def test_rosenbrock_refuses_large_systems(examples_path):
    # 17..64 states take the looped LU (tests/ensemble/test_ros3p_medium.py); 66 do not
    from brusselator import build_1d
    model = sg.compile(build_1d(33))
    with pytest.raises(sg.SolverError, match=r"at most 64 states.*has 66"):
        model.ensemble(y0=np.ones(len(model.states)), t_span=(0, 1), method="rosenbrock")


def test_cuda_backend_model_is_a_full_model(examples_path):
    from lorenz import build
    m = sg.compile(build(), backend="cuda")
    ref = sg.compile(build())
    y, p = np.array([1.0, 2.0, 3.0]), np.array([10.0, 28.0, 8 / 3])
    np.testing.assert_allclose(m.rhs(0.0, y, p), ref.rhs(0.0, y, p), rtol=1e-15)
    assert hasattr(m.kernels, "make")
    a = m.ensemble(params=p, y0=y, t_span=(0, 1))
    b = ref.ensemble(params=p, y0=y, t_span=(0, 1))
    np.testing.assert_array_equal(a.u, b.u)
