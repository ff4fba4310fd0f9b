"""Stencil-level sensitivity kernels (symgen.pde.sens): J v against central differences
of the RHS, the dot-product tests <J v, w> = <v, J^T w> and <(df/dp) q, w> = <q, (df/dp)^T w>
to 1e-12, df/dp against central differences in the parameters (parameters in the
interior stencil and in boundary conditions, orders 2 and 4, 1D/2D, periodic and
bounded axes), grid-size-independent source, and a grid-summed loss against NumPy."""
import numpy as np
import pytest
import sympy as sp

import symgen as sg
from symgen.pde.sens import compile_pde_loss, sensitivity_kernels
from symgen.sensitivity import Loss


def _model(order, dims, n=9):
    t = sg.time()
    a, b, c = sg.params("a b c")
    if dims == 2:
        g = sg.Grid(x=(0, 1, n), y=(0, 1, n + 1), periodic="y")
        u, v = sg.fields("u v", g)
        x, y = g.coords
        bcs = [sg.Dirichlet(u, "x-", c * sp.cos(t) * y), sg.Robin(u, "x+", 1, c, x * y),
               sg.Neumann(v, "x-", c ** 2), sg.Dirichlet(v, "x+", 1 + t)]
    else:
        g = sg.Grid(x=(0, 1, n + 5))
        u, v = sg.fields("u v", g)
        x, = g.coords
        y = sp.S.Zero
        bcs = [sg.Dirichlet(u, "x-", c * sp.cos(t)), sg.Robin(u, "x+", 1, 0.5 * c, t),
               sg.Neumann(v, "x-", c), sg.Dirichlet(v, "x+", 2)]
    k = 1 + a * x * y + x / 2 + sp.sin(t) / 4
    pde = sg.PDESystem([
        sg.D(u) == k * sg.laplacian(u) + a * u ** 2 * v - sg.upwind(b * v, u, "x"),
        sg.D(v) == b * sg.laplacian(v) - u * v + sg.pdiff(a * u * v, "x") + sp.exp(-b * x)], t, bcs=bcs,
        defaults={a: 0.3, b: 0.7, c: 1.3}, name=f"sens{dims}")
    return sg.compile(pde, order=order)


CASES = [(2, 1), pytest.param(4, 1, marks=pytest.mark.slow), pytest.param(2, 2, marks=pytest.mark.slow)]


@pytest.mark.parametrize("order,dims", CASES)
def test_vector_kernels(order, dims):
    m = _model(order, dims)
    K = sensitivity_kernels(m)
    assert m.kernels.vjp is K.kernel("vjp") and m.kernels.pjac is K.kernel("pjac")
    rng = np.random.default_rng(order + dims)
    y = rng.uniform(0.5, 1.5, m.n)
    p = np.array([0.3, 0.7, 1.3])
    t = 0.4
    v, w, q = rng.standard_normal(m.n), rng.standard_normal(m.n), rng.standard_normal(3)
    # J v against central differences of the RHS along v
    eps = 1e-6
    fd_jv = (m.rhs(t, y + eps * v, p) - m.rhs(t, y - eps * v, p)) / (2 * eps)
    jv = K.call_jvp(t, y, v, p)
    np.testing.assert_allclose(jv, fd_jv, rtol=1e-6, atol=1e-6 * np.abs(fd_jv).max())
    # dot-product test for J^T (relative to the sum of the absolute products)
    J = m.jac_sparse(t, y, p)
    jtw = K.call_vjp(t, y, w, p)
    scale = np.abs(w) @ abs(J) @ np.abs(v)
    assert abs(jv @ w - v @ jtw) <= 1e-12 * scale
    # df/dp against central differences in each parameter
    P = K.call_pjac(t, y, p)
    fd = np.empty_like(P)
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-6
        fd[:, j] = (m.rhs(t, y, p + e) - m.rhs(t, y, p - e)) / 2e-6
    np.testing.assert_allclose(P, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())
    assert np.all(np.abs(P).max(axis=0) > 0)  # every parameter reaches the RHS (c only through BCs)
    # (df/dp) q and (df/dp)^T w: dot-product test, and equal to the dense df/dp
    pq = K.call_pjvp(t, y, q, p)
    ptw = K.call_pvjp(t, y, w, p)
    assert abs(pq @ w - q @ ptw) <= 1e-12 * (np.abs(w) @ np.abs(P) @ np.abs(q))
    np.testing.assert_allclose(pq, P @ q, rtol=1e-12, atol=1e-12 * np.abs(P).max())
    np.testing.assert_allclose(ptw, P.T @ w, rtol=1e-12, atol=1e-12 * np.abs(P).max() * np.abs(w).sum())


