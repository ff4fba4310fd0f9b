"""The rewrite engine: apply rule sets bottom-up, in ordered phases, guided by the cost model.

A *phase* names one rule set of :data:`symgen.rewrite.rules.RULESETS`.  Within a phase
the engine walks the expression bottom-up (children first, so a rule sees simplified
arguments), tries every rule of the set on each node and repeats on the result until no
rule fires or :data:`MAX_PASSES` sweeps have run.  A rule's result replaces the node only
when the cost model (:mod:`symgen.rewrite.cost`) does not rate it more expensive, unless
the rule is ``mandatory`` (the lowering rules, whose results the printers need).

:func:`simplify_with_stats` runs the simplification phases (:data:`PHASES`) on evaluated
SymPy expressions; :func:`lower` runs the lowering phase (:data:`LOWERING`) whose results
stay unevaluated until printed (``x*x`` instead of ``x**2``).
"""
from __future__ import annotations

from collections import Counter

import sympy as sp

from ..errors import SymgenError
from .cost import Tally
from .rules import RULESETS, Rule

__all__ = ["PHASES", "ALL_PHASES", "LOWERING", "MAX_PASSES", "simplify", "simplify_with_stats",
           "lower", "lower_all", "apply_rules"]

#: default simplification phases, in order (each a rule-set name)
PHASES: tuple[str, ...] = ("canonical", "explog", "sqrt", "division")
#: every simplification phase available (``fractions`` is opt-in: combining unrelated
#: denominators saves divisions but multiplies magnitudes, see its rule)
ALL_PHASES: tuple[str, ...] = PHASES + ("fractions",)
#: the lowering phase applied by :func:`lower` just before printing
LOWERING: tuple[str, ...] = ("powers",)
#: sweeps over one expression per phase before the engine stops (a guard against rules
#: that undo each other; each sweep that changes nothing ends the phase earlier)
MAX_PASSES = 8


class UnknownPhaseError(SymgenError):
    """A phase name that is not a rule set."""


def _rules_of(phases, disabled) -> list[tuple[Rule, ...]]:
    out = []
    for name in phases:
        if name not in RULESETS:
            raise UnknownPhaseError(f"unknown rewrite phase {name!r}; known: {sorted(RULESETS)}",
                                    symbol=str(name))
        out.append(tuple(r for r in RULESETS[name] if r.name not in disabled))
    return out


def _rebuild(node, args, evaluate: bool):
    if evaluate:
        return node.func(*args)
    if isinstance(node, (sp.Add, sp.Mul, sp.Pow)):
        return node.func(*args, evaluate=False)
    if isinstance(node, sp.UnevaluatedExpr):
        return sp.UnevaluatedExpr(args[0])
    try:
        return node.func(*args, evaluate=False)
    except TypeError:
        return node.func(*args)


class _Session:
    """One application of rule sets to many expressions (shares the cost memo)."""

    def __init__(self, evaluate: bool):
        self.evaluate = evaluate
        self.tally = Tally()
        self.fired: Counter = Counter()
        self._memo: dict = {}

    def _try_rules(self, node, rules):
        for rule in rules:
            new = rule.apply(node)
            if new is None:
                continue
            if not rule.mandatory and self.tally.cost(new) > self.tally.cost(node):
                continue
            self.fired[rule.name] += 1
            return new
        return None

    def _sweep(self, node, rules, key):
        hit = self._memo.get((key, node))
        if hit is not None:
            return hit
        out = node
        if node.args and not isinstance(node, (sp.Symbol, sp.Number)):
            args = tuple(self._sweep(a, rules, key) for a in node.args)
            if args != node.args:
                out = _rebuild(node, args, self.evaluate)
            new = self._try_rules(out, rules)
            if new is not None:
                out = new
        self._memo[(key, node)] = out
        return out

    def run(self, expr, phases_rules):
        for k, rules in enumerate(phases_rules):
            if not rules:
                continue
            for _ in range(MAX_PASSES):
                new = self._sweep(expr, rules, k)
                if new == expr:
                    break
                expr = new
        return expr


def apply_rules(exprs, phases, *, evaluate=True, disabled=()):
    """Apply the rule sets named by ``phases`` to each expression of ``exprs``.

    Returns ``(list of rewritten expressions, Counter of rule name -> times fired)``.
    """
    s = _Session(evaluate)
    rules = _rules_of(tuple(phases), frozenset(disabled))
    out = [s.run(sp.sympify(e), rules) for e in exprs]
    return out, s.fired


def simplify_with_stats(expr, phases=PHASES, disabled=()):
    """Simplify one expression with the rule sets of ``phases``.

    Parameters
    ----------
    expr : sympy.Expr
    phases : sequence of str
        Rule-set names applied in order (default :data:`PHASES`).
    disabled : iterable of str
        Rule names not to apply.

    Returns
    -------
    (sympy.Expr, dict)
        The simplified expression and ``{rule name: times fired}``.
    """
    (out,), fired = apply_rules([expr], phases, disabled=disabled)
    return out, dict(fired)


def simplify(expr, phases=PHASES, disabled=()):
    """:func:`simplify_with_stats` without the statistics."""
    return simplify_with_stats(expr, phases, disabled)[0]


def lower(expr, disabled=()):
    """Lower one expression for printing: small integer and half-integer powers become
    multiplication chains (and a square root), products of square roots of nonnegative
    bases merge, several divisions in one product become one.

    The result is unevaluated SymPy (print it, do not compute with it).
    """
    if not isinstance(expr, sp.Basic) or not expr.args:
        return expr
    (out,), _ = apply_rules([expr], LOWERING, evaluate=False, disabled=disabled)
    return out


def lower_all(exprs, disabled=()):
    """:func:`lower` for many expressions in one session (shared subterms and costs are
    worked out once; a kernel's temporaries and outputs are lowered together)."""
    exprs = list(exprs)
    todo = [i for i, e in enumerate(exprs) if isinstance(e, sp.Basic) and e.args]
    out, _ = apply_rules([exprs[i] for i in todo], LOWERING, evaluate=False, disabled=disabled)
    for i, e in zip(todo, out):
        exprs[i] = e
    return exprs
