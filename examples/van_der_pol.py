"""Van der Pol oscillator with mu = 1000 (stiff relaxation oscillations; the classic
``vdp1000`` test problem: x' = v, v' = mu (1 - x^2) v - x on [0, 3000]).

Run: python examples/van_der_pol.py
"""
import symgen as sg


def build():
    t = sg.time()
    x, v = sg.states("x v")
    mu = sg.params("mu")
    return sg.ODESystem([sg.D(x) == v, sg.D(v) == mu * (1 - x**2) * v - x], t,
                        defaults={mu: 1000.0}, name="van_der_pol")


def main(t_end=3000.0, quiet=False):
    model = sg.compile(build())
    x, v = model.states
    sol = model.solve({x: 2.0, v: 0.0}, (0.0, t_end), method="auto", rtol=1e-6, atol=1e-6)
    if not quiet:
        print(sol.message, "| method:", sol.method)
        print(f"x({t_end:g}) = {sol[x][-1]:.8f}, v = {sol[v][-1]:.8f}")
        print("stats:", sol.stats)
    return model, sol


if __name__ == "__main__":
    main()
