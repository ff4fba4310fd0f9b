"""FunctionBuilder: SymPy expressions -> instructions of one LLVM IR function (text).

Every value is a ``double`` except the results of relationals and boolean connectives
(and boolean temporaries hoisted by CSE), which are ``i1``.  Instructions carry no
fast-math flags, so LLVM keeps IEEE semantics (no reassociation, no contraction into
FMA): a kernel rounds exactly like a plain double evaluation of the same tree in the
same order.  ``Piecewise`` branches like Python's conditional expression; ``Min``,
``Max``, ``sign`` and ``Heaviside`` are selects that propagate NaN.

Symbols never reach the text: the builder asks a ``resolve(symbol)`` callback for an
operand (an argument, a load from ``y``/``p``/``yp``, or a temporary), and names
every value itself (``%v<N>``).
"""
from __future__ import annotations

import struct

import sympy as sp

from symgen.errors import BackendError

__all__ = ["FunctionBuilder", "const", "declaration", "NAN", "ZERO", "ONE"]


def const(value: float) -> str:
    """A double literal in LLVM's exact hexadecimal form (also for inf and nan)."""
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", float(value)))[0]


NAN, ZERO, ONE = const(float("nan")), const(0.0), const(1.0)
_MINUS_ONE = const(-1.0)

#: one-argument functions that are LLVM intrinsics (lowered to libm calls or instructions)
_INTRINSIC = {
    sp.exp: "llvm.exp.f64", sp.log: "llvm.log.f64", sp.sin: "llvm.sin.f64",
    sp.cos: "llvm.cos.f64", sp.Abs: "llvm.fabs.f64", sp.floor: "llvm.floor.f64",
    sp.ceiling: "llvm.ceil.f64",
}
#: functions called in the C math library (``-lm``), by SymPy class
_LIBM = {
    sp.tan: "tan", sp.asin: "asin", sp.acos: "acos", sp.atan: "atan", sp.sinh: "sinh",
    sp.cosh: "cosh", sp.tanh: "tanh", sp.asinh: "asinh", sp.acosh: "acosh", sp.atanh: "atanh",
    sp.erf: "erf", sp.erfc: "erfc", sp.gamma: "tgamma", sp.loggamma: "lgamma", sp.atan2: "atan2",
}
_ARITY = {"atan2": 2, "llvm.pow.f64": 2}
_PURE = {"lgamma"}  # writes the global ``signgam``: not declared memory(none)

_FCMP = {sp.StrictLessThan: "olt", sp.LessThan: "ole", sp.StrictGreaterThan: "ogt",
         sp.GreaterThan: "oge", sp.Equality: "oeq", sp.Unequality: "une"}
_BOOL = {sp.And: "and", sp.Or: "or", sp.Xor: "xor"}


def declaration(callee: str) -> str:
    """The ``declare`` line of a function the builder may call."""
    if callee.startswith("llvm."):
        return f"declare double @{callee}({', '.join(['double'] * _ARITY.get(callee, 1))})"
    args = ", ".join(["double"] * _ARITY.get(callee, 1))
    return f"declare double @{callee}({args})" + ("" if callee in _PURE else " #0")


