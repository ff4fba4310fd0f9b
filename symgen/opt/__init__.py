"""Optimization: objectives and constraints -> gradients, sparse Hessians, compiled solvers.

>>> import sympy as sp, symgen.opt as so
>>> m = so.OptModel("hs071")
>>> x = m.var("x", 4, lb=1, ub=5, init=[1, 5, 5, 1])
>>> m.minimize(x[0]*x[3]*(x[0] + x[1] + x[2]) + x[2])
>>> m.subject_to(x[0]*x[1]*x[2]*x[3] >= 25)
>>> m.subject_to(sp.Eq(x[0]**2 + x[1]**2 + x[2]**2 + x[3]**2, 40))
>>> res = m.compile().minimize()          # doctest: +SKIP
>>> res.f, res[x], res.lam, res.status    # doctest: +SKIP

Pipeline: :mod:`.dsl` (declare) -> :mod:`.declare` (families of templates, :mod:`.ir`)
-> :mod:`.derive` -> :mod:`.emit` -> :mod:`.compile` (cache, build) -> :mod:`.model`
(``CompiledOpt``) -> :mod:`.solve` and :mod:`.drivers` (ipm, tron, lbfgsb, ldl) ->
:mod:`.result`; :mod:`.adapters` for SciPy and IPOPT.
"""
from .dsl import OptModel, index
from .result import OptResult

__all__ = ["OptModel", "index", "OptResult"]
