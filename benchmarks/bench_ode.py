"""symgen vs scipy.integrate.solve_ivp on Lorenz, Van der Pol (mu=1e3) and Robertson.

One run, same machine, same tolerances, the same work (steps only, no dense output:
solve_ivp's default); SciPy gets a Python RHS and, for the stiff methods, the analytic
Jacobian. Accuracy of both is measured against a tight reference
(SciPy DOP853 / Radau at rtol=1e-12 or tighter). Prints times and ratios.

Run: python benchmarks/bench_ode.py [--repeat 3]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import lorenz  # noqa: E402
import robertson  # noqa: E402
import van_der_pol  # noqa: E402

import symgen as sg  # noqa: E402


def lorenz_py(t, y, s=10.0, r=28.0, b=8.0 / 3.0):
    return [s * (y[1] - y[0]), y[0] * (r - y[2]) - y[1], y[0] * y[1] - b * y[2]]


def vdp_py(t, y, mu=1000.0):
    return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]


def vdp_jac(t, y, mu=1000.0):
    return [[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1, mu * (1 - y[0] ** 2)]]


def rob_py(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2], k2 * y[1] ** 2]


def rob_jac(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [[-k1, k3 * y[2], k3 * y[1]], [k1, -2 * k2 * y[1] - k3 * y[2], -k3 * y[1]], [0, 2 * k2 * y[1], 0]]


CASES = [
    # name, example module, y0, span, symgen method, scipy method, python rhs, jac, rtol, atol
    ("lorenz [0,20]", lorenz, [1.0, 0.0, 0.0], (0.0, 20.0), "dopri5", "RK45", lorenz_py, None, 1e-8, 1e-10),
    ("van der pol mu=1e3 [0,3000]", van_der_pol, [2.0, 0.0], (0.0, 3000.0), "radau5", "Radau", vdp_py, vdp_jac,
     1e-6, 1e-6),
    ("robertson [0,1e11]", robertson, [1.0, 0.0, 0.0], (0.0, 1e11), "radau5", "Radau", rob_py, rob_jac, 1e-8,
     [1e-10, 1e-16, 1e-10]),
]


def best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def rel_err(a, ref):
    return float(np.max(np.abs(a - ref) / np.maximum(np.abs(ref), 1e-6)))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'problem':30s} {'symgen [s]':>11s} {'scipy [s]':>10s} {'ratio':>8s} "
          f"{'err symgen':>11s} {'err scipy':>10s}  symgen steps / scipy steps")
    for name, mod, y0, span, meth, smeth, fpy, jpy, rtol, atol in CASES:
        t0 = time.perf_counter()
        model = sg.compile(mod.build())
        compile_s = time.perf_counter() - t0
        kw = dict(jac=jpy) if jpy else {}
        ref_method = "DOP853" if smeth == "RK45" else "Radau"
        ref = solve_ivp(fpy, span, y0, method=ref_method, rtol=1e-13 if jpy is None else 1e-12,
                        atol=1e-14 if jpy is None else np.asarray(atol) * 1e-4, **kw).y[:, -1]
        tg, sol = best_of(lambda: model.solve(y0, span, method=meth, rtol=rtol, atol=atol, dense=False),
                          args.repeat)
        ts, ssol = best_of(lambda: solve_ivp(fpy, span, y0, method=smeth, rtol=rtol, atol=atol, **kw),
                           max(1, args.repeat - 2))
        print(f"{name:30s} {tg:11.5f} {ts:10.4f} {ts / tg:7.1f}x {rel_err(sol.y[:, -1], ref):11.2e} "
              f"{rel_err(ssol.y[:, -1], ref):10.2e}  {sol.stats['steps']} / {ssol.t.size - 1}"
              f"   (compile or cache load {compile_s:.2f} s, status {sol.status})")
        # equal or better accuracy: tighten symgen's tolerances until its error is at most
        # SciPy's, and report that ratio too
        err_s, err_g, k = rel_err(ssol.y[:, -1], ref), rel_err(sol.y[:, -1], ref), 0
        while err_g > err_s and k < 8:
            k += 1
            f = 10.0 ** (-0.5 * k)
            tg, sol = best_of(lambda: model.solve(y0, span, method=meth, rtol=rtol * f, dense=False,
                                                  atol=np.asarray(atol) * f), args.repeat)
            err_g = rel_err(sol.y[:, -1], ref)
        if k:
            print(f"{'  at matched accuracy':30s} {tg:11.5f} {ts:10.4f} {ts / tg:7.1f}x {err_g:11.2e} "
                  f"{err_s:10.2e}  {sol.stats['steps']} / {ssol.t.size - 1}   (symgen rtol {rtol * f:.1e})")


if __name__ == "__main__":
    main()
