"""d/dx(k du/dx) with a field-free coefficient is one stencil (k' u' + k u'', k' exact);
a field-dependent coefficient keeps the nested (flux) form.  Checked against the
expanded form written by hand and against the exact derivative of a polynomial."""
import numpy as np
import sympy as sp

import symgen as sg


def _compile(rhs_of):
    t = sg.time()
    g = sg.Grid(x=(0.2, 1.4, 21))
    u = sg.fields("u", g)
    x, = g.coords
    pde = sg.PDESystem([sg.D(u) == rhs_of(u, x)], t,
                       bcs=[sg.Dirichlet(u, "x-", 0.3), sg.Neumann(u, "x+", 0.1)], name="fold")
    return sg.compile(pde, order=4), g


def test_divergence_form_equals_expanded_form_and_has_compact_reach():
    k = lambda x: 1 + x ** 2 / 2 + sp.sin(x)  # noqa: E731
    m1, g = _compile(lambda u, x: sg.divergence([k(x) * sg.gradient(u)[0]]))
    m2, _ = _compile(lambda u, x: sp.diff(k(x), x) * sg.pdiff(u, "x") + k(x) * sg.pdiff(u, "x", 2))
    assert m1.stencil.reach == m2.stencil.reach == (2,)   # nested would reach 4
    y = np.random.default_rng(0).random(m1.n)
    np.testing.assert_allclose(m1.rhs(0.0, y), m2.rhs(0.0, y), rtol=1e-13, atol=1e-10)
    # exact on a quartic away from the boundary closures' data: compare interior rows
    X, = g.mesh()
    uq = 0.3 + X ** 4 - X ** 3
    xs = sp.Symbol("x")
    exact = sp.lambdify(xs, sp.diff(k(xs) * sp.diff(0.3 + xs ** 4 - xs ** 3, xs), xs))(X)
    r = m1.rhs(0.0, uq)
    np.testing.assert_allclose(r[3:-3], exact[3:-3], rtol=1e-9)


def test_field_dependent_coefficient_keeps_nested_form():
    m, _ = _compile(lambda u, x: sg.pdiff((1 + u ** 2) * sg.pdiff(u, "x"), "x"))
    assert m.stencil.reach == (4,)
    m2, _ = _compile(lambda u, x: sg.pdiff(sg.pdiff(u, "x"), "x"))   # Dx(Dx(u)) -> Dx(u, 2)
    assert m2.stencil.reach == (2,)
