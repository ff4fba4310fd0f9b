"""Cost model: approximate CPU cycles to evaluate an expression once.

The numbers in :data:`CYCLES` are rough reciprocal throughputs / latencies of double
precision operations on a current x86-64 core with glibc's libm (Agner Fog's tables
for the arithmetic, libm measurements for the calls).  They only have to rank
alternatives, not predict run times.

How an expression is counted mirrors how the Numba printer emits it:

* an ``Add`` of ``n`` terms is ``n - 1`` additions (a negative term is a subtraction,
  counted as ``add``);
* a ``Mul`` is one multiplication per extra factor, and all its factors with a
  negative numeric exponent form *one* denominator: ``x/y/z`` is ``x/(y*z)``, one
  division and one multiplication.  A coefficient of ``-1`` is free (it becomes a
  subtraction or a sign), any other numeric coefficient is a multiplication;
* an integer power ``x**n`` costs the multiplications of repeated squaring
  (``x**2`` one, ``x**3`` two, ``x**8`` three), plus a division when ``n < 0``;
  ``x**(k/2)`` is a square root times ``x**(k//2)``; any other exponent is ``pow``;
* subtrees without free symbols are constants folded at compile time (free);
* identical arguments of one node are counted once: ``Mul(t, t, evaluate=False)``
  (how :func:`symgen.rewrite.lower` spells a square) is one multiplication plus one
  ``t``.  Otherwise the cost is a plain tree cost (CSE runs later, and LLVM removes
  the duplicates the squaring chains print).
"""
from __future__ import annotations

from collections import Counter

import sympy as sp

__all__ = ["CYCLES", "cost", "op_counts", "Tally", "exact_exponent", "squaring_muls"]

#: approximate cycles per operation kind (see the module docstring)
CYCLES: dict[str, float] = {
    "add": 1, "mul": 1, "div": 15, "sqrt": 15, "pow": 40,
    "exp": 20, "log": 20,
    "sin": 30, "cos": 30, "tan": 40,
    "sinh": 35, "cosh": 35, "tanh": 30,
    "asin": 40, "acos": 40, "atan": 35, "atan2": 45,
    "asinh": 45, "acosh": 45, "atanh": 45,
    "erf": 40, "erfc": 40, "gamma": 60, "loggamma": 60,
    "abs": 1, "sign": 2, "heaviside": 2, "minmax": 1, "floor": 4, "ceiling": 4,
    "cmp": 1, "select": 2, "logic": 1,
    "call": 40,  # any function not listed above
}

_FUNC_KIND = {"min": "minmax", "max": "minmax", "log": "log", "exp": "exp"}


def squaring_muls(n: int) -> int:
    """Multiplications repeated squaring needs for ``x**n`` (``n >= 0``)."""
    n = abs(int(n))
    return 0 if n <= 1 else n.bit_length() - 1 + bin(n).count("1") - 1


def exact_exponent(e) -> sp.Rational | None:
    """``e`` as a Rational when it is an integer or a half-integer (also as a Float)."""
    if e.is_Integer or (e.is_Rational and e.q == 2):
        return e
    if e.is_Float:
        twice = float(e) * 2.0
        if twice.is_integer() and abs(twice) < 2**52:
            return sp.Rational(int(twice), 2)
    return None


def _power_ops(r) -> Counter:
    """Own operations of ``x**r`` for a numeric exponent ``r`` (the base not counted)."""
    c: Counter = Counter()
    ex = exact_exponent(r)
    if ex is None:
        c["pow"] += 1
        return c
    p, q = int(ex.p), int(ex.q)
    if q == 1:
        c["mul"] += squaring_muls(p)
    else:
        k = abs(p) // 2
        c["sqrt"] += 1
        c["mul"] += squaring_muls(k) + (1 if k else 0)
    if p < 0:
        c["div"] += 1
    return +c


def _kind(node) -> str:
    name = type(node).__name__.lower()
    return _FUNC_KIND.get(name, name)


