"""CUDA ensemble kernels without a GPU: the CUDA simulator against the CPU ensemble,
PTX for sm_80/sm_90 assembled by ptxas (registers, spills), the CUDA C export by nvcc."""
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

numba_cuda = pytest.importorskip("numba.cuda", reason="the cuda extra (numba-cuda) is not installed")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_SIM_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, {examples!r})
    import symgen as sg
    from lorenz import build as lorenz
    from robertson import build as robertson
    cfg = json.loads(sys.argv[1])
    out = {{}}
    for name, build in (("lorenz", lorenz), ("robertson", robertson)):
        m = sg.compile(build())
        c = cfg[name]
        sol = m.ensemble(params=np.array(c["params"]), y0=np.array(c["y0"]), t_span=c["t_span"],
                         saveat=c["saveat"], method=c["method"], backend="cuda",
                         dtype=c["dtype"], rtol=c["rtol"], atol=c["atol"],
                         adaptive=c["adaptive"], dt=c["dt"], threads_per_block=8)
        np.save(cfg["out"] + name + ".npy", sol.u)
        np.save(cfg["out"] + name + "_status.npy", sol.status)
""")


def _cases(robertson_params):
    rng = np.random.default_rng(3)
    n = 6
    lor = np.column_stack([9 + 2 * rng.random(n), 27 + 2 * rng.random(n), np.full(n, 8 / 3)])
    k = np.array([[0.04, 3e7, 1e4], [0.05, 2e7, 2e4], [0.03, 4e7, 5e3]])
    rob = np.array([[dict(zip(("k1", "k2", "k3"), row))[s] for s in robertson_params] for row in k])
    return {
        "lorenz": dict(params=lor.tolist(), y0=[[1.0, 0.0, 0.0]] * n, t_span=[0, 1],
                       saveat=[0.5, 1.0], method="tsit5", rtol=1e-8, atol=1e-8, adaptive=True,
                       dt=0.0),
        "robertson": dict(params=rob.tolist(), y0=[[1.0, 0.0, 0.0]] * 3, t_span=[0, 10],
                          saveat=[1.0, 10.0], method="rosenbrock", rtol=1e-6, atol=1e-10,
                          adaptive=True, dt=0.0),
    }


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_simulator_matches_cpu_ensemble(dtype, examples_path, tmp_path):
    from lorenz import build as lorenz
    from robertson import build as robertson
    models = {"lorenz": sg.compile(lorenz()), "robertson": sg.compile(robertson())}
    cases = _cases([str(s) for s in models["robertson"].params])
    for c in cases.values():
        c["dtype"] = dtype
    cfg = dict(cases, out=str(tmp_path) + "/")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-c", _SIM_SCRIPT.format(examples=examples_path), json.dumps(cfg)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for name, m in models.items():
        c = cases[name]
        cpu = m.ensemble(params=np.array(c["params"]), y0=np.array(c["y0"]), t_span=c["t_span"],
                         saveat=c["saveat"], method=c["method"], dtype=dtype, rtol=c["rtol"],
                         atol=c["atol"])
        sim = np.load(tmp_path / f"{name}.npy")
        assert sim.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}_status.npy"), cpu.status)
        assert cpu.success
        if dtype == "float64":
            np.testing.assert_allclose(sim, cpu.u, rtol=1e-10, atol=1e-10)
        else:   # same float32 arithmetic up to the order of library math calls
            np.testing.assert_allclose(sim, cpu.u, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("example,method", [("lorenz", "tsit5"), ("robertson", "rosenbrock")])
def test_ptx_and_ptxas_registers_without_spills(example, method, examples_path):
    from symgen.backends.cuda.ensemble import compile_ptx, ptxas_report
    from symgen.ensemble.device import device_module
    mod = __import__(example)
    model = sg.compile(mod.build())
    dev = device_module(model)
    solver = {"tsit5": "tsit5", "rosenbrock": "ros3p"}[method]
    # NVVM for sm_80 and sm_90 (the Rosenbrock kernel once, for sm_80: its PTX is
    # assembled for both architectures below, which keeps the test short)
    ccs = ((8, 0), (9, 0)) if method == "tsit5" else ((8, 0),)
    for cc in ccs:
        ptx = compile_ptx(dev, solver, np.float32, cc=cc)
        assert f".target sm_{cc[0]}{cc[1]}" in ptx and ".entry" in ptx
        assert not re.search(r"\.f64\b", ptx), "the float32 kernel does float64 arithmetic"
        if shutil.which("ptxas") is None:
            continue
        for arch in ([f"sm_{cc[0]}{cc[1]}"] if len(ccs) > 1 else ["sm_80", "sm_90"]):
            rep = ptxas_report(ptx, arch)
            print(f"{example} {method} float32 {arch}: {rep['registers']} registers, "
                  f"{rep['spill_stores']} B spill stores, {rep['spill_loads']} B spill loads")
            assert rep["registers"] > 0
            assert rep["spill_stores"] == 0 and rep["spill_loads"] == 0, rep["log"]


_BATCH_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {examples!r})
    import symgen as sg
    from brusselator import build_1d
    from symgen.backends.cuda.ensemble import batch_eval
    from symgen.ensemble.device import device_module
    m = sg.compile(build_1d(8))
    dev = device_module(m)
    data = np.load(sys.argv[1])
    ys, vs, p = data["ys"], data["vs"], data["p"]
    out = {{name: batch_eval(dev, m.key, name, 0.3, ys, p, vs)
           for name in ("rhs", "jvp", "jac_values")}}
    np.savez(sys.argv[2], **out)
""")


def test_batched_rhs_and_jvp_kernels_of_a_pde_model(examples_path, tmp_path):
    """1D Brusselator (method of lines): RHS, Jacobian values and J v at many states per
    launch, against the host kernels and the sparse Jacobian (simulator)."""
    from brusselator import build_1d
    m = sg.compile(build_1d(8))
    rng = np.random.default_rng(5)
    ys = 1 + rng.random((5, len(m.states)))
    vs = rng.standard_normal((5, len(m.states)))
    p = m.param_vector({})
    np.savez(tmp_path / "in.npz", ys=ys, vs=vs, p=p)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-c", _BATCH_SCRIPT.format(examples=examples_path),
                        str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    for i in range(len(ys)):
        np.testing.assert_allclose(out["rhs"][i], m.rhs(0.3, ys[i], p), rtol=1e-13, atol=1e-13)
        J = m.jac_sparse(0.3, ys[i], p)
        np.testing.assert_allclose(out["jac_values"][i], J.data, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(out["jvp"][i], J @ vs[i], rtol=1e-12, atol=1e-12)


def test_cuda_backend_without_a_gpu_raises_a_clear_error(examples_path):
    from numba import cuda
    if cuda.is_available():
        pytest.skip("a CUDA GPU (or the simulator) is available")
    from lorenz import build
    with pytest.raises(sg.BackendError, match="no usable CUDA GPU"):
        sg.compile(build()).ensemble(y0=[1.0, 0.0, 0.0], t_span=(0, 1), backend="cuda")
