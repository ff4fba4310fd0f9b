"""GPU ensembles: one trajectory per CUDA thread, the whole solve in one kernel.

Cases (each at 2^10 .. 2^23 trajectories, per-trajectory parameters):
  * Lorenz, Tsit5 fixed step: 1000 steps of 0.001 to t = 1, float32
    (DiffEqGPU's headline: 8.4M trajectories; target here <= 145 ms on one H100);
  * Lorenz, Tsit5 adaptive, rtol = atol = 1e-6 (float32: 1e-5), float32 and float64;
  * Robertson, ROS3P Rosenbrock with the generated Jacobian, to t = 1e3, float64.
For every size it prints the kernel time (inputs already on the GPU, synchronized),
the time with host<->device copies, trajectories per second and the ratio to a CPU
ensemble of the same work on all CPU threads of the machine (measured on
``--cpu-n`` trajectories and scaled per trajectory).  A sample of GPU trajectories
is checked against the CPU ensemble.

Run on a GPU machine:   python benchmarks/gpu_ensemble.py [--max-log2 23] [--repeat 3]
Without a GPU (the CUDA simulator, tiny sizes, to check the script itself):
                        python benchmarks/gpu_ensemble.py --simulate
"""
import argparse
import os
import sys
import time
from pathlib import Path


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-log2", type=int, default=10)
    ap.add_argument("--max-log2", type=int, default=23)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu-n", type=int, default=1 << 14)
    ap.add_argument("--threads-per-block", type=int, default=128)
    ap.add_argument("--cases", default="lorenz-fixed,lorenz-adaptive,robertson")
    ap.add_argument("--simulate", "--smoke", dest="simulate", action="store_true",
                    help="run under NUMBA_ENABLE_CUDASIM, 16 trajectories")
    return ap.parse_args()


ARGS = parse()
if ARGS.simulate:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    ARGS.min_log2 = ARGS.max_log2 = 4
    ARGS.cpu_n, ARGS.repeat = 16, 1

import numpy as np  # noqa: E402
from numba import cuda  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import lorenz  # noqa: E402
import robertson  # noqa: E402

import symgen as sg  # noqa: E402
from symgen.backends.cuda.ensemble import cuda_runner  # noqa: E402
from symgen.ensemble.device import device_module  # noqa: E402


def case_list():
    lor = sg.compile(lorenz.build())
    rob = sg.compile(robertson.build())
    out = []
    if "lorenz-fixed" in ARGS.cases:
        out.append(("Lorenz Tsit5 fixed 1000 steps f32", lor, "tsit5", np.float32, (0.0, 1.0),
                    dict(adaptive=False, dt=0.001, rtol=1e-6, atol=1e-6)))
    if "lorenz-adaptive" in ARGS.cases:
        out.append(("Lorenz Tsit5 adaptive f32", lor, "tsit5", np.float32, (0.0, 1.0),
                    dict(adaptive=True, dt=0.0, rtol=1e-5, atol=1e-5)))
        out.append(("Lorenz Tsit5 adaptive f64", lor, "tsit5", np.float64, (0.0, 1.0),
                    dict(adaptive=True, dt=0.0, rtol=1e-6, atol=1e-6)))
    if "robertson" in ARGS.cases:
        out.append(("Robertson ROS3P f64", rob, "rosenbrock", np.float64, (0.0, 1e3),
                    dict(adaptive=True, dt=0.0, rtol=1e-6, atol=1e-10)))
    return out


def inputs(model, n, rng):
    names = [str(s) for s in model.params]
    base = model.param_vector({})
    ps = np.tile(base, (n, 1))
    if "rho" in names:
        ps[:, names.index("rho")] = 20.0 + 10.0 * rng.random(n)
        y0 = np.tile([1.0, 0.0, 0.0], (n, 1))
    else:   # Robertson: k1 varied by +-20 %
        ps[:, names.index("k1")] *= 0.8 + 0.4 * rng.random(n)
        y0 = np.tile([1.0, 0.0, 0.0], (n, 1))
    return y0, ps


