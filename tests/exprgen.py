"""Hypothesis strategies for random real expressions and the mpmath reference check
(shared by the property tests of every backend)."""
import math

import mpmath
import numpy as np
import sympy as sp
from hypothesis import strategies as st

import symgen as sg

UNARY = (sp.exp, sp.log, sp.sin, sp.cos, sp.tanh, sp.sqrt)


def expressions(symbols, max_leaves=12):
    """Random expression trees over +, -, *, /, pow, exp, log, sin, cos, tanh, sqrt."""
    leaves = st.one_of(st.sampled_from(symbols),
                       st.integers(-3, 5).map(sp.Integer),
                       st.sampled_from([sp.Rational(1, 2), sp.Rational(3, 2), sp.Float(0.25), sp.pi]))

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda ab: ab[0] + ab[1]),
            st.tuples(children, children).map(lambda ab: ab[0] - ab[1]),
            st.tuples(children, children).map(lambda ab: ab[0] * ab[1]),
            st.tuples(children, children).map(lambda ab: ab[0] / ab[1]),
            st.tuples(children, st.sampled_from([2, 3, -1, -2, sp.Rational(1, 2), sp.Rational(-3, 2), 5]))
              .map(lambda ab: ab[0] ** ab[1]),
            st.tuples(st.sampled_from(UNARY), children).map(lambda fa: fa[0](fa[1])),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves).filter(
        lambda e: isinstance(e, sp.Expr) and e.is_finite is not False and not e.has(sp.zoo, sp.nan, sp.I))


T = sg.time()
X = sg.states("a b c", positive=True)
P = sg.params("k m")
SYMS = list(X) + list(P)


def mp_eval(expr, subs):
    f = sp.lambdify(list(subs), expr, "mpmath")
    with mpmath.workdps(40):
        v = f(*[mpmath.mpf(float(x)) for x in subs.values()])
    try:
        return float(v) if mpmath.im(v) == 0 else math.nan
    except (TypeError, OverflowError):
        return math.nan


def math_eval(expr, subs):
    f = sp.lambdify(list(subs), expr, "math")
    try:
        return float(f(*subs.values()))
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        return math.nan


def check_against_sympy(exprs, disable, backend="numba"):
    """Compile ``exprs`` as observables and compare them with mpmath at 40 digits on random
    points; the kernel must be as accurate as a plain double evaluation of the same tree."""
    system = sg.ODESystem([sg.D(x) == -x for x in X], T, params=P,
                          observed={f"o{i}": e for i, e in enumerate(exprs)}, name="prop")
    model = sg.compile(system, backend=backend, disable=disable)
    assert model.irs["source"].backend == backend
    rng = np.random.default_rng(len(exprs))
    checked = 0
    for _ in range(6):
        vals = rng.uniform(0.1, 3.0, size=len(SYMS))
        y, p = vals[:3], vals[3:]
        got = model.observed_values([0.3], [y], p)[0]
        subs = dict(zip(SYMS, vals))
        for e, g in zip(exprs, got):
            ref = mp_eval(e, subs)
            if not math.isfinite(ref) or abs(ref) > 1e200:
                continue
            naive = math_eval(e, subs)
            # the kernel must be as accurate as a plain double evaluation of the same tree
            slack = 10 * abs(naive - ref) if math.isfinite(naive) else 0.0
            assert math.isfinite(g), (e, subs, g, ref)
            assert abs(g - ref) <= 1e-12 * abs(ref) + slack + 1e-300, (e, subs, g, ref, naive)
            checked += 1
    return checked


def fd_jacobian(f, x, h=1e-6):
    """Central finite-difference Jacobian of ``f`` at ``x`` (the independent reference of
    the Jacobian tests)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h * max(1.0, abs(x[j]))
        cols.append((f(x + e) - f(x - e)) / (2 * e[j]))
    return np.array(cols).T
