"""Hypothesis strategies for random real expressions (shared by the property tests)."""
import sympy as sp
from hypothesis import strategies as st

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
