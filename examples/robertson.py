"""Robertson's stiff chemical kinetics (Hairer & Wanner II, problem ROBER) to t = 1e11.

Run: python examples/robertson.py
"""
import symgen as sg


def build():
    t = sg.time()
    y1, y2, y3 = sg.states("y1 y2 y3")
    k1, k2, k3 = sg.params("k1 k2 k3")
    return sg.ODESystem([sg.D(y1) == -k1 * y1 + k3 * y2 * y3,
                         sg.D(y2) == k1 * y1 - k2 * y2**2 - k3 * y2 * y3,
                         sg.D(y3) == k2 * y2**2], t,
                        observed={"total": y1 + y2 + y3},
                        defaults={k1: 0.04, k2: 3e7, k3: 1e4}, name="robertson")


def main(t_end=1e11, quiet=False):
    model = sg.compile(build())
    y1, y2, y3 = model.states
    sol = model.solve({y1: 1.0, y2: 0.0, y3: 0.0}, (0.0, t_end), method="auto", rtol=1e-8,
                      atol={y1: 1e-14, y2: 1e-20, y3: 1e-14})
    if not quiet:
        print(sol.message, "| method:", sol.method)
        print(f"y({t_end:g}) = {sol.y[:, -1]}, mass balance error {sol['total'][-1] - 1:.2e}")
        print("stats:", sol.stats)
    return model, sol


if __name__ == "__main__":
    main()
