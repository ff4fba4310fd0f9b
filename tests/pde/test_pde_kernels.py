"""Stencil kernels: RHS exact on polynomials (every BC type, 1D-3D), Jacobian against
finite differences, the adjoint dot-product test for J^T v, grid-independent source,
the CFL bound of the explicit method, and the cache."""
import numpy as np
import pytest
import sympy as sp

import symgen as sg

from exprgen import fd_jacobian


def _poly_model(order, dims):
    """u' = lap(u) - g with g = lap(P) for a polynomial P that the order-p stencils and
    closures differentiate exactly: with u = P the RHS is zero to rounding."""
    t = sg.time()
    axes = dict(list({"x": (0.0, 1.0, 9), "y": (-0.5, 0.7, 8), "z": (0.0, 2.0, 10)}.items())[:dims])
    g = sg.Grid(**axes)
    u = sg.fields("u", g)
    c = g.coords
    deg = 2 if order == 2 else 4
    P = sum((k + 1) * ci ** deg / 3 + ci * c[(k + 1) % dims] * (1 + t) for k, ci in enumerate(c)) + 1
    lapP = sum(sp.diff(P, ci, 2) for ci in c)
    bcs = []
    kinds = ["dirichlet", "neumann", "robin"]
    for k, ci in enumerate(c):
        lo, hi = axes[str(ci)][:2]
        for side, at in ((-1, lo), (1, hi)):
            kind = kinds[(2 * k + (side > 0)) % 3]
            dn = side * sp.diff(P, ci)
            name = f"{ci}{'-' if side < 0 else '+'}"
            if kind == "dirichlet":
                bcs.append(sg.Dirichlet(u, name, P.subs(ci, at)))
            elif kind == "neumann":
                bcs.append(sg.Neumann(u, name, dn.subs(ci, at)))
            else:
                bcs.append(sg.Robin(u, name, 1.5, 0.25, (1.5 * P + 0.25 * dn).subs(ci, at)))
    pde = sg.PDESystem([sg.D(u) == sg.laplacian(u) - lapP], t, bcs=bcs, name=f"poly{dims}d")
    return sg.compile(pde, order=order), sp.lambdify((t, *c), P, "numpy"), g


@pytest.mark.parametrize("order,dims", [(2, 1), (2, 2), (2, 3), (4, 1), (4, 2)])
def test_rhs_exact_on_polynomials(order, dims):
    m, P, g = _poly_model(order, dims)
    for t in (0.0, 0.7):
        y = np.broadcast_to(P(t, *g.mesh()), g.shape).ravel()
        f = m.rhs(t, y)
        assert np.max(np.abs(f)) < 1e-8 * max(1.0, np.max(np.abs(y))) / min(a.h for a in g.axes) ** 2


def _coupled(order, dims):
    """Two fields, nonlinear reaction, space/time-varying coefficient, upwind advection
    with a field-dependent velocity, a derivative of a product, all four BC kinds with
    time-dependent values."""
    t = sg.time()
    a, b = sg.params("a b")
    if dims == 2:
        g = sg.Grid(x=(0, 1, 8), y=(0, 1, 9))
        u, v = sg.fields("u v", g)
        x, y = g.coords
        bcs = [sg.Dirichlet(u, "x-", sp.cos(t) * y), sg.Neumann(u, "x+", y ** 2), sg.Robin(u, "y-", 1, 0.5, x),
               sg.Dirichlet(u, "y+", 1 + t), sg.Neumann(v, "x-", 0), sg.Robin(v, "x+", 2, 1, sp.sin(y + t)),
               sg.Dirichlet(v, "y-", x), sg.Neumann(v, "y+", -x)]
        second = "y"
    else:
        g = sg.Grid(x=(0, 1, 14))
        u, v = sg.fields("u v", g)
        x, = g.coords
        y = sp.S.Zero
        bcs = [sg.Dirichlet(u, "x-", sp.cos(t)), sg.Robin(u, "x+", 1, 0.5, t),
               sg.Neumann(v, "x-", 1), sg.Dirichlet(v, "x+", 2)]
        second = "x"
    k = 1 + x * y + x / 2 + sp.sin(t) / 4
    pde = sg.PDESystem([
        sg.D(u) == k * sg.laplacian(u) + a * u ** 2 * v - sg.upwind(v, u, "x"),
        sg.D(v) == b * sg.laplacian(v) - u * v + sg.pdiff(u * v, second)], t, bcs=bcs,
        defaults={a: 0.3, b: 0.7}, name=f"coupled{dims}")
    return sg.compile(pde, order=order)


@pytest.mark.parametrize("order,dims", [(2, 2), (2, 1), (4, 1)])
def test_jacobian_and_jtv_against_finite_differences(order, dims):
    m = _coupled(order, dims)
    rng = np.random.default_rng(order)
    y = rng.uniform(0.5, 1.5, m.n)
    t = 0.3
    J = m.jac_sparse(t, y).toarray()
    fd = fd_jacobian(lambda z: m.rhs(t, z), y)
    np.testing.assert_allclose(J, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())
    # structure: nothing outside the static pattern
    mask = np.zeros_like(J, dtype=bool)
    for _, i, j in m.jac_sparsity.entries():
        mask[i, j] = True
    assert np.all(np.abs(fd[~mask]) < 1e-6 * np.abs(fd).max())
    # adjoint dot-product test and J^T v against the transposed matrix
    v, w = rng.standard_normal(m.n), rng.standard_normal(m.n)
    jtw = m.jtv(t, y, w)
    assert abs(np.dot(J @ v, w) - np.dot(v, jtw)) <= 1e-10 * np.abs(J).sum()
    np.testing.assert_allclose(jtw, fd.T @ w, rtol=1e-5, atol=1e-5 * np.abs(fd).max() * np.abs(w).max())


