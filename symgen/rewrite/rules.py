"""Rewrite rules as data: one rule per line, grouped in named rule sets.

A rule is ``lhs -> rhs if guard``.  ``lhs`` is a SymPy pattern over the ``Wild`` symbols
``A``, ``B``, ``N`` below, or a matcher from :mod:`symgen.rewrite.patterns` where a
pattern cannot express an n-ary sum or product; ``rhs`` is a template in the same Wilds
or a builder.  A guard holds only when SymPy's assumptions *prove* it (``is_positive is
True``, never ``None``): states and parameters are ``real=True`` symbols, some declared
``positive=True``, so ``log(x*y) -> log(x) + log(y)`` fires for positive ``x, y`` and
never for merely real ones.

Every rule preserves values wherever the left-hand side is finite and real, in exact
arithmetic.  Rounding changes by a few ulps at most; what a rewrite cannot exclude is an
overflow of an intermediate product at extreme magnitudes (``x/(y*z)`` with
``y*z > 1e308``), the usual caveat of algebraic rewriting.

Several left-hand sides (``exp(log(a))``, ``sqrt(a)**2``, ``sqrt(a**2)``) are what SymPy
already evaluates on construction; they stay listed so that the rule sets document the
identities the compiler relies on, and they fire on unevaluated input.  ``sqrt_product``
and ``div_hoist`` build forms SymPy would undo at once (it splits ``sqrt(a*b)`` for
nonnegative ``a, b`` and flattens every product), so they live in the lowering set
``powers``, whose results stay unevaluated until printed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from . import patterns as P

__all__ = ["Rule", "Provable", "AllOf", "AnyOf", "NumberNotEvenInteger", "EvenInteger",
           "RULESETS", "all_rules"]

A, B, N = sp.Wild("A"), sp.Wild("B"), sp.Wild("N")
_HALF = sp.S.Half


# -- guards -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Provable:
    """Guard: the assumptions prove ``prop`` (``"positive"``, ``"real"``, ...) of every
    named binding."""

    prop: str
    names: tuple

    def __call__(self, b: dict) -> bool:
        return all(getattr(b[n], "is_" + self.prop, None) is True for n in self.names)

    def __repr__(self) -> str:
        return f"{self.prop}({', '.join(self.names)})"


@dataclass(frozen=True)
class EvenInteger:
    """Guard: the binding is an even integer number (``2``, ``-4``, ``2.0``)."""

    name: str

    def __call__(self, b: dict) -> bool:
        n = b[self.name]
        return bool(n.is_Number and n.is_finite and float(n).is_integer() and int(n) % 2 == 0)

    def __repr__(self) -> str:
        return f"even_integer({self.name})"


@dataclass(frozen=True)
class NumberNotEvenInteger:
    """Guard: the binding is a real number that is not an even integer, so that
    ``a**n`` is negative or not real (NaN) wherever ``a < 0``."""

    name: str

    def __call__(self, b: dict) -> bool:
        n = b[self.name]
        return bool(n.is_Number and n.is_real and n.is_finite and not EvenInteger(self.name)(b))

    def __repr__(self) -> str:
        return f"number_not_even_integer({self.name})"


@dataclass(frozen=True)
class AllOf:
    """Guard: every one of ``guards`` holds."""

    guards: tuple

    def __call__(self, b: dict) -> bool:
        return all(g(b) for g in self.guards)


@dataclass(frozen=True)
class AnyOf:
    """Guard: at least one of ``guards`` holds."""

    guards: tuple

    def __call__(self, b: dict) -> bool:
        return any(g(b) for g in self.guards)


def positive(*names):
    return Provable("positive", names)


def nonnegative(*names):
    return Provable("nonnegative", names)


def real(*names):
    return Provable("real", names)


# -- the rule --------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One rewrite rule ``lhs -> rhs if guard``.

    Parameters
    ----------
    name : str
        Unique name (used in statistics and in ``disabled``).
    lhs : sympy.Basic or callable
        Pattern over Wilds, or ``matcher(node) -> dict | None``.
    rhs : sympy.Basic or callable
        Template over the same Wilds, or ``builder(bindings) -> expr``.
    guard : callable or None
        ``guard(bindings) -> bool``, True only if the condition is provable.
    identity : str
        The identity in words, with its domain.
    mandatory : bool
        Applied even when the cost model says it is more expensive (lowering).
    head : tuple of type
        Node types the rule can fire on; taken from a pattern's root when empty.
    """

    name: str
    lhs: Any
    rhs: Any
    guard: Callable | None
    identity: str
    mandatory: bool = False
    head: tuple = ()
    _wilds: dict = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.lhs, sp.Basic):
            if not self.head:
                object.__setattr__(self, "head", (self.lhs.func,))
            object.__setattr__(self, "_wilds", {w.name: w for w in self.lhs.atoms(sp.Wild)})
        elif not self.head:
            raise ValueError(f"rule {self.name}: a matcher needs an explicit head")

    def match(self, node) -> dict | None:
        """Bindings (name -> expression) where the rule applies to ``node``, else None."""
        if not isinstance(node, self.head):
            return None
        if isinstance(self.lhs, sp.Basic):
            m = node.match(self.lhs)
            b = None if m is None else {w.name: v for w, v in m.items()}
        else:
            b = self.lhs(node)
        if b is None or (self.guard is not None and not self.guard(b)):
            return None
        return b

    def build(self, bindings: dict):
        """The right-hand side for ``bindings``."""
        if isinstance(self.rhs, sp.Basic):
            return self.rhs.xreplace({self._wilds[k]: v for k, v in bindings.items() if k in self._wilds})
        return self.rhs(bindings)

    def apply(self, node):
        """The rewritten ``node``, or None when the rule does not apply (or changes nothing)."""
        b = self.match(node)
        if b is None:
            return None
        new = self.build(b)
        return None if new == node else new


