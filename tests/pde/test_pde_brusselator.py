"""The 2D Brusselator written as a PDE equals the scalarized model of
examples/brusselator.py (compiled by the ODE pipeline) on the RHS and the Jacobian."""
import numpy as np
import pytest

import symgen as sg


@pytest.fixture(scope="module")
def models(examples_path):
    import brusselator
    import brusselator_pde
    N = 32
    pde = sg.compile(brusselator_pde.build(N))
    ref = sg.compile(brusselator.build(N), backend="llvm")
    return N, pde, ref, brusselator, brusselator_pde


@pytest.mark.parametrize("t", [0.5, 2.0])  # forcing off / on
def test_rhs_and_jacobian_equal_scalarized(models, t):
    N, pde, ref, _, _ = models
    assert pde.n == len(ref.states) == 2 * N * N
    rng = np.random.default_rng(1)
    y = rng.uniform(0.0, 4.0, pde.n)
    p = ref.param_vector({})
    f_ref = ref.rhs(t, y, p)
    np.testing.assert_allclose(pde.rhs(t, y), f_ref, rtol=0, atol=1e-10 * np.abs(f_ref).max())
    J_ref = ref.jac_sparse(t, y, p).toarray()
    J = pde.jac_sparse(t, y).toarray()
    np.testing.assert_allclose(J, J_ref, rtol=0, atol=1e-10 * np.abs(J_ref).max())
    assert pde.jac_sparsity.nnz == ref.jac_sparsity.nnz


def test_same_initial_state_and_solution(models):
    N, pde, ref, bru, bru_pde = models
    y0 = pde.initial_vector(bru_pde.initial(N))
    np.testing.assert_allclose(y0, bru.initial(N), rtol=1e-13, atol=1e-12)
    s1 = pde.solve(y0, (0.0, 1.5), method="radau5", rtol=1e-8, atol=1e-8, dense=False)
    s2 = ref.solve(y0, (0.0, 1.5), method="radau5", rtol=1e-8, atol=1e-8, dense=False)
    assert s1.success and s2.success and s1.linear_solver == "sparse"
    np.testing.assert_allclose(s1.y[:, -1], s2.y[:, -1], rtol=1e-7, atol=1e-7)


def test_example_main_runs(examples_path):
    import brusselator_pde
    model, sol = brusselator_pde.main(N=8, quiet=True)
    assert sol.success, sol.message
    assert np.all(np.isfinite(sol.y))
