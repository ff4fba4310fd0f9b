"""Matchers and builders of the rewrite rules that a ``Wild`` pattern cannot express.

Every matcher takes one node and returns a dict of named bindings (or ``None``); every
builder takes those bindings and returns the replacement.  Matchers only check the
*shape*; the domain conditions are the rules' guards (:mod:`symgen.rewrite.rules`),
except where a matcher selects the factors a guard holds for (``log_product``,
``sqrt_product``) and says so.  Builders of the simplification rule sets build evaluated
SymPy expressions; builders of the lowering rule set build unevaluated ones.
"""
from __future__ import annotations

import sympy as sp

from .cost import exact_exponent

__all__ = [
    "fraction", "match_exp_product", "build_exp_product", "match_pythagorean",
    "build_pythagorean", "match_sin_cos", "build_double_angle", "match_tan_quotient",
    "build_tan_quotient", "match_log_product", "build_log_product", "match_exp_log_sum",
    "build_exp_log_sum", "match_same_denominator", "build_same_denominator",
    "match_common_denominator", "build_common_denominator", "match_reciprocal_sum",
    "build_reciprocal_sum", "match_sqrt_product", "build_sqrt_product", "match_div_hoist",
    "build_div_hoist", "match_lowerable_power", "build_power_chain", "power_product",
]

_HALF = sp.S.Half


# -- products of transcendental factors ------------------------------------------------
def match_exp_product(node):
    """A product with two or more ``exp`` factors: ``{"args": exponents, "rest": factors}``."""
    exps = [f for f in node.args if isinstance(f, sp.exp)]
    if len(exps) < 2:
        return None
    return {"args": tuple(f.args[0] for f in exps),
            "rest": tuple(f for f in node.args if not isinstance(f, sp.exp))}


def build_exp_product(b):
    return sp.Mul(*b["rest"], sp.exp(sp.Add(*b["args"])))


def _trig_square(term):
    """``(rest, kind, arg)`` when ``term == rest * sin(arg)**2`` (or cos), else None."""
    factors = sp.Mul.make_args(term)
    for i, f in enumerate(factors):
        if f.is_Pow and f.exp == 2 and isinstance(f.base, (sp.sin, sp.cos)):
            rest = sp.Mul(*(factors[:i] + factors[i + 1:]))
            return rest, type(f.base), f.base.args[0]
    return None


def match_pythagorean(node):
    """Terms ``c*sin(a)**2`` and ``c*cos(a)**2`` of one sum: ``{"pairs", "others"}``."""
    found = {}
    for t in node.args:
        hit = _trig_square(t)
        if hit is not None:
            found.setdefault((hit[0], hit[2]), {})[hit[1]] = t
    pairs = [(key, d[sp.sin], d[sp.cos]) for key, d in found.items() if len(d) == 2]
    if not pairs:
        return None
    used = {t for _, s, c in pairs for t in (s, c)}
    return {"pairs": tuple(key[0] for key, _, _ in pairs),
            "others": tuple(t for t in node.args if t not in used)}


def build_pythagorean(b):
    return sp.Add(*b["others"], *b["pairs"])


def _trig_powers(node):
    """``{arg: {sin: exponent, cos: exponent}}`` over the integer-power factors of a product."""
    out: dict = {}
    for f in node.args:
        base, ex = f.as_base_exp()
        if isinstance(base, (sp.sin, sp.cos)) and ex.is_Integer:
            out.setdefault(base.args[0], {})[type(base)] = (int(ex), f)
    return out


def match_sin_cos(node):
    """``sin(a)*cos(a)`` among the factors of a product: ``{"a", "rest"}``."""
    for arg, d in _trig_powers(node).items():
        if d.get(sp.sin, (0,))[0] == 1 and d.get(sp.cos, (0,))[0] == 1:
            used = (d[sp.sin][1], d[sp.cos][1])
            return {"a": arg, "rest": tuple(f for f in node.args if f not in used)}
    return None


def build_double_angle(b):
    return sp.Mul(*b["rest"], sp.sin(2 * b["a"]), _HALF)


def match_tan_quotient(node):
    """``sin(a)**k * cos(a)**-k`` (``k >= 1``) among the factors: ``{"a", "k", "rest"}``."""
    for arg, d in _trig_powers(node).items():
        if sp.sin in d and sp.cos in d and d[sp.sin][0] >= 1 and d[sp.cos][0] == -d[sp.sin][0]:
            used = (d[sp.sin][1], d[sp.cos][1])
            return {"a": arg, "k": d[sp.sin][0], "rest": tuple(f for f in node.args if f not in used)}
    return None


