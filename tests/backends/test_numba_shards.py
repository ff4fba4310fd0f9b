"""Sharded Numba kernels (large kernels split into ``@njit`` shard functions that the
exported ``cfunc`` calls in order) against NumPy formulas and SymPy evaluation."""
import numpy as np
import sympy as sp

import symgen as sg
from symgen.backends.numba.backend import NumbaBackend
from symgen.drivers.evaluate import call_kernel
from symgen.ir.kernels import KernelSet
from symgen.ir.problem import Problem
from symgen.ir.system import Sparsity
from symgen.passes.lower import make_kernel

from test_llvm import T, U, V, _chain_kset, _chain_numpy


def test_large_kernel_is_sharded_and_matches_numpy(tmp_path):
    n = 90
    kset = _chain_kset(n)
    backend = NumbaBackend(max_lines=25)
    src = backend.emit(kset, "d" * 64, sg.__version__)
    nshards = src.text.count("@njit(")
    assert nshards > 3 and f"{nshards} shards" in src.text
    # temporaries cross shards through a scratch array on the stack
    assert "s = _stack_scratch(" in src.text and "s[0] = " in src.text
    assert backend.emit(kset, "d" * 64, sg.__version__).text == src.text   # deterministic
    single = NumbaBackend(max_lines=10**9, max_chars=10**9).emit(kset, "d" * 64, sg.__version__)
    assert "@njit(" not in single.text
    mod = backend.build(src, tmp_path)
    rng = np.random.default_rng(4)
    for _ in range(3):
        y, p = rng.uniform(-2, 2, n), rng.uniform(0.5, 2.0, 2)
        out = np.full(n, np.nan)
        call_kernel(mod.rhs, 0.0, y, p, out)
        np.testing.assert_allclose(out, _chain_numpy(y, *p), rtol=1e-13, atol=1e-15)


def test_boolean_temporaries_and_zero_fill_cross_shards(tmp_path, monkeypatch):
    """Heap scratch (``np.empty``) here: every scratch array is "too large" for the stack."""
    from symgen.backends.numba import backend as numba_backend
    monkeypatch.setattr(numba_backend, "STACK_SCRATCH_SLOTS", 0)
    cond = sp.And(U > V, V > -1)
    exprs = [sp.Piecewise((U * k, cond), (V - k, True)) + sp.exp(U * k) for k in range(1, 7)]
    exprs.append(sp.Piecewise((sp.sin(V), cond), (sp.cos(U), U < 0), (1, True)))
    pb = Problem("b", T, (U, V), (), (U, V))
    empty = Sparsity(2, 2, (0, 0, 0), ())
    size = 2 * len(exprs) + 3          # every other slot is written; the rest must be zero
    kernel = make_kernel("rhs", [(2 * i, e) for i, e in enumerate(exprs)], size, zero_fill=True)
    kset = KernelSet(pb, (kernel,), empty, empty)
    src = NumbaBackend(max_lines=2).emit(kset, "9" * 64, sg.__version__)
    assert src.text.count("@njit(") > 3 and "s = np.empty(" in src.text
    mod = NumbaBackend(max_lines=2).build(src, tmp_path)
    f = sp.lambdify([U, V], exprs, "math")
    for u, v in [(1.0, 0.5), (0.5, 1.0), (1.0, -2.0), (-0.5, -0.7), (-2.0, -3.0)]:
        out = np.full(size, np.nan)
        call_kernel(mod.rhs, 0.0, np.array([u, v]), np.zeros(1), out)
        np.testing.assert_allclose(out[0::2][:len(exprs)], f(u, v), rtol=1e-15)
        assert not np.any(out[1::2])
        assert out[-1] == 0.0
