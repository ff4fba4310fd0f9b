"""CUDA stencil kernels of PDE models without a GPU.

* The CUDA simulator (a subprocess with ``NUMBA_ENABLE_CUDASIM=1``) runs the generated
  kernels of 1D/2D/3D models (orders 2 and 4; Dirichlet, Neumann, Robin, periodic)
  and matches the CPU loop-nest kernels: the RHS and the Jacobian values to 1e-12,
  ``J v`` and ``J^T v`` against the CPU sparse Jacobian (SciPy products) to 1e-12.
* NVVM compiles every kernel kind for sm_80 and sm_90 and ptxas reports registers and
  spills (no spills allowed).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symgen as sg

pytest.importorskip("numba.cuda", reason="the cuda extra (numba-cuda) is not installed")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cuda_stencil_models import model  # noqa: E402

_SIM = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, {here!r})
    import symgen as sg
    from numba import cuda
    from cuda_stencil_models import model
    cfg = json.loads(sys.argv[1])
    for name in cfg["cases"]:
        pde, order = model(name)
        m = sg.compile(pde, order=order, backend="cuda")   # CPU kernels + model.cuda
        d = np.load(cfg["dir"] + name + "_in.npz")
        y, v, t = d["y"], d["v"], float(d["t"])
        out = dict(rhs=m.cuda.rhs(t, y), jvp=m.cuda.jvp(t, y, v), jtv=m.cuda.jtv(t, y, v),
                   jac_values=m.cuda.jac_values(t, y))
        # device arrays in -> device array out (given out= too)
        dy, dv = cuda.to_device(y), cuda.to_device(v)
        dres = cuda.device_array(m.n)
        r = m.cuda.jvp(t, dy, dv, out=dres)
        assert r is dres
        out["jvp_device"] = dres.copy_to_host()
        # float32 kernels with small blocks (several blocks per launch)
        from symgen.backends.cuda.stencil import cuda_stencil
        c32 = cuda_stencil(m, np.float32, block=(4,) * m.stencil.ndim, edge_block=16)
        out["rhs32"] = c32.rhs(t, y)
        out["jtv32"] = c32.jtv(t, y, v)
        np.savez(cfg["dir"] + name + "_out.npz", **out)
""")


def _compare(m, t, y, v, out):
    scale = max(1.0, float(np.abs(m.rhs(t, y)).max()))
    np.testing.assert_allclose(out["rhs"], m.rhs(t, y), rtol=1e-12, atol=1e-12 * scale)
    vals = m.jac_values(t, y)
    jscale = float(np.abs(vals).max())
    np.testing.assert_allclose(out["jac_values"], vals, rtol=1e-12, atol=1e-12 * jscale)
    J = m.jac_sparse(t, y)
    vsc = jscale * float(np.abs(v).max()) * 8
    np.testing.assert_allclose(out["jvp"], J @ v, rtol=1e-12, atol=1e-12 * vsc)
    np.testing.assert_array_equal(out["jvp_device"], out["jvp"])
    np.testing.assert_allclose(out["jtv"], J.T @ v, rtol=1e-12, atol=1e-12 * vsc)
    if m.stencil.nfields == 2:  # the CPU transposed-stencil kernel (compiled once: slow)
        np.testing.assert_allclose(out["jtv"], m.jtv(t, y, v), rtol=1e-12, atol=1e-12 * vsc)
    assert out["rhs32"].dtype == np.float32
    np.testing.assert_allclose(out["rhs32"], m.rhs(t, y), rtol=2e-4, atol=2e-5 * scale)
    np.testing.assert_allclose(out["jtv32"], J.T @ v, rtol=2e-4, atol=2e-5 * vsc)


# the CPU reference kernels of models with many boundary regions (order 4 with bounded
# axes, 3D with bounded axes) take a minute or more each to compile: those are "slow"
FAST = ("1d_o2_two_fields", "1d_o4_periodic", "2d_o2_inner_periodic", "3d_o4_periodic")
HEAVY = ("2d_o4_outer_periodic", "3d_o2_mixed")


