"""lower: System -> KernelSet (common subexpression elimination, power lowering)."""
from __future__ import annotations

import sympy as sp

from ..ir.kernels import KERNEL_ARGS, VECTOR_ARGS, Assign, Kernel, KernelSet
from ..ir.system import System
from ..rewrite import lower_all
from .cse import tree_cse

__all__ = ["lower", "make_kernel", "common_subexpressions", "vector_kernels", "LARGE_KERNEL_NODES"]

#: kernels with more top-level terms than this use the linear-time tree CSE (SymPy's
#: needs minutes for a reaction network of 24k reactions)
LARGE_KERNEL_NODES = 4000


def _size(exprs) -> int:
    return sum(len(e.args) + 1 for e in exprs)


def common_subexpressions(exprs):
    """``(temporaries, reduced)`` as ``sympy.cse`` returns them, temporaries being Dummies.

    Small kernels use SymPy's CSE (which also finds common sub-products and pulls out
    negations); large ones the linear-time :func:`symgen.passes.cse.tree_cse`.
    """
    if _size(exprs) > LARGE_KERNEL_NODES:
        return tree_cse(exprs)
    return sp.cse(exprs, symbols=sp.numbered_symbols("c", cls=sp.Dummy), order="none")


def make_kernel(name: str, outputs, out_size: int, *, zero_fill: bool = False,
                args=KERNEL_ARGS) -> Kernel:
    """CSE a list of ``(index, expr)`` outputs into one straight-line kernel."""
    idx = [i for i, _ in outputs]
    exprs = [e for _, e in outputs]
    temps, reduced = common_subexpressions(exprs)
    low = lower_all([e for _, e in temps] + list(reduced))
    body = tuple(Assign(s, e) for (s, _), e in zip(temps, low))
    outs = tuple(zip(idx, low[len(temps):]))
    return Kernel(name, tuple(args), body, outs, out_size, zero_fill)


def lower(system: System, *, vector: bool = False) -> KernelSet:
    """Build every kernel the drivers and the user API need (with ``vector``, also the
    JVP/VJP kernels of :func:`vector_kernels`)."""
    pb = system.problem
    n, m = pb.n, len(pb.params)
    rhs = list(enumerate(pb.rhs))
    pjac_dense = [(i * m + j, v) for (k, i, j), v in zip(system.pjac.entries(), system.pjac_values)]
    obs = [(i, e) for i, (_, e) in enumerate(pb.observed)]
    kernels = (
        make_kernel("rhs", rhs, n),
        make_kernel("jac_values", list(enumerate(system.jac_values)), system.jac.nnz),
        make_kernel("pjac", pjac_dense, n * m, zero_fill=True),
        make_kernel("dfdt", list(enumerate(system.dfdt)), n),
        make_kernel("observed", obs, len(obs)),
    )
    # an ODE's residual F = y' - f(t, y, p) is evaluated from the rhs kernel (a second
    # copy of the whole right-hand side would double the compile time of large models);
    # implicit (DAE) systems will bring a residual kernel of their own
    if not vector:
        return KernelSet(pb, kernels, system.jac, system.pjac)
    extra, v = vector_kernels(system)
    return KernelSet(pb, kernels + extra, system.jac, system.pjac, v_symbols=v)


def _products(system: System, pattern, values, v, transpose: bool) -> dict:
    """``{output index: [J_k * v_i, ...]}`` for ``J v`` or ``J^T v`` over the stored entries."""
    acc: dict = {}
    for (k, i, j), d in zip(pattern.entries(), values):
        row, col = (j, i) if transpose else (i, j)
        acc.setdefault(row, []).append(d * v[col])
    return acc


def vector_kernels(system: System):
    """``((jvp, vjp, pvjp), v_symbols)``: Jacobian-vector products with the vector ABI
    ``void(t, y*, p*, v*, out*)`` (:data:`VECTOR_ARGS`).

    * ``jvp``:  ``out = (df/dy) v``      (``n`` outputs, ``v`` of length ``n``)
    * ``vjp``:  ``out = (df/dy)^T v``    (``n`` outputs)
    * ``pvjp``: ``out = (df/dp)^T v``    (``len(params)`` outputs)

    Each sums over the stored entries of the sparse derivatives (never a dense matrix)
    and is common-subexpression eliminated like every other kernel.
    """
    pb = system.problem
    n, m = pb.n, len(pb.params)
    v = tuple(sp.Dummy(f"v{i}", real=True) for i in range(n))
    out = []
    for name, pattern, values, size, transpose in (
            ("jvp", system.jac, system.jac_values, n, False),
            ("vjp", system.jac, system.jac_values, n, True),
            ("pvjp", system.pjac, system.pjac_values, m, True)):
        acc = _products(system, pattern, values, v, transpose)
        outputs = [(r, sp.Add(*terms)) for r, terms in sorted(acc.items())]
        out.append(make_kernel(name, outputs, size, zero_fill=len(outputs) < size, args=VECTOR_ARGS))
    return tuple(out), v
