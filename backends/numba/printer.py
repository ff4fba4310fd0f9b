"""NumbaPrinter: SymPy expressions -> Python source that Numba compiles in nopython mode.

Every symbol is printed through a mapping to a fixed identifier (``y[3]``, ``p[0]``,
``t``, ``c12``): text from user-chosen names never reaches generated code.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from symgen.errors import BackendError

__all__ = ["NumbaPrinter"]


class NumbaPrinter(PythonCodePrinter):
    """Print expressions for Numba ``cfunc``/``njit`` bodies.

    Parameters
    ----------
    symbol_map : dict
        ``{sympy.Symbol: identifier}`` for every symbol an expression may contain.
        A symbol missing from the map is an error (never printed by name).
    """

    printmethod = "_numbacode"

    def __init__(self, symbol_map: dict, settings=None):
        super().__init__(settings or {"fully_qualified_modules": True})
        self._symbol_map = symbol_map

    # -- atoms -------------------------------------------------------------------
    def _print_Symbol(self, expr):
        try:
            return self._symbol_map[expr]
        except KeyError:
            raise BackendError("expression contains a symbol the kernel does not know",
                               symbol=str(expr)) from None

    _print_Dummy = _print_Symbol

    # -- literals: hooks a printer for another float type overrides --------------------
    def _lit(self, value) -> str:
        """A numeric literal."""
        return repr(float(value))

    def _wrap(self, text: str) -> str:
        """A float constant given as an expression (``math.inf``)."""
        return text

    def _cast(self, text: str) -> str:
        """A value converted to the float type."""
        return f"float({text})"

    def _print_Float(self, expr):
        return self._lit(expr)

    _print_Integer = _print_Float
    _print_Rational = _print_Float
    _print_Half = _print_Float

    def _print_NaN(self, expr):
        return self._wrap("math.nan")

    def _print_Infinity(self, expr):
        return self._wrap("math.inf")

    def _print_NegativeInfinity(self, expr):
        return self._wrap("(-math.inf)")

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    # -- functions that need care in nopython mode -----------------------------------
    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        one, zero = self._lit(1.0), self._lit(0.0)
        return f"({one} if {x} > {zero} else ({self._print(h0)} if {x} == {zero} else {zero}))"

    def _print_DiracDelta(self, expr):
        return self._lit(0.0)

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        one, zero = self._lit(1.0), self._lit(0.0)
        return f"({one} if {x} > {zero} else ({self._lit(-1.0)} if {x} < {zero} else {zero}))"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_floor(self, expr):
        return self._cast(f"math.floor({self._print(expr.args[0])})")

    def _print_ceiling(self, expr):
        return self._cast(f"math.ceil({self._print(expr.args[0])})")

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Pow(self, expr, rational=False):
        base, ex = expr.args
        if ex == sp.S.Half:
            return f"math.sqrt({self._print(base)})"
        if ex == -sp.S.Half:
            return f"(1.0/math.sqrt({self._print(base)}))"
        if ex == -1:
            return f"(1.0/{self.parenthesize(base, 100)})"
        return f"{self.parenthesize(base, 100)}**{self.parenthesize(ex, 100)}"

    def _print_Function(self, expr):
        raise BackendError(f"no Numba translation for function {expr.func}", symbol=str(expr.func))

    def emptyPrinter(self, expr):
        raise BackendError(f"no Numba translation for {type(expr).__name__}", symbol=str(expr))
