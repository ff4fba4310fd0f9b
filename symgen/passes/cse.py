"""Linear-time common subexpression elimination for large kernels.

SymPy's ``cse`` also searches for common *sub*-products and sub-sums
(``a*b`` inside ``a*b*c`` and ``a*b*d``), which costs minutes on a reaction network of
24k reactions.  :func:`tree_cse` only shares identical subtrees, found by hashing
(SymPy caches node hashes), in one counting pass and one rebuilding pass over the
expression DAG: time proportional to the number of distinct nodes.

Two refinements matter for mass-action networks, where a reaction rate ``k*x*y``
appears as ``-k*x*y`` in the reactants' equations and ``k*x*y`` in the products':

* a product is keyed by its factors without the numeric coefficient, so ``-2*k*x*y``
  and ``k*x*y`` share ``k*x*y``;
* a subtree is only worth a temporary when it costs at least one operation (atoms and
  negated atoms never become temporaries).

Rebuilt nodes are assembled with ``_from_args`` (no re-canonicalisation): the result is
meant to be printed, and canonical ordering of thousands of terms is what makes SymPy
slow.
"""
from __future__ import annotations

import sympy as sp

__all__ = ["tree_cse"]


def _split(node):
    """``(coefficient, core)`` of a product with a numeric coefficient, else ``(None, node)``."""
    if node.is_Mul and node.args[0].is_Number:
        rest = node.args[1:]
        return node.args[0], (rest[0] if len(rest) == 1 else sp.Mul._from_args(rest))
    return None, node


def _counts(exprs) -> dict:
    count: dict = {}
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if not node.args or node.is_Atom:
            continue
        _, core = _split(node)
        if core is not node:
            if not core.args:
                continue
            node = core
        seen = count.get(node)
        count[node] = (seen or 0) + 1
        if seen is None:
            stack.extend(node.args)
    return count


def tree_cse(exprs, symbols=None):
    """``(temporaries, reduced)`` in the format of ``sympy.cse``.

    Parameters
    ----------
    exprs : sequence of sympy.Expr
    symbols : iterator of sympy.Symbol, optional
        Names for the temporaries (default: real Dummies ``c``).

    Returns
    -------
    (list of (Symbol, Expr), list of Expr)
        Temporaries in evaluation order, each used at least twice, and the expressions
        rewritten in terms of them.
    """
    exprs = [sp.sympify(e) for e in exprs]
    count = _counts(exprs)
    shared = {n for n, c in count.items() if c > 1}
    temps: list = []
    made: dict = {}
    symbols = symbols if symbols is not None else iter(lambda: sp.Dummy("c", real=True), None)

    def rebuild(root):
        # iterative post-order so deep expressions cannot overflow the Python stack
        out: dict = {}
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in out:
                continue
            if not node.args or node.is_Atom:
                out[node] = node
                continue
            coeff, core = _split(node)
            if core is not node and core.args:
                if not ready:
                    stack.append((node, True))
                    stack.append((core, False))
                    continue
                c = out[core]
                out[node] = sp.Mul._from_args((coeff, c)) if c.is_Symbol or c.is_Atom else \
                    sp.Mul._from_args((coeff,) + (c.args if c.is_Mul and not c.args[0].is_Number else (c,)))
                continue
            if node in made:
                out[node] = made[node]
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if a not in out)
                continue
            args = tuple(out[a] for a in node.args)
            new = node if args == node.args else _rebuild(node, args)
            if node in shared:
                sym = next(symbols)
                temps.append((sym, new))
                made[node] = sym
                new = sym
            out[node] = new
        return out[root]

    reduced = [rebuild(e) for e in exprs]
    return temps, reduced


def _rebuild(node, args):
    if node.is_Add or node.is_Mul:
        return node.func._from_args(args)
    if node.is_Pow:
        return sp.Pow(*args, evaluate=False)
    try:
        return node.func(*args, evaluate=False)
    except TypeError:
        return node.func(*args)
