"""symgen.opt vs CasADi+IPOPT vs scipy.optimize on HS071, extended Rosenbrock n=10^4 and a
sparse constrained problem with 10^4 variables (``chain``: a coupled inequality per
neighbour pair, one dense equality, bounds).

Every peer gets the same problem, start point and a tolerance of 1e-8.  Every timing is
end to end (building the problem from its symbolic form, derivatives, kernels, solve)
and is taken in a fresh worker process (``--worker``), so process state is explicit:

* ``import``: importing the peer's libraries in a new process (reported, not in the
  ratios);
* symgen ``new process``: the first solve in a new process, including Numba's
  per-process start (loading the cached, precompiled drivers and the tape evaluator),
  with an empty kernel cache (``cold``) or a populated one (``warm cache``);
* symgen ``after start-up``: the same, after the process solved a different small
  model (the per-process start paid, like CasADi's plugin already loaded);
* ``in-process repeat``: the same problem built and solved again in the same process
  (symgen: kernels found in the cache; CasADi and scipy: everything rebuilt).

CasADi+IPOPT: SX expression graph, ``nlpsol`` construction (derivatives by CasADi's AD),
IPOPT solve (MUMPS), print level 0.  scipy: ``minimize`` with hand-written vectorized
NumPy callbacks (gradient, sparse Hessian and Jacobian); ``trust-constr`` (and SLSQP for
HS071).

Run: python benchmarks/bench_opt.py [--n 10000] [--skip-scipy-chain]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# ---- the three problems in symgen's DSL ------------------------------------------------
def sg_hs071():
    import sympy as sp
    import symgen.opt as so
    m = so.OptModel("hs071")
    x = m.var("x", 4, lb=1, ub=5, init=[1, 5, 5, 1])
    m.minimize(x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2])
    m.subject_to(x[0] * x[1] * x[2] * x[3] >= 25)
    m.subject_to(sp.Eq(x[0]**2 + x[1]**2 + x[2]**2 + x[3]**2, 40))
    return m


def sg_rosen(n):
    import sympy as sp
    import symgen.opt as so
    m = so.OptModel("ext-rosenbrock")
    x = m.var("x", n, init=[-1.2, 1.0] * (n // 2))
    i = so.index("i")
    m.minimize(sp.Sum(100 * (x[2 * i + 1] - x[2 * i]**2)**2 + (1 - x[2 * i])**2, (i, 0, n // 2 - 1)))
    return m


def sg_chain(n):
    import sympy as sp
    import symgen.opt as so
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
    import numpy as np
    import scipy.optimize as sopt
    import scipy.sparse as sps
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


BUILDERS = {"hs071": lambda n: sg_hs071(), "rosen": sg_rosen, "chain": sg_chain}


def _warm_up():
    """Per-process start of symgen: a different small model through every driver and
    both kernel paths (tape, LLVM)."""
    import sympy as sp
    import symgen.opt as so
    m = so.OptModel("warm-up")
    v = m.var("v", 2, lb=0, init=[2, 2])
    m.minimize((v[0] - 1)**2 + v[1]**2 + sp.exp(v[0] * v[1]) / 10)
    m.subject_to(v[0] * v[1] >= 0.1)
    for backend in ("tape", "llvm"):
        cm = m.compile(cache=False, backend=backend)
        cm.minimize(method="ipm")
    u = so.OptModel("warm-up-bounds")
    w = u.var("w", 2, lb=-1, ub=3, init=[2, 2])
    u.minimize((w[0] - 1)**2 + (w[1] - w[0]**2)**2)
    for backend in ("tape", "llvm"):
        cu = u.compile(cache=False, backend=backend)
        cu.minimize(method="tron")
        cu.minimize(method="lbfgsb")


def worker(peer, case, n, method, warm_up, cache):
    """One measurement in this (fresh) process; prints a JSON line."""
    t0 = time.perf_counter()
    if peer == "symgen":
        import numpy  # noqa: F401
        import sympy  # noqa: F401
        import symgen.opt  # noqa: F401
        import symgen.opt.drivers.common  # noqa: F401  (imports Numba)
        os.environ["SYMGEN_CACHE_DIR"] = cache
    elif peer == "casadi":
        import casadi  # noqa: F401
    else:
        import numpy  # noqa: F401
        import scipy.optimize  # noqa: F401
        import scipy.sparse  # noqa: F401
    out = {"import": time.perf_counter() - t0}
    if warm_up:
        t = time.perf_counter()
        _warm_up()
        out["warm_up"] = time.perf_counter() - t

    def once():
        if peer == "symgen":
            return run_symgen(lambda: BUILDERS[case](n), method)
        if peer == "casadi":
            return run_casadi(case, n)
        return run_scipy(case, n, method)
    out["first"], out["iters"], out["f"], out["ok"] = once()
    if not (peer == "scipy" and out["first"] > 20.0):
        out["repeat"] = once()[0]
    print("RESULT " + json.dumps(out))


def _spawn(peer, case, n, method="", warm_up=False, cache=""):
    cmd = [sys.executable, __file__, "--worker", peer, case, str(n), method or "-", "1" if warm_up else "0",
           cache or "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker {cmd} failed:\n{proc.stdout}\n{proc.stderr}")


def row(label, t, r):
    conv = "" if r["ok"] else "  (not converged)"
    print(f"  {label:52s} {t:9.4f} s  {r['iters']:6d} it  f = {r['f']:.10g}{conv}")
    return t


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--skip-scipy-chain", action="store_true",
                    help="skip scipy trust-constr on the 10^4-variable constrained problem (slow)")
    ap.add_argument("--worker", nargs=6, metavar=("PEER", "CASE", "N", "METHOD", "WARMUP", "CACHE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        peer, case, n, method, warm, cache = args.worker
        worker(peer, case, int(n), None if method == "-" else method, warm == "1", cache)
        return
    n = args.n
    cases = [("hs071", "HS071 (4 vars, 2 constraints)", "ipm", ["SLSQP", "trust-constr"]),
             ("rosen", f"extended Rosenbrock n={n}", "tron", ["trust-constr"]),
             ("chain", f"chain n={n} ({n - 1} inequalities + 1 equality, bounds)", "ipm",
              [] if args.skip_scipy_chain else ["trust-constr"])]
    print("times in seconds, each in a fresh process; ratios > 1: symgen faster")
    for case, title, method, scipy_methods in cases:
        print(f"\n{title}")
        cold_dir = tempfile.mkdtemp(prefix="symgen-bench-opt-")
        a = _spawn("symgen", case, n, method, False, cold_dir)
        cache = tempfile.mkdtemp(prefix="symgen-bench-opt-")
        b = _spawn("symgen", case, n, method, True, cache)
        c = _spawn("symgen", case, n, method, True, cache)
        d = _spawn("symgen", case, n, method, False, cache)
        sg = {"cold, new process": row(f"symgen {method}: cold, new process (empty cache)", a["first"], a),
              "cold after start-up": row(f"symgen {method}: cold after start-up ({b['warm_up']:.2f} s)",
                                         b["first"], b),
              "warm cache, new process": row(f"symgen {method}: warm cache, new process", d["first"], d),
              "warm cache after start-up": row(f"symgen {method}: warm cache after start-up", c["first"], c),
              "in-process repeat": row(f"symgen {method}: in-process repeat", c["repeat"], c)}
        if case == "rosen":
            for extra in ("lbfgsb", "ipm"):
                e = _spawn("symgen", case, n, extra, True, cache)
                row(f"symgen {extra}: warm cache after start-up", e["first"], e)
        print(f"  (imports in a new process: symgen {a['import']:.2f} s)")
        peers = {}
        ca = _spawn("casadi", case, n)
        peers["CasADi+IPOPT"] = (ca["first"], ca.get("repeat"))
        row("CasADi + IPOPT: new process", ca["first"], ca)
        row("CasADi + IPOPT: in-process repeat", ca["repeat"], ca)
        print(f"  (imports in a new process: casadi {ca['import']:.2f} s)")
        for sm in scipy_methods:
            r = _spawn("scipy", case, n, sm)
            peers[f"scipy {sm}"] = (r["first"], r.get("repeat"))
            row(f"scipy {sm}: new process", r["first"], r)
            if "repeat" in r:
                row(f"scipy {sm}: in-process repeat", r["repeat"], r)
        for name, (first, rep) in peers.items():
            parts = [f"{k} {first / v:.2f}x" for k, v in sg.items() if k != "in-process repeat"]
            if rep is not None:
                parts.append(f"in-process repeat {rep / sg['in-process repeat']:.2f}x")
            print(f"  {name}/symgen: " + ", ".join(parts))
        shutil.rmtree(cold_dir, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
