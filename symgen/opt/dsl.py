"""DSL of optimization problems: variables, parameters, objective, constraints, bounds.

>>> import sympy as sp, symgen.opt as so
>>> m = so.OptModel("rosenbrock")
>>> n = 10_000
>>> x = m.var("x", n, init=[-1.2, 1.0] * (n // 2))
>>> i = so.index("i")
>>> m.minimize(sp.Sum(100*(x[i+1] - x[i]**2)**2 + (1 - x[i])**2, (i, 0, n - 2)))
>>> res = m.compile().minimize()                        # doctest: +SKIP

Indexed variables are SymPy ``IndexedBase`` objects; sums are ``sympy.Sum`` (inclusive
limits, as in SymPy); a family of constraints is one relation plus ``forall=(i, lo, hi)``
(or a list of such limits for nested loops).  Each sum or constraint family stays one
template whatever its size.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..errors import ModelError, SolverError

__all__ = ["OptModel", "index"]


def index(names: str):
    """Integer loop-index symbol(s) for sums and ``forall`` (``index("i j")`` gives two)."""
    out = [sp.Symbol(s, integer=True) for s in names.replace(",", " ").split()]
    return out[0] if len(out) == 1 else tuple(out)


def _shape(shape):
    if shape is None or shape == ():
        return ()
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if any(s < 1 for s in shape):
        raise ModelError(f"a variable's shape must be positive, got {shape}")
    return shape


def _fill(value, shape, what, name, default):
    size = int(np.prod(shape)) if shape else 1
    if value is None:
        return np.full(size, default, dtype=float)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(size, float(arr))
    if arr.size != size:
        raise ModelError(f"{what} of {name!r} has {arr.size} values for {size} elements", symbol=name)
    return arr.reshape(-1).copy()


class OptModel:
    """An optimization problem under construction.

    Parameters
    ----------
    name : str
        Used in messages and cache entries only.
    """

    def __init__(self, name: str = "opt"):
        self.name = str(name)
        self._vars: list = []      # (handle, offset, shape, name)
        self._params: list = []
        self._n = 0
        self._np = 0
        self._xl: list = []
        self._xu: list = []
        self._x0: list = []
        self._p0: list = []
        self._objective = None
        self._sense = 1.0
        self._constraints: list = []   # (expr, lo, hi, forall, label)
        self._names: set = set()

    # -- declarations ---------------------------------------------------------------
    def _new_name(self, name):
        name = str(name)
        if not name or name in self._names:
            raise ModelError(f"name {name!r} is empty or declared twice", symbol=name)
        self._names.add(name)
        return name

    def var(self, name: str, shape=None, *, lb=-math.inf, ub=math.inf, init=None):
        """Declare a variable.

        Parameters
        ----------
        name : str
        shape : int or tuple of int, optional
            ``None`` gives a scalar (a SymPy ``Symbol``); otherwise an ``IndexedBase``.
        lb, ub : float or array_like
            Bounds (``-inf``/``inf``: none).
        init : float or array_like, optional
            Initial guess (default 0, moved inside the bounds by the solvers).

        Returns
        -------
        sympy.Symbol or sympy.IndexedBase
        """
        name = self._new_name(name)
        shape = _shape(shape)
        h = sp.Symbol(name, real=True) if not shape else sp.IndexedBase(name, shape=shape, real=True)
        lo = _fill(lb, shape, "lb", name, -math.inf)
        hi = _fill(ub, shape, "ub", name, math.inf)
        bad = np.nonzero(lo > hi)[0]
        if bad.size:
            raise ModelError(f"infeasible bounds: lb > ub for element {int(bad[0])} of {name!r} "
                             f"({lo[bad[0]]} > {hi[bad[0]]})", symbol=name)
        x0 = _fill(init, shape, "init", name, 0.0)
        self._vars.append((h, self._n, shape, name))
        self._n += lo.size
        self._xl.append(lo)
        self._xu.append(hi)
        self._x0.append(x0)
        return h

    def param(self, name: str, shape=None, *, value=None):
        """Declare a parameter (a run-time value: changing it never recompiles)."""
        name = self._new_name(name)
        shape = _shape(shape)
        h = sp.Symbol(name, real=True) if not shape else sp.IndexedBase(name, shape=shape, real=True)
        v = _fill(value, shape, "value", name, math.nan)
        self._params.append((h, self._np, shape, name))
        self._np += v.size
        self._p0.append(v)
        return h

    def minimize(self, expr):
        """Set the objective ``min expr``."""
        self._objective, self._sense = sp.sympify(expr), 1.0

    def maximize(self, expr):
        """Set the objective ``max expr`` (solved as ``min -expr``; results report ``expr``)."""
        self._objective, self._sense = sp.sympify(expr), -1.0

    def subject_to(self, constraint, *, lb=None, ub=None, forall=None, name=None):
        """Add a constraint (or a family of them).

        Parameters
        ----------
        constraint : sympy relational or expression
            ``sp.Eq(a, b)``, ``a <= b``, ``a >= b``; or an expression with ``lb``/``ub``
            (a range constraint ``lb <= expr <= ub``; ``lb == ub`` is an equality).
        forall : tuple or list of tuples, optional
            ``(i, lo, hi)`` inclusive index range(s): one constraint per index point.
        name : str, optional
            Label used in messages.
        """
        from .declare import Label
        label = name if name is not None else Label(constraint)     # printed only if needed
        if isinstance(constraint, sp.core.relational.Relational):
            if lb is not None or ub is not None:
                raise ModelError("give either a relation or an expression with lb/ub", equation=label)
            d = constraint.lhs - constraint.rhs
            if isinstance(constraint, sp.Equality):
                lo, hi = 0.0, 0.0
            elif isinstance(constraint, (sp.LessThan, sp.StrictLessThan)):
                lo, hi = -math.inf, 0.0
            elif isinstance(constraint, (sp.GreaterThan, sp.StrictGreaterThan)):
                lo, hi = 0.0, math.inf
            else:
                raise ModelError(f"unsupported relation {type(constraint).__name__}", equation=label)
        elif isinstance(constraint, (bool, sp.logic.boolalg.BooleanAtom)):
            raise ModelError("constraint evaluated to a boolean (use sp.Eq(a, b) for equalities)",
                             equation=label)
        else:
            d = sp.sympify(constraint)
            lo = -math.inf if lb is None else float(lb)
            hi = math.inf if ub is None else float(ub)
            if lo > hi:
                raise ModelError(f"infeasible range: lb {lo} > ub {hi}", equation=label)
        # numeric constant terms move into the bounds: x + y - 1 <= 0 is reported as x + y <= 1
        const = sum((a for a in sp.Add.make_args(d) if a.is_number), sp.S.Zero)
        if const != 0 and const.is_finite:
            d = d - const
            lo, hi = lo - float(const), hi - float(const)
        if forall is not None and isinstance(forall, tuple) and forall and isinstance(forall[0], sp.Symbol):
            forall = [forall]
        self._constraints.append((d, lo, hi, tuple(forall or ()), label))

    # -- views ---------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self._n

    def declare(self, *, allow_nonsmooth: bool = False):
        """The :class:`~symgen.opt.ir.OptIR` of the model (see :mod:`symgen.opt.declare`)."""
        from .declare import declare
        if self._objective is None:
            raise ModelError(f"model {self.name!r} has no objective (call minimize or maximize)")
        if self._n == 0:
            raise ModelError(f"model {self.name!r} has no variables")
        return declare(self, allow_nonsmooth=allow_nonsmooth)

    def compile(self, *, cache: bool = True, allow_nonsmooth: bool = False, backend: str = "auto"):
        """Derive, generate and compile the kernels; returns a :class:`CompiledOpt`.

        ``backend``: ``"auto"`` (default: ``"tape"`` for small problems, else
        ``"llvm"``), ``"llvm"`` (llvmlite, fast to build), ``"numba"``, or ``"tape"``
        (expression tapes run by a precompiled evaluator; nothing compiled per problem).
        """
        from .compile import compile_opt
        return compile_opt(self, cache=cache, allow_nonsmooth=allow_nonsmooth, backend=backend)

    def solve(self, **kwargs):
        """``self.compile().minimize(**kwargs)``."""
        if "cache" in kwargs:
            raise SolverError("pass cache= to compile(), not to solve()")
        return self.compile().minimize(**kwargs)
