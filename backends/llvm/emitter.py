"""FunctionBuilder: SymPy expressions -> instructions of one LLVM function, built with
llvmlite's IR builder (:mod:`llvmlite.ir`).

Every value is a ``double`` except the results of relationals and boolean connectives
(and boolean temporaries hoisted by CSE), which are ``i1``.  Instructions carry no
fast-math flags, so LLVM keeps IEEE semantics (no reassociation, no contraction into
FMA): a kernel rounds exactly like a plain double evaluation of the same tree in the
same order.  ``Piecewise`` branches like Python's conditional expression; ``Min``,
``Max``, ``sign`` and ``Heaviside`` are selects that propagate NaN.  Math functions are
LLVM intrinsics (``llvm.exp.f64``...) or C math library calls (``tan``, ``erf``...),
declared once per module by :func:`declare`.

Symbols never reach the IR: the builder asks a ``resolve(builder, symbol)`` callback
for an operand (an argument, a load from ``y``/``p``/``yp``, or a temporary); values are
unnamed (llvmlite numbers them), so no text taken from model names is emitted.
"""
from __future__ import annotations

import struct
from types import MappingProxyType

import sympy as sp
from llvmlite import ir

from symgen.errors import BackendError

__all__ = ["FunctionBuilder", "const", "index", "declare", "define", "alloca", "DOUBLE", "I1", "I8", "I64", "PTR",
           "NAN", "ZERO", "ONE", "TRUE", "FALSE", "FunctionAttributes", "ArgumentAttributes"]

DOUBLE, I1, I8, I64, PTR, VOID = ir.DoubleType(), ir.IntType(1), ir.IntType(8), ir.IntType(64), \
    ir.PointerType(), ir.VoidType()


_CONSTANTS: dict = {}


def const(value: float) -> ir.Constant:
    """A double constant (llvmlite prints it in LLVM's exact hexadecimal form).  Constants
    are shared (one object per bit pattern, its text formatted once)."""
    value = float(value)
    key = struct.pack("<d", value)
    c = _CONSTANTS.get(key)
    if c is None:
        if len(_CONSTANTS) > 100_000:
            _CONSTANTS.clear()
        c = _CONSTANTS[key] = ir.Constant(DOUBLE, value)
    return c


def index(i: int) -> ir.Constant:
    """An ``i64`` constant (shared like :func:`const`)."""
    c = _INDICES.get(i)
    if c is None:
        if len(_INDICES) > 100_000:
            _INDICES.clear()
        c = _INDICES[i] = ir.Constant(I64, i)
    return c


_INDICES: dict = {}
_index = index


NAN, ZERO, ONE, _MINUS_ONE = const(float("nan")), const(0.0), const(1.0), const(-1.0)
TRUE, FALSE = ir.Constant(I1, 1), ir.Constant(I1, 0)


class FunctionAttributes(ir.values.FunctionAttributes):
    """llvmlite's function attributes plus the two LLVM >= 16 spells symgen needs."""

    _known = ir.values.FunctionAttributes._known | {"willreturn", "memory(none)"}


class ArgumentAttributes(ir.values.ArgumentAttributes):
    """llvmlite's parameter attributes plus ``readonly`` (no stores through the pointer)."""

    _known = MappingProxyType({**ir.values.ArgumentAttributes._known, "readonly": False,
                               "nocapture": False})


def define(module: ir.Module, name: str, params, *, linkage: str = "", attrs=("nounwind",)) -> ir.Function:
    """A ``void`` function ``name`` of ``module``; ``params`` is a list of
    ``(type, attributes, name)`` (the names are fixed identifiers chosen by symgen)."""
    fn = ir.Function(module, ir.FunctionType(VOID, [p[0] for p in params]), name)
    fn.attributes = FunctionAttributes(attrs)
    for arg, (_, a, arg_name) in zip(fn.args, params):
        arg.attributes = ArgumentAttributes(a)
        arg.name = arg_name
    if linkage:
        fn.linkage = linkage
    return fn


