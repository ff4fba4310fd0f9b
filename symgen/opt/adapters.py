"""Adapters: the compiled kernels behind other solvers' interfaces.

* :func:`scipy_problem` -- keyword arguments for ``scipy.optimize.minimize``: ``fun``,
  ``jac``, ``hess`` (sparse), ``hessp``, ``bounds``, ``constraints`` (``NonlinearConstraint``
  with sparse Jacobian and constraint Hessian for ``trust-constr``) and ``x0``; and
  :func:`scipy_constraint_dicts` for SLSQP/COBYLA-style ``{"type", "fun", "jac"}``.
* :func:`ipopt_problem` -- a ``cyipopt.Problem`` when the optional ``cyipopt`` binding is
  installed (sparse Jacobian and lower-triangle Hessian structures from the static
  patterns).
"""
from __future__ import annotations

import numpy as np

from ..errors import SolverError

__all__ = ["scipy_problem", "scipy_constraint_dicts", "ipopt_problem", "have_ipopt"]


def _pw(model, params):
    return model.param_vector(params)


def scipy_problem(model, params=None, *, sparse: bool = True) -> dict:
    """``scipy.optimize.minimize(**scipy_problem(model), method="trust-constr")``.

    The objective is the minimized one (``-f`` for a ``maximize`` model).
    """
    import scipy.optimize as so
    p = _pw(model, params)
    n, m = model.n, model.m
    w0 = model._w()

    def fun(x):
        return float(model._call("obj", x, p, w0, 1)[0])

    def jac(x):
        return model._call("grad", x, p, w0, n)[:n].copy()

    def hess(x):
        h = model.hessian(x, None, 1.0, params)
        return h if sparse else h.toarray()

    def hessp(x, v):
        return model.hessp(x, v, None, 1.0, params)

    out = dict(fun=fun, x0=model.ir.x0.copy(), jac=jac, hess=hess)
    xl, xu = model.ir.xl, model.ir.xu
    if np.isfinite(xl).any() or np.isfinite(xu).any():
        out["bounds"] = so.Bounds(xl, xu)
    if m:
        def cfun(x):
            return model._call("cons", x, p, w0, m)[:m].copy()

        def cjac(x):
            j = model.jacobian(x, params)
            return j if sparse else j.toarray()

        def chess(x, v):
            h = model.hessian(x, np.asarray(v, float), 0.0, params)
            return h if sparse else h.toarray()

        out["constraints"] = [so.NonlinearConstraint(cfun, model.ir.cl, model.ir.cu, jac=cjac, hess=chess)]
    out["hessp"] = hessp
    return out


def scipy_constraint_dicts(model, params=None) -> list:
    """Constraints as SLSQP wants them: ``{"type": "eq"|"ineq", "fun", "jac"}`` with
    ``fun(x) >= 0`` for inequalities (range rows give two entries)."""
    p = _pw(model, params)
    m = model.m
    w0 = model._w()
    cl, cu = model.ir.cl, model.ir.cu
    cache = {}

    def values(x):
        key = x.tobytes()
        if cache.get("key") != key:
            cache["key"] = key
            cache["c"] = model._call("cons", x, p, w0, m)[:m].copy()
            cache["J"] = model.jacobian(x, params).toarray()
        return cache["c"], cache["J"]

    eq = np.nonzero(cl == cu)[0]
    lo = np.nonzero((cl > -np.inf) & (cl < cu))[0]
    hi = np.nonzero((cu < np.inf) & (cl < cu))[0]
    out = []
    if eq.size:
        out.append({"type": "eq", "fun": lambda x: values(x)[0][eq] - cl[eq],
                    "jac": lambda x: values(x)[1][eq]})
    if lo.size:
        out.append({"type": "ineq", "fun": lambda x: values(x)[0][lo] - cl[lo],
                    "jac": lambda x: values(x)[1][lo]})
    if hi.size:
        out.append({"type": "ineq", "fun": lambda x: cu[hi] - values(x)[0][hi],
                    "jac": lambda x: -values(x)[1][hi]})
    return out


def have_ipopt() -> bool:
    """Whether the optional ``cyipopt`` binding is importable."""
    try:
        import cyipopt  # noqa: F401
    except Exception:
        return False
    return True


def ipopt_problem(model, params=None):
    """A ``cyipopt.Problem`` backed by the compiled kernels (call ``.solve(x0)``).

    Raises :class:`~symgen.errors.SolverError` when ``cyipopt`` is not installed.
    """
    try:
        import cyipopt
    except Exception as exc:
        raise SolverError("the IPOPT adapter needs the optional 'cyipopt' package") from exc
    p = _pw(model, params)
    n, m = model.n, model.m
    jr, jc = model.jac_rows, model.jac_cols
    hr, hc = model.hess_rows, model.hess_cols
    w0 = model._w()

    class _Callbacks:
        def objective(self, x):
            return float(model._call("obj", x, p, w0, 1)[0])

        def gradient(self, x):
            return model._call("grad", x, p, w0, n)[:n].copy()

        def constraints(self, x):
            return model._call("cons", x, p, w0, m)[:m].copy()

        def jacobianstructure(self):
            return jr, jc

        def jacobian(self, x):
            return model._call("jac", x, p, w0, model.sizes["jac"])[:jr.size].copy()

        def hessianstructure(self):
            return hr, hc

        def hessian(self, x, lagrange, obj_factor):
            w = model._w(obj_factor, lagrange)
            return model._call("hess", x, p, w, model.sizes["hess"])[:hr.size] * model.hess_w

    return cyipopt.Problem(n=n, m=m, problem_obj=_Callbacks(), lb=model.ir.xl, ub=model.ir.xu,
                           cl=model.ir.cl, cu=model.ir.cu)
