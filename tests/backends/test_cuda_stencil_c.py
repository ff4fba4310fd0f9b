"""CUDA C export of the PDE stencil kernels (``export_stencil_cu``), without a GPU.

* ``nvcc -ptx`` for sm_80 and sm_90 compiles the exported ``.cu`` of the 2D Brusselator
  (periodic axes) and a 3D heat model (Dirichlet, Neumann, periodic axes); ptxas reports
  registers and spills of every kernel (no spills allowed); float32 kernels do no float64
  arithmetic.  Skipped only when nvcc is absent.
* The same generated point functions, thread-to-point maps (bulk grid and the guarded
  boundary list) and host sweeps, built for the host by a C++ compiler through a small
  harness, match the CPU Numba stencil kernels to 1e-12 in double: RHS and Jacobian values
  directly, ``J v`` and ``J^T v`` against the CPU sparse Jacobian (SciPy products).
"""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import symgen as sg
from symgen.backends.cuda import export_stencil_cu

nvcc = shutil.which("nvcc")
cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
needs_nvcc = pytest.mark.skipif(nvcc is None, reason="nvcc (CUDA toolkit) not found")

_HARNESS = r"""
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "stencil.cu"
#if SG_NDIM == 1
#define NS n[0]
#elif SG_NDIM == 2
#define NS n[0], n[1]
#else
#define NS n[0], n[1], n[2]
#endif
template <typename V> static std::vector<V> rd(const char* name, long long count) {
    std::vector<V> a(count);
    FILE* f = fopen(name, "rb");
    if (!f || fread(a.data(), sizeof(V), count, f) != (size_t)count) { fprintf(stderr, "read %s\n", name); exit(2); }
    fclose(f);
    return a;
}
static void wr(const char* name, const std::vector<double>& a) {
    FILE* f = fopen(name, "wb");
    fwrite(a.data(), sizeof(double), a.size(), f);
    fclose(f);
}
int main(int argc, char** argv) {
    // argv: t, N, nnz, n0 [n1 [n2]]; inputs y.bin v.bin p.bin rowptr.bin in the cwd
    const double t = atof(argv[1]);
    const long long N = atoll(argv[2]), nnz = atoll(argv[3]);
    SG_INDEX n[3] = {1, 1, 1};
    for (int a = 0; a < SG_NDIM; ++a) n[a] = atoi(argv[4 + a]);
    std::vector<double> y = rd<double>("y.bin", N), v = rd<double>("v.bin", N), p = rd<double>("p.bin", SG_META);
    std::vector<long long> rowptr = rd<long long>("rowptr.bin", N + 1);
    std::vector<double> rhs(N, -7.0), jvp(N, -7.0), jtv(N, -7.0), jac(nnz, -7.0), pad(N, -7.0);
    sg_rhs_sweep<double>(NS, t, y.data(), p.data(), rhs.data());
    sg_jvp_sweep<double>(NS, t, y.data(), p.data(), v.data(), jvp.data());
    sg_jtv_sweep<double>(NS, t, y.data(), p.data(), v.data(), jtv.data());
    sg_jac_values_sweep<double>(NS, t, y.data(), p.data(), rowptr.data(), jac.data());
    // a launch padded to whole blocks: threads past the extents must write nothing
    long long ext[3] = {1, 1, 1};
    sg_bulk_extent(NS, ext);
    for (long long z = 0; z < ext[2] + 3; ++z)
        for (long long yy = 0; yy < ext[1] + 3; ++yy)
            for (long long x = 0; x < ext[0] + 5; ++x)
#if SG_NDIM == 1
                if (yy == 0 && z == 0) sg_rhs_bulk_at<double>((SG_INDEX)x, NS, t, y.data(), p.data(), pad.data());
#elif SG_NDIM == 2
                if (z == 0) sg_rhs_bulk_at<double>((SG_INDEX)x, (SG_INDEX)yy, NS, t, y.data(), p.data(), pad.data());
#else
                sg_rhs_bulk_at<double>((SG_INDEX)x, (SG_INDEX)yy, (SG_INDEX)z, NS, t, y.data(), p.data(), pad.data());
#endif
    for (long long r = 0; r < sg_edge_count(NS) + 100; ++r)
        sg_rhs_edge_at<double>(r, NS, t, y.data(), p.data(), pad.data());
    wr("rhs.out", rhs); wr("jvp.out", jvp); wr("jtv.out", jtv); wr("jac.out", jac); wr("pad.out", pad);
    return 0;
}
"""


