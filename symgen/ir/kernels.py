"""Kernels: straight-line SSA code per solver kernel (the IR backends print)."""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .problem import Problem
from .system import Sparsity

__all__ = ["Assign", "Kernel", "KernelSet", "KERNEL_ARGS", "RESIDUAL_ARGS", "VECTOR_ARGS"]

#: argument roles of the ordinary kernel signature ``void(t, y*, p*, out*)``
KERNEL_ARGS = ("t", "y", "p", "out")
#: argument roles of the residual signature ``void(t, y*, yp*, p*, out*)``
RESIDUAL_ARGS = ("t", "y", "yp", "p", "out")
#: argument roles of the vector-input signature ``void(t, y*, p*, v*, out*)`` (JVP/VJP
#: kernels: ``v`` is the vector the Jacobian is applied to; loss kernels: data values)
VECTOR_ARGS = ("t", "y", "p", "v", "out")


@dataclass(frozen=True, slots=True)
class Assign:
    """``target = expr`` (``target`` is a temporary, assigned once)."""

    target: sp.Symbol
    expr: sp.Expr


@dataclass(frozen=True, slots=True)
class Kernel:
    """One generated function.

    Attributes
    ----------
    name : str
        Kernel name (``rhs``, ``jac``, ``jac_values``, ...), a fixed identifier.
    args : tuple of str
        Argument roles, :data:`KERNEL_ARGS` or :data:`RESIDUAL_ARGS`.
    body : tuple of Assign
        Temporaries in evaluation order (common subexpressions).
    outputs : tuple of (int, sympy.Expr)
        ``out[index] = expr``.
    out_size : int
        Length of ``out``.
    zero_fill : bool
        Set ``out`` to zero before the outputs (dense matrices).
    """

    name: str
    args: tuple
    body: tuple
    outputs: tuple
    out_size: int
    zero_fill: bool = False

    def ops(self) -> list:
        """Every expression of the kernel, temporaries first."""
        return [a.expr for a in self.body] + [e for _, e in self.outputs]


@dataclass(frozen=True, slots=True)
class KernelSet:
    """All kernels of one model, plus what the drivers need to call them."""

    problem: Problem
    kernels: tuple
    jac: Sparsity
    pjac: Sparsity
    yp_symbols: tuple = ()
    v_symbols: tuple = ()

    def get(self, name: str) -> Kernel:
        for k in self.kernels:
            if k.name == name:
                return k
        raise KeyError(name)
