"""System: a Problem plus everything the solvers need, derived symbolically."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem

__all__ = ["Sparsity", "System"]


@dataclass(frozen=True, slots=True)
class Sparsity:
    """A static CSR pattern of an ``nrows x ncols`` matrix.

    ``indices[indptr[i]:indptr[i+1]]`` are the (sorted) columns of row ``i``.
    """

    nrows: int
    ncols: int
    indptr: tuple
    indices: tuple

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def entries(self):
        """Yield ``(k, i, j)`` for every stored entry in CSR order."""
        for i in range(self.nrows):
            for k in range(self.indptr[i], self.indptr[i + 1]):
                yield k, i, self.indices[k]

    def arrays(self):
        """``(indptr, indices)`` as int64 NumPy arrays."""
        return np.asarray(self.indptr, dtype=np.int64), np.asarray(self.indices, dtype=np.int64)

    def to_dense_mask(self) -> np.ndarray:
        m = np.zeros((self.nrows, self.ncols), dtype=bool)
        for _, i, j in self.entries():
            m[i, j] = True
        return m


@dataclass(frozen=True, slots=True)
class System:
    """Derived quantities of an ODE problem ``y' = f(t, y, p)``.

    Attributes
    ----------
    problem : Problem
    jac : Sparsity
        Pattern of ``df/dy``; ``jac_values`` in its CSR order.
    jac_values : tuple of sympy.Expr
    pjac : Sparsity
        Pattern of ``df/dp``; ``pjac_values`` in its CSR order.
    pjac_values : tuple of sympy.Expr
    dfdt : tuple of sympy.Expr
        Explicit time derivative of ``f``.
    """

    problem: Problem
    jac: Sparsity
    jac_values: tuple
    pjac: Sparsity
    pjac_values: tuple
    dfdt: tuple
