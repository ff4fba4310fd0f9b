"""Hock-Schittkowski problems reach their published optimum (1e-6), with first-order
optimality checked against the SymPy derivatives of the declared expressions."""
import numpy as np
import pytest

from .hs_problems import PROBLEMS
from .reference import references

BOUND_ONLY = ("hs001", "hs003", "hs004", "hs005", "hs038")
CASES = [(name, "auto") for name in PROBLEMS] + [(name, meth) for name in BOUND_ONLY
                                                  for meth in ("ipm", "lbfgsb")]


@pytest.fixture(scope="module")
def compiled():
    cache = {}

    def get(name):
        if name not in cache:
            m, x, f_star, x_star = PROBLEMS[name]()
            cache[name] = (m, x, m.compile(), f_star, x_star)
        return cache[name]
    return get


@pytest.mark.parametrize("name,method", CASES)
def test_published_optimum(compiled, name, method):
    m, x, cm, f_star, x_star = compiled(name)
    res = cm.minimize(method=method)
    assert res.status == 0, res.message
    assert abs(res.f - f_star) <= 1e-6 * max(1.0, abs(f_star)), (res.f, f_star)
    assert res.constraint_violation <= 1e-7
    if x_star is not None:
        assert np.allclose(res[x], x_star, atol=1e-4)
    if method in ("auto", "ipm") and cm.m:
        # stationarity of L = f + lam.c - zl.x + zu.x with SymPy derivatives
        ref = references(m)
        g = np.asarray(ref["grad"](res.x), float).reshape(-1)
        J = np.asarray(ref["jac"](res.x), float).reshape(cm.m, cm.n)
        r = g + J.T @ res.lam - res.z_lower + res.z_upper
        assert np.max(np.abs(r)) <= 1e-5 * max(1.0, np.max(np.abs(g)))
        # complementarity: inactive inequality rows carry (almost) no multiplier
        c = np.asarray(ref["c"](res.x), float).reshape(-1)
        slack = np.minimum(c - cm.ir.cl, cm.ir.cu - c)
        assert np.all(np.abs(res.lam[slack > 1e-4]) <= 1e-6)


def test_hs071_numba_backend():
    m, x, f_star, x_star = PROBLEMS["hs071"]()
    res = m.compile(backend="numba").minimize()
    assert res.status == 0 and abs(res.f - f_star) <= 1e-6 * f_star
    assert np.allclose(res[x], x_star, atol=1e-4)