def main():
    print("device:", "CUDA simulator" if ARGS.simulate else cuda.get_current_device().name)
    rng = np.random.default_rng(0)
    for label, model, method, dtype, span, opts in case_list():
        solver = {"tsit5": "tsit5", "rosenbrock": "ros3p"}[method]
        kernel = cuda_runner(device_module(model), model.key, solver, dtype)
        # CPU reference (all threads)
        y0, ps = inputs(model, ARGS.cpu_n, rng)
        kw = dict(t_span=span, method=method, dtype=dtype, progress=False, max_steps=1_000_000, **opts)
        model.ensemble(params=ps[:8], y0=y0[:8], **kw)
        t = time.perf_counter()
        cpu = model.ensemble(params=ps, y0=y0, **kw)
        cpu_per_traj = (time.perf_counter() - t) / ARGS.cpu_n
        print(f"\n{label}: CPU ensemble {1 / cpu_per_traj:,.0f} traj/s ({ARGS.cpu_n} trajectories)")
        print(f"{'trajectories':>12} {'kernel ms':>10} {'with copies ms':>15} {'traj/s':>14} {'vs CPU':>8}")
        for lg in range(ARGS.min_log2, ARGS.max_log2 + 1):
            n = 1 << lg
            y0, ps = inputs(model, n, rng)
            y0, ps = y0.astype(dtype), ps.astype(dtype)
            ts = np.array([span[1]], dtype=dtype)
            dt_ = dtype
            t_copy = time.perf_counter()
            d_y, d_p, d_ts = cuda.to_device(y0), cuda.to_device(ps), cuda.to_device(ts)
            cuda.synchronize()
            h2d = time.perf_counter() - t_copy
            d_u = cuda.device_array((n, 1, y0.shape[1]), dtype=dtype)
            d_s = cuda.device_array(n, dtype=np.int32)
            d_st = cuda.device_array((n, 5), dtype=np.int64)
            blocks = (n + ARGS.threads_per_block - 1) // ARGS.threads_per_block
            launch = (d_y, d_p, dt_(span[0]), d_ts, dt_(opts["dt"]), dt_(opts["rtol"]), dt_(opts["atol"]),
                      1_000_000, opts["adaptive"], d_u, d_s, d_st)
            best = float("inf")
            for _ in range(ARGS.repeat + 1):       # first launch compiles / warms up
                t = time.perf_counter()
                kernel[blocks, ARGS.threads_per_block](*launch)
                cuda.synchronize()
                best = min(best, time.perf_counter() - t)
            t_copy = time.perf_counter()
            u, s = d_u.copy_to_host(), d_s.copy_to_host()
            with_copies = h2d + best + (time.perf_counter() - t_copy)
            ok = np.count_nonzero(s == 0)
            print(f"{n:>12,} {best * 1e3:>10.2f} {with_copies * 1e3:>15.2f} {n / best:>14,.0f} "
                  f"{cpu_per_traj * n / best:>7.1f}x" + ("" if ok == n else f"  ({n - ok} failed)"))
            if lg == 23 and label.startswith("Lorenz Tsit5 fixed"):
                print(f"{'':>12} target <= 145 ms for 8.4M trajectories: "
                      f"{'met' if best <= 0.145 else 'NOT met'} ({best * 1e3:.1f} ms)")
        m = min(64, n, ARGS.cpu_n)
        ref = model.ensemble(params=ps[:m].astype(float), y0=y0[:m].astype(float), **kw)
        tol = 1e-3 if dtype == np.float32 else 1e-6
        err = np.nanmax(np.abs(u[:m] - ref.u) / (np.abs(ref.u) + 1e-8))
        print(f"{'':>12} GPU vs CPU on {m} trajectories: max relative difference {err:.1e} "
              f"({'ok' if err < tol else 'CHECK'})")


if __name__ == "__main__":
    main()
