"""L-BFGS-B (generalized Cauchy point + subspace minimization) on bound-constrained
problems against SciPy's L-BFGS-B optimum (its Fortran code, tight tolerances) and
the first-order conditions."""
import numpy as np
import pytest
import scipy.optimize as sopt
import sympy as sp

import symgen.opt as so
from symgen.opt.drivers.lbfgsb import _cauchy


def _rosen_box(n):
    m = so.OptModel("rosen-box")
    x = m.var("x", n, lb=-0.5, ub=np.r_[0.8 * np.ones(n // 2), 2 * np.ones(n - n // 2)], init=0.1)
    i = so.index("i")
    m.minimize(sp.Sum(100 * (x[i + 1] - x[i]**2)**2 + (1 - x[i])**2, (i, 0, n - 2)))
    return m


def _quad_box(n):
    """Tridiagonal convex quadratic pulled outside the box: many active bounds."""
    m = so.OptModel("quad-box")
    x = m.var("x", n, lb=-1.0, ub=1.0, init=0.0)
    c = m.param("c", n, value=3.0 * np.sin(np.arange(n)))
    i = so.index("i")
    m.minimize(sp.Sum((x[i] - c[i])**2, (i, 0, n - 1)) + sp.Sum((x[i + 1] - x[i])**2 / 2, (i, 0, n - 2)))
    return m


def _scipy_ref(cm):
    kw = cm.scipy_problem()
    return sopt.minimize(kw["fun"], kw["x0"], jac=kw["jac"], bounds=kw["bounds"], method="L-BFGS-B",
                         options=dict(gtol=1e-12, ftol=1e-16, maxiter=10000, maxcor=10))


@pytest.mark.parametrize("build,n", [(_rosen_box, 40), (_quad_box, 300)])
def test_matches_scipy_lbfgsb(build, n):
    cm = build(n).compile()
    res = cm.minimize(method="lbfgsb", tol=1e-9)
    assert res.status == 0, res.message
    ref = _scipy_ref(cm)
    assert res.f == pytest.approx(ref.fun, rel=1e-10, abs=1e-10)
    assert np.allclose(res.x, ref.x, atol=1e-6)
    # bound multipliers: the gradient at the solution is balanced by zl - zu
    g = cm.gradient(res.x)
    assert np.allclose(g - res.z_lower + res.z_upper, 0.0, atol=1e-7)
    lo, hi = cm.ir.xl, cm.ir.xu
    assert np.all(res.x >= lo) and np.all(res.x <= hi)
    assert np.any(res.x == lo) or np.any(res.x == hi)       # bounds are active


def test_cauchy_point_is_model_minimizer_along_projected_path():
    """Without memory (B = theta I) the generalized Cauchy point minimizes
    ``g.(z - x) + theta/2 |z - x|^2`` along ``P(x - t g)``: checked by brute force."""
    rng = np.random.default_rng(0)
    n = 12
    x = rng.uniform(-1, 1, n)
    g = rng.standard_normal(n)
    xl, xu = -np.ones(n), np.ones(n)
    xl[:3] = -np.inf
    theta = 1.7
    S = np.zeros((1, n))
    xc = np.zeros(n)
    _cauchy(x, g, xl, xu, S, S, np.zeros(1, np.int64), 0, theta, np.zeros((0, 0)), xc, np.zeros(0))
    ts = np.linspace(0, 5, 200001)
    path = np.clip(x[None, :] - ts[:, None] * g[None, :], xl, xu)
    q = (path - x) @ g + 0.5 * theta * np.sum((path - x)**2, axis=1)
    best = path[np.argmin(q)]
    assert np.allclose(xc, best, atol=1e-4)
    qc = (xc - x) @ g + 0.5 * theta * np.sum((xc - x)**2)
    assert qc <= q.min() + 1e-12
