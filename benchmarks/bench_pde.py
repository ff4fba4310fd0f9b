"""PDE stencil kernels (issue 4), all in one run:

1. RHS throughput (grid points per second) of the explicit 2D heat equation
   ``u' = alpha lap(u)`` (zero Dirichlet boundaries, order 2) against a hand-written
   Numba loop, both called from compiled code;
2. the same equation stepped with forward Euler for the same grid and steps by symgen
   (compiled RHS kernel + a compiled Euler loop), the hand-written loop, and Devito
   (``pip install devito``; if it is missing or fails the line says so);
3. pipeline time (PDE model -> compiled RHS + Jacobian, cold: fresh cache) and the size
   of the generated source of the 2D Brusselator in PDE form at N = 32 and N = 1024
   (plus, where ``parallel="auto"`` picks threads, the compile of the prange kernels on
   their first use).

Items 1-2 time the serial kernels (``parallel=False``) against the one-thread hand loop
and print the default (``parallel="auto"``) kernel beside them.

Run: python benchmarks/bench_pde.py [--N 512] [--steps 200] [--pipeline-N 32 1024]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import brusselator_pde  # noqa: E402

import symgen as sg  # noqa: E402


@njit(cache=True)
def hand_heat(u, c, out):
    """Interior of an (n+2) x (n+2) node grid with zero boundary values; u, out: n x n."""
    n0, n1 = u.shape
    for i in range(n0):
        for j in range(n1):
            s = -4.0 * u[i, j]
            if i > 0:
                s += u[i - 1, j]
            if i < n0 - 1:
                s += u[i + 1, j]
            if j > 0:
                s += u[i, j - 1]
            if j < n1 - 1:
                s += u[i, j + 1]
            out[i, j] = c * s


@njit(cache=True)
def hand_heat_split(u, c, out):
    """Hand-written loop without branches in the interior (the fast way to write it)."""
    n0, n1 = u.shape
    for i in range(1, n0 - 1):
        for j in range(1, n1 - 1):
            out[i, j] = c * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j])
    for i in range(n0):
        for j in range(n1):
            if i == 0 or j == 0 or i == n0 - 1 or j == n1 - 1:
                s = -4.0 * u[i, j]
                if i > 0:
                    s += u[i - 1, j]
                if i < n0 - 1:
                    s += u[i + 1, j]
                if j > 0:
                    s += u[i, j - 1]
                if j < n1 - 1:
                    s += u[i, j + 1]
                out[i, j] = c * s


@njit(cache=True)
def repeat_kernel(f, y, p, out, reps):
    for _ in range(reps):
        f(0.0, y.ctypes, p.ctypes, out.ctypes)


@njit(cache=True)
def repeat_hand(u, c, out, reps):
    for _ in range(reps):
        hand_heat_split(u, c, out)


@njit(cache=True)
def euler_kernel(f, y, p, dt, steps):
    k = np.empty_like(y)
    for _ in range(steps):
        f(0.0, y.ctypes, p.ctypes, k.ctypes)
        for i in range(y.shape[0]):
            y[i] += dt * k[i]


@njit(cache=True)
def euler_hand(u, c, dt, steps):
    k = np.empty_like(u)
    for _ in range(steps):
        hand_heat_split(u, c, k)
        for i in range(u.shape[0]):
            for j in range(u.shape[1]):
                u[i, j] += dt * k[i, j]


def best(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def heat_model(N, alpha=1.0, parallel=False):
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, N + 2), y=(0.0, 1.0, N + 2))
    u = sg.fields("u", g)
    a = sg.params("alpha")
    bcs = [sg.Dirichlet(u, s, 0) for s in ("x-", "x+", "y-", "y+")]
    return sg.compile(sg.PDESystem([sg.D(u) == a * sg.laplacian(u)], t, bcs=bcs, defaults={a: alpha},
                                   name="heat2d_bench"), parallel=parallel), g


def devito_heat(N, u0, alpha, dt, steps):
    """Forward Euler with Devito on the same (N+2)^2 node grid; returns (seconds, u)."""
    from devito import Eq, Grid, Operator, TimeFunction, configuration, solve  # noqa: F401
    configuration["log-level"] = "ERROR"
    grid = Grid(shape=(N + 2, N + 2), extent=(1.0, 1.0), dtype=np.float64)
    u = TimeFunction(name="u", grid=grid, space_order=2, dtype=np.float64)
    u.data[0, 1:-1, 1:-1] = u0
    u.data[0, 0, :] = u.data[0, -1, :] = u.data[0, :, 0] = u.data[0, :, -1] = 0.0
    u.data[1] = u.data[0]
    eq = Eq(u.forward, u + dt * alpha * u.laplace, subdomain=grid.interior)
    op = Operator([eq])
    op.apply(time_M=0, dt=dt)  # JIT compile outside the timing
    u.data[0, 1:-1, 1:-1] = u0
    u.data[1, 1:-1, 1:-1] = u0
    t0 = time.perf_counter()
    op.apply(time_m=0, time_M=steps - 1, dt=dt)
    secs = time.perf_counter() - t0
    return secs, np.array(u.data[steps % 2, 1:-1, 1:-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--N", type=int, default=512, help="unknowns per axis of the heat grid")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--pipeline-N", type=int, nargs="*", default=[32, 1024])
    args = ap.parse_args()
    N = args.N

    # -- 1. RHS throughput ------------------------------------------------------------
    model, g = heat_model(N)
    h = g.axes[0].h
    c = 1.0 / (h * h)
    rng = np.random.default_rng(0)
    y = rng.random(N * N)
    p = model.param_vector(None)
    out = np.empty(N * N)
    u2, o2 = y.reshape(N, N).copy(), np.empty((N, N))
    repeat_kernel(model.kernels.rhs, y, p, out, 1)
    repeat_hand(u2, c, o2, 1)
    assert np.allclose(out, o2.ravel(), rtol=1e-12, atol=1e-9 * np.abs(o2).max()), "kernels disagree"
    reps = max(1, int(2e8 // (N * N * 10)))
    ts = best(lambda: repeat_kernel(model.kernels.rhs, y, p, out, reps)) / reps
    th = best(lambda: repeat_hand(u2, c, o2, reps)) / reps
    print(f"2D heat RHS, {N}x{N} points (order 2, Dirichlet), one thread:")
    print(f"  symgen stencil kernel : {ts * 1e6:9.1f} us/call  {N * N / ts / 1e6:8.1f} Mpoints/s")
    print(f"  hand-written Numba    : {th * 1e6:9.1f} us/call  {N * N / th / 1e6:8.1f} Mpoints/s")
    print(f"  ratio symgen/hand     : {ts / th:6.2f}x time")
    auto, _ = heat_model(N, parallel="auto")  # the default: prange body from PAR_MIN_RHS values on
    repeat_kernel(auto.kernels.rhs, y, p, out, 1)
    ta = best(lambda: repeat_kernel(auto.kernels.rhs, y, p, out, reps)) / reps
    print(f"  symgen, parallel='auto' (default; threads: {auto.kernels.uses_threads()['rhs']}): "
          f"{ta * 1e6:9.1f} us/call  {N * N / ta / 1e6:8.1f} Mpoints/s  ({ta / th:5.2f}x the one-thread hand loop)")

    # -- 2. forward Euler: symgen vs hand vs Devito ----------------------------------------
    dt = 0.2 * h * h
    u0 = rng.random((N, N))
    ys = u0.ravel().copy()
    euler_kernel(model.kernels.rhs, ys.copy(), p, dt, 1)
    euler_hand(u0.copy(), c, dt, 1)
    t_sg = best(lambda: euler_kernel(model.kernels.rhs, ys.copy(), p, dt, args.steps), 3)
    t_hd = best(lambda: euler_hand(u0.copy(), c, dt, args.steps), 3)
    ys = u0.ravel().copy()
    euler_kernel(model.kernels.rhs, ys, p, dt, args.steps)
    pts = N * N * args.steps
    print(f"\nExplicit 2D heat, forward Euler, {N}x{N} points, {args.steps} steps:")
    print(f"  symgen (kernel + compiled Euler loop): {t_sg:7.3f} s  {pts / t_sg / 1e6:8.1f} Mpoint-steps/s")
    print(f"  hand-written Numba                   : {t_hd:7.3f} s  {pts / t_hd / 1e6:8.1f} Mpoint-steps/s"
          f"   symgen/hand {t_sg / t_hd:5.2f}x")
    try:
        t_dv, u_dv = devito_heat(N, u0, 1.0, dt, args.steps)
        diff = np.max(np.abs(u_dv.ravel() - ys)) / np.max(np.abs(ys))
        print(f"  Devito (float64, C, default settings): {t_dv:7.3f} s  {pts / t_dv / 1e6:8.1f} Mpoint-steps/s"
              f"   symgen/Devito {t_sg / t_dv:5.2f}x   (max rel. difference of results {diff:.1e})")
    except Exception as exc:  # report, do not hide
        print(f"  Devito: could not run ({type(exc).__name__}: {exc})")

    # -- 3. pipeline time flat in N ---------------------------------------------------------
    print("\nBrusselator 2D (PDE form), cold pipeline (fresh cache): model -> compiled RHS + Jacobian")
    rows = []
    for n in args.pipeline_N:
        with tempfile.TemporaryDirectory() as d:
            import os
            os.environ["SYMGEN_CACHE_DIR"] = d
            system = brusselator_pde.build(n)
            t0 = time.perf_counter()
            m = sg.compile(system, cache=False)
            secs = time.perf_counter() - t0
            rows.append((n, secs, len(m.source()), m.timings))
            print(f"  N={n:5d} ({2 * n * n:8d} states): {secs:6.2f} s  source {len(m.source())} chars  "
                  f"stages {{{', '.join(f'{k}: {v:.2f}' for k, v in m.timings.items())}}}")
            use = m.kernels.uses_threads()
            if any(use.values()):  # parallel='auto': the prange kernels compile on first use
                t0 = time.perf_counter()
                _ = m.kernels.rhs, m.kernels.jac_values
                print(f"         + prange kernels {[k for k, v in use.items() if v]} compiled on first use: "
                      f"{time.perf_counter() - t0:6.2f} s")
    if len(rows) >= 2:
        print(f"  time ratio N={rows[-1][0]} / N={rows[0][0]}: {rows[-1][1] / rows[0][1]:.2f}x; "
              f"source identical in size: {len({r[2] for r in rows}) == 1}")


if __name__ == "__main__":
    main()