def alloca(builder: ir.IRBuilder, typ, count: int | None = None, name: str = ""):
    """``alloca`` of ``count`` (default one) values of ``typ``, 8-aligned, typed as an
    opaque ``ptr`` like every other pointer symgen emits."""
    slot = builder.alloca(typ, size=None if count is None else ir.Constant(I64, count), name=name)
    slot.type = PTR
    slot.align = 8
    return slot


#: one-argument functions that are LLVM intrinsics (lowered to libm calls or instructions)
_INTRINSIC = {
    sp.exp: "llvm.exp", sp.log: "llvm.log", sp.sin: "llvm.sin", sp.cos: "llvm.cos",
    sp.Abs: "llvm.fabs", sp.floor: "llvm.floor", sp.ceiling: "llvm.ceil",
}
#: functions called in the C math library (``-lm``), by SymPy class
_LIBM = {
    sp.tan: "tan", sp.asin: "asin", sp.acos: "acos", sp.atan: "atan", sp.sinh: "sinh",
    sp.cosh: "cosh", sp.tanh: "tanh", sp.asinh: "asinh", sp.acosh: "acosh", sp.atanh: "atanh",
    sp.erf: "erf", sp.erfc: "erfc", sp.gamma: "tgamma", sp.loggamma: "lgamma", sp.atan2: "atan2",
}
_ARITY = {"atan2": 2}
_IMPURE = {"lgamma"}  # writes the global ``signgam``: not declared memory(none)

_FCMP = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">",
         sp.GreaterThan: ">=", sp.Equality: "=="}
_BOOL = {sp.And: "and_", sp.Or: "or_", sp.Xor: "xor"}


def declare(module: ir.Module, callee: str) -> ir.Function:
    """The declaration of a function the builder may call (``llvm.<name>`` intrinsics on
    doubles, ``llvm.memset``, or a C math library function), made once per module."""
    if callee == "llvm.memset":
        return module.declare_intrinsic("llvm.memset", [PTR, I64])
    if callee.startswith("llvm."):
        return module.declare_intrinsic(callee, [DOUBLE])
    fn = module.globals.get(callee)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(DOUBLE, [DOUBLE] * _ARITY.get(callee, 1)), callee)
        fn.attributes = FunctionAttributes(() if callee in _IMPURE else ("nounwind", "willreturn", "memory(none)"))
    return fn


