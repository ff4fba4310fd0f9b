"""Stiff time integration of PDE models through every linear-algebra path of the
drivers: BDF with the static-pattern sparse LU, BDF with GMRES + ILU(0) (Krylov),
Radau with sparse LU, and ``method="auto"`` (explicit, then BDF from 500 states on),
checked against SciPy's BDF / Radau at tight tolerance on the same right-hand side."""
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import symgen as sg


@pytest.fixture(scope="module")
def bruss16(examples_path):
    """2D Brusselator PDE (periodic, alpha = 10) on a 16 x 16 grid: 512 states, stiff
    (Gershgorin radius of the Jacobian about 9e3)."""
    import brusselator_pde
    N = 16
    m = sg.compile(brusselator_pde.build(N))
    y0 = m.initial_vector(brusselator_pde.initial(N))
    T = 1.0  # before the forcing switches on (t = 1.1): a smooth solution
    ref = solve_ivp(lambda t, y: m.rhs(t, y), (0.0, T), y0, method="Radau", rtol=1e-11, atol=1e-11,
                    jac=lambda t, y: m.jac_sparse(t, y))
    assert ref.success
    return m, y0, T, ref.y[:, -1]


@pytest.mark.parametrize("method,linear_solver,used", [
    ("bdf", "sparse", "bdf"),
    ("bdf", "krylov", "bdf"),
    ("radau5", "sparse", "radau5"),
    ("auto", "auto", "dopri5->bdf"),   # 512 states >= AUTO_BDF_MIN_STATES
])
def test_brusselator_2d_stiff_paths_match_scipy(bruss16, method, linear_solver, used):
    m, y0, T, yref = bruss16
    assert m.spectral_radius(0.0, y0) > 1e3  # stiff: the explicit step bound is below 3e-4
    sol = m.solve(y0, (0.0, T), method=method, linear_solver=linear_solver, rtol=1e-9, atol=1e-9,
                  dense=False)
    assert sol.success, sol.message
    assert sol.method == used
    assert sol.linear_solver == ("krylov" if linear_solver == "krylov" else "sparse")
    err = np.max(np.abs(sol.y[:, -1] - yref)) / np.max(np.abs(yref))
    assert err < 2e-7, err
    if used != "radau5":
        assert sol.stats["nlu"] < sol.stats["steps"]  # BDF keeps its factorization


def _reaction_diffusion_1d(n):
    """1D non-periodic (banded Jacobian) stiff reaction-diffusion with time-dependent
    Dirichlet and Robin boundaries: u' = d u_xx - u^3 + v, v' = d2 v_xx + u - v."""
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, n))
    u, v = sg.fields("u v", g)
    d, d2 = sg.params("d d2")
    x, = g.coords
    pde = sg.PDESystem([sg.D(u) == d * sg.laplacian(u) - u ** 3 + v,
                        sg.D(v) == d2 * sg.laplacian(v) + u - v], t,
                       bcs=[sg.Dirichlet(u, "x-", sp.sin(3 * t)), sg.Neumann(u, "x+", 0),
                            sg.Robin(v, "x-", 1, 0.5, 0.2), sg.Dirichlet(v, "x+", 1 - sp.exp(-t))],
                       defaults={d: 0.5, d2: 0.05}, name="rd1d")
    return pde, u, v


@pytest.mark.parametrize("order", [2, 4])
def test_reaction_diffusion_1d_bdf_sparse_and_krylov_vs_scipy_bdf(order):
    pde, u, v = _reaction_diffusion_1d(301)
    m = sg.compile(pde, order=order)
    y0 = m.initial_vector({u: lambda X: np.cos(np.pi * X), v: lambda X: X * (1 - X)})
    assert m.n >= 500
    T = 0.5
    ref = solve_ivp(lambda t, y: m.rhs(t, y), (0.0, T), y0, method="BDF", rtol=1e-11, atol=1e-12,
                    jac=lambda t, y: m.jac_sparse(t, y))
    assert ref.success
    yref = ref.y[:, -1]
    for lin in ("sparse", "krylov"):
        sol = m.solve(y0, (0.0, T), method="bdf", linear_solver=lin, rtol=1e-9, atol=1e-10, dense=False)
        assert sol.success, sol.message
        assert np.max(np.abs(sol.y[:, -1] - yref)) < 1e-6, lin
    auto = m.solve(y0, (0.0, T), rtol=1e-8, atol=1e-10, dense=False)
    assert auto.success and auto.method == "dopri5->bdf"
    assert np.max(np.abs(auto.y[:, -1] - yref)) < 1e-5


def test_auto_small_pde_continues_with_radau(examples_path):
    """Below 500 states ``method="auto"`` continues a stiff PDE model with Radau, as for
    ODE models."""
    import brusselator_pde
    m = sg.compile(brusselator_pde.build(8))   # 128 states
    sol = m.solve(brusselator_pde.initial(8), (0.0, 0.5), rtol=1e-6, atol=1e-6, dense=False)
    assert sol.success and sol.method == "dopri5->radau5"


def test_krylov_needs_bdf_for_pde_models(examples_path):
    import brusselator_pde
    m = sg.compile(brusselator_pde.build(8))
    with pytest.raises(sg.SymgenError, match="krylov"):
        m.solve(brusselator_pde.initial(8), (0.0, 0.1), method="radau5", linear_solver="krylov")
