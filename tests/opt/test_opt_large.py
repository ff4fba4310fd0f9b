"""Large structured problems: extended Rosenbrock n = 10^4 from the standard start
(published minimum f = 0 at x = 1, Moré-Garbow-Hillstrom problem 21) with all three
drivers, a sparse constrained problem, the disk cache and the SciPy adapters."""
import numpy as np
import pytest
import scipy.optimize as sopt
import sympy as sp

import symgen.opt as so
from symgen.opt.adapters import have_ipopt, ipopt_problem, scipy_constraint_dicts, scipy_problem

from .hs_problems import hs071


def rosenbrock(n):
    m = so.OptModel("ext-rosenbrock")
    x = m.var("x", n, init=[-1.2, 1.0] * (n // 2))
    i = so.index("i")
    m.minimize(sp.Sum(100 * (x[2 * i + 1] - x[2 * i]**2)**2 + (1 - x[2 * i])**2, (i, 0, n // 2 - 1)))
    return m, x


@pytest.fixture(scope="module")
def rosen():
    return rosenbrock(10_000)[0].compile()


@pytest.mark.parametrize("method", ["tron", "lbfgsb", "ipm"])
def test_extended_rosenbrock_1e4(rosen, method):
    res = rosen.minimize(method=method, tol=1e-8)
    assert res.status == 0, res.message
    assert res.f < 1e-10
    assert np.max(np.abs(res.x - 1.0)) < 1e-6


def chain(n):
    """min sum (x_i - 1)^2 + (x_i x_{i+1})^2/10  s.t.  x_i + x_{i+1}^2 >= 0.5 (i < n-1),
    sum x_i = n/2, 0 <= x <= 2 -- sparse, every row coupled to its neighbour."""
    m = so.OptModel("chain")
    x = m.var("x", n, lb=0, ub=2, init=0.5)
    i = so.index("i")
    m.minimize(sp.Sum((x[i] - 1)**2, (i, 0, n - 1)) + sp.Sum((x[i] * x[i + 1])**2 / 10, (i, 0, n - 2)))
    m.subject_to(x[i] + x[i + 1]**2 >= 0.5, forall=(i, 0, n - 2))
    m.subject_to(sp.Eq(sp.Sum(x[i], (i, 0, n - 1)), n / 2))
    return m, x


def test_sparse_constrained_matches_scipy():
    m, x = chain(40)
    cm = m.compile()
    res = cm.minimize()
    assert res.status == 0, res.message
    ref = sopt.minimize(**{k: v for k, v in scipy_problem(cm).items() if k not in ("hessp",)},
                        method="trust-constr", options={"gtol": 1e-11, "xtol": 1e-14, "maxiter": 5000})
    assert res.f == pytest.approx(ref.fun, rel=1e-7)
    assert np.allclose(res.x, ref.x, atol=1e-5)


def test_sparse_constrained_1e4():
    m, x = chain(10_000)
    res = m.compile().minimize()
    assert res.status == 0, res.message
    assert res.constraint_violation < 1e-8
    assert abs(np.sum(res.x) - 5000) < 1e-6


def test_scipy_adapters_hs071():
    m, x, f_star, x_star = hs071()
    cm = m.compile()
    kw = scipy_problem(cm)
    kw.pop("hessp")
    r1 = sopt.minimize(**kw, method="trust-constr", options={"gtol": 1e-10, "xtol": 1e-12, "maxiter": 3000})
    assert r1.fun == pytest.approx(f_star, rel=1e-6)
    r2 = sopt.minimize(kw["fun"], kw["x0"], jac=kw["jac"], bounds=kw["bounds"], method="SLSQP",
                       constraints=scipy_constraint_dicts(cm), options={"ftol": 1e-12, "maxiter": 500})
    assert r2.fun == pytest.approx(f_star, rel=1e-6)


def test_cache_warm_start_skips_derivation(tmp_cache):
    m, _ = rosenbrock(100)
    cold = m.compile()
    assert not cold.cached and "derive" in cold.timings
    m2, _ = rosenbrock(100)
    warm = m2.compile()
    assert warm.cached and "derive" not in warm.timings
    assert np.array_equal(warm.hess_idx, cold.hess_idx)
    assert warm.minimize().f < 1e-10
    m3, _ = rosenbrock(102)       # other size, other kernels
    assert not m3.compile().cached


@pytest.mark.skipif(not have_ipopt(), reason="cyipopt not installed")
def test_ipopt_adapter():  # pragma: no cover - optional dependency
    m, x, f_star, _ = hs071()
    cm = m.compile()
    nlp = ipopt_problem(cm)
    nlp.add_option("print_level", 0)
    xs, info = nlp.solve(cm.ir.x0)
    assert info["obj_val"] == pytest.approx(f_star, rel=1e-6)
    # a sparse problem whose Hessian and Jacobian coordinates repeat (summed by IPOPT)
    m, x = chain(40)
    cm = m.compile()
    nlp = ipopt_problem(cm)
    nlp.add_option("print_level", 0)
    nlp.add_option("tol", 1e-10)
    xs, info = nlp.solve(cm.ir.x0)
    ours = cm.minimize(tol=1e-10)
    assert info["status"] == 0
    assert info["obj_val"] == pytest.approx(ours.f, rel=1e-8)
    assert np.allclose(xs, ours.x, atol=1e-6)


def test_readme_constrained_rosenbrock_from_infeasible_start():
    """The README example (n = 2000): a far-infeasible start (sum constraint violated by
    n + 0.1 n), a curved valley and a family of inequalities; optimum x = 1, f = 0."""
    n = 2000
    m, x = rosenbrock(n)
    i = so.index("i")
    m.subject_to(x[i]**2 + x[i + 1] <= 3, forall=(i, 0, n - 2))
    m.subject_to(sp.Eq(sp.Sum(x[i], (i, 0, n - 1)), n))
    res = m.compile().minimize()
    assert res.status == 0, res.message
    assert res.start_violation > 1000
    assert res.f < 1e-10 and np.max(np.abs(res[x] - 1.0)) < 1e-6
