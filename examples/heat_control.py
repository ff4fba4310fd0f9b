"""Optimal boundary control of the 1D heat equation (discretize-then-optimize).

    y_t = kappa y_xx on (0, 1) x (0, T),  y(0, t) = q(t) (the control),  y(1, t) = 0,
    y(x, 0) = 0;  0 <= q(t) <= q_max;  minimize the tracking functional
    1/2 int_0^T int_0^1 (y - target(x, t))^2 dx dt + 1/2 int (y(x, T) - target(x, T))^2 dx
      + alpha/2 int q(t)^2 dt,     target(x, t) = (t/T) z(x)  (ramp up to the profile z).

Implicit Euler in time (K steps) and central differences in space (M interior points):
every equation family is declared once over its index box, so the model has
(K+1)(M+2) + K unknowns but only a handful of symbolic templates.

Run: python examples/heat_control.py [K] [M]
"""
import sys

import numpy as np
import sympy as sp

import symgen.opt as so


def build(K=40, M=60, T=0.5, kappa=1.0, alpha=1e-4, q_max=3.0):
    h, dt = 1.0 / (M + 1), T / K
    m = so.OptModel("heat-boundary-control")
    y = m.var("y", (K + 1, M + 2))
    q = m.var("q", K, lb=0.0, ub=q_max, init=0.5)               # q[k] acts at t_{k+1}
    xs = np.linspace(0.0, 1.0, M + 2)
    z = m.param("z", M + 2, value=0.5 * np.sin(np.pi * xs) + 0.5 * (1 - xs) ** 2)
    k, j = so.index("k j")
    m.minimize(sp.Sum(sp.Sum(h * dt / 2 * (y[k, j] - k / K * z[j]) ** 2, (j, 1, M)), (k, 1, K))
               + sp.Sum(h / 2 * (y[K, j] - z[j]) ** 2, (j, 1, M))
               + sp.Sum(alpha * dt / 2 * q[k] ** 2, (k, 0, K - 1)))
    m.subject_to(sp.Eq(y[0, j], 0), forall=(j, 0, M + 1), name="initial state")
    m.subject_to(sp.Eq((y[k + 1, j] - y[k, j]) / dt
                       - kappa * (y[k + 1, j - 1] - 2 * y[k + 1, j] + y[k + 1, j + 1]) / h ** 2, 0),
                 forall=[(k, 0, K - 1), (j, 1, M)], name="heat equation")
    m.subject_to(sp.Eq(y[k + 1, 0] - q[k], 0), forall=(k, 0, K - 1), name="boundary control")
    m.subject_to(sp.Eq(y[k, M + 1], 0), forall=(k, 1, K), name="right boundary")
    return m, y, q


def main(K=40, M=60, quiet=False):
    m, y, q = build(K, M)
    model = m.compile()
    res = model.minimize()
    if not quiet:
        print(model)
        print(res.message)
        print(f"objective {res.f:.8g}; {res.iterations} iterations; stats {res.stats}")
        print("control q(t_k):", np.array2string(res[q], precision=3, max_line_width=100))
    return model, res


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
