"""LLVM vs Numba backend: compile time and kernel run time, same kernels, one run.

Models: small Brusselators (N = 8, 16: kernels Numba still compiles, for the run-time
comparison), the BCR reaction network (``/work/shared/data/bionetgen/bcr.net``, 1122 species,
24388 reactions; its RHS and sparse Jacobian are the largest kernels symgen builds) and
the scalarized 2D Brusselator with N = 64 (8192 states, ``examples/brusselator.py``).

Each (model, backend) compile runs in its own subprocess with an empty cache and a
timeout (Numba may need many minutes on BCR: it is reported as "> limit", never waited
for).  The child prints the pipeline's per-stage times (the backend's share is
``emit + build``: generating and compiling the code of every kernel of the model) and
the run time of the rhs and jac_values kernels, each called from one compiled loop
(no Python per call), measured afterwards in one process that loads every finished
build from its cache and times the backends interleaved (best of 7 batches each), so
both see the same machine load.  The parent
prints the ratios: compile numba/llvm (goal >= 5x on the largest kernel) and run time
llvm/numba (goal <= 1.1x).

The Numba backend shards kernels of more than 200 statements into ``@njit`` functions
(raw pointers, stack scratch array), so its compile time grows linearly with the kernel;
the LLVM backend builds its IR with llvmlite's IR builder.

Measured on the shared 2-core machine (2026-11-25, ``nice -n 19``, load average 3-8 from
other jobs; figures vary several-fold with the load), backend emit+build Numba/LLVM and
kernel run time LLVM/Numba (interleaved):
Brusselator N=8: 250x (167.5 s vs 0.67 s), rhs 0.74x, jac_values 0.81x;
N=16: 67.6x (185.2 s vs 2.74 s), rhs 0.98x, jac_values 0.25x (not investigated; a guess:
the 2,819 scratch-array reads of the 513 temporaries shared across Numba's 18 shards,
with no noalias information for Numba's pointers; after that run each shard reads a
shared temporary once into a local: N=16 jac_values 1.2 us vs LLVM 0.47 us, 0.39x,
rhs 0.80x, in a separate interleaved check on the same machine);
N=64 (8192 states, rhs 86k ops): 55.4x (974.4 s vs 17.6 s; whole compile() 986.5 s vs
27.7 s), rhs 0.80x (13.8 vs 17.3 us), jac_values 0.39x (13.6 vs 34.5 us);
BCR: LLVM compile() 43.8 s (backend emit+build 26.9 s); Numba was still compiling when
the session ended (run at commit b5eae3d; the N=8/16/64 Numba kernels there read
shared temporaries from the scratch array at every use).

Run: python benchmarks/bench_backends.py [--timeout 600] [--models bruss8,bruss16,bruss64,bcr]
     [--backends llvm,numba]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BCR = Path("/work/shared/data/bionetgen/bcr.net")
if not BCR.exists():
    BCR = HERE.parents[1] / "shared" / "data" / "bionetgen" / "bcr.net"

SYSTEM = r"""
import json, sys, time
import numpy as np
import symgen as sg


def build(which, arg):
    if which == "bcr":
        return sg.io.load_bionetgen(arg).to_system()
    sys.path.insert(0, arg)
    import brusselator
    return brusselator.build(int(which[len("bruss"):]))
"""

COMPILE = SYSTEM + r"""
which, backend, arg = sys.argv[1:4]
t0 = time.perf_counter()
system = build(which, arg)
t1 = time.perf_counter()
model = sg.compile(system, backend=backend)
t2 = time.perf_counter()
print(json.dumps({"n": len(model.states), "nnz": model.jac_sparsity.nnz, "declare": t1 - t0,
                  "compile": t2 - t1, "stages": model.timings,
                  "ops": model.manifest["notes"].get("ops_kernels", {}),
                  "llvm": getattr(model.kernels, "timings", {})}))
"""

RUN = SYSTEM + r"""
import os
from numba import njit


@njit
def repeat(f, t, y, p, out, reps):
    acc = 0.0
    for r in range(reps):
        y[0] += 1e-300 * acc        # keeps the calls from being hoisted out of the loop
        f(t, y.ctypes, p.ctypes, out.ctypes)
        acc += out[0]
    return acc


which, arg = sys.argv[1:3]
system = build(which, arg)
models = {}
for spec in sys.argv[3:]:               # backend=cache directory of its compile
    backend, cache = spec.split("=", 1)
    os.environ["SYMGEN_CACHE_DIR"] = cache
    models[backend] = sg.compile(system, backend=backend)   # loads the cached build