@pytest.mark.parametrize("cases", [FAST, pytest.param(HEAVY, marks=pytest.mark.slow)], ids=["fast", "heavy"])
def test_simulator_matches_cpu_stencil_kernels(cases, tmp_path):
    rng = np.random.default_rng(11)
    models = {}
    for name in cases:
        pde, order = model(name)
        m = sg.compile(pde, order=order)
        y = rng.uniform(0.5, 1.5, m.n)
        v = rng.standard_normal(m.n)
        np.savez(tmp_path / f"{name}_in.npz", y=y, v=v, t=0.4)
        models[name] = (m, y, v)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    cfg = {"cases": list(cases), "dir": str(tmp_path) + "/"}
    r = subprocess.run([sys.executable, "-c", _SIM.format(here=HERE), json.dumps(cfg)],
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    for name, (m, y, v) in models.items():
        out = np.load(tmp_path / f"{name}_out.npz")
        _compare(m, 0.4, y, v, out)


def test_generated_source_is_grid_independent_and_names_free():
    from symgen.backends.cuda.stencil import stencil_module
    srcs = []
    for n in (9, 40):
        g = sg.Grid(x=(0, 1, n), y=(0, 1, n), periodic="x")
        u = sg.fields("weird_name", g)
        pde = sg.PDESystem([sg.D(u) == sg.laplacian(u) - u ** 3], sg.time(),
                           bcs=[sg.Dirichlet(u, "y-", 0), sg.Neumann(u, "y+", 1)], name="sz")
        srcs.append(stencil_module(sg.compile(pde)).SOURCE)
    assert srcs[0] == srcs[1]
    code = "\n".join(line.split("#")[0] for line in srcs[0].splitlines())
    assert "weird_name" not in code
    assert "def rhs_bulk(" in code and "def jtv_edge(" in code and "cuda.atomic.add" in code


def test_bad_launch_options_raise():
    pde, order = model("1d_o2_two_fields")
    m = sg.compile(pde, order=order)
    from symgen.backends.cuda.stencil import cuda_stencil
    with pytest.raises(sg.SymgenError, match="block"):
        cuda_stencil(m, block=(8, 8))
    with pytest.raises(sg.BackendError, match="PDE model"):
        cuda_stencil(object())


def _brusselator_heat(examples_path):
    import brusselator_pde
    t = sg.time()
    g = sg.Grid(x=(0, 1, 12), y=(0, 1, 12))
    u = sg.fields("u", g)
    heat = sg.PDESystem([sg.D(u) == sg.laplacian(u)], t, bcs=[sg.Dirichlet(u, s, 0) for s in ("x-", "x+", "y-", "y+")],
                        name="heat")
    return sg.compile(brusselator_pde.build(16)), sg.compile(heat)


def test_ptx_for_sm80_sm90_and_ptxas_registers(examples_path):
    """Every kind, bulk and boundary kernel, float32 and float64, for the 2D Brusselator
    (periodic) and 2D heat (Dirichlet): PTX for sm_80 and sm_90, no spills."""
    from symgen.backends.cuda.ensemble import ptxas_report
    from symgen.backends.cuda.stencil import compile_stencil_ptx
    bru, heat = _brusselator_heat(examples_path)
    for label, m in (("brusselator", bru), ("heat", heat)):
        for kind in ("rhs", "jvp", "jtv", "jac_values"):
            for part in ("bulk", "edge"):
                for dtype in (np.float32, np.float64):
                    cc = (9, 0) if (kind, dtype) in (("rhs", np.float32), ("jtv", np.float64)) else (8, 0)
                    ptx = compile_stencil_ptx(m, kind, part, dtype, cc=cc)
                    assert f".target sm_{cc[0]}{cc[1]}" in ptx and ".entry" in ptx
                    if dtype == np.float32:
                        assert not re.search(r"\.f64\b", ptx), "float32 kernel does float64 arithmetic"
                    if shutil.which("ptxas") is None:
                        continue
                    rep = ptxas_report(ptx, f"sm_{cc[0]}{cc[1]}")
                    print(f"{label} {kind}_{part} {np.dtype(dtype).name} sm_{cc[0]}{cc[1]}: "
                          f"{rep['registers']} registers, spills {rep['spill_stores']}/{rep['spill_loads']} B")
                    assert rep["registers"] > 0
                    assert rep["spill_stores"] == 0 and rep["spill_loads"] == 0, rep["log"]


@pytest.mark.slow
def test_gpu_stencil_benchmark_smoke_run():
    """benchmarks/gpu_stencil.py --smoke runs end to end in the CUDA simulator (so it will
    not crash on a GPU machine for want of a code path never run)."""
    script = os.path.join(os.path.dirname(os.path.dirname(HERE)), "benchmarks", "gpu_stencil.py")
    r = subprocess.run([sys.executable, script, "--smoke", "--no-threads"], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith(("heat", "brusselator"))]
    assert len(rows) == 4 and all(line.endswith("0.0e+00") for line in rows), r.stdout
