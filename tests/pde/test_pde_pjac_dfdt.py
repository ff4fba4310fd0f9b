"""Stencil-level df/dp and df/dt kernels of PDE models against central finite
differences of the RHS kernel (parameters in coefficients, forcing and boundary data;
time in forcing and boundary values), orders 2 and 4, 1D and 2D."""
import numpy as np
import pytest
import sympy as sp

import symgen as sg


def _model(dim, order):
    """Two coupled fields; parameters in a coefficient, the forcing, every kind of
    boundary data and a Robin coefficient; time in the forcing and boundary values."""
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, 13), y=(0.0, 2.0, 12), periodic="y") if dim == 2 else sg.Grid(x=(0.0, 1.0, 17))
    u, v = sg.fields("u v", g)
    a, b, c, k = sg.params("a b c k")
    x = g.coords[0]
    yfac = sp.cos(g.coords[1]) if dim == 2 else 1
    vdiff = sg.pdiff(v, "y", 2) if dim == 2 else sg.pdiff(v, "x", 2)
    pde = sg.PDESystem(
        [sg.D(u) == a * sg.laplacian(u) + c * sp.sin(2 * t) * x * yfac - u * v,
         sg.D(v) == vdiff + k * u - sg.upwind(0.5, v, "x")], t,
        bcs=[sg.Dirichlet(u, "x-", c * sp.sin(t)), sg.Robin(u, "x+", k, 0.5, sp.exp(-t) * b),
             sg.Neumann(v, "x-", a * sp.cos(3 * t)), sg.Dirichlet(v, "x+", k * t ** 2)],
        defaults={a: 0.7, b: 0.4, c: 1.3, k: 2.0}, name=f"pjac{dim}d")
    return sg.compile(pde, order=order)


def _model_1d_no_params():
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, 21))
    u = sg.fields("u", g)
    x, = g.coords
    pde = sg.PDESystem([sg.D(u) == sg.laplacian(u) + sp.exp(-t) * x], t,
                       bcs=[sg.Dirichlet(u, "x-", sp.sin(t)), sg.Neumann(u, "x+", 0)], name="noparams")
    return sg.compile(pde, order=4)


@pytest.mark.parametrize("dim,order", [(2, 2), (1, 4)])
def test_pjac_and_dfdt_against_finite_differences(dim, order):
    m = _model(dim, order)
    rng = np.random.default_rng(7)
    y = rng.uniform(0.5, 1.5, m.n)
    t = 0.37
    base = {"a": 0.7, "b": 0.4, "c": 1.3, "k": 2.0}
    P = m.pjac(t, y)
    assert P.shape == (m.n, 4)
    assert sorted(str(q) for q in m.params) == sorted(base)
    for j, name in enumerate(str(q) for q in m.params):   # columns in the model's parameter order
        eps = 1e-6 * max(1.0, abs(base[name]))
        hi, lo = dict(base), dict(base)
        hi[name] += eps
        lo[name] -= eps
        fd = (m.rhs(t, y, hi) - m.rhs(t, y, lo)) / (2 * eps)
        scale = max(np.abs(fd).max(), 1.0)
        np.testing.assert_allclose(P[:, j], fd, rtol=0, atol=1e-6 * scale, err_msg=name)
        assert np.abs(P[:, j]).max() > 0  # every parameter enters
    eps = 1e-6
    fd_t = (m.rhs(t + eps, y) - m.rhs(t - eps, y)) / (2 * eps)
    dt = m.dfdt(t, y)
    np.testing.assert_allclose(dt, fd_t, rtol=0, atol=1e-6 * max(np.abs(fd_t).max(), 1.0))
    assert np.abs(dt).max() > 0.1  # boundary rows and forcing depend on t


def test_pjac_follows_parameter_values():
    m = _model(1, 2)
    y = np.random.default_rng(1).uniform(0.5, 1.5, m.n)
    p1 = m.pjac(0.2, y, {"a": 0.3})
    p2 = m.pjac(0.2, y, {"a": 0.9})
    # f is affine in a (a lap(u), and the Neumann value a cos(3t) enters the boundary
    # node linearly), so df/da does not depend on a
    ja = [str(q) for q in m.params].index("a")
    np.testing.assert_allclose(p1[:, ja], p2[:, ja], rtol=1e-14, atol=1e-12)
    assert not np.allclose(m.dfdt(0.2, y, {"a": 0.3}), m.dfdt(0.2, y, {"a": 0.9}))


def test_no_parameters_and_dfdt_1d():
    m = _model_1d_no_params()
    y = np.linspace(0, 1, m.n) ** 2
    assert m.pjac(0.0, y).shape == (m.n, 0)
    eps = 1e-6
    fd_t = (m.rhs(0.5 + eps, y) - m.rhs(0.5 - eps, y)) / (2 * eps)
    np.testing.assert_allclose(m.dfdt(0.5, y), fd_t, rtol=0, atol=1e-6 * np.abs(fd_t).max())
