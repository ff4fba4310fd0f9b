"""CUDA C export: compiled by ``nvcc -ptx`` (skipped only without nvcc), assembled by
ptxas, and its solvers run on the host through a small C++ harness compiled by nvcc,
against the Python CPU ensemble."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import symgen as sg
from symgen.backends.cuda.cexport import export_cuda_c

nvcc = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(nvcc is None, reason="nvcc (CUDA toolkit) not found")

_HARNESS = r"""
#include <cstdio>
#include <cstdlib>
#include "model.cu"
int main(int argc, char** argv) {
    // argv: method, t_end, rtol, atol, then N initial values, then NP parameters
    double y[SG_N], p[SG_NP1], saveat[2], out[2 * SG_N];
    long long st[5];
    int a = 5;
    for (int i = 0; i < SG_N; ++i) y[i] = atof(argv[a++]);
    for (int i = 0; i < SG_NP; ++i) p[i] = atof(argv[a++]);
    double tend = atof(argv[2]);
    saveat[0] = 0.5 * tend; saveat[1] = tend;
    int s = argv[1][0] == 't'
        ? sg_tsit5<double>(y, p, 0.0, saveat, 2, 0.0, atof(argv[3]), atof(argv[4]), 1000000, 1, out, st)
        : sg_ros3p<double>(y, p, 0.0, saveat, 2, 0.0, atof(argv[3]), atof(argv[4]), 1000000, 1, out, st);
    printf("%d", s);
    for (int i = 0; i < 2 * SG_N; ++i) printf(" %.17g", out[i]);
    for (int i = 0; i < 5; ++i) printf(" %lld", st[i]);
    printf("\n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def models(examples_path):
    from lorenz import build as lorenz
    from robertson import build as robertson
    return {"lorenz": sg.compile(lorenz()), "robertson": sg.compile(robertson())}


@needs_nvcc
@pytest.mark.parametrize("name", ["lorenz", "robertson"])
def test_cuda_c_export_compiles_with_nvcc_ptx(name, models, tmp_path):
    cu = tmp_path / "model.cu"
    text = export_cuda_c(models[name], cu)
    assert "sg_tsit5_f32" in text and "sg_ros3p_f64" in text
    for arch in ("sm_80", "sm_90"):
        ptx = tmp_path / f"model_{arch}.ptx"
        r = subprocess.run([nvcc, "-ptx", f"-arch={arch}", str(cu), "-o", str(ptx)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        body = ptx.read_text()
        for k in ("sg_tsit5_f32", "sg_tsit5_f64", "sg_ros3p_f32", "sg_ros3p_f64"):
            assert f".entry {k}" in body
        if shutil.which("ptxas"):
            r = subprocess.run(["ptxas", "-v", f"-arch={arch}", str(ptx), "-o", str(tmp_path / "m.cubin")],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr[-3000:]
            spills = [int(x) for x in re.findall(r"(\d+) bytes spill stores", r.stderr)]
            print(name, arch, re.findall(r"entry function '(\w+)'|Used (\d+) registers", r.stderr))
            assert sum(spills) == 0


@needs_nvcc
@pytest.mark.parametrize("name,method,y0,t_end,tol", [
    ("lorenz", "tsit5", [1.0, 0.0, 0.0], 1.0, (1e-9, 1e-9)),
    ("robertson", "rosenbrock", [1.0, 0.0, 0.0], 10.0, (1e-7, 1e-12)),
])
def test_cuda_c_solvers_on_host_match_cpu_ensemble(name, method, y0, t_end, tol, models, tmp_path):
    model = models[name]
    export_cuda_c(model, tmp_path / "model.cu")
    (tmp_path / "harness.cu").write_text(_HARNESS)
    exe = tmp_path / "harness"
    r = subprocess.run([nvcc, "-O2", "-o", str(exe), str(tmp_path / "harness.cu")], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "host compiler" in r.stderr.lower():
        pytest.skip("nvcc has no usable host compiler")
    assert r.returncode == 0, r.stderr[-3000:]
    p = model.param_vector({})
    args = [method[0], repr(t_end), repr(tol[0]), repr(tol[1])] + [repr(float(v)) for v in list(y0) + list(p)]
    out = subprocess.run([str(exe)] + args, capture_output=True, text=True, timeout=120).stdout.split()
    status, u, stats = int(out[0]), np.array(out[1:7], float).reshape(2, 3), np.array(out[7:], int)
    ref = model.ensemble(params=p, y0=y0, t_span=(0, t_end), saveat=[t_end / 2, t_end], method=method,
                         rtol=tol[0], atol=tol[1])
    assert status == ref.status[0] == 0
    np.testing.assert_allclose(u, ref.u[0], rtol=1e-9, atol=1e-14)
    np.testing.assert_array_equal(stats, ref.stats[0])