def test_source_identical_across_grid_sizes():
    srcs = []
    for n in (16, 256):
        g = sg.Grid(x=(0, 1, n), y=(0, 1, n), periodic="x")
        u = sg.fields("u", g)
        pde = sg.PDESystem([sg.D(u) == sg.laplacian(u) - u ** 3], sg.time(),
                           bcs=[sg.Dirichlet(u, "y-", 0), sg.Neumann(u, "y+", 1)], name="sizes")
        m = sg.compile(pde)
        srcs.append((m.source(), m.code_key, m.n))
    assert srcs[0][0] == srcs[1][0] and srcs[0][1] == srcs[1][1]
    assert srcs[0][2] != srcs[1][2]


def test_explicit_step_bounded_by_cfl_and_cache_hit():
    t = sg.time()
    n = 41
    g = sg.Grid(x=(0, 1, n))
    u = sg.fields("u", g)
    pde = sg.PDESystem([sg.D(u) == sg.laplacian(u)], t, bcs=[sg.Dirichlet(u, "x-", 0), sg.Dirichlet(u, "x+", 0)],
                       name="heat_cfl")
    m = sg.compile(pde)
    h = 1.0 / (n - 1)
    x = g.axes[0].nodes()
    sol = m.solve({u: lambda X: np.sin(np.pi * X)}, (0, 0.05), method="dopri5", rtol=1e-6, atol=1e-9)
    assert sol.success, sol.message
    # Gershgorin radius of the 3-point Laplacian is 4/h^2
    assert m.last_cfl_step == pytest.approx(2.5 * h * h / 4, rel=1e-12)
    assert np.max(np.diff(sol.t)) <= m.last_cfl_step * (1 + 1e-12)
    np.testing.assert_allclose(sol.y[:, -1], np.exp(-np.pi ** 2 * 0.05) * np.sin(np.pi * x), atol=2e-3)
    assert sg.compile(pde).cached


@pytest.mark.slow
def test_parallel_kernels_equal_serial():
    from symgen.pde.codegen import PAR_MIN
    n = int(np.sqrt(PAR_MIN)) + 3
    g = sg.Grid(x=(0, 1, n), y=(0, 1, n), periodic="y")
    u = sg.fields("u", g)
    pde = sg.PDESystem([sg.D(u) == sg.laplacian(u) + u * sg.pdiff(u, "x")], sg.time(),
                       bcs=[sg.Dirichlet(u, "x-", 1), sg.Robin(u, "x+", 1, 1, 0)], name="par")
    ms, mp = sg.compile(pde, parallel=False), sg.compile(pde, parallel=True)
    assert mp.n >= PAR_MIN
    y = np.random.default_rng(0).random(ms.n)
    np.testing.assert_array_equal(ms.rhs(0.0, y), mp.rhs(0.0, y))
    np.testing.assert_array_equal(ms.jac_values(0.0, y), mp.jac_values(0.0, y))


def test_parallel_auto_chooses_per_kernel_by_grid_size():
    """``parallel="auto"`` (the default) takes the prange body of a kernel only from its
    threshold on, compiles it on first use, and gives the serial kernel's values."""
    from symgen.pde.codegen import PAR_MIN_JAC, PAR_MIN_RHS
    assert PAR_MIN_JAC < PAR_MIN_RHS
    t = sg.time()

    def heat(n):
        g = sg.Grid(x=(0, 1, n))
        u = sg.fields("u", g)
        x, = g.coords
        return sg.PDESystem([sg.D(u) == (1 + x) * sg.laplacian(u) - u ** 2], t,
                            bcs=[sg.Dirichlet(u, "x-", sp.sin(t)), sg.Neumann(u, "x+", 0)], name="auto_par")
    small = sg.compile(heat(PAR_MIN_JAC // 2))
    assert small.kernels.uses_threads() == {"rhs": False, "jac": False}
    assert small.kernels.rhs is small.kernels.module.rhs
    mid = sg.compile(heat(PAR_MIN_JAC + 10))          # Jacobian threaded, RHS serial
    assert mid.kernels.uses_threads() == {"rhs": False, "jac": True}
    ref = sg.compile(heat(PAR_MIN_JAC + 10), parallel=False)
    y = np.random.default_rng(3).random(ref.n)
    np.testing.assert_array_equal(mid.jac_values(0.3, y), ref.jac_values(0.3, y))
    np.testing.assert_array_equal(mid.rhs(0.3, y), ref.rhs(0.3, y))
    assert mid.kernels.jac_values is mid.kernels.module.parallel_jac()
    assert "build_parallel_jac" in mid.timings and "build_parallel_rhs" not in mid.timings
    big = sg.compile(heat(PAR_MIN_RHS + 10))
    assert big.kernels.uses_threads() == {"rhs": True, "jac": True}
    with pytest.raises(sg.SymgenError, match="parallel"):
        sg.compile(heat(50), parallel="yes")
