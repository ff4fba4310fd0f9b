"""Ahead-of-time export: standalone Python package and C library reproduce symgen.

References: the in-process solve of the same model (LLVM backend, dense LU) to 1e-12, the
model's SymPy expressions evaluated with mpmath for the kernels, and the steppers'
solution against SciPy at tight tolerance (an independent integrator).
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgen as sg
from symgen.aot.native import c_identifier, c_string
from symgen.errors import ExportError

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

#: a sys.meta_path finder that refuses symgen and every heavy dependency
BLOCKER = textwrap.dedent("""
    import sys
    class _Block:
        BLOCKED = ("symgen", "sympy", "jinja2", "numba", "llvmlite", "scipy", "mpmath")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError("blocked in this test: " + name)
            return None
    sys.meta_path.insert(0, _Block())
""")


def _load(name):
    sys.path.insert(0, str(EX))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(EX))


CASES = {
    # name: (example module, y0, t_span, params, methods, rtol, atol)
    "lorenz": ("lorenz", {"x": 1.0, "y": 0.0, "z": 0.0}, (0.0, 15.0), None, ("dopri5", "auto", "radau5"),
               1e-8, 1e-10),
    "robertson": ("robertson", {"y1": 1.0, "y2": 0.0, "y3": 0.0}, (0.0, 1e4), None, ("radau5", "auto"),
                  1e-6, 1e-10),
    "vdp": ("van_der_pol", {"x": 2.0, "v": 0.0}, (0.0, 3.0), {"mu": 500.0}, ("radau5", "auto"), 1e-7, 1e-9),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each case exported as a python package and as a C library, with its LLVM model."""
    out = tmp_path_factory.mktemp("exports")
    arts = {}
    for key, (mod, *_rest) in CASES.items():
        model = sg.compile(_load(mod).build(), backend="llvm")
        py = sg.export(model, target="python", out=out / "py", name=f"exp_{key}")
        c = sg.export(model, target="c", out=out / f"c_{key}", name=f"exp_{key}")
        arts[key] = (model, py, c)
    return out, arts


def _reference(model, case, method, t_eval=None):
    _, y0, t_span, params, _, rtol, atol = case
    return model.solve(y0, t_span, params, method=method, rtol=rtol, atol=atol, linear_solver="dense",
                       t_eval=t_eval)


