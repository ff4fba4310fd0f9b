"""The LLVM backend against independent references: SymPy/mpmath evaluation, NumPy
formulas, central finite differences and the Numba backend; sharding, the disk
cache across processes and the drivers' first-class-function protocol."""
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgen as sg
from exprgen import SYMS, T, check_against_sympy, expressions, fd_jacobian
from symgen.backends.llvm import LLVMBackend
from symgen.drivers.evaluate import call_kernel
from symgen.dsl.system import SUPPORTED_FUNCTIONS
from symgen.ir.kernels import KernelSet
from symgen.ir.problem import Problem
from symgen.ir.system import Sparsity
from symgen.passes.lower import make_kernel

@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expressions(SYMS), min_size=12, max_size=24))
def test_random_expressions_match_mpmath(exprs):
    check_against_sympy(exprs, disable=("simplify",), backend="llvm")


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(expressions(SYMS), min_size=12, max_size=24))
def test_random_expressions_after_rewriting_match_mpmath(exprs):
    check_against_sympy(exprs, disable=(), backend="llvm")


# ---- every supported function and the piecewise family vs SymPy at 30 digits -----------
U, V = sg.states("u v")
Q = sg.params("q")
FUNCS = {
    "exp": sp.exp(U), "log": sp.log(V), "sin": sp.sin(U), "cos": sp.cos(U), "tan": sp.tan(U),
    "asin": sp.asin(U / 4), "acos": sp.acos(U / 4), "atan": sp.atan(U), "atan2": sp.atan2(U, V - 1),
    "sinh": sp.sinh(U), "cosh": sp.cosh(U), "tanh": sp.tanh(U), "asinh": sp.asinh(U),
    "acosh": sp.acosh(V + 1), "atanh": sp.atanh(U / 4), "Abs": sp.Abs(U), "sign": sp.sign(U),
    "Heaviside": sp.Heaviside(U), "Heaviside1": sp.Heaviside(U, 1), "Min": sp.Min(U, V, Q),
    "Max": sp.Max(U, V - 2), "floor": sp.floor(U * 1.5), "ceiling": sp.ceiling(U * 1.5),
    "erf": sp.erf(U), "erfc": sp.erfc(U), "sqrt": sp.sqrt(V), "DiracDelta": U + sp.DiracDelta(U - 10),
    "Piecewise": sp.Piecewise((U**2, U < -1), (sp.sin(V), (U >= 0) & (V > 1)), (Q, sp.Ne(U, V)),
                              (1 / Q, True)),
    "Piecewise_bool": sp.Piecewise((V, ~((U > 0) & (V > 1)) | (V < 0.5)), (-V, sp.Xor(U > 0, V > 2)),
                                   (2 * V, True)),
    "pow": V**U, "cbrt": V**sp.Rational(1, 3),
    "rsqrt": 1 / sp.sqrt(V), "pi": sp.pi * U + sp.E,
}
POINTS = [(-3.0, 0.25), (-1.0, 2.0), (-0.5, 1.5), (0.0, 0.5), (0.7, 3.0), (1.0, 1.0), (2.5, 0.1),
          (1.9, 4.0), (1.0, -0.7)]


def test_function_table_covers_supported_functions():
    used = {type(e) for e in FUNCS.values()} | {f.func for e in FUNCS.values() for f in e.atoms(sp.Function)}
    missing = {f for f in SUPPORTED_FUNCTIONS if f is not sp.sqrt and f not in used}
    assert not missing
    assert any(isinstance(e, sp.Pow) and e.exp == sp.S.Half for e in FUNCS.values())


def test_every_function_matches_sympy_at_30_digits():
    system = sg.ODESystem([sg.D(U) == -U, sg.D(V) == -V], T, params=[Q], observed=FUNCS, name="funcs")
    model = sg.compile(system, backend="llvm", disable=("simplify",))
    q = 0.75
    for u, v in POINTS:
        got = model.observed_values([0.0], [[u, v]], [q])[0]
        subs = {U: sp.Float(u, 30), V: sp.Float(v, 30), Q: sp.Float(q, 30)}
        for (name, e), g in zip(FUNCS.items(), got):
            ref = sp.N(e.subs(subs), 30)
            if ref.is_real is False or ref.has(sp.nan, sp.zoo, sp.I):
                assert math.isnan(g), (name, u, v, g, ref)
                continue
            ref = float(ref)
            assert abs(g - ref) <= 2e-15 * abs(ref) + 1e-300, (name, u, v, g, ref)


