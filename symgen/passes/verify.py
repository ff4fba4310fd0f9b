"""Verifiers of every IR (run after each pass when SYMGEN_VERIFY=1)."""
from __future__ import annotations

import ast

import sympy as sp

from ..errors import SymgenError
from ..ir.kernels import KernelSet
from ..ir.problem import Problem
from ..ir.source import Source
from ..ir.system import Sparsity, System

__all__ = ["IRVerificationError", "verify_problem", "verify_system", "verify_kernels", "verify_source"]


class IRVerificationError(SymgenError):
    """An IR broke one of its invariants (a symgen bug, not a user error)."""


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise IRVerificationError(msg)


def verify_problem(pb: Problem) -> None:
    _check(len(pb.rhs) == len(pb.states), "one right-hand side per state")
    allowed = set(pb.states) | set(pb.params) | {pb.t}
    for i, f in enumerate(pb.rhs):
        extra = f.free_symbols - allowed
        _check(not extra, f"equation {pb.label(i)} uses unknown symbols {extra}")
    for name, e in pb.observed:
        _check(not (e.free_symbols - allowed), f"observable {name} uses unknown symbols")


def verify_sparsity(sp_: Sparsity, nvalues: int) -> None:
    _check(len(sp_.indptr) == sp_.nrows + 1 and sp_.indptr[0] == 0, "indptr length/start")
    _check(sp_.indptr[-1] == len(sp_.indices) == nvalues, "nnz mismatch between pattern and values")
    for i in range(sp_.nrows):
        row = sp_.indices[sp_.indptr[i]:sp_.indptr[i + 1]]
        _check(all(a < b for a, b in zip(row, row[1:])), f"row {i} columns not strictly increasing")
        _check(all(0 <= j < sp_.ncols for j in row), f"row {i} column out of range")


def verify_system(s: System) -> None:
    verify_problem(s.problem)
    verify_sparsity(s.jac, len(s.jac_values))
    verify_sparsity(s.pjac, len(s.pjac_values))
    _check(len(s.dfdt) == s.problem.n, "one df/dt entry per state")


def verify_kernels(ks: KernelSet) -> None:
    pb = ks.problem
    base = set(pb.states) | set(pb.params) | {pb.t} | set(ks.yp_symbols) | set(ks.v_symbols)
    for k in ks.kernels:
        defined = set(base)
        for a in k.body:
            _check(a.expr.free_symbols <= defined, f"kernel {k.name}: temporary used before definition")
            _check(a.target not in defined, f"kernel {k.name}: temporary assigned twice")
            defined.add(a.target)
        for i, e in k.outputs:
            _check(0 <= i < k.out_size, f"kernel {k.name}: output index {i} out of range")
            _check(isinstance(e, sp.Basic) and e.free_symbols <= defined, f"kernel {k.name}: unknown symbol")
        idx = [i for i, _ in k.outputs]
        _check(len(set(idx)) == len(idx), f"kernel {k.name}: output written twice")


def verify_source(src: Source) -> None:
    if src.backend == "numba":
        try:
            ast.parse(src.text)
        except SyntaxError as exc:  # pragma: no cover - would be a printer bug
            raise IRVerificationError(f"generated source does not parse: {exc}") from exc