first = next(iter(models.values()))
y = np.random.default_rng(0).uniform(0.5, 1.5, len(first.states))
p = first.param_vector({})
if p.size == 0:
    p = np.zeros(1)
sizes = {"rhs": len(first.states), "jac_values": first.jac_sparsity.nnz}
reps = {}
for name, size in sizes.items():
    f = getattr(first.kernels, name)
    out = np.empty(size)
    repeat(f, 0.0, y, p, out, 1)
    r = 1
    while True:
        s = time.perf_counter(); repeat(f, 0.0, y, p, out, r); el = time.perf_counter() - s
        if el > 0.05:
            break
        r *= 4
    reps[name] = r
best = {b: {k: float("inf") for k in sizes} for b in models}
for _round in range(7):                 # interleaved: both backends see the same machine load
    for b, m in models.items():
        for name, size in sizes.items():
            f = getattr(m.kernels, name)
            out = np.empty(size)
            repeat(f, 0.0, y, p, out, 1)
            s = time.perf_counter(); repeat(f, 0.0, y, p, out, reps[name]); el = time.perf_counter() - s
            best[b][name] = min(best[b][name], el / reps[name])
print(json.dumps(best))
"""


def _arg(model: str) -> str:
    return str(BCR) if model == "bcr" else str(HERE.parent / "examples")


def child(model: str, backend: str, timeout: float):
    """Compile in a subprocess with an empty cache: ``(result, cache dir)``, result None on timeout."""
    cache = tempfile.mkdtemp(prefix=f"bench-backends-{model}-{backend}-")
    env = dict(os.environ, SYMGEN_CACHE_DIR=cache)
    try:
        proc = subprocess.run([sys.executable, "-c", COMPILE, model, backend, _arg(model)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, cache
    if proc.returncode != 0:
        raise RuntimeError(f"{model}/{backend} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), cache


def run_times(model: str, caches: dict) -> dict:
    """Kernel run times of the compiled backends, measured interleaved in one process."""
    specs = [f"{b}={c}" for b, c in caches.items()]
    proc = subprocess.run([sys.executable, "-c", RUN, model, _arg(model), *specs], capture_output=True, text=True,
                          timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{model} run-time measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def backend_seconds(r) -> float:
    return r["stages"].get("emit", 0.0) + r["stages"].get("build", 0.0)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per compile subprocess")
    ap.add_argument("--models", default="bruss8,bruss16,bruss64,bcr",
                    help="bcr and/or brussN (2D Brusselator, 2 N^2 states)")
    ap.add_argument("--backends", default="llvm,numba")
    args = ap.parse_args(argv)
    backends = args.backends.split(",")
    for model in args.models.split(","):
        res, caches = {}, {}
        for b in backends:
            r, cache = child(model, b, args.timeout)
            res[b] = r
            if r is None:
                print(f"{model:8s} {b:5s}: compile > limit ({args.timeout:.0f} s, subprocess stopped)", flush=True)
                continue
            caches[b] = cache
            st = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
            sub = ", ".join(f"{k} {v:.2f}" for k, v in r["llvm"].items())
            print(f"{model:8s} {b:5s}: n={r['n']} nnz={r['nnz']} ops rhs={r['ops'].get('rhs')} "
                  f"jac_values={r['ops'].get('jac_values')}; compile() {r['compile']:.2f} s "
                  f"(backend emit+build {backend_seconds(r):.2f} s; stages: {st}"
                  + (f"; llvm: {sub}" if sub else "") + ")", flush=True)
        runs = run_times(model, caches) if caches else {}
        for b, t in runs.items():
            print(f"{model:8s} {b:5s}: rhs {t['rhs'] * 1e6:.3f} us, jac_values {t['jac_values'] * 1e6:.3f} us "
                  "(best of 7 interleaved batches)", flush=True)
        lv, nb = res.get("llvm"), res.get("numba")
        if lv is not None and "numba" in res:
            if nb is None:
                print(f"{model:8s} ratio: compile numba/llvm > {args.timeout / backend_seconds(lv):.1f}x "
                      f"(numba did not finish); run time not comparable", flush=True)
            else:
                tl, tn = runs["llvm"], runs["numba"]
                print(f"{model:8s} ratio: compile (emit+build) numba/llvm {backend_seconds(nb) / backend_seconds(lv):.1f}x"
                      f", whole compile() {nb['compile'] / lv['compile']:.1f}x; run time llvm/numba: "
                      f"rhs {tl['rhs'] / tn['rhs']:.2f}x, jac_values {tl['jac_values'] / tn['jac_values']:.2f}x",
                      flush=True)

if __name__ == "__main__":
    main()