def test_gamma_functions_beyond_the_dsl(tmp_path):
    """gamma/loggamma are not (yet) accepted by the DSL; the emitter supports them."""
    exprs = [sp.gamma(V + 0.5), sp.loggamma(V + 3), sp.gamma(U)]
    pb = Problem("g", T, (U, V), (), tuple(exprs[:2]))
    empty = Sparsity(2, 2, (0, 0, 0), ())
    kset = KernelSet(pb, (make_kernel("rhs", list(enumerate(exprs)), 3),), empty, empty)
    backend = LLVMBackend()
    mod = backend.build(backend.emit(kset, "d" * 64, sg.__version__), tmp_path)
    for u, v in POINTS:
        out = np.empty(3)
        call_kernel(mod.rhs, 0.0, np.array([u, v]), np.zeros(1), out)
        for e, g in zip(exprs, out):
            ref = sp.N(e.subs({U: sp.Float(u, 30), V: sp.Float(v, 30)}), 30)
            if ref.has(sp.zoo, sp.nan) or ref.is_real is False:
                continue
            assert abs(g - float(ref)) <= 1e-14 * abs(float(ref)), (e, u, v, g, ref)


def test_piecewise_family_special_values():
    obs = {"H": sp.Heaviside(U), "H0": sp.Heaviside(U, 0), "s": sp.sign(U), "mn": sp.Min(U, V),
           "mx": sp.Max(U, V), "ab": sp.Abs(U), "fl": sp.floor(U), "ce": sp.ceiling(U)}
    system = sg.ODESystem([sg.D(U) == -U, sg.D(V) == -V], T, observed=obs, name="special")
    model = sg.compile(system, backend="llvm", disable=("simplify",))
    got = model.observed_values([0.0, 0.0, 0.0, 0.0], [[0.0, 1.0], [-0.0, -1.0], [math.nan, 1.0],
                                                       [-2.5, math.nan]], [])
    np.testing.assert_array_equal(got[0], [0.5, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(got[1], [0.5, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0])
    assert np.isnan(got[2]).all()  # NaN propagates through every one of them
    np.testing.assert_array_equal(got[3][[0, 1, 2, 5, 6, 7]], [0.0, 0.0, -1.0, 2.5, -3.0, -2.0])
    assert np.isnan(got[3][[3, 4]]).all()


def test_relationals_at_their_boundaries():
    rels = [U < V, U <= V, U > V, U >= V, sp.Eq(U, V), sp.Ne(U, V)]
    obs = {f"r{i}": sp.Piecewise((1, r), (0, True)) for i, r in enumerate(rels)}
    system = sg.ODESystem([sg.D(U) == -U, sg.D(V) == -V], T, observed=obs, name="rels")
    model = sg.compile(system, backend="llvm", disable=("simplify",))
    pts = [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0), (0.0, -0.0), (math.nan, 1.0)]
    got = model.observed_values(np.zeros(len(pts)), pts, [])
    ops = [lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b,
           lambda a, b: a == b, lambda a, b: a != b]
    np.testing.assert_array_equal(got, [[float(op(u, v)) for op in ops] for u, v in pts])


# ---- lorenz: Jacobian vs finite differences, everything vs the Numba backend ----------
@pytest.fixture(scope="module")
def lorenz_models(examples_path):
    import lorenz
    system = lorenz.build()
    return sg.compile(system, backend="llvm"), sg.compile(system, backend="numba")


def test_lorenz_kernels_match_finite_differences_and_numba(lorenz_models):
    ml, mn = lorenz_models
    p = ml.param_vector({})
    rng = np.random.default_rng(3)
    for t in (0.0, 1.5):
        y = rng.uniform(-10.0, 10.0, 3)
        np.testing.assert_allclose(ml.jac(t, y, p), fd_jacobian(lambda v: ml.rhs(t, v, p), y),
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ml.pjac(t, y, p), fd_jacobian(lambda q: ml.rhs(t, y, q), p),
                                   rtol=1e-6, atol=1e-7)
        for name in ("rhs", "jac", "pjac", "dfdt"):
            np.testing.assert_allclose(getattr(ml, name)(t, y, p), getattr(mn, name)(t, y, p),
                                       rtol=1e-14, atol=1e-300)
        np.testing.assert_array_equal(ml.jac_sparse(t, y, p).toarray(), ml.jac(t, y, p))
        yp = rng.normal(size=3)
        np.testing.assert_allclose(ml.residual(t, y, yp, p), mn.residual(t, y, yp, p), rtol=1e-14)
        np.testing.assert_allclose(ml.observed_values([t], [y], p), mn.observed_values([t], [y], p),
                                   rtol=1e-14)
    assert 'define void @"symgen_' in ml.source("rhs") and "def rhs" in mn.source("rhs")


def test_lorenz_solve_matches_numba(lorenz_models):
    ml, mn = lorenz_models
    x, y, z = ml.states
    for method in ("dopri5", "radau5"):
        sl = ml.solve({x: 1.0, y: 0.0, z: 0.0}, (0.0, 3.0), method=method, rtol=1e-8, atol=1e-10)
        sn = mn.solve({x: 1.0, y: 0.0, z: 0.0}, (0.0, 3.0), method=method, rtol=1e-8, atol=1e-10)
        assert sl.status == 0 and sn.status == 0
        assert abs(sl.t.size - sn.t.size) <= 2 and sl.t[-1] == sn.t[-1] == 3.0
        ts = np.linspace(0.0, 3.0, 31)
        np.testing.assert_allclose(np.array([sl(s) for s in ts]), np.array([sn(s) for s in ts]),
                                   rtol=1e-7, atol=1e-7)


def test_kernels_share_the_numba_type_and_driver_compilation(lorenz_models):
    import numba
    ml, mn = lorenz_models
    assert numba.typeof(ml.kernels.rhs) == numba.typeof(mn.kernels.rhs)
    y, p, out = np.ones(3), ml.param_vector({}), np.empty(3)
    call_kernel(mn.kernels.rhs, 0.0, y, p, out)
    before = len(call_kernel.signatures)
    call_kernel(ml.kernels.rhs, 0.0, y, p, out)
    call_kernel(ml.kernels.jac_values, 0.0, y, p, np.empty(ml.jac_sparsity.nnz))
    assert len(call_kernel.signatures) == before
    np.testing.assert_allclose(out, mn.rhs(0.0, y, p), rtol=1e-14)


# ---- sharding ----------------------------------------------------------------------------
def _chain_kset(n):
    t = sg.time()
    x = sg.states("x", shape=n)
    k0, k1 = sg.params("k0 k1")
    g = [sp.exp(-x[i] ** 2) for i in range(n)]
    rhs = [k0 * ((g[i - 1] if i else 0) - g[i]) + sp.sin(x[(i + 1) % n]) * x[i] / (k1 + x[i] ** 2)
           for i in range(n)]
    pb = Problem("chain", t, tuple(x), (k0, k1), tuple(rhs))
    empty = Sparsity(n, n, (0,) * (n + 1), ())
    kset = KernelSet(pb, (make_kernel("rhs", list(enumerate(rhs)), n),), empty, empty)
    return kset


def _chain_numpy(y, k0, k1):
    g = np.exp(-y**2)
    prev = np.concatenate([[0.0], g[:-1]])
    return k0 * (prev - g) + np.sin(np.roll(y, -1)) * y / (k1 + y**2)


def test_large_kernel_is_sharded_and_matches_numpy(tmp_path):
    n = 3000
    kset = _chain_kset(n)
    backend = LLVMBackend()
    src = backend.emit(kset, "f" * 64, sg.__version__)
    nshards = src.text.count('define internal void @"symgen_ffffffffffffffff_rhs_s')
    assert nshards > 1
    # temporaries cross shard boundaries through a scratch array (stack or heap by size)
    assert '%"s" = alloca double' in src.text or 'call ptr @"malloc"' in src.text
    assert backend.emit(kset, "f" * 64, sg.__version__).text == src.text  # deterministic
    mod = backend.build(src, tmp_path)
    assert mod.compiled and mod.path.exists()
    rng = np.random.default_rng(0)
    for _ in range(3):
        y, p = rng.uniform(-2, 2, n), rng.uniform(0.5, 2.0, 2)
        out = np.full(n, np.nan)
        call_kernel(mod.rhs, 0.0, y, p, out)
        np.testing.assert_allclose(out, _chain_numpy(y, *p), rtol=1e-13, atol=1e-15)
        out2 = np.full(n, np.nan)
        mod.rhs(0.0, y, p, out2)  # ctypes path
        np.testing.assert_array_equal(out, out2)
    single = LLVMBackend(max_ops=10**9, max_outputs=10**9).emit(kset, "f" * 64, sg.__version__)
    assert "define internal" not in single.text


def test_boolean_temporaries_cross_shards(tmp_path):
    cond = sp.And(U > V, V > -1)
    exprs = [sp.Piecewise((U * k, cond), (V - k, True)) + sp.exp(U * k) for k in range(1, 7)]
    exprs.append(sp.Piecewise((sp.sin(V), cond), (sp.cos(U), U < 0), (1, True)))
    pb = Problem("b", T, (U, V), (), (U, V))
    empty = Sparsity(2, 2, (0, 0, 0), ())
    kset = KernelSet(pb, (make_kernel("rhs", list(enumerate(exprs)), len(exprs)),), empty, empty)
    backend = LLVMBackend(max_ops=6)
    src = backend.emit(kset, "c" * 64, sg.__version__)
    assert "uitofp i1" in src.text and src.text.count("define internal") > 3
    mod = backend.build(src, tmp_path)
    f = sp.lambdify([U, V], exprs, "math")
    for u, v in [(1.0, 0.5), (0.5, 1.0), (1.0, -2.0), (-0.5, -0.7), (-2.0, -3.0)]:
        out = np.empty(len(exprs))
        call_kernel(mod.rhs, 0.0, np.array([u, v]), np.zeros(1), out)
        np.testing.assert_allclose(out, f(u, v), rtol=1e-15)


def test_sharded_model_through_the_pipeline():
    n = 150
    t = sg.time()
    x = sg.states("x", shape=n)
    k = sg.params("k")
    eqs = [sg.D(x[i]) == k * (x[i - 1] - x[i]) * sp.cos(x[(i + 7) % n]) + sp.exp(-x[i] ** 2)
           for i in range(n)]
    model = sg.compile(sg.ODESystem(eqs, t, name="pipechain"), backend="llvm")
    assert model.source("jac_values").count("define internal") > 1
    assert model.source("rhs").count("define internal") > 1
    rng = np.random.default_rng(2)
    y, p = rng.uniform(-1, 1, n), np.array([0.7])
    ref = p[0] * (np.roll(y, 1) - y) * np.cos(np.roll(y, -7)) + np.exp(-y**2)
    np.testing.assert_allclose(model.rhs(0.0, y, p), ref, rtol=1e-13, atol=1e-15)
    J = model.jac(0.0, y, p)  # scattered from the sharded jac_values kernel
    np.testing.assert_allclose(J, fd_jacobian(lambda v: model.rhs(0.0, v, p), y), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(model.jac_sparse(0.0, y, p).toarray(), J)
    yp = rng.normal(size=n)
    np.testing.assert_allclose(model.residual(0.0, y, yp, p), yp - ref, rtol=1e-13, atol=1e-14)


# ---- disk cache, fallback, names ------------------------------------------------------------
_WARM = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {examples!r})
    import lorenz, symgen as sg
    t0 = time.perf_counter()
    m = sg.compile(lorenz.build(), backend="llvm")
    dt = time.perf_counter() - t0
    print(m.cached, m.kernels.compiled, repr(m.rhs(0.0, [1.0, 2.0, 3.0], m.param_vector({{}})).tolist()), dt,
          sep="\\n")
""")


def _second_process(examples_path):
    code = _WARM.format(examples=examples_path)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=300)
    assert res.returncode == 0, res.stderr
    cached, compiled, rhs, dt = res.stdout.strip().splitlines()[-4:]
    return cached == "True", compiled == "True", rhs, float(dt)


def test_second_process_loads_the_library_without_compiling(tmp_cache, examples_path):
    import lorenz
    m = sg.compile(lorenz.build(), backend="llvm")
    assert not m.cached and m.kernels.compiled
    libs = list(tmp_cache.rglob("kernels-*.so"))
    assert len(libs) == 1 and (libs[0].parent / "kernels.ll").read_text() == m.source()
    _, compiled, rhs, _ = _second_process(examples_path)
    assert not compiled
    assert rhs == repr(m.rhs(0.0, [1.0, 2.0, 3.0], m.param_vector({})).tolist())
    assert list(tmp_cache.rglob("kernels-*.so")) == libs


def test_second_process_is_a_cache_hit(tmp_cache, examples_path):
    """Needs the pipeline's warm path to read ``kernels<backend.extension>``."""
    import lorenz
    sg.compile(lorenz.build(), backend="llvm")
    cached, compiled, _, dt = _second_process(examples_path)
    assert cached and not compiled
    assert dt < 1.0


def test_jit_fallback_without_a_c_compiler(tmp_path):
    kset = _chain_kset(40)
    backend = LLVMBackend(linker="symgen-no-such-cc")
    mod = backend.build(backend.emit(kset, "e" * 64, sg.__version__), tmp_path)
    assert mod.path is None and not list(tmp_path.glob("*.so"))
    y, p, out = np.linspace(-1, 1, 40), np.array([1.1, 0.9]), np.empty(40)
    call_kernel(mod.rhs, 0.0, y, p, out)
    np.testing.assert_allclose(out, _chain_numpy(y, *p), rtol=1e-13, atol=1e-15)


def test_odd_symbol_names_never_reach_the_ir():
    names = ['x"@q;#', "y!{}*$", "zz\\0%evil"]
    x, y, z = sg.states(" ".join(names))
    kk = sg.params("k@global")
    t = sg.time("t@time")
    system = sg.ODESystem([sg.D(x) == kk * y - x, sg.D(y) == sp.sin(z) * t, sg.D(z) == -x * y], t,
                          observed={'obs"; @x': x + y}, name="odd@name")
    model = sg.compile(system, backend="llvm")
    text = model.source()
    for bad in names + ["k@global", "t@time", "evil", "odd@name", 'obs"; @x', "@q", "@global"]:
        assert bad not in text
    np.testing.assert_allclose(model.rhs(2.0, [1.0, 2.0, 0.5], [3.0]), [5.0, 2 * math.sin(0.5), -2.0],
                               rtol=1e-15)


def test_no_fast_math_flags_in_the_ir(lorenz_models):
    text = lorenz_models[0].source()
    for flag in (" fast ", " contract ", " reassoc ", " afn ", " nnan ", " ninf ", " nsz ", " arcp "):
        assert flag not in text


def test_warm_load_skips_the_ir_and_checks_the_host(tmp_cache, examples_path):
    """A cached model loads its shared library from the manifest without reading the IR;
    a library recorded for another host CPU is rebuilt from the IR instead."""
    import json

    import van_der_pol
    from symgen.backends.llvm import backend as llvm_backend
    from symgen.cache import entry_dir
    from symgen.ir.source import Source, SourceFile
    from symgen.pipeline import load_compiled

    cold = sg.compile(van_der_pol.build(), backend="llvm")
    y, p = np.array([2.0, -0.3]), cold.param_vector({})
    expect = cold.rhs(0.0, y, p)
    llvm_backend._LOADED.clear()
    warm = load_compiled(cold.problem, cold.key, "llvm")
    assert isinstance(warm.irs["source"], SourceFile) and not warm.kernels.compiled
    np.testing.assert_array_equal(warm.rhs(0.0, y, p), expect)
    assert warm.source("rhs") == cold.source("rhs")
    # a manifest from another machine: the library is not trusted, the IR is built again
    path = entry_dir(cold.key) / "manifest.json"
    man = json.loads(path.read_text())
    man["library"]["host"] = ["other-triple", "other-cpu", "+nothing"]
    path.write_text(json.dumps(man))
    llvm_backend._LOADED.clear()
    again = load_compiled(cold.problem, cold.key, "llvm")
    assert isinstance(again.irs["source"], Source)
    np.testing.assert_array_equal(again.rhs(0.0, y, p), expect)


def test_large_scratch_arrays_go_to_the_heap(tmp_path, monkeypatch):
    from symgen.backends.llvm import module as llvm_module
    monkeypatch.setattr(llvm_module, "STACK_SCRATCH_SLOTS", 0)
    n = 3000
    kset = _chain_kset(n)
    backend = LLVMBackend()
    src = backend.emit(kset, "e" * 64, sg.__version__)
    assert 'call ptr @"malloc"' in src.text and "alloca" not in src.text
    mod = backend.build(src, tmp_path)
    y, p = np.random.default_rng(1).uniform(-2, 2, n), np.array([0.7, 1.3])
    out = np.full(n, np.nan)
    call_kernel(mod.rhs, 0.0, y, p, out)
    np.testing.assert_allclose(out, _chain_numpy(y, *p), rtol=1e-13, atol=1e-15)


def test_llvm_jit_backend_compiles_in_process(lorenz_models, examples_path):
    """backend="llvm-jit": the same IR JIT-compiled with MCJIT, no shared library."""
    import lorenz
    ml, _ = lorenz_models
    mj = sg.compile(lorenz.build(), backend="llvm-jit")
    assert mj.kernels.path is None
    assert mj.source() == ml.source().replace(ml.key, mj.key).replace(ml.key[:16], mj.key[:16])
    p = ml.param_vector({})
    y = np.array([1.5, -2.0, 20.0])
    for name in ("rhs", "jac", "pjac", "dfdt"):
        np.testing.assert_allclose(getattr(mj, name)(0.3, y, p), getattr(ml, name)(0.3, y, p), rtol=1e-15,
                                   atol=1e-300)
    a = ml.solve({"x": 1.0, "y": 0.0, "z": 0.0}, (0.0, 5.0), rtol=1e-9, atol=1e-11)
    b = mj.solve({"x": 1.0, "y": 0.0, "z": 0.0}, (0.0, 5.0), rtol=1e-9, atol=1e-11)
    assert a.stats == b.stats
    np.testing.assert_allclose(b.y, a.y, rtol=1e-12, atol=1e-12)