def _pow(b, e):
    return sp.Pow(b, e, evaluate=False)


_LOG_POWER_GUARD = AllOf((real("N"), AnyOf((positive("A"), AllOf((real("A"), NumberNotEvenInteger("N")))))))
_ADD, _MUL, _POW, _LOG, _EXP = (sp.Add,), (sp.Mul,), (sp.Pow,), (sp.log,), (sp.exp,)

R = Rule
CANONICAL = (
    R("exp_product", P.match_exp_product, P.build_exp_product, None, "exp(a)*exp(b) = exp(a + b)", head=_MUL),  # noqa: E501
    R("log_exp", sp.log(sp.exp(A)), A, real("A"), "log(exp(a)) = a for real a"),
    R("exp_log", sp.exp(sp.log(A), evaluate=False), A, positive("A"), "exp(log(a)) = a for a > 0"),
    R("sqrt_square", _pow(_pow(A, _HALF), 2), A, nonnegative("A"), "sqrt(a)**2 = a for a >= 0"),
    R("pythagorean", P.match_pythagorean, P.build_pythagorean, None, "c*sin(a)**2 + c*cos(a)**2 = c", head=_ADD),  # noqa: E501
    R("double_angle", P.match_sin_cos, P.build_double_angle, None, "sin(a)*cos(a) = sin(2*a)/2", head=_MUL),  # noqa: E501
    R("tan_quotient", P.match_tan_quotient, P.build_tan_quotient, None, "sin(a)**k/cos(a)**k = tan(a)**k", head=_MUL),  # noqa: E501
)

EXPLOG = (
    CANONICAL[1],  # log_exp: log(exp(a)) = a for real a
    R("log_power", sp.log(A**N), N * sp.log(A), _LOG_POWER_GUARD, "log(a**n) = n*log(a) for a > 0, or real a and n not an even integer"),  # noqa: E501
    R("log_even_power", sp.log(A**N), N * sp.log(sp.Abs(A)), AllOf((real("A"), EvenInteger("N"))), "log(a**n) = n*log(|a|) for real a, even n"),  # noqa: E501
    R("log_product", P.match_log_product, P.build_log_product, real("q"), "log(p*q) = log(p) + log(q) for p > 0, real q", head=_LOG),  # noqa: E501
    R("exp_log_power", sp.exp(N * sp.log(A), evaluate=False), A**N, positive("A"), "exp(n*log(a)) = a**n for a > 0"),  # noqa: E501
    R("exp_log_sum", P.match_exp_log_sum, P.build_exp_log_sum, None, "exp(c*log(a) + b) = a**c*exp(b) for a > 0", head=_EXP),  # noqa: E501
)

SQRT = (
    R("sqrt_of_square_nonneg", _pow(_pow(A, 2), _HALF), A, nonnegative("A"), "sqrt(a**2) = a for a >= 0"),
    R("sqrt_of_square", _pow(_pow(A, 2), _HALF), sp.Abs(A), real("A"), "sqrt(a**2) = |a| for real a"),
    R("sqrt_exp", _pow(sp.exp(A), _HALF), sp.exp(A / 2), real("A"), "sqrt(exp(a)) = exp(a/2) for real a"),
)

DIVISION = (
    R("div_same_denominator", P.match_same_denominator, P.build_same_denominator, None, "a/d + b/d = (a + b)/d", head=_ADD),  # noqa: E501
    R("div_reciprocal_sum", P.match_reciprocal_sum, P.build_reciprocal_sum, None, "1/(a + b/c) = c/(a*c + b)", head=_POW),  # noqa: E501
)

FRACTIONS = (
    R("div_common_denominator", P.match_common_denominator, P.build_common_denominator, None, "a/c + b/d = (a*d + b*c)/(c*d)", head=_ADD),  # noqa: E501
)

POWERS = (
    R("sqrt_product", P.match_sqrt_product, P.build_sqrt_product, None, "sqrt(a)*sqrt(b) = sqrt(a*b) for a, b >= 0", head=_MUL),  # noqa: E501
    R("div_hoist", P.match_div_hoist, P.build_div_hoist, None, "x/y/z = x/(y*z)", head=_MUL),
    R("power_chain", P.match_lowerable_power, P.build_power_chain, None, "x**n = x*...*x (repeated squaring), x**(k/2) = x**(k//2)*sqrt(x)", mandatory=True, head=_POW),  # noqa: E501
)

#: the rule sets, by name; phases (:data:`symgen.rewrite.engine.PHASES`) apply them in order
RULESETS: dict[str, tuple[Rule, ...]] = {
    "canonical": CANONICAL,
    "explog": EXPLOG,
    "sqrt": SQRT,
    "division": DIVISION,
    "fractions": FRACTIONS,
    "powers": POWERS,
}


def all_rules() -> dict[str, Rule]:
    """Every rule of every set, by name."""
    return {r.name: r for rules in RULESETS.values() for r in rules}
