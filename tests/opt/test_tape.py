"""Tape backend: small problems run on a precompiled evaluator (nothing compiled per
problem); ``backend="auto"`` picks it by size and falls back to generated code."""
import numpy as np
import pytest
import sympy as sp

import symgen.opt as so
from symgen.errors import BackendError


def _hs071():
    m = so.OptModel("hs071")
    x = m.var("x", 4, lb=1, ub=5, init=[1, 5, 5, 1])
    m.minimize(x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2])
    m.subject_to(x[0] * x[1] * x[2] * x[3] >= 25)
    m.subject_to(sp.Eq(x[0]**2 + x[1]**2 + x[2]**2 + x[3]**2, 40))
    return m


def test_auto_uses_tape_for_small_and_llvm_for_large():
    cm = _hs071().compile(cache=False)
    assert cm.backend == "tape"
    m = so.OptModel("big")
    x = m.var("x", 1200, init=0.3)
    i = so.index("i")
    m.minimize(sp.Sum((x[i + 1] - x[i]**2)**2, (i, 0, 1198)))
    assert m.compile(cache=False).backend == "llvm"


def test_one_evaluator_for_every_problem():
    """Two different problems share the same compiled entry points: only the data
    (the tape in front of the parameters) differs."""
    a = _hs071().compile(cache=False)
    m = so.OptModel("other")
    y = m.var("y", 3, init=[0.5, 1.0, 2.0])
    m.minimize(sp.exp(y[0]) * sp.sin(y[1]) + y[2]**4)
    b = m.compile(cache=False)
    assert a.kernels is b.kernels
    assert a.param_vector().size > 9 and a.user_params(a.param_vector()).size == 1
    xv = np.array([0.3, -0.4, 1.1])
    assert b.objective(xv) == pytest.approx(np.exp(0.3) * np.sin(-0.4) + 1.1**4, rel=1e-14)


def test_hs071_tape_matches_published_optimum_and_llvm():
    res = _hs071().compile(backend="tape", cache=False).minimize(method="ipm")
    assert res.status == 0
    assert res.f == pytest.approx(17.0140172891, abs=1e-6)
    ref = _hs071().compile(backend="llvm", cache=False).minimize(method="ipm")
    assert np.allclose(res.x, ref.x, atol=1e-10) and res.iterations == ref.iterations


def test_tape_warm_cache_and_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGEN_CACHE_DIR", str(tmp_path))

    def build():
        m = so.OptModel("paramd")
        x = m.var("x", 5, init=0.2)
        c = m.param("c", 5, value=np.arange(5.0))
        i = so.index("i")
        m.minimize(sp.Sum((x[i] - c[i])**2 + sp.cos(x[i]) / 10, (i, 0, 4)))
        return m, c
    m1, c = build()
    a = m1.compile(backend="tape")
    assert not a.cached
    m2, c2 = build()
    b = m2.compile(backend="tape")
    assert b.cached and "derive" not in b.timings
    xv = np.linspace(-1, 1, 5)
    cv = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    ref = np.sum((xv - cv)**2 + np.cos(xv) / 10)
    assert b.objective(xv, {c2: cv}) == pytest.approx(ref, rel=1e-14)
    assert np.allclose(b.gradient(xv, {c2: cv}), 2 * (xv - cv) - np.sin(xv) / 10, rtol=1e-14)
    res = b.minimize(params={c2: cv}, method="tron")
    assert res.status == 0
    assert np.allclose(res.x - cv, np.sin(res.x) / 20, atol=1e-8)


def test_nonsmooth_falls_back_or_is_refused():
    def build():
        m = so.OptModel("nonsmooth")
        x = m.var("x", 2, init=[0.5, 0.5])
        m.minimize(sp.Max(x[0], x[1])**2 + x[0]**2)
        return m
    assert build().compile(cache=False, allow_nonsmooth=True).backend == "llvm"
    with pytest.raises(BackendError, match="tape"):
        build().compile(cache=False, allow_nonsmooth=True, backend="tape")


def test_listing_names_every_kernel():
    src = _hs071().compile(backend="tape", cache=False).source
    for name in ("obj", "grad", "cons", "jac", "hess", "hvp"):
        assert f"kernel {name}:" in src
    assert "hs071" not in src
