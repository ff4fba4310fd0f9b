"""2D Brusselator written as a PDE (never scalarized): the same model as the scalarized
``examples/brusselator.py`` (periodic N x N grid at x_i = i / (N - 1), forcing switched
on at t = 1.1 inside a disk), with the Laplacian from the grid:

    u' = alpha lap(u) + B + u^2 v - (A + 1) u + f(x, y, t)
    v' = alpha lap(v) + A u - u^2 v,           A = 3.4, B = 1, alpha = 10

(``alpha lap`` here equals the scalarized ``10/dx^2 * (5-point sum)``.)  The state
vector has the same order as the scalarized model: u[0,0], v[0,0], u[0,1], ...

Run: python examples/brusselator_pde.py [N]
"""
import sys

import sympy as sp

import symgen as sg


def build(N=32):
    t = sg.time()
    L = N / (N - 1)  # N periodic nodes spaced 1/(N-1), as in the scalarized model
    g = sg.Grid(x=(0.0, L, N), y=(0.0, L, N), periodic=("x", "y"))
    u, v = sg.fields("u v", g)
    A, B, alpha = sg.params("A B alpha")
    x, y = g.coords
    f = sp.Piecewise((5.0, sp.And(t >= 1.1, (x - 0.3) ** 2 + (y - 0.6) ** 2 <= 0.1 ** 2)), (0.0, True))
    return sg.PDESystem([sg.D(u) == alpha * sg.laplacian(u) + B + u ** 2 * v - (A + 1) * u + f,
                         sg.D(v) == alpha * sg.laplacian(v) + A * u - u ** 2 * v], t,
                        defaults={A: 3.4, B: 1.0, alpha: 10.0}, name="brusselator_pde")


def initial(N):
    """u = 22 (y (1 - y))^1.5, v = 27 (x (1 - x))^1.5 (as in examples/brusselator.py)."""
    return {"u": lambda X, Y: 22 * (Y * (1 - Y)).clip(0) ** 1.5,
            "v": lambda X, Y: 27 * (X * (1 - X)).clip(0) ** 1.5}


def main(N=32, quiet=False):
    model = sg.compile(build(N))
    sol = model.solve(initial(N), (0.0, 11.5), method="radau5", rtol=1e-6, atol=1e-6)
    if not quiet:
        print(sol.message, f"| {2 * N * N} states |", sol.stats, "| linear algebra:", sol.linear_solver)
        print("compile stages [s]:", {k: round(v, 2) for k, v in model.timings.items()})
    return model, sol


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 32)