def test_brusselator_dot_products_and_source_independent_of_grid(examples_path):
    import brusselator_pde
    sources = []
    for n in (8, 12):
        m = sg.compile(brusselator_pde.build(n))
        K = sensitivity_kernels(m, ("jvp", "vjp"))
        sources.append(K.module.__file__ and open(K.module.__file__).read())
        rng = np.random.default_rng(n)
        y = rng.uniform(0.0, 4.0, m.n)
        v, w = rng.standard_normal(m.n), rng.standard_normal(m.n)
        for t in (0.5, 2.0):  # forcing off / on
            J = m.jac_sparse(t, y)
            jv, jtw = K.call_jvp(t, y, v), K.call_vjp(t, y, w)
            assert abs(jv @ w - v @ jtw) <= 1e-12 * (np.abs(w) @ abs(J) @ np.abs(v))
            # the same transpose as the PDE side's own jtv kernel
            np.testing.assert_allclose(jtw, m.jtv(t, y, w), rtol=1e-13, atol=1e-13 * np.abs(jtw).max())
    assert sources[0] == sources[1]
    assert "for i0 in range" in sources[0]


def test_grid_loss_against_numpy(examples_path):
    import brusselator_pde
    m = sg.compile(brusselator_pde.build(8))
    u, v = m.fields
    a, b, c = m.params
    x, y = m.grid.coords
    d = sp.Symbol("d")
    tt = m.system.t
    loss = Loss(point=a * (u - d) ** 2 + sp.sin(x) * v * c, integrand=b * u * v * y + tt * a * u ** 2, data=[d])
    cl = compile_pde_loss(m, loss)
    assert cl.n_data == m.n // 2
    rng = np.random.default_rng(2)
    yv = rng.uniform(0.5, 1.5, m.n)
    p = np.array([3.4, 1.0, 10.0])
    pk = m.param_vector(p)
    data = rng.standard_normal(m.n // 2)
    X, Y = m.grid.mesh()
    U, V = yv.reshape(m.shape + (2,))[..., 0], yv.reshape(m.shape + (2,))[..., 1]
    from symgen.pde.kernels_call import call_vec_kernel
    out = np.empty(1 + m.n + 3)
    call_vec_kernel(cl.point, 0.7, yv, pk, data, out)
    D = data.reshape(m.shape)
    assert out[0] == pytest.approx(np.sum(p[0] * (U - D) ** 2 + np.sin(X) * V * p[2]), rel=1e-13)
    g = out[1:1 + m.n].reshape(m.shape + (2,))
    np.testing.assert_allclose(g[..., 0], 2 * p[0] * (U - D), rtol=1e-13)
    np.testing.assert_allclose(g[..., 1], np.sin(X) * p[2], rtol=1e-13)
    np.testing.assert_allclose(out[1 + m.n:], [np.sum((U - D) ** 2), 0.0, np.sum(np.sin(X) * V)], rtol=1e-13)
    call_vec_kernel(cl.quad, 0.7, yv, pk, np.zeros(1), out)
    assert out[0] == pytest.approx(np.sum(p[1] * U * V * Y + 0.7 * p[0] * U ** 2), rel=1e-13)
    g = out[1:1 + m.n].reshape(m.shape + (2,))
    np.testing.assert_allclose(g[..., 0], p[1] * V * Y + 2 * 0.7 * p[0] * U, rtol=1e-13)
    np.testing.assert_allclose(out[1 + m.n:], [np.sum(0.7 * U ** 2), np.sum(U * V * Y), 0.0], rtol=1e-13)