class FunctionBuilder:
    """Instructions of one function body (an ``ir.IRBuilder`` at the end of it).

    The body is straight-line code except for ``Piecewise``, which branches (its
    pieces are evaluated lazily) and joins with a ``phi``; values computed inside a
    branch are forgotten when it ends, so every reuse is dominated by its definition.

    Parameters
    ----------
    function : llvmlite.ir.Function
        The function to fill (an ``entry`` block is appended).
    resolve : callable
        ``resolve(builder, symbol) -> operand`` for every symbol an expression may
        contain; it may emit loads through :meth:`load`.

    Attributes
    ----------
    ir : llvmlite.ir.IRBuilder
        The IR builder (positioned at the end of the current block), for callers that
        emit their own instructions (loops, address arithmetic).
    size : int
        Number of instructions emitted through this builder (expression values, loads,
        stores); the sharding bound counts it.
    """

    def __init__(self, function: ir.Function, resolve):
        self.function = function
        self.module = function.module
        self.ir = ir.IRBuilder(function.append_basic_block("entry"))
        self._resolve = resolve
        self._memo: dict = {}
        self._scopes: list[list] = []  # memo keys added inside each open branch
        self.size = 1  # counts like the lines of the function's text: labels and branches too
        self._callees: dict = {}

    # -- low level -----------------------------------------------------------------
    def element(self, base, index):
        """Pointer to ``base[index]`` (``double`` elements); ``index`` an int or an i64."""
        self.size += 1
        if isinstance(index, int):
            index = _index(index)
        return self.ir.gep(base, [index], inbounds=True, source_etype=DOUBLE)

    def load(self, base, index):
        ptr = self.element(base, index)
        self.size += 1
        return self.ir.load(ptr, typ=DOUBLE, align=8)

    def store(self, value, base, index) -> None:
        ptr = self.element(base, index)
        self.size += 1
        self.ir.store(value, ptr, align=8)

    def call(self, callee: str, *args):
        fn = self._callees.get(callee)
        if fn is None:
            fn = self._callees[callee] = declare(self.module, callee)
        self.size += 1
        return self.ir.call(fn, args)

    def close(self) -> None:
        """Forget the memo and the resolver (they reference every value of the function
        and, through the caller's closure, each other): the IR objects can then be freed
        by reference counting alone."""
        self._memo = {}
        self._scopes = []
        self._resolve = None

    def bind(self, symbol, operand) -> None:
        """Make ``symbol`` evaluate to ``operand`` in this function."""
        self._remember(symbol, operand)

    def _remember(self, key, operand) -> None:
        self._memo[key] = operand
        if self._scopes:
            self._scopes[-1].append(key)

    def begin(self, block) -> None:
        """Continue in ``block`` in a new memo scope (its values dominate only it)."""
        self.ir.position_at_end(block)
        self.size += 1
        self._scopes.append([])

    def end(self, target) -> None:
        """Branch to ``target`` and forget the values of the block's scope."""
        self.ir.branch(target)
        self.size += 1
        self._close_scope()

    def _close_scope(self) -> None:
        for key in self._scopes.pop():
            self._memo.pop(key, None)

    def block(self):
        """A new basic block at the end of the function (not entered)."""
        return self.function.append_basic_block()

    # -- expressions -> double operands ----------------------------------------------
    def value(self, expr):
        """Operand (an instruction or a constant) holding the double value of ``expr``.

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

    def _number(self, expr):
        if expr is sp.zoo or expr is sp.nan:
            return NAN
        try:
            return const(float(expr))
        except (TypeError, ValueError):
            raise BackendError(f"no LLVM translation for the number {expr}", symbol=str(expr)) from None

    def _compound(self, expr):
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

    def _fold(self, op, operands):
        it = iter(operands)
        acc = next(it)
        for x in it:
            self.size += 1
            acc = op(acc, x)
        return acc

    def _e_UnevaluatedExpr(self, e):
        return self.value(e.args[0])

    def _e_Add(self, e):
        return self._fold(self.ir.fadd, [self.value(a) for a in e.args])

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
        acc = self._fold(self.ir.fmul, [self.value(a) for a in num]) if num else None
        if den:
            d = self._fold(self.ir.fmul, [self.value(a) for a in den])
            self.size += 1
            acc = self.ir.fdiv(acc if acc is not None else ONE, d)
        if neg:
            self.size += 1
            acc = self.ir.fneg(acc)
        return acc

    def _e_Pow(self, e):
        base, ex = e.args
        if ex == -1:
            self.size += 1
            return self.ir.fdiv(ONE, self.value(base))
        if ex == sp.S.Half:
            return self.call("llvm.sqrt", self.value(base))
        if ex == -sp.S.Half:
            root = self.call("llvm.sqrt", self.value(base))
            self.size += 1
            return self.ir.fdiv(ONE, root)
        if ex == 2:
            b = self.value(base)
            self.size += 1
            return self.ir.fmul(b, b)
        if base is sp.E:
            return self.call("llvm.exp", self.value(ex))
        return self.call("llvm.pow", self.value(base), self.value(ex))

    def _select(self, cond, a, b):
        self.size += 1
        return self.ir.select(cond, a, b)

    def _cmp(self, pred: str, a, b):
        """``fcmp``; ``pred`` one of < <= > >= == (ordered), ``une`` or ``uno``."""
        self.size += 1
        if pred == "une":
            return self.ir.fcmp_unordered("!=", a, b)
        if pred == "uno":
            return self.ir.fcmp_unordered("uno", a, b)
        return self.ir.fcmp_ordered(pred, a, b)

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
        if len(pieces) == 1:
            return self.value(pieces[0][0])
        end = ir.Block(parent=self.function)   # appended after the blocks of the pieces
        incoming = []
        for val, cond in pieces[:-1]:
            take, skip = self.block(), self.block()
            self.size += 1
            self.ir.cbranch(self.condition(cond), take, skip)
            self.begin(take)
            v = self.value(val)
            incoming.append((v, self.ir.block))
            self.end(end)
            self.begin(skip)  # stays open: later pieces are dominated by it
        last = self.value(pieces[-1][0])
        incoming.append((last, self.ir.block))
        self.ir.branch(end)
        for _ in pieces[:-1]:  # close the scopes of the open "skip" blocks
            self._close_scope()
        self.function.blocks.append(end)
        self.ir.position_at_end(end)
        self.size += 3
        phi = self.ir.phi(DOUBLE)
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return phi

    def _e_Heaviside(self, e):
        x = self.value(e.args[0])
        h0 = self.value(e.args[1]) if len(e.args) > 1 else const(0.5)
        # NaN -> NaN; x < 0 -> 0; x == 0 -> h0; x > 0 -> 1
        acc = self._select(self._cmp("<", x, ZERO), ZERO, x)
        acc = self._select(self._cmp("==", x, ZERO), h0, acc)
        return self._select(self._cmp(">", x, ZERO), ONE, acc)

    def _e_sign(self, e):
        x = self.value(e.args[0])
        # NaN -> NaN, +-0 -> +-0
        acc = self._select(self._cmp("<", x, ZERO), _MINUS_ONE, x)
        return self._select(self._cmp(">", x, ZERO), ONE, acc)

    def _minmax(self, e, pred: str):
        def pick(a, b):
            either_nan = self._cmp("uno", a, b)
            best = self._select(self._cmp(pred, a, b), a, b)
            self.size += 1
            return self._select(either_nan, self.ir.fadd(a, b), best)
        it = iter([self.value(a) for a in e.args])
        acc = next(it)
        for x in it:
            acc = pick(acc, x)
        return acc

    def _e_Min(self, e):
        return self._minmax(e, "<")

    def _e_Max(self, e):
        return self._minmax(e, ">")

    def _e_DiracDelta(self, e):
        return ZERO

    # -- booleans -> i1 operands ------------------------------------------------------
    def condition(self, expr):
        """Operand (an ``i1`` instruction or constant) holding the truth of ``expr``."""
        if expr is sp.true:
            return TRUE
        if expr is sp.false:
            return FALSE
        hit = self._memo.get(expr)
        if hit is not None:
            return hit
        cls = type(expr)
        if isinstance(expr, sp.Symbol):  # a boolean temporary (CSE hoists shared conditions)
            out = self._resolve(self, expr)
        elif cls in _FCMP or cls is sp.Unequality:
            lhs, rhs = (self.value(a) for a in expr.args)
            out = self._cmp("une" if cls is sp.Unequality else _FCMP[cls], lhs, rhs)
        elif cls in _BOOL:
            ops = [self.condition(a) for a in expr.args]
            out = ops[0]
            for x in ops[1:]:
                self.size += 1
                out = getattr(self.ir, _BOOL[cls])(out, x)
        elif cls is sp.Not:
            self.size += 1
            out = self.ir.xor(self.condition(expr.args[0]), TRUE)
        elif cls is sp.ITE:
            c, a, b = (self.condition(x) for x in expr.args)
            out = self._select(c, a, b)
        else:
            raise BackendError(f"no LLVM translation for the condition {cls.__name__}", symbol=str(expr))
        self._remember(expr, out)
        return out
