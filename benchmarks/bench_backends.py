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
(``kernel_over_points``-style, no Python per call; best of 5 batches).  The parent
prints the ratios: compile numba/llvm (goal >= 5x on the largest kernel) and run time
llvm/numba (goal <= 1.1x).

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

CHILD = r"""
import json, sys, time
import numpy as np
from numba import njit
import symgen as sg

which, backend = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if which == "bcr":
    system = sg.io.load_bionetgen(sys.argv[3]).to_system()
else:
    sys.path.insert(0, sys.argv[3])
    import brusselator
    system = brusselator.build(int(which[len("bruss"):]))
t1 = time.perf_counter()
model = sg.compile(system, backend=backend, cache=False)
t2 = time.perf_counter()


@njit
def repeat(f, t, y, p, out, reps):
    acc = 0.0
    for r in range(reps):
        y[0] += 1e-300 * acc        # keeps the calls from being hoisted out of the loop
        f(t, y.ctypes, p.ctypes, out.ctypes)
        acc += out[0]
    return acc


rng = np.random.default_rng(0)
y = rng.uniform(0.5, 1.5, len(model.states))
p = model.param_vector({})
if p.size == 0:
    p = np.zeros(1)
runs = {}
for name, size in (("rhs", len(model.states)), ("jac_values", model.jac_sparsity.nnz)):
    f = getattr(model.kernels, name)
    out = np.empty(size)
    repeat(f, 0.0, y, p, out, 1)
    reps = 1
    while True:
        s = time.perf_counter(); repeat(f, 0.0, y, p, out, reps); el = time.perf_counter() - s
        if el > 0.05:
            break
        reps *= 4
    times = []
    for _ in range(5):
        s = time.perf_counter(); repeat(f, 0.0, y, p, out, reps); times.append(time.perf_counter() - s)
    runs[name] = min(times) / reps
ops = model.manifest["notes"].get("ops_kernels", {})
print(json.dumps({"n": len(model.states), "nnz": model.jac_sparsity.nnz, "declare": t1 - t0,
                  "compile": t2 - t1, "stages": model.timings, "ops": ops, "run": runs}))
"""


def child(model: str, backend: str, timeout: float):
    arg = str(BCR) if model == "bcr" else str(HERE.parent / "examples")
    env = dict(os.environ, SYMGEN_CACHE_DIR=tempfile.mkdtemp(prefix=f"bench-backends-{model}-{backend}-"))
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, model, backend, arg], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{model}/{backend} failed:\n{proc.stderr[-3000:]}")
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
        res = {}
        for b in backends:
            r = child(model, b, args.timeout)
            res[b] = r
            if r is None:
                print(f"{model:8s} {b:5s}: compile > limit ({args.timeout:.0f} s, subprocess stopped)", flush=True)
                continue
            st = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
            print(f"{model:8s} {b:5s}: n={r['n']} nnz={r['nnz']} ops rhs={r['ops'].get('rhs')} "
                  f"jac_values={r['ops'].get('jac_values')}; compile() {r['compile']:.2f} s "
                  f"(backend emit+build {backend_seconds(r):.2f} s; stages: {st}); "
                  f"rhs {r['run']['rhs'] * 1e6:.2f} us, jac_values {r['run']['jac_values'] * 1e6:.2f} us",
                  flush=True)
        lv, nb = res.get("llvm"), res.get("numba")
        if lv is not None and "numba" in res:
            if nb is None:
                print(f"{model:8s} ratio: compile numba/llvm > {args.timeout / backend_seconds(lv):.1f}x "
                      f"(numba did not finish); run time not comparable")
            else:
                print(f"{model:8s} ratio: compile (emit+build) numba/llvm {backend_seconds(nb) / backend_seconds(lv):.1f}x"
                      f", whole compile() {nb['compile'] / lv['compile']:.1f}x; run time llvm/numba: "
                      f"rhs {lv['run']['rhs'] / nb['run']['rhs']:.2f}x, "
                      f"jac_values {lv['run']['jac_values'] / nb['run']['jac_values']:.2f}x")


if __name__ == "__main__":
    main()
