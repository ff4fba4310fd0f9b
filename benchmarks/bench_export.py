"""Exported module: import + first call time in fresh processes (no JIT at run time),
and the exported solve against the in-process one (time per solve, same result).

Exports a model (Lorenz by default; ``--model robertson`` or ``van_der_pol`` for the
stiff stepper) as a python package into a temporary directory, then starts ``--runs``
fresh interpreters that each measure: importing NumPy, importing the package, and the
first ``rhs`` call and first ``solve``.  Prints medians.  Then times the exported solve
against ``model.solve`` of the same LLVM-backend model in this process.

Run: python benchmarks/bench_export.py [--model lorenz] [--runs 15]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import symgen as sg

HERE = Path(__file__).resolve().parent
CASES = {
    "lorenz": ({"x": 1.0, "y": 0.0, "z": 0.0}, (0.0, 20.0), "auto"),
    "robertson": ({"y1": 1.0, "y2": 0.0, "y3": 0.0}, (0.0, 1e5), "radau5"),
    "van_der_pol": ({"x": 2.0, "v": 0.0}, (0.0, 2.0), "auto"),
}

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
pkg = __import__(sys.argv[2])
t2 = time.perf_counter()
y0 = json.loads(sys.argv[3])
f = pkg.rhs(0.0, pkg.model.initial_vector(y0), pkg.model.param_vector({}))
t3 = time.perf_counter()
sol = pkg.solve(y0, (0.0, 1.0))
t4 = time.perf_counter()
print(json.dumps({"numpy": t1 - t0, "import": t2 - t1, "first_rhs": t3 - t2, "first_solve": t4 - t3,
                  "blocked": [m for m in ("symgen", "sympy", "numba", "llvmlite") if m in sys.modules]}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lorenz", choices=sorted(CASES))
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "examples"))
    mod = __import__(args.model)
    model = sg.compile(mod.build(), backend="llvm")
    out = Path(tempfile.mkdtemp(prefix="bench-export-"))
    res = sg.export(model, target="python", out=out, name=f"bench_{args.model}")
    print(f"export: " + ", ".join(f"{k} {v:.2f} s" for k, v in res.timings.items()) + f" -> {res.directory}")
    y0, span, method = CASES[args.model]
    rows = []
    for _ in range(args.runs):
        p = subprocess.run([sys.executable, "-c", CHILD, str(out), res.directory.name, json.dumps(y0)],
                           capture_output=True, text=True, check=True)
        rows.append(json.loads(p.stdout))
    med = {k: statistics.median(r[k] for r in rows) for k in ("numpy", "import", "first_rhs", "first_solve")}
    print(f"fresh process, median of {args.runs}: import numpy {med['numpy'] * 1e3:.1f} ms, import package "
          f"{med['import'] * 1e3:.1f} ms, first rhs call {med['first_rhs'] * 1e3:.2f} ms -> import + first call "
          f"{(med['import'] + med['first_rhs']) * 1e3:.1f} ms ({(med['numpy'] + med['import'] + med['first_rhs']) * 1e3:.1f}"
          f" ms with NumPy's own import); first solve {med['first_solve'] * 1e3:.2f} ms; "
          f"heavy modules loaded: {rows[0]['blocked']}")
    sys.path.insert(0, str(out))
    pkg = __import__(res.directory.name)

    def best(fn, reps=5):
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            r = fn()
            ts.append(time.perf_counter() - t0)
        return min(ts), r

    t_in, ref = best(lambda: model.solve(y0, span, method=method, rtol=1e-8, atol=1e-10, linear_solver="dense"))
    t_ex, got = best(lambda: pkg.solve(y0, span, method=method, rtol=1e-8, atol=1e-10))
    same = ref.y.shape == got.y.shape and float(np.max(np.abs(ref.y - got.y))) == 0.0
    print(f"solve {args.model} {span} {method} rtol 1e-8: in-process (Numba drivers, LLVM kernels) "
          f"{t_in * 1e3:.2f} ms, exported (C steppers) {t_ex * 1e3:.2f} ms, ratio exported/in-process "
          f"{t_ex / t_in:.2f}; {got.y.shape[1]} points, identical: {same}")


if __name__ == "__main__":
    main()
