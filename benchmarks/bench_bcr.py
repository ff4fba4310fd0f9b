"""BCR network (BioNetGen bcr.net: 1122 species, 24388 reactions), issue 3 figures in one
run: cold pipeline (per-stage times, peak memory), warm start in a new process, stiff
solves over [0, 10000] (BDF and Radau IIA) and their agreement with BioNetGen's own output
(bcr.gdat) and with each other.

Run: python benchmarks/bench_bcr.py [--backend llvm] [--rtol 1e-8]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bionetgen"

CHILD = r"""
import sys, time, resource
t0 = time.perf_counter()
import numpy as np, symgen as sg
from symgen.io import compile_bionetgen
t1 = time.perf_counter()
model, net = compile_bionetgen(sys.argv[1], backend=sys.argv[2]); t2 = time.perf_counter()
y = np.array(list(net.initial_values().values())); p = model.param_vector({})
model.jac_sparse(0.0, y, p); t3 = time.perf_counter()
stages = ", ".join(f"{k} {v:.2f}" for k, v in model.timings.items())
print(f"cached={model.cached}: import {t1 - t0:.2f} s, parse+build+compile {t2 - t1:.2f} s, "
      f"first Jacobian {t3 - t2:.2f} s, total {t3 - t0:.1f} s; peak RSS "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB; stages: {stages}")
"""

def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="llvm")
    ap.add_argument("--rtol", type=float, default=1e-8)
    args = ap.parse_args(argv)
    env = dict(os.environ, SYMGEN_CACHE_DIR=tempfile.mkdtemp(prefix="bench-bcr-"))
    net_path = str(DATA / "bcr.net")
    for label in ("cold (empty cache)", "warm (new process)"):
        out = subprocess.run([sys.executable, "-c", CHILD, net_path, args.backend], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
        print(f"{label:20s} {out}")
    os.environ.update(env)
    import symgen as sg
    from symgen.io import load_bionetgen, read_gdat
    net = load_bionetgen(net_path)
    names, data = read_gdat(DATA / "bcr.gdat")
    model, _ = sg.io.compile_bionetgen(net_path, backend=args.backend)
    ref = data[:, 1:]
    mask = np.abs(ref) > 1e-6 * np.abs(ref).max(axis=0)

    def rel_to(got, base):
        return np.where(mask, np.abs(got - base) / np.where(mask, np.abs(base), 1.0), 0.0)

    sols = {}
    for meth in ("bdf", "radau5"):
        t0 = time.perf_counter()
        sol = model.solve(net.initial_values(), (0.0, data[-1, 0]), method=meth, rtol=args.rtol, atol=1e-12,
                          t_eval=data[:, 0])
        el = time.perf_counter() - t0
        got = np.column_stack([sol[c] for c in names[1:]])
        sols[meth] = got
        rel = rel_to(got, ref)
        i, j = np.unravel_index(np.argmax(rel), rel.shape)
        print(f"solve [0, 10000] {meth} rtol={args.rtol}: {el:.1f} s, {sol.message}, {sol.stats['steps']} steps, "
              f"{sol.stats['nlu']} LU ({sol.linear_solver})")
        print(f"   vs bcr.gdat (values above 1e-6 of each observable's max): median rel {np.median(rel[mask]):.1e}, "
              f"{np.mean(rel[mask] > 1e-4) * 100:.2f}% of points above 1e-4, worst {rel[i, j]:.2e} "
              f"({names[1 + j]} at t={data[i, 0]:g}: {got[i, j]:.6g} vs {ref[i, j]:.6g})")
        # where are the points above 1e-4? on steep transients (a tiny shift in time there
        # is a large relative difference): |log change| of the reference between outputs
        steep = np.vstack([np.zeros((1, ref.shape[1])), np.abs(np.diff(np.log(np.abs(ref) + 1e-300), axis=0))])
        bad = mask & (rel > 1e-4)
        if bad.any():
            print(f"   points above 1e-4 lie on steep transients: median |d log(value)| between outputs "
                  f"{np.median(steep[bad]):.1e} there vs {np.median(steep[mask]):.1e} overall")
    # two independent methods against each other: how converged our answer is where it
    # disagrees with the reference
    cross = rel_to(sols["bdf"], sols["radau5"])
    i, j = np.unravel_index(np.argmax(cross), cross.shape)
    print(f"symgen bdf vs symgen radau5 on the same points: median rel {np.median(cross[mask]):.1e}, "
          f"{np.mean(cross[mask] > 1e-4) * 100:.2f}% above 1e-4, worst {cross[i, j]:.2e} "
          f"({names[1 + j]} at t={data[i, 0]:g})")
    print(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
