"""Generated gradients, constraint Jacobians, Lagrangian Hessians and Hessian-vector
products against SymPy derivatives of the declared expressions (Sum.doit expanded) and
against finite differences; sparse patterns built from index families."""
import numpy as np
import pytest
import sympy as sp

import symgen.opt as so
from symgen.opt.declare import declare

from .reference import references


def _model():
    m = so.OptModel("families")
    n = 7
    x = m.var("x", n, init=np.linspace(0.3, 1.1, n))
    y = m.var("y", (3, 4), init=np.linspace(-0.5, 0.7, 12))
    s = m.var("s", init=0.4)
    a = m.param("a", value=1.7)
    b = m.param("b", 7, value=np.linspace(0.5, 2.0, 7))
    i, j, k = so.index("i j k")
    m.minimize(sp.Sum(b[i] * x[i]**2 * x[i + 1] + sp.sin(x[2 * i]), (i, 0, 2))
               + sp.Sum(x[i] * x[2 * i], (i, 0, 3))               # x[0]*x[0] at i = 0
               + a * sp.Sum(sp.Sum(y[j, k] * y[j, k + 1] * sp.exp(s), (k, 0, 2)), (j, 0, 2))
               + sp.Sum(i * x[i]**2, (i, 0, 6)) + x[0] * y[1, 1] + s**4)
    m.subject_to(x[i] * x[i + 1] <= 1, forall=(i, 0, 5))
    m.subject_to(sp.Eq(sp.Sum(x[i]**2, (i, 0, 6)) + y[0, 0]**2 * s, 1))
    m.subject_to(y[j, k]**2 - x[j] * b[k] >= 0, forall=[(j, 0, 2), (k, 0, 3)])
    m.subject_to(sp.cos(x[3]) + s * y[2, 3], lb=-1, ub=2)
    return m


@pytest.fixture(scope="module", params=["llvm", "numba", "tape"])
def compiled(request):
    m = _model()
    return m, m.compile(backend=request.param), references(m)


def _points(n, count=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.5, n) for _ in range(count)]


def test_families_stay_templates():
    ir = declare(_model())
    # 5 objective families (scalar terms + 4 sums), symbolic size independent of n
    assert len(ir.objective) == 5
    assert ir.m == 6 + 1 + 12 + 1
    assert ir.n == 7 + 12 + 1


def test_values_and_gradient(compiled):
    m, cm, ref = compiled
    for x in _points(cm.n):
        assert cm.objective(x) == pytest.approx(float(ref["f"](x)), rel=1e-12, abs=1e-12)
        assert np.allclose(cm.gradient(x), np.asarray(ref["grad"](x), float).reshape(-1), rtol=1e-12, atol=1e-12)
        assert np.allclose(cm.constraints(x), np.asarray(ref["c"](x), float).reshape(-1), rtol=1e-12, atol=1e-12)


def test_sparse_jacobian(compiled):
    m, cm, ref = compiled
    for x in _points(cm.n, seed=1):
        J = cm.jacobian(x)
        Jref = np.asarray(ref["jac"](x), float).reshape(cm.m, cm.n)
        assert np.allclose(J.toarray(), Jref, rtol=1e-12, atol=1e-12)
        # the static pattern covers every structural nonzero and nothing identically zero
        assert J.nnz >= np.count_nonzero(Jref)
    # finite differences of the compiled constraints (second, independent check)
    x = _points(cm.n, seed=2)[0]
    h = 1e-6
    fd = np.column_stack([(cm.constraints(x + h * e) - cm.constraints(x - h * e)) / (2 * h)
                          for e in np.eye(cm.n)])
    assert np.allclose(cm.jacobian(x).toarray(), fd, atol=1e-6)


