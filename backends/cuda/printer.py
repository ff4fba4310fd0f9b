"""Printers of the CUDA backend: dtype-generic device Python and CUDA C.

Every symbol is printed through a mapping to a fixed identifier (``y[3]``, ``p[0]``,
``t``, ``c12``): text from user-chosen names never reaches generated code.  Literals are
printed through the float type of the build (``F(2.5)`` in device Python, ``T(2.5)`` in
CUDA C) so that a float32 build stays in float32 (one float64 constant would promote a
whole expression, and on a GPU a float64 operation costs up to 64 float32 ones).
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.c import C99CodePrinter

from symgen.errors import BackendError

from ..numba.printer import NumbaPrinter

__all__ = ["DevicePrinter", "CudaCPrinter"]


class DevicePrinter(NumbaPrinter):
    """Expressions for ``numba.cuda.jit(device=True)`` / ``numba.njit`` bodies whose
    float type is the free name ``F`` of the enclosing factory."""

    printmethod = "_devicecode"

    def _lit(self, value) -> str:
        return f"F({float(value)!r})"

    def _wrap(self, text: str) -> str:
        return f"F({text})"

    _cast = _wrap

    def _print_Pow(self, expr, rational=False):
        base, ex = expr.args
        if ex == -1:
            return f"(F(1.0)/{self.parenthesize(base, 100)})"
        if ex == -sp.S.Half:
            return f"(F(1.0)/math.sqrt({self._print(base)}))"
        return super()._print_Pow(expr, rational)

    def _print_Function(self, expr):
        raise BackendError(f"no device translation for function {expr.func}", symbol=str(expr.func))


class CudaCPrinter(C99CodePrinter):
    """Expressions for templated CUDA C device functions (float type ``T``)."""

    printmethod = "_cudaccode"

    def __init__(self, symbol_map: dict, settings=None):
        super().__init__(settings or {})
        self._symbol_map = symbol_map

    def _print_Symbol(self, expr):
        try:
            return self._symbol_map[expr]
        except KeyError:
            raise BackendError("expression contains a symbol the kernel does not know",
                               symbol=str(expr)) from None

    _print_Dummy = _print_Symbol

    def _lit(self, value: float) -> str:
        return f"T({float(value)!r})"

    def _print_Float(self, expr):
        return self._lit(expr)

    _print_Integer = _print_Float
    _print_Rational = _print_Float
    _print_Half = _print_Float

    def _print_NaN(self, expr):
        return "T(NAN)"

    def _print_Infinity(self, expr):
        return "T(INFINITY)"

    def _print_NegativeInfinity(self, expr):
        return "T(-INFINITY)"

    def _print_Pow(self, expr):
        base, ex = expr.args
        b = self._print(base)
        if ex == sp.S.Half:
            return f"sqrt({b})"
        if ex == -1:
            return f"(T(1.0)/{self.parenthesize(base, 100)})"
        if ex == -sp.S.Half:
            return f"rsqrt({b})"
        return f"pow({b}, {self._print(ex)})"

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"(({x}) > T(0.0) ? T(1.0) : (({x}) == T(0.0) ? {self._print(h0)} : T(0.0)))"

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        return f"(({x}) > T(0.0) ? T(1.0) : (({x}) < T(0.0) ? T(-1.0) : T(0.0)))"

    def _print_Abs(self, expr):
        return f"fabs({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond != True:  # noqa: E712  (SymPy boolean)
            raise BackendError("Piecewise without a default branch", symbol=str(expr))
        out = self._print(expr.args[-1].expr)
        for e, c in reversed(expr.args[:-1]):
            out = f"(({self._print(c)}) ? ({self._print(e)}) : ({out}))"
        return out

    def _print_Function(self, expr):
        raise BackendError(f"no CUDA C translation for function {expr.func}", symbol=str(expr.func))
