"""Pipeline structure: stages, dumps, verification, the disk cache, the wheel."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy as sp

import symgen as sg

ROOT = Path(__file__).resolve().parent.parent


def _decay(name="decay", rate=1.5):
    t = sg.time()
    x = sg.states("x")
    k = sg.params("k")
    return sg.ODESystem([sg.D(x) == -k * x + rate * sp.sin(t)], t, name=name)


def test_run_pipeline_returns_every_intermediate(monkeypatch):
    monkeypatch.setenv("SYMGEN_VERIFY", "1")
    res = sg.run_pipeline(_decay())
    assert list(res.irs) == ["problem", "simplified", "system", "kernels", "source"]
    assert set(res.timings) == {"declare", "simplify", "derive", "lower", "emit", "build"}
    ks = res.irs["kernels"]
    assert {k.name for k in ks.kernels} >= {"rhs", "jac_values", "pjac", "dfdt"}


def test_dump_writes_each_requested_stage(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMGEN_DUMP", "derive,emit")
    monkeypatch.setenv("SYMGEN_DUMP_DIR", str(tmp_path))
    sg.run_pipeline(_decay(rate=2.5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derive.txt", "emit.txt"]
    assert "def jac" in (tmp_path / "emit.txt").read_text()
    assert "jac_values" in (tmp_path / "derive.txt").read_text()


def test_disable_simplify_pass(monkeypatch):
    res = sg.run_pipeline(_decay(rate=3.5), disable=("simplify",))
    assert res.timings["simplify"] == 0.0
    assert res.irs["simplified"] is res.irs["problem"]


def test_verifier_catches_broken_ir():
    from symgen.ir.system import Sparsity
    from symgen.passes.verify import IRVerificationError, verify_sparsity
    with pytest.raises(IRVerificationError):
        verify_sparsity(Sparsity(2, 2, (0, 2, 3), (1, 0, 1)), 3)  # row 0 unsorted


def test_same_model_same_source_and_cache_hit(tmp_cache):
    m1 = sg.compile(_decay(rate=4.5))
    m2 = sg.compile(_decay(rate=4.5))
    assert not m1.cached and m2.cached
    assert m1.source() == m2.source()
    assert m1.key == m2.key != sg.compile(_decay(rate=5.5)).key


def test_second_process_compiles_nothing(tmp_cache):
    script = textwrap.dedent(f"""
        import json, sys, time
        t0 = time.perf_counter()
        sys.path.insert(0, {str(ROOT / 'examples')!r})
        import lorenz, symgen as sg
        model = sg.compile(lorenz.build())
        x, y, z = model.states
        sol = model.solve({{x: 1.0, y: 0.0, z: 0.0}}, (0.0, 1.0), rtol=1e-8, atol=1e-10)
        elapsed = time.perf_counter() - t0
        hits = [getattr(model.kernels, k).cache_hits for k in ("rhs", "jac_values", "observed")]
        print(json.dumps({{"cached": model.cached, "hits": hits, "status": sol.status,
                          "elapsed": elapsed}}))
    """)
    env = dict(os.environ, SYMGEN_CACHE_DIR=str(tmp_cache))
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
            for _ in range(2)]
    assert runs[0]["cached"] is False and runs[1]["cached"] is True
    assert runs[1]["hits"] == [1, 1, 1]        # machine code loaded, nothing compiled
    assert runs[0]["status"] == runs[1]["status"] == 0
    print("warm start to first solve [s]:", runs[1]["elapsed"])


@pytest.mark.skipif(os.environ.get("SYMGEN_SKIP_WHEEL") == "1", reason="wheel test disabled")
def test_wheel_installs_and_runs_an_example(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(wheel_dir), str(ROOT)], check=True, capture_output=True)
    wheel = next(wheel_dir.glob("symgen-*.whl"))
    venv = tmp_path / "venv"
    # the venv sees the already installed dependencies, but symgen only from the wheel
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True)
    out = subprocess.run([str(py), "-c", "import symgen, sys; print(symgen.__file__)"], check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(venv) in out, out
    run = subprocess.run([str(py), str(ROOT / "examples" / "van_der_pol.py")], capture_output=True,
                         text=True, cwd=tmp_path, env=dict(os.environ, SYMGEN_CACHE_DIR=str(tmp_path / "c")))
    assert run.returncode == 0, run.stderr
    assert "reached the end" in run.stdout
    names = subprocess.run([str(py), "-c", "import symgen.backends.numba, symgen.templates, importlib.util;"
                            "print(importlib.util.find_spec('backends'), importlib.util.find_spec('templates'))"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert names.strip() == "None None"       # no top-level 'backends'/'templates' packages


def test_cli_compile_and_solve(tmp_cache):
    env = dict(os.environ, SYMGEN_CACHE_DIR=str(tmp_cache))
    model = f"{ROOT / 'examples' / 'lorenz.py'}:build"
    out = subprocess.run([sys.executable, "-m", "symgen.cli", "solve", model, "--y0", "x=1", "y=0", "z=0",
                          "--t-span", "0", "1", "--json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["status"] == 0 and set(res["y"]) == {"x", "y", "z"}
    bad = subprocess.run([sys.executable, "-m", "symgen.cli", "solve", model, "--y0", "x=1",
                          "--t-span", "0", "1"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "symbol: y" in bad.stderr


def test_model_key_tells_models_apart():
    from symgen.cache import model_key
    from symgen.dsl.system import declare
    t = sg.time()
    x, y = sg.states("x y")
    xp = sg.states("x", positive=True)

    def key(eqs, **opts):
        return model_key(declare(sg.ODESystem(eqs, t, name="k")), {"backend": "numba", **opts})

    base = key([sg.D(x) == x + y, sg.D(y) == -x])
    assert base == key([sg.D(x) == x + y, sg.D(y) == -x])
    assert base != key([sg.D(x) == x * y, sg.D(y) == -x])
    assert base != key([sg.D(x) == x + y, sg.D(y) == -x * 1.5])
    assert base != key([sg.D(y) == -x, sg.D(x) == x + y])  # state order matters
    assert base != key([sg.D(x) == x + y, sg.D(y) == -x], backend="llvm")
    assert key([sg.D(xp) == -xp]) != key([sg.D(x) == -x])  # assumptions matter


def test_warm_load_gives_the_same_sources(tmp_cache, examples_path):
    import lorenz
    from symgen.pipeline import load_compiled
    cold = sg.compile(lorenz.build())
    warm = load_compiled(cold.problem, cold.key, "numba")
    assert warm.cached
    for k in ("rhs", "jac_values", "pjac", "dfdt", "observed"):
        assert warm.source(k) == cold.source(k)
    assert warm.source() == cold.source()
