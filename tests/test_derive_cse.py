"""The fast paths of derive (term-wise, monomial derivatives) and of lower (linear-time
tree CSE for large kernels) against SymPy's own diff and plain evaluation."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgen as sg
from exprgen import expressions
from symgen.passes import lower as lower_mod
from symgen.passes.cse import tree_cse
from symgen.passes.derive import sparse_jacobian

X = sp.symbols("x0:5", real=True)
K = sp.symbols("k0:3", positive=True)


def _monomials():
    factor = st.sampled_from(list(X) + list(K))
    power = st.sampled_from([1, 1, 2, 3, -1, sp.Rational(1, 2)])
    mono = st.tuples(st.integers(-4, 4).filter(bool), st.lists(st.tuples(factor, power), min_size=1, max_size=4)) \
        .map(lambda cf: cf[0] * sp.Mul(*[f ** p for f, p in cf[1]]))
    extra = st.sampled_from([sp.S.Zero, sp.sin(X[0] * X[1]), sp.exp(-X[2]) * X[3], 1 / (1 + X[4] ** 2)])
    return st.tuples(st.lists(mono, min_size=1, max_size=12), extra).map(lambda m: sp.Add(*m[0]) + m[1])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_monomials(), min_size=1, max_size=4))
def test_sparse_jacobian_equals_sympy_diff(exprs):
    pat, vals = sparse_jacobian(exprs, X)
    it = iter(vals)
    for i, f in enumerate(exprs):
        cols = pat.indices[pat.indptr[i]:pat.indptr[i + 1]]
        for j in range(len(X)):
            ref = sp.diff(f, X[j])
            got = next(it) if j in cols else sp.S.Zero
            assert sp.simplify(got - ref) == 0, (f, X[j], got, ref)


def _eval_cse(temps, reduced, subs):
    env = dict(subs)
    for s, e in temps:
        env[s] = e.xreplace(env).evalf(30)
    return [e.xreplace(env).evalf(30) for e in reduced]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expressions(list(X[:3]) + list(K[:2]), max_leaves=8), min_size=2, max_size=10))
def test_tree_cse_preserves_values(exprs):
    # repeat pieces across expressions so that sharing actually happens
    exprs = exprs + [exprs[0] * exprs[-1], -3 * exprs[0], exprs[-1] + 2 * exprs[0]]
    temps, reduced = tree_cse(exprs)
    assert all(sum(e.has(s) for _, e in temps) + sum(r.has(s) for r in reduced) >= 1 for s, _ in temps)
    rng = np.random.default_rng(0)
    subs = {s: sp.Float(v, 30) for s, v in zip(list(X[:3]) + list(K[:2]), rng.uniform(0.2, 2.0, 5))}
    got = _eval_cse(temps, reduced, subs)
    for e, g in zip(exprs, got):
        ref = e.xreplace(subs).evalf(30)
        if not (ref.is_real and ref.is_finite):
            continue
        assert abs(complex(g) - complex(ref)) <= 1e-20 * max(1.0, abs(complex(ref)))


def test_tree_cse_shares_negated_products():
    a, b, k = X[0], X[1], K[0]
    exprs = [-k * a * b + a, k * a * b - b, 2 * k * a * b]
    temps, reduced = tree_cse(exprs)
    assert len(temps) == 1 and temps[0][1] == k * a * b


@pytest.mark.parametrize("threshold", [0])
def test_large_kernel_path_end_to_end(monkeypatch, threshold):
    """The whole pipeline with every kernel forced through tree CSE: rhs vs SymPy and the
    Jacobian vs finite differences."""
    monkeypatch.setattr(lower_mod, "LARGE_KERNEL_NODES", threshold)
    t = sg.time()
    u = sg.states("u", shape=6)
    k = sg.params("k0:3")
    eqs = [sg.D(u[i]) == k[0] * u[i - 1] * u[(i + 1) % 6] - k[1] * u[i] ** 2 + k[2] * sp.sin(u[i - 1] * u[i])
           for i in range(6)]
    system = sg.ODESystem(eqs, t, name="ring")
    model = sg.compile(system, cache=False)
    rng = np.random.default_rng(5)
    y, p = rng.uniform(0.1, 1.5, 6), np.array([0.7, 1.3, 0.4])
    f = model.rhs(0.0, y, p)
    subs = dict(zip(list(u) + list(k), list(y) + list(p)))
    ref = np.array([float(e.rhs.xreplace(subs)) for e in eqs])
    np.testing.assert_allclose(f, ref, rtol=1e-13)
    J = model.jac(0.0, y, p)
    h = 1e-6
    fd = np.array([(model.rhs(0.0, y + h * e, p) - model.rhs(0.0, y - h * e, p)) / (2 * h) for e in np.eye(6)]).T
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)
