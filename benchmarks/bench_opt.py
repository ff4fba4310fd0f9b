"""symgen.opt vs CasADi+IPOPT vs scipy.optimize on HS071, extended Rosenbrock n=10^4 and a
sparse constrained problem with 10^4 variables (``chain``: a coupled inequality per
neighbour pair, one dense equality, bounds).

Every peer gets the same problem, start point and a tolerance of 1e-8; times are end to
end in this process:

* symgen cold: a new model in an empty kernel cache (declare, derive, generate LLVM IR,
  compile and link the kernels, KKT ordering and symbolic factorization, solve).  The
  solver drivers are compiled once per installation (Numba cache); loading Numba in
  a new process (about 0.5 s, once per process, like importing CasADi) is done before
  the timings (``--include-numba-start`` counts it in the first row instead).
* symgen warm: the same model again (kernels from the disk cache; no derivation).
* CasADi+IPOPT: SX expression graph, ``nlpsol`` construction (derivatives by CasADi's AD),
  IPOPT solve (MUMPS), print level 0.
* scipy: ``minimize`` with hand-written vectorized NumPy callbacks (gradient, sparse
  Hessian and Jacobian); ``trust-constr`` (and SLSQP for HS071).

Run: python benchmarks/bench_opt.py [--n 10000] [--skip-scipy-chain]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.optimize as sopt
import scipy.sparse as sps
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symgen.opt as so  # noqa: E402


# ---- the three problems in symgen's DSL ------------------------------------------------
def sg_hs071():
    m = so.OptModel("hs071")
    x = m.var("x", 4, lb=1, ub=5, init=[1, 5, 5, 1])
    m.minimize(x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2])
    m.subject_to(x[0] * x[1] * x[2] * x[3] >= 25)
    m.subject_to(sp.Eq(x[0]**2 + x[1]**2 + x[2]**2 + x[3]**2, 40))
    return m


def sg_rosen(n):
    m = so.OptModel("ext-rosenbrock")
    x = m.var("x", n, init=[-1.2, 1.0] * (n // 2))
    i = so.index("i")
    m.minimize(sp.Sum(100 * (x[2 * i + 1] - x[2 * i]**2)**2 + (1 - x[2 * i])**2, (i, 0, n // 2 - 1)))
    return m


def sg_chain(n):
    m = so.OptModel("chain")
    x = m.var("x", n, lb=0, ub=2, init=0.5)
    i = so.index("i")
    m.minimize(sp.Sum((x[i] - 1)**2, (i, 0, n - 1)) + sp.Sum((x[i] * x[i + 1])**2 / 10, (i, 0, n - 2)))
    m.subject_to(x[i] + x[i + 1]**2 >= 0.5, forall=(i, 0, n - 2))
    m.subject_to(sp.Eq(sp.Sum(x[i], (i, 0, n - 1)), n / 2))
    return m


def run_symgen(build, method="auto"):
    t0 = time.perf_counter()
    model = build().compile()
    res = model.minimize(method=method, tol=1e-8)
    return time.perf_counter() - t0, res.iterations, res.f, res.status == 0


# ---- CasADi + IPOPT ----------------------------------------------------------------------
def run_casadi(name, n):
    import casadi as ca
    t0 = time.perf_counter()
    if name == "hs071":
        x = ca.SX.sym("x", 4)
        f = x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]
        g = ca.vertcat(x[0] * x[1] * x[2] * x[3], ca.sumsqr(x))
        x0, lbx, ubx, lbg, ubg = [1, 5, 5, 1], [1] * 4, [5] * 4, [25, 40], [ca.inf, 40]
    elif name == "rosen":
        x = ca.SX.sym("x", n)
        xo, xe = x[0::2], x[1::2]
        f = ca.sum1(100 * (xe - xo**2)**2 + (1 - xo)**2)
        g = ca.SX(0, 1)
        x0, lbx, ubx, lbg, ubg = [-1.2, 1.0] * (n // 2), -ca.inf, ca.inf, [], []
    else:
        x = ca.SX.sym("x", n)
        f = ca.sumsqr(x - 1) + ca.sumsqr(x[:-1] * x[1:]) / 10
        g = ca.vertcat(x[:-1] + x[1:]**2, ca.sum1(x))
        x0, lbx, ubx = [0.5] * n, 0, 2
        lbg = [0.5] * (n - 1) + [n / 2]
        ubg = [ca.inf] * (n - 1) + [n / 2]
    nlp = {"x": x, "f": f, "g": g}
    solver = ca.nlpsol("s", "ipopt", nlp, {"ipopt.print_level": 0, "print_time": 0, "ipopt.tol": 1e-8,
                                            "ipopt.sb": "yes"})
    sol = solver(x0=x0, lbx=lbx, ubx=ubx, lbg=lbg, ubg=ubg)
    dt = time.perf_counter() - t0
    st = solver.stats()
    return dt, st["iter_count"], float(sol["f"]), bool(st["success"])


# ---- scipy with NumPy callbacks ---------------------------------------------------------
def run_scipy(name, n, method):
    t0 = time.perf_counter()
    opts = {"gtol": 1e-8, "xtol": 1e-12, "maxiter": 3000} if method == "trust-constr" else \
        {"ftol": 1e-12, "maxiter": 1000}
    if name == "hs071":
        def f(x):
            return x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]

        def g(x):
            return np.array([x[0] * x[3] + x[3] * (x[0] + x[1] + x[2]), x[0] * x[3], x[0] * x[3] + 1,
                             x[0] * (x[0] + x[1] + x[2])])

        def c(x):
            return np.array([np.prod(x), np.sum(x**2)])

        def cj(x):
            return np.array([[x[1] * x[2] * x[3], x[0] * x[2] * x[3], x[0] * x[1] * x[3], x[0] * x[1] * x[2]],
                             2 * x])
        x0 = np.array([1.0, 5, 5, 1])
        bounds = sopt.Bounds([1] * 4, [5] * 4)
        if method == "SLSQP":
            cons = [{"type": "ineq", "fun": lambda x: c(x)[:1] - 25, "jac": lambda x: cj(x)[:1]},
                    {"type": "eq", "fun": lambda x: c(x)[1:] - 40, "jac": lambda x: cj(x)[1:]}]
        else:
            cons = [sopt.NonlinearConstraint(c, [25, 40], [np.inf, 40], jac=cj)]
        r = sopt.minimize(f, x0, jac=g, bounds=bounds, constraints=cons, method=method, options=opts)
    elif name == "rosen":
        def f(x):
            xo, xe = x[0::2], x[1::2]
            return np.sum(100 * (xe - xo**2)**2 + (1 - xo)**2)

        def g(x):
            xo, xe = x[0::2], x[1::2]
            out = np.empty_like(x)
            out[0::2] = -400 * xo * (xe - xo**2) - 2 * (1 - xo)
            out[1::2] = 200 * (xe - xo**2)
            return out

        def h(x):
            xo, xe = x[0::2], x[1::2]
            d = np.empty_like(x)
            d[0::2] = 1200 * xo**2 - 400 * xe + 2
            d[1::2] = 200.0
            off = np.zeros(n - 1)
            off[0::2] = -400 * xo
            return sps.diags([off, d, off], [-1, 0, 1], format="csr")
        r = sopt.minimize(f, np.array([-1.2, 1.0] * (n // 2)), jac=g, hess=h, method=method, options=opts)
    else:
        def f(x):
            return np.sum((x - 1)**2) + np.sum((x[:-1] * x[1:])**2) / 10

        def g(x):
            out = 2 * (x - 1)
            p = x[:-1] * x[1:]
            out[:-1] += p * x[1:] / 5
            out[1:] += p * x[:-1] / 5
            return out

        def h(x):
            d = np.full(n, 2.0)
            d[:-1] += x[1:]**2 / 5
            d[1:] += x[:-1]**2 / 5
            off = 4 * x[:-1] * x[1:] / 5
            return sps.diags([off, d, off], [-1, 0, 1], format="csr")
        rows = np.arange(n - 1)
        J1 = (rows, rows, rows + 1)

        def c1(x):
            return x[:-1] + x[1:]**2

        def j1(x):
            return sps.csr_matrix((np.r_[np.ones(n - 1), 2 * x[1:]], (np.r_[J1[0], J1[0]], np.r_[J1[1], J1[2]])),
                                  shape=(n - 1, n))

        def h1(x, v):
            return sps.diags(np.r_[0.0, 2 * v], 0, format="csr")
        cons = [sopt.NonlinearConstraint(c1, 0.5, np.inf, jac=j1, hess=h1),
                sopt.LinearConstraint(sps.csr_matrix(np.ones((1, n))), n / 2, n / 2)]
        r = sopt.minimize(f, np.full(n, 0.5), jac=g, hess=h, bounds=sopt.Bounds(0, 2), constraints=cons,
                          method=method, options=opts)
    dt = time.perf_counter() - t0
    return dt, int(getattr(r, "nit", 0) or 0), float(r.fun), bool(r.success)


def row(label, out):
    t, it, f, ok = out
    print(f"  {label:34s} {t:9.3f} s  {it:6d} it  f = {f:.10g}{'' if ok else '  (not converged)'}")
    return t


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--include-numba-start", action="store_true")
    ap.add_argument("--skip-scipy-chain", action="store_true",
                    help="skip scipy trust-constr on the 10^4-variable constrained problem (slow)")
    args = ap.parse_args(argv)
    n = args.n
    import casadi  # noqa: F401  (imports are not timed, for any peer)
    if not args.include_numba_start:   # Numba's start-up, on a model benchmarked nowhere
        from symgen.opt.drivers.common import call
        warm = so.OptModel("warm-up")
        v = warm.var("v")
        warm.minimize((v - 1)**2)
        call(warm.compile(cache=False).kernels["obj"], np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1))
    cases = [("hs071", "HS071 (4 vars, 2 constraints)", sg_hs071, "ipm", ["SLSQP", "trust-constr"]),
             ("rosen", f"extended Rosenbrock n={n}", lambda: sg_rosen(n), "tron", ["trust-constr"]),
             ("chain", f"chain n={n} ({n - 1} inequalities + 1 equality, bounds)", lambda: sg_chain(n), "ipm",
              [] if args.skip_scipy_chain else ["trust-constr"])]
    for key, title, build, method, scipy_methods in cases:
        print(f"\n{title}")
        os.environ["SYMGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="symgen-bench-opt-")
        t_cold = row(f"symgen {method} (cold: new model)", run_symgen(build, method))
        t_warm = row(f"symgen {method} (warm: cached)", run_symgen(build, method))
        if method == "tron":
            row("symgen lbfgsb (warm)", run_symgen(build, "lbfgsb"))
            row("symgen ipm (warm)", run_symgen(build, "ipm"))
        t_ca = row("CasADi + IPOPT (setup + solve)", run_casadi(key, n))
        ratios = [f"CasADi/symgen cold {t_ca / t_cold:.2f}x, warm {t_ca / t_warm:.2f}x"]
        for sm in scipy_methods:
            t_sp = row(f"scipy {sm} (NumPy callbacks)", run_scipy(key, n, sm))
            ratios.append(f"scipy {sm}/symgen cold {t_sp / t_cold:.1f}x, warm {t_sp / t_warm:.1f}x")
        print("  ratios (>1: symgen faster): " + "; ".join(ratios))


if __name__ == "__main__":
    main()
