"""schedule: the emission order of a kernel's statements.

CSE hands a kernel over as all its temporaries first, then all its outputs.  Emitted in
that order, a large kernel computes every shared subexpression at its start and keeps
them alive to its end: a backend that splits the kernel into functions of bounded size
(the LLVM backend's shards) must pass almost all of them through a scratch array (a
store and a load each), and no backend can keep them in registers.  The order below
places every temporary right before the first statement that needs it, following the
outputs in their order (a temporary's own dependencies first), so a temporary lives only
between its first and last use: for grid models, within a few neighbouring outputs.

The statements and their operations are unchanged, only independent statements move:
results are bit-identical.  The order depends only on the kernel (the positions of the
statements, never on hashes): the generated source is reproducible.
"""
from __future__ import annotations

from sympy import Symbol

from ..ir.kernels import Kernel

__all__ = ["emission_order"]


def _temporaries_used(expr, position: dict) -> list:
    """Temporaries (keys of ``position``) in ``expr``, in body order."""
    found = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Symbol):
            if e in position:
                found.add(e)
        elif e.args:
            stack.extend(e.args)
    return sorted(found, key=position.__getitem__)


def emission_order(kernel: Kernel) -> list:
    """``[(target, expr, index)]``: temporaries as ``(symbol, expr, None)`` and outputs as
    ``(None, expr, output index)``, each temporary just before its first use."""
    body = kernel.body
    position = {a.target: k for k, a in enumerate(body)}
    deps = [_temporaries_used(a.expr, position) for a in body]
    done = [False] * len(body)
    order: list = []

    def emit(k: int) -> None:
        stack = [(k, False)]
        while stack:
            j, ready = stack.pop()
            if done[j]:
                continue
            if ready:
                done[j] = True
                order.append((body[j].target, body[j].expr, None))
                continue
            stack.append((j, True))
            # push in reverse so the dependencies come out in body order
            stack.extend((position[s], False) for s in reversed(deps[j]) if not done[position[s]])

    for index, expr in kernel.outputs:
        for s in _temporaries_used(expr, position):
            emit(position[s])
        order.append((None, expr, index))
    for k in range(len(body)):   # temporaries no output uses (kept: a backend may bind them)
        emit(k)
    return order
