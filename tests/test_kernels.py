"""Generated kernels against independent references: SymPy/mpmath evaluation and
central finite differences."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgen as sg
from exprgen import SYMS, check_against_sympy, expressions, fd_jacobian


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expressions(SYMS), min_size=12, max_size=24))
def test_random_expressions_before_rewriting(exprs):
    check_against_sympy(exprs, disable=("simplify",))


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expressions(SYMS), min_size=12, max_size=24))
def test_random_expressions_after_rewriting(exprs):
    check_against_sympy(exprs, disable=())


def _forced_chain():
    t = sg.time()
    u = sg.states("u", shape=4)
    w = sg.params("w")
    force = sp.Piecewise((sp.sin(t), t < 2), (sp.Heaviside(t - 3) * sp.cos(2 * t), True))
    eqs = [sg.D(u[0]) == u[1], sg.D(u[1]) == -w**2 * sp.sin(u[0]) + force,
           sg.D(u[2]) == u[3], sg.D(u[3]) == -w * u[2] + sp.exp(-u[0]**2) * sp.tanh(u[1])]
    return sg.ODESystem(eqs, t, name="chain"), {"w": 1.3}


def _lorenz():
    import lorenz
    return lorenz.build(), {}


EXAMPLES = {"chain": _forced_chain, "lorenz": _lorenz}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_jacobians_match_finite_differences(name, examples_path):
    system, pvals = EXAMPLES[name]()
    model = sg.compile(system)
    p = model.param_vector(pvals)
    rng = np.random.default_rng(1)
    for t in (0.5, 2.5, 4.0):
        y = rng.uniform(-1.0, 1.0, len(model.states))
        J = model.jac(t, y, p)
        fd = fd_jacobian(lambda v: model.rhs(t, v, p), y)
        np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(model.jac_sparse(t, y, p).toarray(), J, rtol=0, atol=0)
        if len(model.params):
            fdp = fd_jacobian(lambda q: model.rhs(t, y, q), p)
            np.testing.assert_allclose(model.pjac(t, y, p), fdp, rtol=1e-6, atol=1e-8)
        dt = 1e-6
        fdt = (model.rhs(t + dt, y, p) - model.rhs(t - dt, y, p)) / (2 * dt)
        np.testing.assert_allclose(model.dfdt(t, y, p), fdt, rtol=1e-6, atol=1e-6)
        yp = rng.normal(size=y.size)
        np.testing.assert_allclose(model.residual(t, y, yp, p), yp - model.rhs(t, y, p), rtol=1e-12, atol=1e-14)


def test_rhs_equals_sympy_and_pattern_is_structural():
    system, pvals = _forced_chain()
    model = sg.compile(system)
    pb = model.problem
    p = model.param_vector(pvals)
    y = np.array([0.3, -0.2, 0.5, 0.1])
    for t in (1.0, 2.5, 3.5):
        subs = {pb.t: t, **dict(zip(pb.states, y)), **dict(zip(pb.params, p))}
        ref = [float(f.evalf(30, subs=subs)) for f in pb.rhs]
        np.testing.assert_allclose(model.rhs(t, y, p), ref, rtol=1e-13, atol=1e-15)
    mask = model.jac_sparsity.to_dense_mask()
    expected = np.array([[f.has(s) for s in pb.states] for f in pb.rhs])
    assert (mask == expected).all()
    assert "out[" in model.source("jac_values") and "def rhs" in model.source("rhs")
