"""Stiff reaction-diffusion of growing size: symgen Radau IIA with dense LU vs the
static-pattern sparse LU vs SciPy's BDF with a vectorized NumPy RHS and an analytic
sparse Jacobian.  One run, same machine, same tolerances; prints times and ratios.

Models (both compiled through ``sg.compile`` from scalarized SymPy equations):

* ``--dim 1``: the 1-D Brusselator of Hairer & Wanner II (BRUSS), ``2 N`` states,
  alpha = 1/50, Dirichlet values u = 1, v = 3, t in [0, 10];
* ``--dim 2``: the 2-D Brusselator of SciMLBenchmarks (periodic N x N grid, alpha = 10,
  forcing switched on at t = 1.1), ``2 N^2`` states, t in [0, 11.5].

Times exclude compilation (the drivers and kernels are warmed up first); the plan
(ordering + symbolic factorization, once per model) is timed separately.  The column
``max rel diff`` compares each final state with symgen's sparse solve.

Run: python benchmarks/bench_sparse_stiff.py [--dim 1] [--sizes 25,50,100,250,500]
     [--rtol 1e-6] [--dense-max 520] [--repeat 1] [--backend auto]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sps
import sympy as sp
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import symgen as sg  # noqa: E402
from symgen.solve import sparse_plan  # noqa: E402
from brusselator import build_1d as bruss1d_system  # noqa: E402


# ---- 1-D Brusselator ------------------------------------------------------------------------
def bruss1d_numpy(N, alpha=1.0 / 50.0):
    """Vectorized RHS and analytic sparse Jacobian in the layout (u_0..u_{N-1}, v_0..v_{N-1})."""
    c = alpha * (N + 1) ** 2
    T = sps.diags([np.full(N - 1, c), np.full(N, -2 * c), np.full(N - 1, c)], [-1, 0, 1], format="csr")

    def f(t, y):
        u, v = y[:N], y[N:]
        ue = np.concatenate([[1.0], u, [1.0]])
        ve = np.concatenate([[3.0], v, [3.0]])
        uuv = u * u * v
        return np.concatenate([1 + uuv - 4 * u + c * (ue[:-2] - 2 * u + ue[2:]),
                               3 * u - uuv + c * (ve[:-2] - 2 * v + ve[2:])])

    def jac(t, y):
        u, v = y[:N], y[N:]
        return sps.bmat([[T + sps.diags(2 * u * v - 4), sps.diags(u * u)],
                         [sps.diags(3 - 2 * u * v), T - sps.diags(u * u)]], format="csc")

    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.concatenate([1.0 + np.sin(2 * np.pi * x), np.full(N, 3.0)])

    def y0_of(name, idx):
        return y0[idx[0]] if name == "u" else 3.0

    return f, jac, y0, y0_of, (0.0, 10.0)


# ---- 2-D Brusselator (SciMLBenchmarks form) ------------------------------------------------
def _forced_points(N):
    xs = np.linspace(0.0, 1.0, N)
    return [(i, j) for i in range(N) for j in range(N) if (xs[i] - 0.3) ** 2 + (xs[j] - 0.6) ** 2 <= 0.01]


def bruss2d_system(N):
    t = sg.time()
    u = sg.states("u", shape=(N, N))
    v = sg.states("v", shape=(N, N))
    alpha = sg.params("alpha")
    a = alpha * (N - 1) ** 2
    forced = set(_forced_points(N))
    force = sp.Piecewise((5.0, t >= 1.1), (0.0, True))
    eqs = []
    for i in range(N):
        for j in range(N):
            ip, im, jp, jm = (i + 1) % N, (i - 1) % N, (j + 1) % N, (j - 1) % N
            lu = u[im, j] + u[ip, j] + u[i, jp] + u[i, jm] - 4 * u[i, j]
            lv = v[im, j] + v[ip, j] + v[i, jp] + v[i, jm] - 4 * v[i, j]
            uuv = u[i, j] ** 2 * v[i, j]
            fu = 1 + uuv - sp.Rational(44, 10) * u[i, j] + a * lu + (force if (i, j) in forced else 0)
            eqs.append(sg.D(u[i, j]) == fu)
            eqs.append(sg.D(v[i, j]) == sp.Rational(34, 10) * u[i, j] - uuv + a * lv)
    return sg.ODESystem(eqs, t, defaults={alpha: 10.0}, name=f"bench_bruss2d_{N}")


def bruss2d_numpy(N, alpha=10.0):
    """Vectorized RHS and analytic sparse Jacobian in the layout (u_ij, v_ij) per point,
    points row-major."""
    a = alpha * (N - 1) ** 2
    xs = np.linspace(0.0, 1.0, N)
    mask = np.zeros((N, N))
    for i, j in _forced_points(N):
        mask[i, j] = 1.0
    e = np.ones(N)
    P = sps.diags([e[:-1], -2 * e, e[:-1]], [-1, 0, 1], format="lil")
    P[0, N - 1] = 1.0
    P[N - 1, 0] = 1.0
    I = sps.identity(N)
    Lap = (sps.kron(P, I) + sps.kron(I, P)).tocsr() * a
    M = N * N
    # interleave: state 2k is u at point k, 2k+1 is v
    Su = sps.csr_matrix((np.ones(M), (np.arange(M) * 2, np.arange(M))), shape=(2 * M, M))
    Sv = sps.csr_matrix((np.ones(M), (np.arange(M) * 2 + 1, np.arange(M))), shape=(2 * M, M))
    Lap2 = (Su @ Lap @ Su.T + Sv @ Lap @ Sv.T).tocsr()

    def lap(w):
        return a * (np.roll(w, 1, 0) + np.roll(w, -1, 0) + np.roll(w, 1, 1) + np.roll(w, -1, 1) - 4 * w)

    def f(t, y):
        Y = y.reshape(N, N, 2)
        u, v = Y[..., 0], Y[..., 1]
        uuv = u * u * v
        out = np.empty_like(Y)
        out[..., 0] = 1 + uuv - 4.4 * u + lap(u) + (5.0 * mask if t >= 1.1 else 0.0)
        out[..., 1] = 3.4 * u - uuv + lap(v)
        return out.ravel()

    def jac(t, y):
        u, v = y[0::2], y[1::2]
        d_uu = 2 * u * v - 4.4
        d_uv = u * u
        d_vu = 3.4 - 2 * u * v
        d_vv = -u * u
        main = np.empty(2 * M)
        main[0::2], main[1::2] = d_uu, d_vv
        up = np.zeros(2 * M - 1)
        up[0::2] = d_uv
        lo = np.zeros(2 * M - 1)
        lo[0::2] = d_vu
        return (Lap2 + sps.diags([lo, main, up], [-1, 0, 1])).tocsc()

    X, Yg = np.meshgrid(xs, xs, indexing="ij")
    U0 = 22.0 * (Yg * (1 - Yg)) ** 1.5
    V0 = 27.0 * (X * (1 - X)) ** 1.5
    y0 = np.stack([U0, V0], axis=-1).ravel()

    def y0_of(name, idx):
        return U0[idx] if name == "u" else V0[idx]

    return f, jac, y0, y0_of, (0.0, 11.5)


# ---- harness ---------------------------------------------------------------------------------
def _state_vector(model, y0_of):
    y = np.empty(len(model.states))
    for k, s in enumerate(model.states):
        name, rest = str(s).split("[", 1)
        idx = tuple(int(x) for x in rest.rstrip("]").split(","))
        y[k] = y0_of(name, idx)
    return y


def best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=1, choices=(1, 2))
    ap.add_argument("--sizes", default=None, help="grid sizes N (default 1-D: 25,50,100,250,500; 2-D: 8,16)")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=None)
    ap.add_argument("--dense-max", type=int, default=520, help="skip dense LU above this many states")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--backend", default="auto",
                    help="symgen backend (auto: llvm when registered, else numba)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("25,50,100,250,500" if args.dim == 1 else "8,16")).split(",")]
    atol = args.rtol if args.atol is None else args.atol
    backend = args.backend
    if backend == "auto":
        from symgen.backends import BACKENDS
        backend = "llvm" if "llvm" in BACKENDS else "numba"
    build = bruss1d_system if args.dim == 1 else bruss2d_system
    numpy_model = bruss1d_numpy if args.dim == 1 else bruss2d_numpy
    print(f"{args.dim}-D Brusselator, rtol={args.rtol:g}, atol={atol:g}, backend={backend}, "
          f"best of {args.repeat}")
    hdr = (f"{'N':>5} {'states':>6} {'nnz J':>7} {'nnz LU':>8} {'ord':>4} {'plan s':>7} {'build s':>8} | "
           f"{'dense s':>8} {'sparse s':>9} {'scipy BDF s':>11} | {'dense/sparse':>12} {'BDF/sparse':>10} | "
           f"{'max rel diff dense, BDF':>24} | sparse stats")
    print(hdr)
    print("-" * len(hdr))
    for N in sizes:
        t0 = time.perf_counter()
        model = sg.compile(build(N), backend=backend)
        t_build = time.perf_counter() - t0
        n = len(model.states)
        f, jac, _, y0_of, span = numpy_model(N)
        y0 = _state_vector(model, y0_of)
        t0 = time.perf_counter()
        plan = sparse_plan(model)
        t_plan = time.perf_counter() - t0
        kw = dict(method="radau5", rtol=args.rtol, atol=atol, dense=False)
        # warm up (driver load from Numba's cache, first kernel calls)
        model.solve(y0, (span[0], span[0] + 1e-3), linear_solver="sparse", **kw)
        t_sp, s_sp = best_of(lambda: model.solve(y0, span, linear_solver="sparse", **kw), args.repeat)
        assert s_sp.status == 0, s_sp.message
        ref = s_sp.y[:, -1]
        scale = np.maximum(np.abs(ref), 1e-3 * np.abs(ref).max())
        if n <= args.dense_max:
            model.solve(y0, (span[0], span[0] + 1e-3), linear_solver="dense", **kw)
            t_de, s_de = best_of(lambda: model.solve(y0, span, linear_solver="dense", **kw), args.repeat)
            d_de = np.max(np.abs(s_de.y[:, -1] - ref) / scale)
        else:
            t_de, d_de = np.nan, np.nan
        # SciPy in its own layout: map our state order onto it
        perm = _scipy_order(model, N, args.dim)
        t_bdf, s_bdf = best_of(lambda: solve_ivp(f, span, y0[perm], method="BDF", rtol=args.rtol, atol=atol,
                                                 jac=jac), args.repeat)
        assert s_bdf.status == 0, s_bdf.message
        back = np.empty(n)
        back[perm] = s_bdf.y[:, -1]
        d_bdf = np.max(np.abs(back - ref) / scale)
        st = s_sp.stats
        print(f"{N:>5} {n:>6} {model.jac_sparsity.nnz:>7} {plan.nnz_lu:>8} {plan.ordering:>4} {t_plan:>7.3f} "
              f"{t_build:>8.2f} | {t_de:>8.3f} {t_sp:>9.3f} {t_bdf:>11.3f} | {t_de / t_sp:>12.1f} "
              f"{t_bdf / t_sp:>10.1f} | {d_de:>11.1e} {d_bdf:>12.1e} | steps={st['steps']} nlu={st['nlu']} "
              f"njev={st['njev']} nfev={st['nfev']}")


def _scipy_order(model, N, dim):
    """``perm[k]``: index in our state vector of SciPy-layout state ``k``."""
    n = len(model.states)
    perm = np.empty(n, np.int64)
    for k, s in enumerate(model.states):
        name, rest = str(s).split("[", 1)
        idx = tuple(int(x) for x in rest.rstrip("]").split(","))
        if dim == 1:
            pos = idx[0] + (N if name == "v" else 0)
        else:
            pos = 2 * (idx[0] * N + idx[1]) + (1 if name == "v" else 0)
        perm[pos] = k
    return perm


if __name__ == "__main__":
    main()