def _heat3d(n=(7, 6, 8), name="heat3d"):
    t = sg.time()
    g = sg.Grid(x=(0, 1, n[0]), y=(0, 2, n[1]), z=(0, 1, n[2]), periodic=("y", "z"))
    u = sg.fields("u", g)
    kappa = sg.params("kappa")
    pde = sg.PDESystem([sg.D(u) == kappa * sg.laplacian(u) - u ** 3],
                       t, bcs=[sg.Dirichlet(u, "x-", 0.5), sg.Neumann(u, "x+", 1)],
                       defaults={kappa: 0.8}, name=name)
    return sg.compile(pde)


@pytest.fixture(scope="module")
def models(examples_path):
    import brusselator_pde
    return {"brusselator": sg.compile(brusselator_pde.build(16)), "heat3d": _heat3d()}


@needs_nvcc
@pytest.mark.parametrize("name", ["brusselator", "heat3d"])
def test_stencil_cu_compiles_with_nvcc_ptx_and_ptxas(name, models, tmp_path):
    files = export_stencil_cu(models[name], tmp_path)
    kinds = ("rhs", "jvp", "jtv", "jac_values")
    for arch in ("sm_80", "sm_90"):
        ptx = tmp_path / f"stencil_{arch}.ptx"
        r = subprocess.run([nvcc, "-ptx", f"-arch={arch}", str(files["cu"]), "-o", str(ptx)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        body = ptx.read_text()
        assert f".target {arch}" in body
        entries = dict(re.findall(r"\.entry (\w+)\((.*?)\n}", body, re.S))
        for kind in kinds:
            for part in ("bulk", "edge"):
                for ft in ("f32", "f64"):
                    assert f"sg_{kind}_{part}_{ft}" in entries
                    if ft == "f32":
                        assert not re.search(r"\.f64\b", entries[f"sg_{kind}_{part}_{ft}"]), \
                            f"float32 kernel sg_{kind}_{part}_f32 does float64 arithmetic"
        assert "atom.global.add.f64" in entries["sg_jtv_bulk_f64"]
        if shutil.which("ptxas"):
            r = subprocess.run(["ptxas", "-v", f"-arch={arch}", str(ptx), "-o", str(tmp_path / "s.cubin")],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr[-3000:]
            regs = [int(x) for x in re.findall(r"Used (\d+) registers", r.stderr)]
            spills = [int(x) for x in re.findall(r"(\d+) bytes spill stores", r.stderr)]
            spills += [int(x) for x in re.findall(r"(\d+) bytes spill loads", r.stderr)]
            names = re.findall(r"Compiling entry function '(\w+)'", r.stderr)
            print(name, arch, list(zip(names, regs)))
            assert len(regs) == 16 and min(regs) > 0
            assert sum(spills) == 0, r.stderr[-3000:]
    # the host launch helpers and the header build together (host compile, no GPU needed)
    main = tmp_path / "use.cu"
    main.write_text('#include "stencil.h"\nint main() { return (int)(&sg_stencil_jtv_f64 != 0) - 1; }\n')
    r = subprocess.run([nvcc, "-arch=sm_80", "-c", str(files["cu"]), "-o", str(tmp_path / "s.o")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([nvcc, "-arch=sm_80", "-c", str(main), "-o", str(tmp_path / "use.o")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.skipif(cxx is None, reason="no C++ compiler")
@pytest.mark.parametrize("name", ["brusselator", "heat3d"])
def test_stencil_cu_on_host_matches_cpu_kernels(name, models, tmp_path):
    _host_check(models[name], tmp_path)


@pytest.mark.skipif(cxx is None, reason="no C++ compiler")
@pytest.mark.parametrize("case", ["1d_o2_two_fields", "1d_o4_periodic", "2d_o2_inner_periodic", "3d_o4_periodic"]
                         + [pytest.param(c, marks=pytest.mark.slow)  # CPU reference compiles for minutes
                            for c in ("2d_o4_outer_periodic", "3d_o2_mixed")])
def test_stencil_cu_on_host_more_boundaries(case, tmp_path):
    """The 1D/2D/3D order-2/4 cases of the numba.cuda stencil tests: time- and
    coordinate-dependent Dirichlet/Neumann/Robin data, upwinding, two fields, periodic wraps."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from cuda_stencil_models import model
    pde, order = model(case)
    _host_check(sg.compile(pde, order=order), tmp_path)


def _host_check(m, tmp_path):
    export_stencil_cu(m, tmp_path, dtype=np.float64)
    (tmp_path / "harness.cpp").write_text(_HARNESS)
    exe = tmp_path / "harness"
    r = subprocess.run([cxx, "-x", "c++", "-O1", "-std=c++14", "-o", str(exe), "harness.cpp"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rng = np.random.default_rng(3)
    n = m.n
    y = 1.0 + 0.5 * rng.standard_normal(n)
    v = rng.standard_normal(n)
    t = 1.3  # past the Brusselator's forcing switch-on
    nd = m.stencil.ndim
    meta = len(m.params) + 3 * nd
    p = m.param_vector()
    p[: len(m.params)] *= 1.0 + 0.1 * rng.random(len(m.params))   # not just the defaults
    rowptr = np.ascontiguousarray(m.jac_sparsity.indptr, dtype=np.int64)
    y.tofile(tmp_path / "y.bin")
    v.tofile(tmp_path / "v.bin")
    p[:meta].tofile(tmp_path / "p.bin")
    rowptr.tofile(tmp_path / "rowptr.bin")
    nnz = m.jac_sparsity.nnz
    shape = [int(s) for s in m.shape]
    r = subprocess.run([str(exe), repr(t), str(n), str(nnz)] + [str(s) for s in shape], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = {k: np.fromfile(tmp_path / f"{k}.out") for k in ("rhs", "jvp", "jtv", "jac", "pad")}
    pu = p[: len(m.params)]
    ref = m.rhs(t, y, pu)
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(out["rhs"], ref, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_array_equal(out["pad"], out["rhs"])
    vals = m.jac_values(t, y, pu)
    jscale = float(np.abs(vals).max())
    np.testing.assert_allclose(out["jac"], vals, rtol=1e-12, atol=1e-12 * jscale)
    J = m.jac_sparse(t, y, pu)
    vsc = jscale * float(np.abs(v).max()) * 8
    np.testing.assert_allclose(out["jvp"], J @ v, rtol=1e-12, atol=1e-12 * vsc)
    np.testing.assert_allclose(out["jtv"], J.T @ v, rtol=1e-12, atol=1e-12 * vsc)


def test_stencil_cu_is_grid_independent_names_free_and_checks_input(tmp_path):
    texts = [export_stencil_cu(_heat3d(n, name="weird_name"), tmp_path / str(n[0]), dtype=np.float32)
             for n in ((5, 4, 6), (9, 8, 7))]
    cu = [f["cu"].read_text() for f in texts]
    assert cu[0] == cu[1]
    assert texts[0]["h"].read_text() == texts[1]["h"].read_text()
    code = "\n".join(line.split("//")[0] for line in cu[0].splitlines())
    assert "weird_name" not in code and "kappa" not in code
    assert "sg_rhs_bulk_f32" in code and "sg_rhs_bulk_f64" not in code
    with pytest.raises(sg.BackendError, match="PDE model"):
        export_stencil_cu(object(), tmp_path)
    m = _heat3d((5, 4, 6))
    with pytest.raises(sg.BackendError, match="float32 or float64"):
        export_stencil_cu(m, tmp_path, dtype=np.int32)
    with pytest.raises(sg.BackendError, match="stem"):
        export_stencil_cu(m, tmp_path, stem="../x")


def test_sg_export_target_cuda(tmp_path, examples_path):
    """``sg.export(..., target="cuda")``: stencil .cu/.h for a PDE system or model, the
    ensemble .cu for an ODE model; names are checked."""
    m = _heat3d((5, 4, 6))
    res = sg.export(m.system, target="cuda", out=tmp_path / "a", name="heat")
    assert res.cu.name == "heat.cu" and res.h.name == "heat.h"
    assert res.cu.read_text() == export_stencil_cu(m, tmp_path / "b", stem="heat")["cu"].read_text()
    from lorenz import build as lorenz
    res = sg.export(sg.compile(lorenz()), target="cuda", out=tmp_path / "c")
    assert res.cu.suffix == ".cu" and "sg_tsit5_f64" in res.cu.read_text()
    with pytest.raises(sg.ExportError, match="C identifier"):
        sg.export(m, target="cuda", out=tmp_path / "d", name="sg_bad")
    with pytest.raises(sg.ExportError, match="system or a compiled model"):
        sg.export(object(), target="cuda", out=tmp_path / "e")
