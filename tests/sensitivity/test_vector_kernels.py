"""Generated JVP/VJP kernels: against SymPy's Jacobians (evaluated independently) and the
dot-product test <J v, w> = <v, J^T w>, on both backends."""
import numpy as np
import pytest
import sympy as sp

import symgen as sg
from symgen.errors import SymgenError


def _lotka_volterra():
    t = sg.time()
    x, y = sg.states("x y")
    a, b, c, d = sg.params("a b c d")
    return sg.ODESystem([sg.D(x) == a * x - b * x * y, sg.D(y) == -c * y + d * x * y], t, name="lv_vec")


def _models(examples_path):
    import brusselator
    import lorenz
    import robertson
    return [(_lotka_volterra(), [1.3, 0.7]), (robertson.build(), [0.9, 2e-5, 0.1]),
            (lorenz.build(), [1.0, -2.0, 20.0]),
            (brusselator.build(4), list(brusselator.initial(4) + 0.1))]


def _reference(pb, y, p):
    """Dense df/dy and df/dp evaluated by SymPy (exact rationals -> float)."""
    subs = {s: sp.Float(v, 30) for s, v in zip(pb.states, y)}
    subs.update({s: sp.Float(v, 30) for s, v in zip(pb.params, p)})
    subs[pb.t] = sp.Float(0.5, 30)
    f = sp.Matrix(pb.rhs)
    J = np.array(f.jacobian(pb.states).evalf(30, subs=subs).tolist(), dtype=float)
    Fp = np.array(f.jacobian(pb.params).evalf(30, subs=subs).tolist(), dtype=float)
    return J, Fp


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_jvp_vjp_against_sympy_and_dot_product(backend, examples_path):
    rng = np.random.default_rng(7)
    for system, y in _models(examples_path):
        model = sg.compile(system, backend=backend, sensitivities=True)
        pb = system.problem
        p = model.param_vector({}) if all(str(s) in model._defaults for s in model.params) \
            else rng.uniform(0.5, 2.0, len(model.params))
        y = np.asarray(y, dtype=float)
        J, Fp = _reference(pb, y, p)
        n, m = len(y), len(p)
        for _ in range(3):
            v, w, u = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
            Jv = model.jvp(0.5, y, p, v)
            JTw = model.vjp(0.5, y, p, w)
            FpTw = model.pvjp(0.5, y, p, w)
            scale = np.abs(J).max() * np.abs(v).max() * n
            np.testing.assert_allclose(Jv, J @ v, rtol=0, atol=1e-13 * scale)
            np.testing.assert_allclose(JTw, J.T @ w, rtol=0, atol=1e-13 * scale)
            np.testing.assert_allclose(FpTw, Fp.T @ w, rtol=0, atol=1e-13 * max(np.abs(Fp).max(), 1) * n)
            # dot-product tests: <J v, w> = <v, J^T w>;  <F_p u, w> = <u, F_p^T w>
            lhs, rhs = Jv @ w, v @ JTw
            assert abs(lhs - rhs) <= 1e-12 * max(np.abs(Jv * w).sum(), np.abs(v * JTw).sum()), (pb.name, lhs, rhs)
            Fpu = model.pjac(0.5, y, p) @ u
            lhs, rhs = Fpu @ w, u @ FpTw
            assert abs(lhs - rhs) <= 1e-12 * max(np.abs(Fpu * w).sum(), np.abs(u * FpTw).sum(), 1e-300), pb.name


def test_vector_kernels_only_on_request():
    model = sg.compile(_lotka_volterra())
    assert getattr(model.kernels, "vjp", None) is None
    with pytest.raises(SymgenError, match="sensitivities=True"):
        model.vjp(0.0, [1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0])
    sens = sg.compile(_lotka_volterra(), sensitivities=True)
    assert "def vjp(t, y, p, v, out_ptr)" in sens.source("vjp")
    assert sens.key != model.key
