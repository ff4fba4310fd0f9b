"""GPU stencil kernels of PDE models against the CPU loop nests.

Cases (2D, N x N unknown grid points, N = 256 .. 4096 by default):
  * heat: u' = alpha lap(u), Dirichlet on all four sides (one field);
  * brusselator: examples/brusselator_pde.py (two fields, periodic, forcing term).
For every size it prints, for the right-hand side, grid points per second of the CUDA
kernels (inputs and outputs already on the GPU, synchronized; bulk + boundary launch)
and of the CPU loop nest (serial cfunc, and the prange cfunc on all threads unless
``--no-threads``), and the ratios.  ``J v`` and ``J^T v`` (GPU) are timed as well, and
``J^T v`` against the CPU transposed-stencil kernel.  The GPU right-hand side is
checked against the CPU one at every size.

Run on a GPU machine:   python benchmarks/gpu_stencil.py [--sizes 256 1024 4096] [--dtype float32]
Without a GPU (the CUDA simulator, tiny grids, to check the script runs end to end):
                        python benchmarks/gpu_stencil.py --smoke
"""
import argparse
import os
import sys
import time
from pathlib import Path


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cases", default="heat,brusselator")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--no-threads", action="store_true", help="skip the multithreaded CPU loop nest")
    ap.add_argument("--smoke", action="store_true", help="CUDA simulator, 8x8 and 12x12 grids, one repeat")
    ap.add_argument("--simulate", dest="smoke", action="store_true", help="same as --smoke")
    return ap.parse_args()


ARGS = parse()
if ARGS.smoke:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    ARGS.sizes, ARGS.repeat = [8, 12], 1

import numpy as np  # noqa: E402
from numba import cuda  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import brusselator_pde  # noqa: E402

import symgen as sg  # noqa: E402
from symgen.backends.cuda.stencil import cuda_stencil  # noqa: E402
from symgen.drivers.evaluate import call_kernel  # noqa: E402
from symgen.pde.kernels_call import call_vec_kernel  # noqa: E402


def heat(N):
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, N + 2), y=(0.0, 1.0, N + 2))
    u = sg.fields("u", g)
    a = sg.params("alpha")
    return sg.PDESystem([sg.D(u) == a * sg.laplacian(u)], t, bcs=[sg.Dirichlet(u, s, 0) for s in ("x-", "x+", "y-", "y+")],
                        defaults={a: 1.0}, name="heat2d_gpu")


CASES = {"heat": heat, "brusselator": brusselator_pde.build}


def best(fn, repeat):
    fn()  # warm-up (compilation, first launch)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def gpu_call(c, kind, args):
    def run():
        for k, grid, block in c.launch(kind):
            k[grid, block](*args)
        cuda.synchronize()
    return run


def main():
    dtype = np.dtype(ARGS.dtype)
    print(f"device: {'CUDA simulator' if ARGS.smoke else cuda.get_current_device().name}; dtype {dtype.name}; "
          f"best of {ARGS.repeat}")
    hdr = (f"{'case':<12} {'N':>5} {'points':>9} | {'GPU rhs pts/s':>13} {'CPU pts/s':>11} {'ratio':>7} "
           f"{'CPU thr pts/s':>13} {'ratio':>7} | {'GPU Jv pts/s':>12} {'GPU JTv pts/s':>13} "
           f"{'CPU JTv pts/s':>13} {'ratio':>7} | max rel diff")
    print(hdr)
    print("-" * len(hdr))
    for name in ARGS.cases.split(","):
        for N in ARGS.sizes:
            pde = CASES[name](N)
            m = sg.compile(pde)
            mt = None if ARGS.no_threads else sg.compile(pde, parallel=True)
            c = cuda_stencil(m, dtype)
            pts = int(np.prod(m.shape))
            rng = np.random.default_rng(0)
            y = (1 + 0.1 * rng.random(m.n)).astype(dtype)
            v = rng.standard_normal(m.n).astype(dtype)
            p_host = c.param_block()
            # GPU: arrays resident on the device
            d_y, d_v, d_out = cuda.to_device(y), cuda.to_device(v), cuda.device_array(m.n, dtype=dtype)
            d_p = c.params()
            tt = dtype.type(0.5)
            t_rhs = best(gpu_call(c, "rhs", (tt, d_y, d_p, d_out)), ARGS.repeat)
            gpu_rhs = d_out.copy_to_host()
            t_jvp = best(gpu_call(c, "jvp", (tt, d_y, d_p, d_v, d_out)), ARGS.repeat)

            def jtv_run():
                z = c.kernels["zero"]
                z[(m.n + 255) // 256, 256](d_out)
                gpu_call(c, "jtv", (tt, d_y, d_p, d_v, d_out))()
            t_jtv = best(jtv_run, ARGS.repeat)
            # CPU loop nests (float64)
            y64, v64 = y.astype(float), v.astype(float)
            out = np.empty(m.n)
            t_cpu = best(lambda: call_kernel(m.kernels.rhs, 0.5, y64, p_host, out), ARGS.repeat)
            cpu_rhs = out.copy()
            t_thr = float("nan")
            if mt is not None:
                t_thr = best(lambda: call_kernel(mt.kernels.rhs, 0.5, y64, p_host, out), ARGS.repeat)
            jk = m.kernels.jtv_kernel()
            t_cjtv = best(lambda: call_vec_kernel(jk, 0.5, y64, p_host, v64, out), ARGS.repeat)
            diff = float(np.max(np.abs(gpu_rhs - cpu_rhs)) / max(1.0, np.max(np.abs(cpu_rhs))))
            print(f"{name:<12} {N:>5} {pts:>9} | {pts / t_rhs:>13.3e} {pts / t_cpu:>11.3e} {t_cpu / t_rhs:>7.2f} "
                  f"{pts / t_thr:>13.3e} {t_thr / t_rhs:>7.2f} | {pts / t_jvp:>12.3e} {pts / t_jtv:>13.3e} "
                  f"{pts / t_cjtv:>13.3e} {t_cjtv / t_jtv:>7.2f} | {diff:.1e}", flush=True)
            tol = 1e-12 if dtype == np.float64 else 1e-4
            if diff > tol:
                raise SystemExit(f"GPU right-hand side differs from the CPU loop nest by {diff:.2e} (> {tol:g})")


if __name__ == "__main__":
    main()