def build_tan_quotient(b):
    return sp.Mul(*b["rest"], sp.tan(b["a"]) ** b["k"])


# -- logarithms and exponentials ------------------------------------------------------
def match_log_product(node):
    """``log(p*q)`` split into the factors provably positive (``p``, at least one not a
    number) and the rest (``q``, possibly 1)."""
    arg = node.args[0]
    if not arg.is_Mul:
        return None
    pos = [f for f in arg.args if f.is_positive is True]
    if not any(not f.is_Number for f in pos):
        return None
    rest = [f for f in arg.args if f not in pos]
    return {"p": tuple(pos), "q": sp.Mul(*rest)}


#: digits a folded float constant is computed with (it is rounded to double once, when
#: printed, instead of twice)
FOLD_DIGITS = 34


def _log(f):
    # log of a float factor folds to a constant: evaluate it beyond double precision
    return sp.log(sp.Float(f, FOLD_DIGITS)) if isinstance(f, sp.Float) else sp.log(f)


def build_log_product(b):
    return sp.Add(*[_log(f) for f in b["p"]], _log(b["q"]))


def match_exp_log_sum(node):
    """``exp(c1*log(a1) + ... + rest)``: ``{"logs": ((c, a), ...), "rest": sum}``, the
    ``a`` provably positive and the ``c`` real numbers."""
    arg = node.args[0]
    if not arg.is_Add:
        return None
    logs, rest = [], []
    for t in arg.args:
        c, f = t.as_coeff_Mul()
        if isinstance(f, sp.log) and f.args[0].is_positive is True and c.is_real:
            logs.append((c, f.args[0]))
        else:
            rest.append(t)
    return {"logs": tuple(logs), "rest": sp.Add(*rest)} if logs else None


def build_exp_log_sum(b):
    return sp.Mul(*[a**c for c, a in b["logs"]], sp.exp(b["rest"]))


# -- fractions --------------------------------------------------------------------------
def fraction(term):
    """``(numerator factors, {base: positive exponent})`` of one term; the denominator
    holds the factors with a negative rational exponent (what the printers divide by)."""
    num, den = [], {}
    for f in sp.Mul.make_args(term):
        if f.is_Pow and f.exp.is_Rational and f.exp.is_negative:
            den[f.base] = den.get(f.base, 0) - f.exp
        else:
            num.append(f)
    return num, den


def _den_product(den, sign=-1):
    return [sp.Pow(base, sign * e) for base, e in den.items()]


def match_same_denominator(node):
    """Groups of two or more terms of a sum with the same denominator."""
    groups: dict = {}
    others = []
    for t in node.args:
        num, den = fraction(t)
        if den:
            groups.setdefault(frozenset(den.items()), []).append(sp.Mul(*num))
        else:
            others.append(t)
    if not any(len(g) > 1 for g in groups.values()):
        return None
    return {"groups": tuple((dict(k), tuple(v)) for k, v in groups.items()), "others": tuple(others)}


def build_same_denominator(b):
    terms = [sp.Mul(sp.Add(*nums), *_den_product(den)) for den, nums in b["groups"]]
    return sp.Add(*b["others"], *terms)


def _over_lcd(terms):
    """``(numerator terms, lcd)`` with ``sum(terms) == sum(numerators) / lcd``."""
    split = [fraction(t) for t in terms]
    lcd: dict = {}
    for _, den in split:
        for base, e in den.items():
            lcd[base] = max(lcd.get(base, e), e)
    nums = [sp.Mul(*num, *[sp.Pow(base, e - den.get(base, 0)) for base, e in lcd.items()])
            for num, den in split]
    return nums, lcd


def match_common_denominator(node):
    """Two or more terms of a sum that have (different) denominators."""
    fr = [t for t in node.args if fraction(t)[1]]
    if len(fr) < 2:
        return None
    return {"fractions": tuple(fr), "others": tuple(t for t in node.args if t not in fr)}


def build_common_denominator(b):
    nums, lcd = _over_lcd(b["fractions"])
    return sp.Add(*b["others"], sp.Mul(sp.Add(*nums), *_den_product(lcd)))


