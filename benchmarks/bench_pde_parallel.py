"""Where ``prange`` pays for PDE stencil kernels: serial vs multithreaded loop nests, one run.

Every stencil module holds a serial and a ``prange`` body of the RHS and of the
Jacobian values kernel.  For growing grids this script times both bodies of both
kernels (called from compiled code; best of ``--repeat`` batches of about 2 ms, so that a batch the
scheduler disturbed on a busy machine is discarded) and prints the ratio
parallel / serial, the smallest size from which the parallel body wins on every larger
size, and the thresholds symgen uses (``symgen.pde.codegen.PAR_MIN_RHS`` /
``PAR_MIN_JAC``).  It also times the cold build of the serial module and the extra
compilation of the parallel kernels (fresh cache), i.e. the pipeline time each costs.

Models: the explicit 2D heat equation (1 field, Dirichlet, order 2: the cheapest
stencil per point) and the 2D Brusselator in PDE form (2 fields, periodic).

Run: python benchmarks/bench_pde_parallel.py [--N 16 32 64 96 128 192 256 384 512 1024]
     [--repeat 40]  (NUMBA_NUM_THREADS sets the threads; default: all cores)
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import brusselator_pde  # noqa: E402

import symgen as sg  # noqa: E402
from symgen.pde import codegen  # noqa: E402


@njit
def _repeat(body, y, p, out, reps):
    for _ in range(reps):
        body(0.5, y, p, out)


def heat(N):
    t = sg.time()
    g = sg.Grid(x=(0.0, 1.0, N + 2), y=(0.0, 1.0, N + 2))
    u = sg.fields("u", g)
    a = sg.params("alpha")
    return sg.PDESystem([sg.D(u) == a * sg.laplacian(u)], t,
                        bcs=[sg.Dirichlet(u, s, 0) for s in ("x-", "x+", "y-", "y+")],
                        defaults={a: 1.0}, name="heat2d_par")


def time_body(fn, y, p, out, repeat, budget=0.002):
    _repeat(fn, y, p, out, 1)
    t0 = time.perf_counter()
    _repeat(fn, y, p, out, 1)
    one = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(budget / one))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _repeat(fn, y, p, out, reps)
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="*", default=[16, 32, 64, 96, 128, 192, 256, 384, 512, 1024])
    ap.add_argument("--repeat", type=int, default=40)
    args = ap.parse_args(argv)
    from numba import config, get_num_threads
    print(f"threads: {get_num_threads()} (layer {config.THREADING_LAYER}); cores: {os.cpu_count()}")
    print(f"symgen thresholds: PAR_MIN_RHS = {codegen.PAR_MIN_RHS} values, "
          f"PAR_MIN_JAC = {codegen.PAR_MIN_JAC} values")
    rng = np.random.default_rng(0)
    for label, build in (("heat 2D (1 field)", heat), ("Brusselator 2D (2 fields)", brusselator_pde.build)):
        with tempfile.TemporaryDirectory() as d:
            os.environ["SYMGEN_CACHE_DIR"] = d
            t0 = time.perf_counter()
            m = sg.compile(build(args.N[0]), parallel=False)
            t_serial = time.perf_counter() - t0
            mod = m.kernels.module
            t0 = time.perf_counter()
            mod.parallel_kernels()
            t_par = time.perf_counter() - t0
        print(f"\n{label}: cold pipeline (serial kernels) {t_serial:.2f} s; "
              f"parallel kernels compile +{t_par:.2f} s")
        print(f"{'N':>6} {'values':>9} {'rhs ser':>10} {'rhs par':>10} {'par/ser':>8} "
              f"{'jac ser':>10} {'jac par':>10} {'par/ser':>8}")
        rows = []
        for N in args.N:
            mN = sg.compile(build(N), parallel=False)
            y = rng.uniform(0.5, 2.0, mN.n)
            p = mN.param_vector(None)
            out = np.empty(mN.n)
            jout = np.empty(mN.jac_sparsity.nnz)
            mod = mN.kernels.module
            rs = time_body(mod._rhs_serial, y, p, out, args.repeat)
            rp = time_body(mod._rhs_parallel, y, p, out, args.repeat)
            js = time_body(mod._jacv_serial, y, p, jout, args.repeat)
            jp = time_body(mod._jacv_parallel, y, p, jout, args.repeat)
            rows.append((mN.n, rp / rs, jp / js))
            print(f"{N:>6} {mN.n:>9} {rs * 1e6:>8.1f}us {rp * 1e6:>8.1f}us {rp / rs:>8.2f} "
                  f"{js * 1e6:>8.1f}us {jp * 1e6:>8.1f}us {jp / js:>8.2f}")
        for k, name in ((1, "rhs"), (2, "jac_values")):
            wins = [r[0] for i, r in enumerate(rows) if all(q[k] < 1.0 for q in rows[i:])]
            print(f"  {name}: parallel faster from {wins[0] if wins else 'never (in these sizes)'} values on")


if __name__ == "__main__":
    main()
