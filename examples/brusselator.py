"""2D Brusselator, scalarized (the SciMLBenchmarks / ModelingToolkit form): 2 N^2 states
on a periodic N x N grid, forcing switched on at t = 1.1 inside a disk.

    u' = alpha (lap u) + B + u^2 v - (A + 1) u + f(x, y, t)
    v' = alpha (lap v) + A u - u^2 v,      alpha = 10 / dx^2, A = 3.4, B = 1

Run: python examples/brusselator.py [N]   (N = 32 gives 2048 states)
"""
import sys

import numpy as np
import sympy as sp

import symgen as sg


def grid(N):
    xy = np.linspace(0.0, 1.0, N)
    return xy, xy[1] - xy[0]


def build(N=32, backend_hint=None):
    t = sg.time()
    u = sg.states("u", shape=(N, N))
    v = sg.states("v", shape=(N, N))
    A, B, alpha = sg.params("A B alpha")
    xy, _ = grid(N)
    on = sp.Piecewise((5.0, t >= 1.1), (0.0, True))
    eqs = []
    for i in range(N):
        for j in range(N):
            ip, im, jp, jm = (i + 1) % N, (i - 1) % N, (j + 1) % N, (j - 1) % N
            lap_u = u[im, j] + u[ip, j] + u[i, jp] + u[i, jm] - 4 * u[i, j]
            lap_v = v[im, j] + v[ip, j] + v[i, jp] + v[i, jm] - 4 * v[i, j]
            force = on if (xy[i] - 0.3) ** 2 + (xy[j] - 0.6) ** 2 <= 0.1 ** 2 else 0
            eqs.append(sg.D(u[i, j]) == alpha * lap_u + B + u[i, j] ** 2 * v[i, j] - (A + 1) * u[i, j] + force)
            eqs.append(sg.D(v[i, j]) == alpha * lap_v + A * u[i, j] - u[i, j] ** 2 * v[i, j])
    _, dx = grid(N)
    return sg.ODESystem(eqs, t, defaults={A: 3.4, B: 1.0, alpha: 10.0 / dx**2}, name=f"brusselator{N}")


def build_1d(N):
    """1D Brusselator (Hairer & Wanner II, problem BRUSS): 2 N states (all u, then all v)
    on (0, 1) with Dirichlet boundaries u = 1, v = 3 and alpha = 1/50."""
    t = sg.time()
    u = sg.states("u", shape=N)
    v = sg.states("v", shape=N)
    alpha = sg.params("alpha")
    c = alpha * (N + 1) ** 2
    eqs = []
    for i in range(N):
        ul, ur = (u[i - 1] if i > 0 else 1), (u[i + 1] if i < N - 1 else 1)
        eqs.append(sg.D(u[i]) == 1 + u[i] ** 2 * v[i] - 4 * u[i] + c * (ul - 2 * u[i] + ur))
    for i in range(N):
        vl, vr = (v[i - 1] if i > 0 else 3), (v[i + 1] if i < N - 1 else 3)
        eqs.append(sg.D(v[i]) == 3 * u[i] - u[i] ** 2 * v[i] + c * (vl - 2 * v[i] + vr))
    return sg.ODESystem(eqs, t, defaults={alpha: 1.0 / 50.0}, name=f"bruss1d_{N}")


def initial(N):
    """u = 22 (y (1 - y))^1.5, v = 27 (x (1 - x))^1.5 on the grid, in the states' order."""
    xy, _ = grid(N)
    X, Y = np.meshgrid(xy, xy, indexing="ij")
    u0, v0 = 22 * (Y * (1 - Y)) ** 1.5, 27 * (X * (1 - X)) ** 1.5
    return np.stack([u0, v0], axis=-1).reshape(-1)  # u[0,0], v[0,0], u[0,1], ...


def main(N=32, quiet=False, backend="llvm"):
    model = sg.compile(build(N), backend=backend)
    sol = model.solve(initial(N), (0.0, 11.5), method="radau5", rtol=1e-6, atol=1e-6)
    if not quiet:
        print(sol.message, f"| {2 * N * N} states |", sol.stats)
        print("compile stages [s]:", {k: round(v, 2) for k, v in model.timings.items()})
    return model, sol


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 32)
