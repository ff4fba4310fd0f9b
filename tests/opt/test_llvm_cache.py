"""LLVM kernels of a new model are JIT-compiled in the process; the shared library of
the disk cache is written at exit, and a new process loads it without recompiling."""
import os
import subprocess
import sys
from pathlib import Path


SCRIPT = """
import sympy as sp, symgen.opt as so
m = so.OptModel("cache-probe")
x = m.var("x", 1500, init=0.5)
i = so.index("i")
m.minimize(sp.Sum((x[i + 1] - x[i]**2)**2 + (1 - x[i])**2 / 10, (i, 0, 1498)))
cm = m.compile()
r = cm.minimize(method="tron")
print("RESULT", cm.backend, cm.cached, "derive" in cm.timings, r.status, repr(r.f))
"""


def test_library_written_at_exit_and_loaded_by_next_process(tmp_path):
    env = dict(os.environ, SYMGEN_CACHE_DIR=str(tmp_path))
    out = []
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, p.stderr
        out.append(next(line for line in p.stdout.splitlines() if line.startswith("RESULT")).split())
    assert out[0][1:4] == ["llvm", "False", "True"]
    assert out[1][1:4] == ["llvm", "True", "False"]          # no derivation, kernels from the library
    assert out[0][4] == out[1][4] == "0" and out[0][5] == out[1][5]
    assert list(Path(tmp_path).rglob("opt-kernels-*.so"))
