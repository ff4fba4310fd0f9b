"""Compile time of the LLVM backend (sharded functions) versus model size.

Generates random sparse ODE systems whose right-hand sides hold about 1k, 5k, 20k and
60k operations (each equation couples a few random states through products, powers,
exp/sin/tanh, a division and a Piecewise), runs the whole pipeline with
``backend="llvm"`` in a fresh cache and prints the per-stage timings, the LLVM
sub-timings (parse, optimize, codegen, link), the op counts of the kernels, the
number of generated functions and the ratios between consecutive sizes.  The Numba
backend is run on the smallest sizes only (its compile time explodes: see
../shared/design.md).  A second process then loads the largest model from the cache.

Run: python benchmarks/bench_llvm_compile.py [--sizes 1000,5000,20000,60000]
     [--numba-max 1000] [--warm-size N]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

import sympy as sp

import symgen as sg


def random_system(n_ops: int, seed: int = 0) -> sg.ODESystem:
    """A random sparse system whose RHS has about ``n_ops`` operations."""
    rng = random.Random(seed)
    n = max(4, n_ops // 11)
    t = sg.time()
    x = sg.states("x", shape=n)
    k = sg.params("k", shape=8)
    eqs = []
    for i in range(n):
        a, b, c = (x[rng.randrange(n)] for _ in range(3))
        k1, k2, k3 = (k[rng.randrange(8)] for _ in range(3))
        f = k1 * a * b - k2 * x[i] + sp.sin(c) * sp.exp(-b**2) / (1 + a**2)
        if rng.random() < 0.3:
            f += sp.Piecewise((k3 * c, c > a), (sp.tanh(a), True))
        eqs.append(sg.D(x[i]) == f)
    return sg.ODESystem(eqs, t, params=list(k), name=f"random{n_ops}")


def stage_line(model, wall):
    tm = model.timings
    sub = getattr(model.kernels, "timings", {})
    nfun = model.source().count("\ndefine ")
    ops = model.manifest["notes"].get("ops_kernels", {})
    return (f"{wall:8.2f}s total | " + " ".join(f"{k} {v:.2f}" for k, v in tm.items())
            + (" | llvm: " + " ".join(f"{k} {v:.2f}" for k, v in sub.items()) if sub else "")
            + f" | rhs ops {ops.get('rhs', 0)}, all kernels {sum(ops.values())}, functions {nfun}")


def run(n_ops: int, backend: str):
    """Compile (and write the cache entry, so that a second process can load it)."""
    system = random_system(n_ops)
    t0 = time.perf_counter()
    model = sg.compile(system, backend=backend)
    return model, time.perf_counter() - t0


_WARM = """
import sys, time
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
import symgen as sg
from bench_llvm_compile import random_system
s = random_system({n})
t1 = time.perf_counter()
m = sg.compile(s, backend="llvm")
t2 = time.perf_counter()
print(f"second process, {n} ops: import+declare {{t1 - t0:.2f}} s, compile() {{t2 - t1:.2f}} s, "
      f"cached={{m.cached}}, kernels compiled={{m.kernels.compiled}}, load {{m.kernels.timings}}")
"""


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000,20000,60000")
    ap.add_argument("--numba-max", type=int, default=1000)
    ap.add_argument("--warm-size", type=int, default=0, help="size loaded by a second process (default: largest)")
    args = ap.parse_args(argv)
    os.environ["SYMGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="symgen-bench-llvm-")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {}
    for backend in ("llvm", "numba"):
        for n in sizes:
            if backend == "numba" and n > args.numba_max:
                continue
            model, wall = run(n, backend)
            rows[(backend, n)] = (model, wall)
            print(f"{backend:5s} {n:6d} ops: {stage_line(model, wall)}", flush=True)
    print("\nratios (llvm), consecutive sizes:")
    for a, b in zip(sizes, sizes[1:]):
        ma, mb = rows[("llvm", a)][0], rows[("llvm", b)][0]
        oa = sum(ma.manifest["notes"]["ops_kernels"].values())
        ob = sum(mb.manifest["notes"]["ops_kernels"].values())
        ba, bb = ma.timings["build"], mb.timings["build"]
        print(f"  {a:6d} -> {b:6d}: kernel ops x{ob / oa:5.2f}, emit x{mb.timings['emit'] / ma.timings['emit']:5.2f}, "
              f"build x{bb / ba:5.2f}, build us/op {1e6 * ba / oa:.1f} -> {1e6 * bb / ob:.1f}")
    for n in sizes:
        if ("numba", n) in rows:
            print(f"numba/llvm build time at {n} ops: "
                  f"{rows[('numba', n)][0].timings['build'] / rows[('llvm', n)][0].timings['build']:.1f}x")
    warm = args.warm_size or sizes[-1]
    if ("llvm", warm) in rows:
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, "-c", _WARM.format(here=here, n=warm)], check=True)


if __name__ == "__main__":
    main()