def test_lagrangian_hessian_lower_and_hessp(compiled):
    m, cm, ref = compiled
    rng = np.random.default_rng(3)
    for x in _points(cm.n, seed=4):
        lam = rng.standard_normal(cm.m)
        sigma = 0.7
        H = sigma * np.asarray(ref["hess"](x), float) + np.asarray(ref["chess"](x, lam), float)
        lo = cm.hessian_lower(x, lam, sigma).toarray()
        assert np.allclose(lo, np.tril(H), rtol=1e-11, atol=1e-11)
        assert np.allclose(cm.hessian(x, lam, sigma).toarray(), H, rtol=1e-11, atol=1e-11)
        v = rng.standard_normal(cm.n)
        assert np.allclose(cm.hessp(x, v, lam, sigma), H @ v, rtol=1e-11, atol=1e-11)


def test_parameters_change_without_recompiling(compiled):
    m, cm, _ = compiled
    a, b = m._params[0][0], m._params[1][0]
    ref = references(m, {a: 3.0, b: np.arange(7.0)})
    x = _points(cm.n, seed=5)[0]
    assert cm.objective(x, {a: 3.0, b: np.arange(7.0)}) == pytest.approx(float(ref["f"](x)), rel=1e-12)


def test_generated_source_has_no_user_names():
    m = _model()
    for backend in ("llvm", "numba"):
        src = m.compile(backend=backend).source
        code = "\n".join(line.split("#")[0].split(";")[0] for line in src.splitlines())
        assert "families" not in code and "sin(" not in code.replace("math.sin(", "").replace("@llvm.sin", "")


def test_large_family_is_not_scalarized():
    """n = 10^5: declaring and deriving touch one template per family."""
    m = so.OptModel("big")
    n = 100_000
    x = m.var("x", n, lb=0.0)
    i = so.index("i")
    m.minimize(sp.Sum((x[i + 1] - x[i])**2 + sp.exp(-x[i]), (i, 0, n - 2)))
    m.subject_to(x[i] + 2 * x[i + 1] >= 1, forall=(i, 0, n - 2))
    ir = declare(m)
    from symgen.opt.derive import derive_opt
    sysd = derive_opt(ir)
    assert len(ir.objective) == 1 and len(ir.constraints) == 1
    assert sysd.jac_nnz == 2 * (n - 1)
    assert sysd.hess_nnz == 2 * n - 1
    assert all(len(f.slots) == 2 for f in ir.objective + ir.constraints)


def test_hvp_kernel_against_gradient_differences(compiled):
    """The derived ``hvp`` kernel (no Hessian assembled) equals central differences of
    the compiled gradient of the Lagrangian along ``v``, and the SymPy Hessian times v."""
    m, cm, ref = compiled
    rng = np.random.default_rng(7)
    x = _points(cm.n, seed=8)[0]
    lam = rng.standard_normal(cm.m)
    v = rng.standard_normal(cm.n)
    hv = cm.hessp(x, v, lam, 1.3)

    def lag_grad(z):
        return 1.3 * cm.gradient(z) + cm.jacobian(z).T @ lam
    h = 1e-5
    fd = (lag_grad(x + h * v) - lag_grad(x - h * v)) / (2 * h)
    assert np.allclose(hv, fd, rtol=1e-6, atol=1e-6)
    H = 1.3 * np.asarray(ref["hess"](x), float) + np.asarray(ref["chess"](x, lam), float)
    assert np.allclose(hv, H @ v, rtol=1e-11, atol=1e-11)
    assert "hvp" in cm.source


def test_hvp_kernel_reads_no_hessian_values():
    """The Hessian-vector product is its own generated loop kernel: its family blocks
    read the direction from ``w`` and write the n-vector directly."""
    m = so.OptModel("hvp-src")
    x = m.var("x", 6, init=0.5)
    i = so.index("i")
    m.minimize(sp.Sum(sp.exp(x[i] * x[i + 1]) + x[i]**4, (i, 0, 4)))
    src = m.compile(backend="numba", cache=False).source
    block = src.split("def hvp(")[1].split("\n\n\n")[0]
    assert "= w[1 + i0]" in block and "= w[2 + i0]" in block   # v[i], v[i + 1] after [sigma]
    assert "out[0 + i0] +=" in block and "out[1 + i0] +=" in block