def _close(a, b, tol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    scale = np.maximum(np.abs(a), 1e-300)
    assert np.all(np.abs(a - b) <= tol * np.maximum(scale, np.max(np.abs(a)) * 1e-6)), np.max(np.abs(a - b))


def test_python_package_runs_without_symgen(exported, tmp_path):
    out, arts = exported
    script = BLOCKER + textwrap.dedent(f"""
        import json, time
        t0 = time.perf_counter()
        import numpy as np
        t1 = time.perf_counter()
        sys.path.insert(0, {str(out / "py")!r})
        cases = json.loads({json.dumps(json.dumps({k: [v[1], v[2], v[3], v[4], v[5], v[6]] for k, v in CASES.items()}))})
        res = {{}}
        timing = None
        for key, (y0, t_span, params, methods, rtol, atol) in cases.items():
            t2 = time.perf_counter()
            pkg = __import__("exp_" + key)
            f = pkg.rhs(0.0, pkg.model.initial_vector(y0), pkg.model.param_vector(params))
            t3 = time.perf_counter()
            if timing is None:
                timing = {{"numpy": t1 - t0, "import_and_first_call": t3 - t2}}
            for m in methods:
                sol = pkg.solve(y0, t_span, params, method=m, rtol=rtol, atol=atol)
                te = np.linspace(t_span[0], t_span[1], 7)
                sol_te = pkg.solve(y0, t_span, params, method=m, rtol=rtol, atol=atol, t_eval=te)
                res[key + ":" + m] = {{"t": sol.t.tolist(), "y": sol.y.tolist(), "status": sol.status,
                                      "stats": sol.stats, "method": sol.method,
                                      "dense": sol(te).tolist(), "y_te": sol_te.y.tolist()}}
        bad = [m for m in sys.modules if m.split(".")[0] in ("symgen", "sympy", "numba", "llvmlite", "jinja2")]
        print(json.dumps({{"res": res, "timing": timing, "loaded": bad}}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["loaded"] == []
    print("import + first call:", data["timing"])
    for key, case in CASES.items():
        model = arts[key][0]
        for m in case[4]:
            got = data["res"][f"{key}:{m}"]
            ref = _reference(model, case, m)
            assert got["status"] == ref.status == 0
            assert got["method"] == ref.method
            assert got["stats"] == ref.stats
            _close(ref.t, got["t"])
            _close(ref.y, got["y"])
            te = np.linspace(case[2][0], case[2][1], 7)
            _close(ref(te), got["dense"])
            _close(_reference(model, case, m, t_eval=te).y, got["y_te"])


C_PROGRAM = r"""
#include <stdio.h>
#include "exp_robertson.h"
int main(void) {
    double y0[3] = {1.0, 0.0, 0.0}, p[3] = {P_VALUES}, atol[3] = {1e-10, 1e-10, 1e-10};
    double te[3] = {1.0, 10.0, 100.0};
    sg_result r;
    int64_t st = exp_robertson_radau5(0.0, 100.0, y0, p, 1e-6, atol, 0.0, 0.0, 100000, te, 3, 0, 0, &r);
    printf("radau5 %lld %lld %lld\n", (long long)st, (long long)r.m, (long long)r.stats[SG_ST_NJEV]);
    for (int k = 0; k < r.n_eval; k++)
        printf("%.17g %.17g %.17g\n", r.yeval[3 * k], r.yeval[3 * k + 1], r.yeval[3 * k + 2]);
    sg_result_free(&r);
    double out[EXP_ROBERTSON_N_STATES];
    exp_robertson_rhs(0.0, y0, p, out);
    printf("rhs %.17g %.17g %.17g\n", out[0], out[1], out[2]);
    st = exp_robertson_dopri5(0.0, 0.5, y0, p, 1e-6, atol, 0.0, 0.0, 100000, NULL, 0, 1, 0, &r);
    printf("dopri5 %lld %lld %s\n", (long long)st, (long long)r.m, sg_status_message(st));
    printf("%.17g %.17g %.17g\n", r.ys[3 * (r.m - 1)], r.ys[3 * (r.m - 1) + 1], r.ys[3 * (r.m - 1) + 2]);
    sg_result_free(&r);
    printf("names %s %s %s\n", exp_robertson_state_names[2], exp_robertson_param_names[1],
           exp_robertson_observed_names[0]);
    return 0;
}
"""


def test_c_program_against_header_and_library(exported, tmp_path):
    _, arts = exported
    model, _, c = arts["robertson"]
    d = c.directory
    p = {"k1": 0.04, "k2": 3e7, "k3": 1e4}
    p_order = [p[str(s)] for s in model.params]  # the header's order (first appearance)
    (tmp_path / "main.c").write_text(C_PROGRAM.replace("{P_VALUES}", "{" + ", ".join(repr(v) for v in p_order) + "}"))
    exe = tmp_path / "main"
    cc = subprocess.run(["cc", "-std=c99", "-O1", "-I", str(d), str(tmp_path / "main.c"), "-L", str(d),
                         "-lexp_robertson", f"-Wl,-rpath,{d}", "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    lines = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    head = lines[0].split()
    y0 = {"y1": 1.0, "y2": 0.0, "y3": 0.0}
    ref = model.solve(y0, (0.0, 100.0), p, method="radau5", rtol=1e-6, atol=1e-10, linear_solver="dense",
                      t_eval=[1.0, 10.0, 100.0], dense=False)
    assert head[0] == "radau5" and int(head[1]) == ref.status == 0
    assert int(head[3]) == ref.stats["njev"]
    got = np.array([[float(v) for v in ln.split()] for ln in lines[1:4]])
    _close(ref.y.T, got)
    rhs = [float(v) for v in lines[4].split()[1:]]
    _close(model.rhs(0.0, [1.0, 0.0, 0.0], p_order), rhs)
    assert lines[5].split()[:2] == ["dopri5", "0"]
    ref = model.solve(y0, (0.0, 0.5), p, method="dopri5", rtol=1e-6, atol=1e-10)
    assert int(lines[5].split()[2]) == ref.t.size
    _close(ref.y[:, -1], [float(v) for v in lines[6].split()])
    assert lines[7].split() == ["names", "y3", str(model.params[1]), "total"]


def test_exported_kernels_match_sympy(exported):
    """rhs, jac, pjac of the artifact against the model's own SymPy expressions (mpmath)."""
    _, arts = exported
    model, py, _ = arts["vdp"]
    sys.path.insert(0, str(py.directory.parent))
    try:
        pkg = __import__("exp_vdp")
    finally:
        sys.path.remove(str(py.directory.parent))
    pb = model.problem
    rng = np.random.default_rng(7)
    for _ in range(5):
        y = rng.uniform(-2, 2, len(pb.states))
        p = rng.uniform(0.5, 5, len(pb.params))
        subs = {**dict(zip(pb.states, y)), **dict(zip(pb.params, p)), pb.t: 0.3}
        F = sp.Matrix(pb.rhs)
        f_ref = np.array([float(e.evalf(30, subs=subs)) for e in F])
        J_ref = np.array(F.jacobian(sp.Matrix(pb.states)).evalf(30, subs=subs).tolist(), dtype=float)
        P_ref = np.array(F.jacobian(sp.Matrix(pb.params)).evalf(30, subs=subs).tolist(), dtype=float)
        np.testing.assert_allclose(pkg.rhs(0.3, y, p), f_ref, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(pkg.jac(0.3, y, p), J_ref, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(pkg.pjac(0.3, y, p), P_ref, rtol=1e-13, atol=1e-13)


def test_exported_solution_matches_scipy(exported):
    scipy_integrate = pytest.importorskip("scipy.integrate")
    _, arts = exported
    model, py, _ = arts["vdp"]
    sys.path.insert(0, str(py.directory.parent))
    try:
        pkg = __import__("exp_vdp")
    finally:
        sys.path.remove(str(py.directory.parent))
    p = np.array([5.0])
    sol = pkg.solve({"x": 2.0, "v": 0.0}, (0.0, 5.0), p, method="radau5", rtol=1e-10, atol=1e-12,
                    t_eval=[1.0, 5.0])
    ref = scipy_integrate.solve_ivp(lambda t, y: pkg.rhs(t, y, p), (0.0, 5.0), [2.0, 0.0], method="DOP853",
                                    rtol=1e-12, atol=1e-13, t_eval=[1.0, 5.0])
    np.testing.assert_allclose(sol.y, ref.y, rtol=1e-7, atol=1e-8)


def test_manifest_records_model_and_rebuild(exported):
    _, arts = exported
    model, py, c = arts["lorenz"]
    man = json.loads((c.directory / "manifest.json").read_text())
    assert man["model_hash"] == model.key
    assert man["states"] == ["x", "y", "z"] and man["params"] == ["sigma", "rho", "beta"]
    indptr, indices = model.jac_sparsity.arrays()
    assert man["jac"]["indptr"] == list(indptr) and man["jac"]["indices"] == list(indices)
    assert man["target_machine"]["triple"] and "features" in man["target_machine"]
    assert "-ffp-contract=off" in man["compiler"]["flags"]
    assert man["rebuild"]["versions"]["llvmlite"]
    assert (c.directory / "exp_lorenz.h").read_text().count("exp_lorenz_dopri5") == 1
    # the shipped build script relinks an equivalent library without symgen
    lib = c.directory / "libexp_lorenz.so"
    before = lib.stat().st_mtime_ns
    subprocess.run(["sh", str(c.directory / "src" / "build.sh")], check=True, timeout=300)
    assert lib.stat().st_mtime_ns >= before


def test_cli_export_and_reproducible_sources(tmp_path):
    """Two fresh processes (different hash seeds, fresh caches) write byte-identical sources."""
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "SYMGEN_CACHE_DIR": str(tmp_path / f"cache{seed}")}
        out = tmp_path / f"out{seed}"
        proc = subprocess.run([sys.executable, "-m", "symgen.cli", "export", f"{EX / 'lorenz.py'}:build",
                               "--target", "c", "--out", "OUT", "--name", "lz"], capture_output=True,
                              text=True, timeout=300, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (tmp_path / "OUT").rename(out)
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file() and p.suffix != ".so")
    assert Path("src/kernels.ll") in files and Path("manifest.json") in files and Path("lz.h") in files
    for rel in files:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel
    man = json.loads((outs[0] / "manifest.json").read_text())
    assert man["rebuild"]["command"].startswith("symgen export")


def test_bad_export_requests_raise(tmp_path):
    model = sg.compile(_load("lorenz").build(), backend="llvm")
    with pytest.raises(ExportError, match="target"):
        sg.export(model, target="fortran", out=tmp_path)
    with pytest.raises(ExportError, match="C identifier"):
        sg.export(model, target="c", out=tmp_path, name="bad name; rm -rf")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="refusing"):
        sg.export(model, target="c", out=tmp_path / "taken", name="lz")
    assert c_identifier("my model-1") == "my_model_1"
    assert c_identifier("1abc") == "model" and c_identifier("int") == "model"
    assert c_string('a"b\\c*/') == '"a\\042b\\134c\\052\\057"'  # no name can end the literal


def test_wrapper_rejects_bad_input(exported):
    _, arts = exported
    _, py, _ = arts["lorenz"]
    sys.path.insert(0, str(py.directory.parent))
    try:
        pkg = __import__("exp_lorenz")
    finally:
        sys.path.remove(str(py.directory.parent))
    with pytest.raises(pkg.SolveError, match="'w'"):
        pkg.solve({"x": 1.0, "y": 0.0, "z": 0.0, "w": 1.0}, (0, 1))
    with pytest.raises(pkg.SolveError, match="'z'"):
        pkg.solve({"x": 1.0, "y": 0.0}, (0, 1))
    with pytest.raises(pkg.SolveError, match="method"):
        pkg.solve({"x": 1.0, "y": 0.0, "z": 0.0}, (0, 1), method="euler")
    sol = pkg.solve({"x": 1.0, "y": 0.0, "z": 0.0}, (0, 10), max_steps=5)
    assert sol.status == 1 and "at t =" in sol.message
    sol = pkg.solve({"x": 1.0, "y": 0.0, "z": 0.0}, (0, 1), t_eval=[0.5, 1.0])
    np.testing.assert_allclose(sol["r2"], sol["x"] ** 2 + sol["y"] ** 2 + sol["z"] ** 2, rtol=1e-14)
    with pytest.raises(KeyError):
        sol["nope"]


def test_sparse_lu_radau_matches_in_process(tmp_path):
    """Radau with the static-pattern sparse LU (ported to C too) on the 1D Brusselator."""
    N = 30
    model = sg.compile(_load("brusselator").build_1d(N), backend="llvm")
    res = sg.export(model, target="python", out=tmp_path, name="exp_bruss1d")
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = __import__("exp_bruss1d")
    finally:
        sys.path.remove(str(tmp_path))
    x = np.arange(1, N + 1) / (N + 1)
    y0 = np.concatenate([1.0 + np.sin(2 * np.pi * x), np.full(N, 3.0)])
    for lin in ("sparse", "dense", "auto"):
        for method in ("radau5", "auto"):
            ref = model.solve(y0, (0.0, 10.0), method=method, rtol=1e-6, atol=1e-8, linear_solver=lin)
            got = pkg.solve(y0, (0.0, 10.0), method=method, rtol=1e-6, atol=1e-8, linear_solver=lin)
            assert got.status == ref.status == 0
            assert got.linear_solver == ref.linear_solver
            assert got.stats == ref.stats
            _close(ref.t, got.t)
            _close(ref.y, got.y)
    assert res.manifest["linear_solver_auto"] == model.solve(y0, (0.0, 0.1), method="radau5").linear_solver


def test_backward_options_and_failures_match(exported, tmp_path):
    """Backward integration, t_eval, first/max step and a blow-up (status and time reached)."""
    _, arts = exported
    model, py, _ = arts["vdp"]
    sys.path.insert(0, str(py.directory.parent))
    try:
        pkg = __import__("exp_vdp")
    finally:
        sys.path.remove(str(py.directory.parent))
    for meth in ("dopri5", "radau5", "auto"):
        for kw in ({}, {"t_eval": np.linspace(2, 0, 9)}, {"first_step": 1e-3, "max_step": 0.05}):
            ref = model.solve({"x": 2.0, "v": 0.0}, (2.0, 0.0), {"mu": 5.0}, method=meth, linear_solver="dense",
                              **kw)
            got = pkg.solve({"x": 2.0, "v": 0.0}, (2.0, 0.0), {"mu": 5.0}, method=meth, **kw)
            assert got.stats == ref.stats and got.method == ref.method
            _close(ref.y, got.y)
            _close(ref(1.3), got(1.3))
    t, x, k = sg.time(), sg.states("x"), sg.params("k")
    blow = sg.compile(sg.ODESystem([sg.D(x) == k * x**2], t, name="blowup"), backend="llvm")
    sg.export(blow, target="python", out=tmp_path, name="exp_blowup")
    sys.path.insert(0, str(tmp_path))
    try:
        pb = __import__("exp_blowup")
    finally:
        sys.path.remove(str(tmp_path))
    for meth in ("dopri5", "radau5"):
        ref = blow.solve({"x": 1.0}, (0, 2), {"k": 1.0}, method=meth)
        got = pb.solve({"x": 1.0}, (0, 2), {"k": 1.0}, method=meth)
        assert got.status == ref.status != 0 and got.message == ref.message and "at t = 1.0000" in got.message
        assert got.stats == ref.stats


def test_generic_cpu_artifact_gives_the_same_solution(exported, tmp_path):
    """Kernels for the architecture's baseline CPU: same IEEE operations, same results."""
    _, arts = exported
    model = arts["lorenz"][0]
    res = sg.export(model, target="python", out=tmp_path, name="exp_lorenz_generic", cpu="generic")
    assert res.manifest["target_machine"]["features"] == ""
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = __import__("exp_lorenz_generic")
    finally:
        sys.path.remove(str(tmp_path))
    case = CASES["lorenz"]
    ref = _reference(model, case, "auto")
    got = pkg.solve(case[1], case[2], case[3], method="auto", rtol=case[5], atol=case[6])
    assert got.stats == ref.stats
    _close(ref.y, got.y)
    with pytest.raises(ExportError, match="cpu"):
        sg.export(model, target="c", out=tmp_path / "x", cpu="pentium")


@pytest.mark.slow  # the subprocess JIT-compiles symgen's drivers from the shipped sources (~30 s)
def test_numba_flavour_package_runs_without_symgen(tmp_path):
    """flavour="numba": Numba kernels + driver sources; needs NumPy and Numba, not symgen/SymPy/Jinja2."""
    model = sg.compile(_load("lorenz").build(), backend="numba")
    res = sg.export(model, target="python", out=tmp_path, name="exp_nb_lorenz", flavour="numba")
    assert res.library is None and res.manifest["flavour"] == "numba"
    runs = [("dopri5", "auto"), ("auto", "auto"), ("radau5", "dense"), ("radau5", "sparse")]
    script = BLOCKER.replace('"numba", "llvmlite", ', "") + textwrap.dedent(f"""
        import json
        sys.path.insert(0, {str(tmp_path)!r})
        import exp_nb_lorenz as pkg
        out = {{}}
        for method, lin in {runs!r}:
            sol = pkg.solve({{"x": 1.0, "y": 0.0, "z": 0.0}}, (0.0, 5.0), method=method, rtol=1e-8, atol=1e-10,
                            linear_solver=lin)
            out[method + lin] = {{"y": sol.y.tolist(), "stats": sol.stats, "lin": sol.linear_solver}}
        out["rhs"] = pkg.rhs(0.5, [1.0, 2.0, 3.0], [10.0, 28.0, 8.0 / 3.0]).tolist()
        out["loaded"] = [m for m in sys.modules if m.split(".")[0] in ("symgen", "sympy", "jinja2")]
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=900,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["loaded"] == []
    for method, lin in runs:
        ref = model.solve({"x": 1.0, "y": 0.0, "z": 0.0}, (0.0, 5.0), method=method, rtol=1e-8, atol=1e-10,
                          linear_solver=lin)
        got = data[method + lin]
        assert got["stats"] == ref.stats and got["lin"] == ref.linear_solver
        _close(ref.y, got["y"])
    _close(model.rhs(0.5, [1.0, 2.0, 3.0], [10.0, 28.0, 8.0 / 3.0]), data["rhs"])
    with pytest.raises(ExportError, match="flavour"):
        sg.export(model, target="c", out=tmp_path / "c", flavour="numba")