class FunctionBuilder:
    """Instructions of one function body.

    The body is straight-line code except for ``Piecewise``, which branches (its
    pieces are evaluated lazily) and joins with a ``phi``; values computed inside a
    branch are forgotten when it ends, so every reuse is dominated by its definition.

    Parameters
    ----------
    resolve : callable
        ``resolve(builder, symbol) -> operand`` for every symbol an expression may
        contain; it may emit loads through ``builder.instr``.

    Attributes
    ----------
    lines : list of str
        The instructions emitted so far.
    calls : set of str
        Names of the functions called (for the module's declarations).
    """

    def __init__(self, resolve):
        self._resolve = resolve
        self.lines: list[str] = ["entry:"]
        self.calls: set[str] = set()
        self._n = 0
        self._memo: dict = {}
        self._scopes: list[list] = []  # memo keys added inside each open branch
        self._block = "entry"

    # -- low level -----------------------------------------------------------------
    def instr(self, text: str) -> str:
        """Append ``%vN = text`` and return ``%vN``."""
        self._n += 1
        name = f"%v{self._n}"
        self.lines.append(f"  {name} = {text}")
        return name

    def stmt(self, text: str) -> None:
        """Append an instruction without a result (a store)."""
        self.lines.append(f"  {text}")

    def element(self, base: str, index: int) -> str:
        """Pointer to ``base[index]`` (``double`` elements)."""
        return self.instr(f"getelementptr inbounds double, ptr {base}, i64 {int(index)}")

    def load(self, base: str, index: int) -> str:
        return self.instr(f"load double, ptr {self.element(base, index)}, align 8")

    def store(self, value: str, base: str, index: int) -> None:
        self.stmt(f"store double {value}, ptr {self.element(base, index)}, align 8")

    def call(self, callee: str, *args: str) -> str:
        self.calls.add(callee)
        return self.instr(f"call double @{callee}({', '.join('double ' + a for a in args)})")

    def bind(self, symbol, operand: str) -> None:
        """Make ``symbol`` evaluate to ``operand`` in this function."""
        self._remember(symbol, operand)

    def _remember(self, key, operand: str) -> None:
        self._memo[key] = operand
        if self._scopes:
            self._scopes[-1].append(key)

    def _label(self, text: str) -> str:
        self._n += 1
        return f"{text}{self._n}"

    def _begin(self, label: str) -> None:
        """Start basic block ``label`` in a new memo scope (its values dominate only it)."""
        self.lines.append(f"{label}:")
        self._block = label
        self._scopes.append([])

    def _end(self, target: str) -> None:
        """Branch to ``target`` and forget the values of the block's scope."""
        self.stmt(f"br label %{target}")
        self._close_scope()

    def _close_scope(self) -> None:
        for key in self._scopes.pop():
            self._memo.pop(key, None)


    @property
    def size(self) -> int:
        """Number of instructions emitted."""
        return len(self.lines)

    # -- expressions -> double operands ----------------------------------------------
    def value(self, expr) -> str:
        """Operand (``%vN`` or a literal) holding the double value of ``expr``.

        A symbol is whatever ``resolve`` gives: a boolean temporary resolves to ``i1``
        and only ever occurs where :meth:`condition` evaluates it."""
        hit = self._memo.get(expr)
        if hit is not None:
            return hit
        if isinstance(expr, sp.Symbol):
            out = self._resolve(self, expr)
        elif isinstance(expr, (sp.Number, sp.NumberSymbol)):
            return self._number(expr)
        elif isinstance(expr, sp.logic.boolalg.Boolean):
            raise BackendError("a boolean is used where a number is expected", symbol=str(expr))
        else:
            out = self._compound(expr)
        self._remember(expr, out)
        return out

    def _number(self, expr) -> str:
        if expr is sp.zoo or expr is sp.nan:
            return NAN
        try:
            return const(float(expr))
        except (TypeError, ValueError):
            raise BackendError(f"no LLVM translation for the number {expr}", symbol=str(expr)) from None

    def _compound(self, expr) -> str:
        cls = type(expr)
        if cls in _INTRINSIC:
            return self.call(_INTRINSIC[cls], self.value(expr.args[0]))
        if cls in _LIBM:
            return self.call(_LIBM[cls], *[self.value(a) for a in expr.args])
        for klass in cls.__mro__:
            method = getattr(self, "_e_" + klass.__name__, None)
            if method is not None:
                return method(expr)
        raise BackendError(f"no LLVM translation for {cls.__name__}", symbol=str(expr))

    def _fold(self, op: str, operands) -> str:
        it = iter(operands)
        acc = next(it)
        for x in it:
            acc = self.instr(f"{op} double {acc}, {x}")
        return acc

    def _e_UnevaluatedExpr(self, e):
        return self.value(e.args[0])

    def _e_Add(self, e):
        return self._fold("fadd", [self.value(a) for a in e.args])

    def _e_Mul(self, e):
        num, den, neg = [], [], False
        for a in e.args:
            if a.is_Pow and a.exp == -1:
                den.append(a.base)
            elif a == -1 and not neg:
                neg = True
            else:
                num.append(a)
        if not num and not den:
            return _MINUS_ONE if neg else ONE
        acc = self._fold("fmul", [self.value(a) for a in num]) if num else None
        if den:
            d = self._fold("fmul", [self.value(a) for a in den])
            acc = self.instr(f"fdiv double {acc if acc is not None else ONE}, {d}")
        return self.instr(f"fneg double {acc}") if neg else acc

    def _e_Pow(self, e):
        base, ex = e.args
        if ex == -1:
            return self.instr(f"fdiv double {ONE}, {self.value(base)}")
        if ex == sp.S.Half:
            return self.call("llvm.sqrt.f64", self.value(base))
        if ex == -sp.S.Half:
            return self.instr(f"fdiv double {ONE}, {self.call('llvm.sqrt.f64', self.value(base))}")
        if ex == 2:
            b = self.value(base)
            return self.instr(f"fmul double {b}, {b}")
        if base is sp.E:
            return self.call("llvm.exp.f64", self.value(ex))
        return self.call("llvm.pow.f64", self.value(base), self.value(ex))

    def _select(self, cond: str, a: str, b: str) -> str:
        return self.instr(f"select i1 {cond}, double {a}, double {b}")

    def _cmp(self, pred: str, a: str, b: str) -> str:
        return self.instr(f"fcmp {pred} double {a}, {b}")

    def _e_Piecewise(self, e):
        """Branches, evaluated lazily like Python's conditional expression: a piece's
        condition only when every earlier one was false, its value only when chosen."""
        pieces = []
        for val, cond in e.args:
            pieces.append((val, cond))
            if cond is sp.true:
                break
        else:
            pieces.append((sp.nan, sp.true))
        end = self._label("pw")
        incoming = []
        for val, cond in pieces[:-1]:
            take, skip = self._label("pw"), self._label("pw")
            self.stmt(f"br i1 {self.condition(cond)}, label %{take}, label %{skip}")
            self._begin(take)
            incoming.append((self.value(val), self._block))
            self._end(end)
            self._begin(skip)  # stays open: later pieces are dominated by it
        last = self.value(pieces[-1][0])
        if len(pieces) == 1:
            return last
        incoming.append((last, self._block))
        self.stmt(f"br label %{end}")
        for _ in pieces[:-1]:  # close the scopes of the open "skip" blocks
            self._close_scope()
        self.lines.append(f"{end}:")
        self._block = end
        return self.instr("phi double " + ", ".join(f"[ {v}, %{b} ]" for v, b in incoming))

    def _e_Heaviside(self, e):
        x = self.value(e.args[0])
        h0 = self.value(e.args[1]) if len(e.args) > 1 else const(0.5)
        # NaN -> NaN; x < 0 -> 0; x == 0 -> h0; x > 0 -> 1
        acc = self._select(self._cmp("olt", x, ZERO), ZERO, x)
        acc = self._select(self._cmp("oeq", x, ZERO), h0, acc)
        return self._select(self._cmp("ogt", x, ZERO), ONE, acc)

    def _e_sign(self, e):
        x = self.value(e.args[0])
        # NaN -> NaN, +-0 -> +-0
        acc = self._select(self._cmp("olt", x, ZERO), _MINUS_ONE, x)
        return self._select(self._cmp("ogt", x, ZERO), ONE, acc)

    def _minmax(self, e, pred: str) -> str:
        def pick(a, b):
            either_nan = self._cmp("uno", a, b)
            best = self._select(self._cmp(pred, a, b), a, b)
            return self._select(either_nan, self.instr(f"fadd double {a}, {b}"), best)
        it = iter([self.value(a) for a in e.args])
        acc = next(it)
        for x in it:
            acc = pick(acc, x)
        return acc

    def _e_Min(self, e):
        return self._minmax(e, "olt")

    def _e_Max(self, e):
        return self._minmax(e, "ogt")

    def _e_DiracDelta(self, e):
        return ZERO

    # -- booleans -> i1 operands ------------------------------------------------------
    def condition(self, expr) -> str:
        """Operand (``%vN``, ``true`` or ``false``) holding the truth of ``expr``."""
        if expr is sp.true:
            return "true"
        if expr is sp.false:
            return "false"
        hit = self._memo.get(expr)
        if hit is not None:
            return hit
        cls = type(expr)
        if isinstance(expr, sp.Symbol):  # a boolean temporary (CSE hoists shared conditions)
            out = self._resolve(self, expr)
        elif cls in _FCMP:
            lhs, rhs = (self.value(a) for a in expr.args)
            out = self._cmp(_FCMP[cls], lhs, rhs)
        elif cls in _BOOL:
            ops = [self.condition(a) for a in expr.args]
            out = ops[0]
            for x in ops[1:]:
                out = self.instr(f"{_BOOL[cls]} i1 {out}, {x}")
        elif cls is sp.Not:
            out = self.instr(f"xor i1 {self.condition(expr.args[0])}, true")
        elif cls is sp.ITE:
            c, a, b = (self.condition(x) for x in expr.args)
            out = self.instr(f"select i1 {c}, i1 {a}, i1 {b}")
        else:
            raise BackendError(f"no LLVM translation for the condition {cls.__name__}", symbol=str(expr))
        self._remember(expr, out)
        return out
