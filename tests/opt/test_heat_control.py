"""The PDE-constrained example (boundary control of the heat equation) against an
independent solution: the discrete states are a linear function of the controls
(implicit Euler simulated with SciPy), so the problem is a bound-constrained linear
least-squares problem, solved by ``scipy.optimize.lsq_linear``."""
import importlib

import numpy as np
import scipy.optimize as sopt
import scipy.sparse as sps
import scipy.sparse.linalg as spl


def _reference(K, M, T=0.5, kappa=1.0, alpha=1e-4, q_max=3.0):
    h, dt = 1.0 / (M + 1), T / K
    xs = np.linspace(0.0, 1.0, M + 2)
    z = 0.5 * np.sin(np.pi * xs) + 0.5 * (1 - xs) ** 2
    lap = sps.diags([np.ones(M - 1), -2 * np.ones(M), np.ones(M - 1)], [-1, 0, 1]) / h**2
    A_step = (sps.eye(M) / dt - kappa * lap).tocsc()
    lu = spl.splu(A_step)
    # columns: response of all interior states y[1..K, 1..M] to a unit control q[c]
    cols = []
    for c in range(1, K + 1):
        u = np.zeros(M)
        ys = []
        for k in range(1, K + 1):
            rhs = u / dt
            if k == c:
                rhs[0] += kappa / h**2
            u = lu.solve(rhs)
            ys.append(u)
        cols.append(np.concatenate(ys))
    S = np.column_stack(cols)                       # (K*M, K): control q[c-1] acts at step c
    target = np.concatenate([k / K * z[1:M + 1] for k in range(1, K + 1)])
    w_track = np.sqrt(h * dt)
    final = S[(K - 1) * M:, :]
    reg = np.sqrt(alpha * np.full(K, dt))
    A = np.vstack([w_track * S, np.sqrt(h) * final, np.diag(reg)])
    b = np.concatenate([w_track * target, np.sqrt(h) * z[1:M + 1], np.zeros(K)])
    res = sopt.lsq_linear(A, b, bounds=(0.0, q_max), tol=1e-14, lsmr_tol="auto", method="bvls")
    return res.x, 0.5 * np.sum((A @ res.x - b) ** 2)


def test_heat_control_matches_reduced_least_squares(examples_path):
    heat = importlib.import_module("heat_control")
    K, M = 16, 24
    m, y, q = heat.build(K, M)
    res = m.compile().minimize(tol=1e-10)
    assert res.status == 0, res.message
    q_ref, f_ref = _reference(K, M)
    assert abs(res.f - f_ref) <= 1e-7 * max(1.0, abs(f_ref))
    assert np.allclose(res[q], q_ref, atol=1e-5)
    assert res.constraint_violation < 1e-9


def test_heat_control_example_main(examples_path):
    heat = importlib.import_module("heat_control")
    model, res = heat.main(K=10, M=12, quiet=True)
    assert res.status == 0, res.message