class Tally:
    """Operation counts of expressions, memoised per node (one per rewrite session)."""

    def __init__(self):
        self._memo: dict = {}

    def counts(self, node) -> Counter:
        """Operation counts of ``node`` (a Counter of kind -> number)."""
        return self._visit(node)[0]

    def cost(self, node) -> float:
        """Approximate cycles of ``node``."""
        call = CYCLES["call"]
        return float(sum(CYCLES.get(k, call) * v for k, v in self.counts(node).items()))

    # -- traversal ------------------------------------------------------------------
    def _visit(self, node):
        hit = self._memo.get(node)
        if hit is not None:
            return hit
        out = self._compute(node)
        self._memo[node] = out
        return out

    def _children(self, nodes) -> tuple[Counter, bool]:
        total: Counter = Counter()
        const = True
        for ch in dict.fromkeys(nodes):  # identical arguments counted once
            c, k = self._visit(ch)
            total.update(c)
            const = const and k
        return total, const

    def _compute(self, node):
        if isinstance(node, sp.Symbol):
            return Counter(), False
        if not node.args:
            return Counter(), True  # numbers, pi, E, booleans
        if isinstance(node, sp.UnevaluatedExpr):
            return self._visit(node.args[0])
        if node.is_Mul:
            return self._mul(node)
        if node.is_Pow:
            return self._pow(node)
        total, const = self._children(node.args)
        if const:
            return Counter(), True
        own: Counter = Counter()
        if node.is_Add:
            own["add"] += len(node.args) - 1
        elif isinstance(node, sp.Piecewise):
            own["select"] += len(node.args)
        elif isinstance(node, sp.core.relational.Relational):
            own["cmp"] += 1
        elif isinstance(node, sp.logic.boolalg.BooleanFunction):
            own["logic"] += max(len(node.args) - 1, 1)
        elif isinstance(node, (sp.Min, sp.Max)):
            own["minmax"] += len(node.args) - 1
        elif isinstance(node, sp.Function):
            own[_kind(node)] += 1
        total.update(own)
        return total, False

    def _pow(self, node):
        base, ex = node.args
        total, const = self._children((base, ex) if not ex.is_Number else (base,))
        if const:
            return Counter(), True
        total.update(_power_ops(ex) if ex.is_Number else Counter(pow=1))
        return total, False

    def _mul(self, node):
        coeff, num, den = sp.S.One, [], []
        for f in node.args:
            if f.is_Number:
                coeff *= f
            elif f.is_Pow and f.exp.is_Rational and f.exp.is_negative:
                den.append((f.base, -f.exp))
            else:
                num.append(f)
        total, const = self._children(num + [b for b, _ in den])
        if const:
            return Counter(), True
        for _, e in dict.fromkeys(den):
            total.update(_power_ops(e))
        nnum = len(num) + (0 if coeff in (sp.S.One, sp.S.NegativeOne) else 1)
        total["mul"] += max(nnum - 1, 0) + max(len(den) - 1, 0)
        if den:
            total["div"] += 1
        return +total, False


def cost(expr) -> float:
    """Approximate CPU cycles to evaluate ``expr`` once (see the module docstring).

    Parameters
    ----------
    expr : sympy.Basic or number

    Returns
    -------
    float
    """
    return Tally().cost(sp.sympify(expr))


def op_counts(exprs) -> dict[str, int]:
    """Count operations by kind, for before/after reports.

    Parameters
    ----------
    exprs : sympy.Basic or iterable of sympy.Basic
        One expression or several (counted separately and summed).

    Returns
    -------
    dict
        ``{kind: count}`` for every kind that occurs (``add``, ``mul``, ``div``,
        ``sqrt``, ``pow``, ``exp``, ``log``, ``sin``, ...), plus ``total``.
    """
    if isinstance(exprs, (sp.Basic, int, float)):
        exprs = [exprs]
    tally, total = Tally(), Counter()
    for e in exprs:
        total.update(tally.counts(sp.sympify(e)))
    out = {k: int(v) for k, v in sorted(total.items()) if v}
    out["total"] = int(sum(out.values()))
    return out
