"""Shared conventions of the compiled optimization drivers.

Model kernels reach the drivers as Numba first-class functions (the generated
``cfunc`` objects) of the signature::

    void kernel(const double *x, const double *p, const double *w, double *out)

(see :mod:`symgen.opt.emit` for what each of ``obj``, ``grad``, ``cons``, ``jac`` and
``hess`` writes).  Drivers are ``@njit(cache=True)`` functions compiled once per
signature and reused by every model; a solve is one call into compiled code.
"""
from __future__ import annotations

from numba import njit, types

__all__ = ["OPT_KERNEL_SIG", "OPT_KERNEL_TYPE", "SUCCESS", "MAX_ITER", "SMALL_STEP",
           "NONFINITE", "INFEASIBLE", "UNBOUNDED", "LINEAR_SOLVER", "MESSAGES",
           "STAT_NAMES", "N_STATS", "S_OBJ", "S_GRAD", "S_CONS", "S_JAC", "S_HESS",
           "S_FACT", "S_CG", "S_REST", "S_REST_IT", "call", "hess_vec_coo"]

_f64p = types.CPointer(types.float64)
OPT_KERNEL_SIG = types.void(_f64p, _f64p, _f64p, _f64p)
OPT_KERNEL_TYPE = types.FunctionType(OPT_KERNEL_SIG)

SUCCESS = 0       # first-order optimality reached to the tolerance
MAX_ITER = 1      # iteration limit reached
SMALL_STEP = 2    # the line search / trust region cannot make progress
NONFINITE = 3     # NaN/Inf in the objective, constraints or derivatives
INFEASIBLE = 4    # converged to a point that minimizes infeasibility (locally infeasible)
UNBOUNDED = 5     # objective below -1e20 (or iterates beyond 1e20) at a feasible point
LINEAR_SOLVER = 6  # the KKT matrix could not be factored even with large regularization

MESSAGES = {
    SUCCESS: "optimal solution found (KKT conditions satisfied to the tolerance)",
    MAX_ITER: "maximum number of iterations reached",
    SMALL_STEP: "search direction gives no progress (step too small)",
    NONFINITE: "non-finite value (NaN/Inf) in the objective, the constraints or their derivatives",
    INFEASIBLE: "problem appears locally infeasible (constraint violation cannot be reduced)",
    UNBOUNDED: "problem appears unbounded (objective below -1e20 (interior point: -1e15) at a "
               "feasible point, or iterates beyond 1e20)",
    LINEAR_SOLVER: "KKT matrix could not be factored (singular even with large regularization)",
}

S_OBJ, S_GRAD, S_CONS, S_JAC, S_HESS, S_FACT, S_CG, S_REST, S_REST_IT = range(9)
N_STATS = 9
STAT_NAMES = ("nfev", "ngev", "ncev", "njev", "nhev", "factorizations", "cg_iters", "restorations",
              "restoration_iters")


@njit(cache=True)
def call(k, x, p, w, out):
    """``k(x, p, w, out)`` for contiguous float64 arrays."""
    k(x.ctypes, p.ctypes, w.ctypes, out.ctypes)


@njit(cache=True)
def hess_vec_coo(hrow, hcol, hw, hval, v, out):
    """``out = H v`` for the lower-triangle COO values ``hval`` (weights ``hw``)."""
    out[:] = 0.0
    for k in range(hval.shape[0]):
        r = hrow[k]
        c = hcol[k]
        h = hval[k] * hw[k]
        if r == c:
            out[r] += h * v[r]
        else:
            out[r] += h * v[c]
            out[c] += h * v[r]
