"""Banded PDE Jacobians: symgen's static-pattern sparse LU vs LAPACK banded LU, one run.

A 1D non-periodic PDE model has a banded Jacobian.  The implicit drivers factor the
Newton matrix ``s I - J`` with the static-pattern sparse LU of
``symgen.drivers.sparse_lu`` (ordering chosen once per pattern: AMD or RCM, whichever
fills less).  This script measures whether a dedicated banded LU would pay: for the
same matrices it times

* symgen: ``sparse_lu_factor`` + ``sparse_lu_solve`` (no pivoting, static pattern);
* LAPACK banded LU through SciPy: ``dgbtrf`` + ``dgbtrs`` (partial pivoting), and
  ``scipy.linalg.solve_banded`` (factor + solve in one call, as most codes use it).

The conversion of the CSR values to LAPACK band storage is *not* timed (a banded path
would have the values kernel write band storage directly).  Models: the stiff
reaction-diffusion system of ``tests/pde/test_pde_stiff.py`` (2 fields, interleaved),
orders 2 and 4.  Prints the bandwidths, the fill of both, times (best of
``--repeat``) and the ratio symgen / LAPACK; the solutions are compared.

Run: python benchmarks/bench_pde_banded.py [--nodes 501,5001,50001] [--repeat 20]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import sympy as sp
from scipy.linalg import lapack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import symgen as sg  # noqa: E402
from symgen.drivers.sparse_lu import sparse_lu_factor, sparse_lu_solve  # noqa: E402
from symgen.solve import sparse_plan  # noqa: E402


def best(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="501,5001,50001")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    print(f"{'order':>5} {'states':>7} {'kl,ku':>6} {'ordering':>8} {'nnz(LU)':>8} {'band nnz':>8} "
          f"{'sym fact':>9} {'sym solve':>9} {'gbtrf':>9} {'gbtrs':>9} {'solve_banded':>12} "
          f"{'fact ratio':>10} {'solve ratio':>11} {'f+s vs solve_banded':>19} {'max diff':>9}")
    for order in (2, 4):
        for nodes in (int(s) for s in args.nodes.split(",")):
            m = sg.compile(_regrid(order, nodes), order=order)
            y = m.initial_vector({"u": lambda X: np.cos(np.pi * X), "v": lambda X: X * (1 - X)})
            jv = m.jac_values(0.1, y)
            n = m.n
            s = 1.0 / 1e-3  # Newton shift 1 / (h gamma) of a typical stiff step
            plan = sparse_plan(m)
            vals = np.empty(plan.indices.size)
            work = np.empty(n)
            b = np.sin(np.arange(n) * 0.37)
            x = b.copy()
            sparse_lu_factor(plan.indptr, plan.indices, plan.diag, plan.amap, jv, s, vals, work)  # warm up
            sparse_lu_solve(plan.indptr, plan.indices, plan.diag, plan.perm, vals, x, work)
            tf = best(lambda: sparse_lu_factor(plan.indptr, plan.indices, plan.diag, plan.amap, jv, s,
                                               vals, work), args.repeat)
            ts = best(lambda: sparse_lu_solve(plan.indptr, plan.indices, plan.diag, plan.perm, vals,
                                              b.copy(), work), args.repeat)
            x = b.copy()
            sparse_lu_solve(plan.indptr, plan.indices, plan.diag, plan.perm, vals, x, work)
            # LAPACK band storage of M = s I - J (not timed)
            M = (s * _eye(n) - m.jac_sparse(0.1, y)).tocoo()
            kl = int(np.max(M.row - M.col))
            ku = int(np.max(M.col - M.row))
            ab = np.zeros((2 * kl + ku + 1, n))
            ab[kl + ku + M.row - M.col, M.col] = M.data
            ab_sb = ab[kl:].copy()
            lu, piv, info = lapack.dgbtrf(ab.copy(), kl, ku)
            assert info == 0
            tg = best(lambda: lapack.dgbtrf(ab.copy(), kl, ku), args.repeat)
            tab_copy = best(lambda: ab.copy(), args.repeat)  # the copy dgbtrf needs (subtracted)
            tgs = best(lambda: lapack.dgbtrs(lu, kl, ku, b, piv), args.repeat)
            xb, _ = lapack.dgbtrs(lu, kl, ku, b, piv)
            tsb = best(lambda: sla.solve_banded((kl, ku), ab_sb, b, check_finite=False), args.repeat)
            diff = np.max(np.abs(x - xb)) / np.max(np.abs(xb))
            tg = max(tg - tab_copy, 1e-9)
            print(f"{order:>5} {n:>7} {kl:>2},{ku:<3} {plan.ordering:>8} {plan.nnz_lu:>8} "
                  f"{(kl + ku + 1) * n:>8} {tf * 1e6:>7.1f}us {ts * 1e6:>7.1f}us {tg * 1e6:>7.1f}us "
                  f"{tgs * 1e6:>7.1f}us {tsb * 1e6:>10.1f}us {tf / tg:>10.2f} {ts / tgs:>11.2f} "
                  f"{(tf + ts) / tsb:>19.2f} {diff:>9.1e}")
    print("ratios < 1: symgen's static-pattern sparse LU is faster than LAPACK's banded LU")


def _eye(n):
    import scipy.sparse as sps
    return sps.identity(n, format="csr")


def _regrid(order, nodes):
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, nodes))
    u, v = sg.fields("u v", g)
    d, d2 = sg.params("d d2")
    return sg.PDESystem([sg.D(u) == d * sg.laplacian(u) - u ** 3 + v,
                         sg.D(v) == d2 * sg.laplacian(v) + u - v], t,
                        bcs=[sg.Dirichlet(u, "x-", sp.sin(3 * t)), sg.Neumann(u, "x+", 0),
                             sg.Robin(v, "x-", 1, 0.5, 0.2), sg.Dirichlet(v, "x+", 1 - sp.exp(-t))],
                        defaults={d: 0.5, d2: 0.05}, name="rd1d_banded")


if __name__ == "__main__":
    main()
