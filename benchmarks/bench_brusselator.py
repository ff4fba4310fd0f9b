"""Scalarized 2D Brusselator (issue 3): cold pipeline time, kernel speed against a
hand-written Numba loop, and a stiff solve against SciPy BDF (vectorized NumPy RHS +
analytic sparse Jacobian) and, when installed, CasADi's CVODES -- all in one run.

Run: python benchmarks/bench_brusselator.py [--N 32 64] [--solve-N 32] [--backend llvm]
(CasADi from PyPI for the CVODES line: pip install casadi)
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sps
from numba import njit
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import brusselator  # noqa: E402

import symgen as sg  # noqa: E402

A_, B_ = 3.4, 1.0


@njit(cache=True)
def hand_rhs(t, y, alpha, force, out):
    N = force.shape[0]
    for i in range(N):
        for j in range(N):
            ip, im, jp, jm = (i + 1) % N, (i - 1) % N, (j + 1) % N, (j - 1) % N
            k = 2 * (i * N + j)
            u, v = y[k], y[k + 1]
            lu = y[2 * (im * N + j)] + y[2 * (ip * N + j)] + y[2 * (i * N + jp)] + y[2 * (i * N + jm)] - 4 * u
            lv = y[2 * (im * N + j) + 1] + y[2 * (ip * N + j) + 1] + y[2 * (i * N + jp) + 1] \
                + y[2 * (i * N + jm) + 1] - 4 * v
            f = force[i, j] if t >= 1.1 else 0.0
            out[k] = alpha * lu + B_ + u * u * v - (A_ + 1) * u + f
            out[k + 1] = alpha * lv + A_ * u - u * u * v


@njit(cache=True)
def hand_jac_values(t, y, alpha, N, out):
    """The 12 N^2 Jacobian values (own 5-point stencil + the coupling), row by row."""
    m = 0
    for c in range(N * N):
        u, v = y[2 * c], y[2 * c + 1]
        for r in range(2):
            for q in range(4):
                out[m] = alpha
                m += 1
            if r == 0:
                out[m] = -4 * alpha + 2 * u * v - (A_ + 1)
                out[m + 1] = u * u
            else:
                out[m] = A_ - 2 * u * v
                out[m + 1] = -4 * alpha - u * u
            m += 2


@njit(cache=True)
def repeat_kernel(f, t, y, p, out, reps):
    """``reps`` calls of a model kernel inside compiled code (no Python dispatch per call)."""
    for _ in range(reps):
        f(t, y.ctypes, p.ctypes, out.ctypes)


@njit(cache=True)
def repeat_hand_rhs(t, y, alpha, force, out, reps):
    for _ in range(reps):
        hand_rhs(t, y, alpha, force, out)


@njit(cache=True)
def repeat_hand_jac(t, y, alpha, N, out, reps):
    for _ in range(reps):
        hand_jac_values(t, y, alpha, N, out)


def numpy_problem(N):
    xy, dx = brusselator.grid(N)
    alpha = 10.0 / dx**2
    X, Y = np.meshgrid(xy, xy, indexing="ij")
    disk = ((X - 0.3) ** 2 + (Y - 0.6) ** 2 <= 0.01).astype(float) * 5.0
    n = 2 * N * N

    def lap(a):
        return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4 * a

    def f(t, y):
        w = y.reshape(N, N, 2)
        u, v = w[..., 0], w[..., 1]
        du = alpha * lap(u) + B_ + u * u * v - (A_ + 1) * u + (disk if t >= 1.1 else 0.0)
        dv = alpha * lap(v) + A_ * u - u * u * v
        return np.stack([du, dv], -1).reshape(-1)

    idx = np.arange(N * N).reshape(N, N)
    rows, cols = [], []
    for s in (np.roll(idx, 1, 0), np.roll(idx, -1, 0), np.roll(idx, 1, 1), np.roll(idx, -1, 1)):
        for fld in (0, 1):
            rows.append(2 * idx.ravel() + fld)
            cols.append(2 * s.ravel() + fld)
    L = sps.csr_matrix((np.full(sum(r.size for r in rows), alpha), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n, n))

    def jac(t, y):
        w = y.reshape(-1, 2)
        u, v = w[:, 0], w[:, 1]
        d = np.empty(n)
        d[0::2] = -4 * alpha + 2 * u * v - (A_ + 1)
        d[1::2] = -4 * alpha - u * u
        up = np.zeros(n - 1)
        up[0::2] = u * u
        lo = np.zeros(n - 1)
        lo[0::2] = A_ - 2 * u * v
        return (L + sps.diags([lo, d, up], [-1, 0, 1])).tocsc()

    return f, jac, disk, alpha


def best(fn, repeat=5):
    b = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t0)
    return b


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--N", type=int, nargs="+", default=[32])
    ap.add_argument("--solve-N", type=int, default=32)
    ap.add_argument("--backend", default="llvm")
    args = ap.parse_args(argv)
    os.environ["SYMGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-bru-")  # cold pipeline
    models = {}
    for N in args.N:
        t0 = time.perf_counter()
        system = brusselator.build(N)
        t1 = time.perf_counter()
        model = sg.compile(system, backend=args.backend)
        t2 = time.perf_counter()
        y = brusselator.initial(N)
        p = model.param_vector({})
        model.jac_sparse(2.0, y, p)
        t3 = time.perf_counter()
        models[N] = model
        print(f"N={N} ({2 * N * N} states): DSL build {t1 - t0:.2f} s, compile {t2 - t1:.2f} s, "
              f"first Jacobian {t3 - t2:.2f} s; stages "
              + ", ".join(f"{k} {v:.2f}" for k, v in model.timings.items()))
        _, _, disk, alpha = numpy_problem(N)
        out = np.empty(2 * N * N)
        jv = np.empty(model.jac_sparsity.nnz)
        hv = np.empty(12 * N * N)
        k = model.kernels
        reps = 2000
        ours_f = best(lambda: repeat_kernel(k.rhs, 2.0, y, p, out, reps)) / reps
        hand_f = best(lambda: repeat_hand_rhs(2.0, y, alpha, disk, out, reps)) / reps
        ours_j = best(lambda: repeat_kernel(k.jac_values, 2.0, y, p, jv, reps)) / reps
        hand_j = best(lambda: repeat_hand_jac(2.0, y, alpha, N, hv, reps)) / reps
        print(f"   rhs: symgen {ours_f * 1e6:.2f} us, hand Numba {hand_f * 1e6:.2f} us, ratio {ours_f / hand_f:.2f}; "
              f"jac values: symgen {ours_j * 1e6:.2f} us, hand {hand_j * 1e6:.2f} us, ratio {ours_j / hand_j:.2f}")
    N = args.solve_N
    model = models.get(N) or sg.compile(brusselator.build(N), backend=args.backend)
    y0 = brusselator.initial(N)
    f, jac, _, _ = numpy_problem(N)
    span, tol = (0.0, 11.5), 1e-6
    res = {}
    t_scipy = best(lambda: res.__setitem__("scipy", solve_ivp(f, span, y0, method="BDF", rtol=tol, atol=tol,
                                                               jac=jac)), 1)
    ref = solve_ivp(f, span, y0, method="BDF", rtol=1e-10, atol=1e-10, jac=jac).y[:, -1]
    e_scipy = np.max(np.abs(res["scipy"].y[:, -1] - ref)) / np.max(np.abs(ref))
    print(f"solve N={N} [0, 11.5] rtol=atol={tol}: SciPy BDF {t_scipy:.2f} s (err {e_scipy:.1e}, "
          f"{res['scipy'].nlu} LU)")
    t_ours = None
    # like SciPy's solve_ivp (no dense_output) and CVODES: the accepted steps, no dense output
    for meth, lin in (("radau5", "auto"), ("bdf", "auto"), ("bdf", "krylov")):
        key = f"{meth}/{lin}"
        kw = dict(method=meth, rtol=tol, atol=tol, dense=False, linear_solver=lin)
        model.solve(y0, span, **kw)   # driver compiled / loaded
        t_m = best(lambda: res.__setitem__(key, model.solve(y0, span, **kw)), 3)
        e_m = np.max(np.abs(res[key].y[:, -1] - ref)) / np.max(np.abs(ref))
        agree = np.max(np.abs(res[key].y[:, -1] - res["scipy"].y[:, -1])) / np.max(np.abs(ref))
        st = res[key].stats
        print(f"   symgen {meth} ({res[key].linear_solver}): {t_m:.3f} s (err {e_m:.1e}, vs SciPy's final state "
              f"{agree:.1e}; {st['steps']} steps, {st['nlu']} LU, {st['linear_solves']} linear solves) | "
              f"SciPy BDF / symgen {meth}: {t_scipy / t_m:.1f}x")
        t_ours = t_m if t_ours is None else min(t_ours, t_m)
        res["ours"] = res[key] if t_ours == t_m else res["ours"]
    try:
        import casadi as ca
    except ImportError:
        print("casadi not installed: CVODES comparison skipped (pip install casadi)")
        return
    # the same model in CasADi SX (vectorized over the grid), integrated by CVODES (BDF)
    # with its own sparse direct solver; output at the final time only
    xy, dx = brusselator.grid(N)
    alpha = 10.0 / dx**2
    n = 2 * N * N
    x = ca.SX.sym("x", n)
    t = ca.SX.sym("t")
    U = ca.reshape(x[0::2], N, N)  # element (i, j) = u[i*N + j] after the transpose below
    V = ca.reshape(x[1::2], N, N)
    U, V = U.T, V.T

    def lap(a):
        return (ca.vertcat(a[N - 1, :], a[:N - 1, :]) + ca.vertcat(a[1:, :], a[0, :])
                + ca.horzcat(a[:, N - 1], a[:, :N - 1]) + ca.horzcat(a[:, 1:], a[:, 0]) - 4 * a)

    _, _, disk, _ = numpy_problem(N)
    F = ca.if_else(t >= 1.1, 1.0, 0.0) * ca.DM(disk)
    dU = alpha * lap(U) + B_ + U * U * V - (A_ + 1) * U + F
    dV = alpha * lap(V) + A_ * U - U * U * V
    rhs = ca.vec(ca.vertcat(ca.vec(dU.T).T, ca.vec(dV.T).T))
    dae = {"x": x, "t": t, "ode": rhs}
    t_build = time.perf_counter()
    try:
        integ = ca.integrator("bru", "cvodes", dae, 0.0, [span[1]],
                              {"abstol": tol, "reltol": tol, "max_num_steps": 100000})
    except RuntimeError as exc:
        print(f"CasADi CVODES setup failed: {exc}")
        return
    t_build = time.perf_counter() - t_build
    xf = {}
    t_cv = best(lambda: xf.__setitem__("x", np.array(integ(x0=y0)["xf"]).ravel()), 1)
    e_cv = np.max(np.abs(xf["x"] - ref)) / np.max(np.abs(ref))
    agree = np.max(np.abs(xf["x"] - res["ours"].y[:, -1])) / np.max(np.abs(ref))
    print(f"CasADi {ca.__version__} CVODES: {t_cv:.2f} s (err {e_cv:.1e}, vs symgen's final state {agree:.1e}; "
          f"setup {t_build:.2f} s) | ratio CVODES / symgen (fastest symgen method) {t_cv / t_ours:.1f}x")


if __name__ == "__main__":
    main()