def match_reciprocal_sum(node):
    """``(a + b/c + ...)**-k``: a sum with a fraction among its terms, to a negative
    integer power: ``{"terms", "k"}``."""
    base, ex = node.args
    if not (base.is_Add and ex.is_Integer and ex < 0):
        return None
    if not any(fraction(t)[1] for t in base.args):
        return None
    return {"terms": base.args, "k": -ex}


def build_reciprocal_sum(b):
    nums, lcd = _over_lcd(b["terms"])
    return sp.Mul(*_den_product(lcd, b["k"]), sp.Pow(sp.Add(*nums), -b["k"]))


# -- lowering (unevaluated results) ---------------------------------------------------
def match_sqrt_product(node):
    """Factors ``a**(1/2)`` (and separately ``a**(-1/2)``) of a product whose bases are
    provably nonnegative (positive for the reciprocals), two or more of one sign."""
    up = [f for f in node.args if f.is_Pow and f.exp == _HALF and f.base.is_nonnegative is True]
    down = [f for f in node.args if f.is_Pow and f.exp == -_HALF and f.base.is_positive is True]
    if len(up) < 2 and len(down) < 2:
        return None
    up, down = (up if len(up) > 1 else []), (down if len(down) > 1 else [])
    return {"up": tuple(f.base for f in up), "down": tuple(f.base for f in down),
            "rest": tuple(f for f in node.args if f not in up and f not in down)}


def build_sqrt_product(b):
    out = list(b["rest"])
    if b["up"]:
        out.append(sp.Pow(sp.Mul(*b["up"], evaluate=False), _HALF, evaluate=False))
    if b["down"]:
        root = sp.Pow(sp.Mul(*b["down"], evaluate=False), _HALF, evaluate=False)
        out.append(sp.Pow(root, -1, evaluate=False))
    return out[0] if len(out) == 1 else sp.Mul(*out, evaluate=False)


def match_div_hoist(node):
    """A product with two or more factors of negative rational exponent."""
    den = [f for f in node.args if f.is_Pow and f.exp.is_Rational and f.exp.is_negative]
    if len(den) < 2:
        return None
    return {"num": tuple(f for f in node.args if f not in den),
            "den": tuple(sp.Pow(f.base, -f.exp, evaluate=False) if f.exp != -1 else f.base
                         for f in den)}


def build_div_hoist(b):
    recip = sp.Pow(sp.Mul(*b["den"], evaluate=False), -1, evaluate=False)
    return sp.Mul(*b["num"], recip, evaluate=False) if b["num"] else recip


def power_product(base, n: int):
    """``base**n`` (``n >= 1``) as unevaluated multiplications by repeated squaring.

    Squares are wrapped in ``UnevaluatedExpr`` so that the printers keep their
    parentheses (``(x*x)*(x*x)``) and LLVM evaluates each square once; a result with
    squares inside is wrapped too, so that a negative coefficient in front of it does
    not drop those parentheses.
    """
    if n == 1:
        return base
    if n <= 3:
        return sp.Mul(*([base] * n), evaluate=False)
    if n % 4 == 0:
        half = power_product(base, n // 2)
        if not isinstance(half, sp.UnevaluatedExpr):
            half = sp.UnevaluatedExpr(half)
        return sp.UnevaluatedExpr(sp.Mul(half, half, evaluate=False))
    sq = sp.UnevaluatedExpr(sp.Mul(base, base, evaluate=False))
    return sp.UnevaluatedExpr(sp.Mul(*([sq] * (n // 2) + [base] * (n % 2)), evaluate=False))


def match_lowerable_power(node, max_power: int = 8):
    """``b**n`` with an integer ``2 <= |n| <= max_power``, or ``b**(k/2)`` with
    ``k != 1`` and ``|k|//2 <= max_power``: ``{"b", "e"}`` (``e`` a Rational)."""
    base, ex = node.args
    if not ex.is_Number:
        return None
    r = exact_exponent(ex)
    if r is None:
        return None
    if r.q == 1 and 2 <= abs(r.p) <= max_power:
        return {"b": base, "e": r}
    if r.q == 2 and r != _HALF and abs(r.p) // 2 <= max_power:
        return {"b": base, "e": r}
    return None


def build_power_chain(b):
    base, r = b["b"], b["e"]
    k = abs(int(r.p)) // int(r.q)
    if r.q == 1:
        pos = power_product(base, k)
    else:
        root = sp.Pow(base, _HALF, evaluate=False)
        pos = root if k == 0 else sp.Mul(power_product(base, k), root, evaluate=False)
    return pos if r > 0 else sp.Pow(pos, -1, evaluate=False)
