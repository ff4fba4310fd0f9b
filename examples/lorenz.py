"""Lorenz system: declare, compile (cached on disk), solve, inspect.

Run: python examples/lorenz.py
"""
import symgen as sg


def build():
    t = sg.time()
    x, y, z = sg.states("x y z")
    sigma, rho, beta = sg.params("sigma rho beta")
    return sg.ODESystem([sg.D(x) == sigma * (y - x),
                         sg.D(y) == x * (rho - z) - y,
                         sg.D(z) == x * y - beta * z], t,
                        observed={"r2": x**2 + y**2 + z**2},
                        defaults={sigma: 10.0, rho: 28.0, beta: 8.0 / 3.0}, name="lorenz")


def main(t_end=100.0, quiet=False):
    system = build()
    model = sg.compile(system)
    x, y, z = model.states
    sol = model.solve({x: 1.0, y: 0.0, z: 0.0}, (0.0, t_end), method="auto", rtol=1e-8, atol=1e-10)
    if not quiet:
        sg.show(model)
        print(sol.message)
        print(f"x({t_end:g}) = {sol[x][-1]:.10f}, y = {sol[y][-1]:.10f}, z = {sol[z][-1]:.10f}")
        print(f"state at t=12.5: {sol(12.5)}; |r|^2 at the end: {sol['r2'][-1]:.6f}")
        print("stats:", sol.stats)
    return model, sol


if __name__ == "__main__":
    main()
