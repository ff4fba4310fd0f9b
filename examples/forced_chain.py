"""A chain of coupled, damped oscillators with vector states, switched forcing
(Piecewise and Heaviside in t) and observed quantities; parameters change without
recompiling.

Run: python examples/forced_chain.py
"""
import sympy as sp

import symgen as sg

N = 6


def build(n=N):
    t = sg.time()
    q = sg.states("q", shape=n)      # positions
    v = sg.states("v", shape=n)      # velocities
    k, c, amp = sg.params("k c amp")
    force = amp * sp.Heaviside(t - 1) * sp.Piecewise((sp.sin(3 * t), t < 10), (0, True))
    acc = []
    for i in range(n):
        left = q[i - 1] if i > 0 else 0
        right = q[i + 1] if i < n - 1 else 0
        acc.append(k * (left - 2 * q[i] + right) - c * v[i] + (force if i == 0 else 0))
    eqs = [sg.D(q) == v, sg.D(v) == sp.Matrix(acc)]
    energy = sum(v[i]**2 / 2 + k * q[i]**2 / 2 for i in range(n))
    return sg.ODESystem(eqs, t, observed={"energy": energy, "tip": q[n - 1]},
                        defaults={k: 4.0, c: 0.1, amp: 1.0}, name="forced_chain")


def main(t_end=20.0, quiet=False):
    model = sg.compile(build())
    y0 = {s: 0.0 for s in model.states}
    sols = [model.solve(y0, (0.0, t_end), params={"c": c}, rtol=1e-9, atol=1e-12)
            for c in (0.1, 0.5)]           # second solve: new damping, no recompilation
    if not quiet:
        for c, sol in zip((0.1, 0.5), sols):
            print(f"c={c}: {sol.message}; energy(t_end) = {sol['energy'][-1]:.6f}, "
                  f"tip(15) = {sol(15.0)[N - 1]:.6f}, steps = {sol.stats['steps']}")
    return model, sols


if __name__ == "__main__":
    main()
