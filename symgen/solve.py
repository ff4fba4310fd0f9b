"""Solve: validate inputs, call the compiled drivers, assemble a Solution."""
from __future__ import annotations

import math

import numpy as np

from .drivers import common as C
from .errors import SolverError
from .solution import Solution

__all__ = ["solve", "METHODS", "LINEAR_SOLVERS", "sparse_plan", "choose_linear_solver"]

METHODS = {"auto": "auto", "dopri5": "dopri5", "rk45": "dopri5", "explicit": "dopri5",
           "radau5": "radau5", "radau": "radau5", "stiff": "radau5", "bdf": "bdf"}


LINEAR_SOLVERS = ("auto", "dense", "sparse", "krylov")
#: ``method="auto"`` continues a stiff problem with BDF (one real factorization kept over
#: many steps) from this many states on, with Radau IIA below (BCR, 1122 states: BDF at
#: rtol 1e-10 took 30 s where Radau at 1e-8 took 97 s, both converged to the same answer)
AUTO_BDF_MIN_STATES = 500
#: ``linear_solver="auto"`` stays dense below this many states ...
SPARSE_MIN_STATES = 50
#: ... and above it when the planned sparse factorization needs more than this fraction of
#: the ``2 n^3 / 3`` multiply-adds of dense LU (the sparse kernel's indirect addressing
#: costs a few times more per operation), or its factors more than this fraction of ``n^2``.
SPARSE_MAX_WORK = 0.25
SPARSE_MAX_FILL = 0.5


def sparse_plan(model):
    """The :class:`~symgen.drivers.sparse_lu.SparseLUPlan` of ``model``'s Jacobian pattern,
    computed once per model (kept on the model and, next to its compiled kernels, in
    the disk cache)."""
    plan = getattr(model, "_sparse_lu_plan", None)
    if plan is not None:
        return plan
    from .drivers.sparse_lu import load_plan, make_plan, save_plan
    sp = model.jac_sparsity
    indptr, indices = sp.arrays()
    path = None
    try:
        from .cache import entry_dir
        d = entry_dir(model.key)
        if d.is_dir():
            path = d / "sparse_lu_plan.npz"
    except Exception:  # no usable cache entry: plan in memory only
        path = None
    if path is not None:
        plan = load_plan(path, indptr, indices, sp.nrows)
    if plan is None:
        plan = make_plan(indptr, indices, sp.nrows)
        if path is not None:
            save_plan(plan, path)
    model._sparse_lu_plan = plan
    return plan


def krylov_plan(model):
    """ILU(0) plan (the Krylov solver's preconditioner) of ``model``'s Jacobian pattern."""
    plan = getattr(model, "_ilu0_plan", None)
    if plan is None:
        from .drivers.sparse_lu import ilu0_plan
        sp = model.jac_sparsity
        plan = model._ilu0_plan = ilu0_plan(*sp.arrays(), sp.nrows)
    return plan


def choose_linear_solver(model, linear_solver):
    """``(sparse, splan)`` for the Radau driver from ``"auto"``, ``"dense"`` or ``"sparse"``."""
    from .drivers.radau5 import NO_SPARSE_PLAN
    if linear_solver not in LINEAR_SOLVERS:
        raise SolverError(f"unknown linear_solver {linear_solver!r}; choose one of {list(LINEAR_SOLVERS)}")
    n = len(model.states)
    if linear_solver == "dense" or n == 0 or (linear_solver == "auto" and n < SPARSE_MIN_STATES):
        return False, NO_SPARSE_PLAN
    plan = sparse_plan(model)
    if linear_solver == "auto" and (plan.flops > SPARSE_MAX_WORK * (2.0 / 3.0) * n ** 3
                                    or plan.nnz_lu > SPARSE_MAX_FILL * n * n):
        return False, NO_SPARSE_PLAN
    return True, plan.arrays()


def _drivers():
    from .drivers.dopri5 import dopri5, dopri5_dense_eval
    from .drivers.radau5 import radau5, radau5_dense_eval
    return dopri5, dopri5_dense_eval, radau5, radau5_dense_eval


def _bdf():
    from .drivers.bdf import bdf, bdf_dense_eval
    return bdf, bdf_dense_eval


def _check_options(model, t_span, method, rtol, atol, t_eval, max_steps):
    if method not in METHODS:
        raise SolverError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    try:
        t0, tf = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise SolverError(f"t_span must be two numbers, got {t_span!r}") from None
    if not (math.isfinite(t0) and math.isfinite(tf)) or t0 == tf:
        raise SolverError(f"t_span must be two different finite times, got {t_span!r}")
    if not (rtol > 0 and math.isfinite(rtol)):
        raise SolverError(f"rtol must be positive and finite, got {rtol!r}")
    n = len(model.states)
    if isinstance(atol, dict):
        a = np.full(n, np.nan)
        for k, v in atol.items():
            i = model._state_index(k)
            if i is None:
                raise SolverError("atol given for an unknown state", symbol=str(k))
            a[i] = float(v)
        if np.isnan(a).any():
            raise SolverError("atol dict must give every state", symbol=str(model.states[int(np.flatnonzero(np.isnan(a))[0])]))
    else:
        a = np.broadcast_to(np.asarray(atol, dtype=float), (n,)).copy()
    if not np.all((a >= 0) & np.isfinite(a)):
        raise SolverError("atol must be finite and non-negative")
    if t_eval is None:
        te = np.empty(0)
    else:
        te = np.ascontiguousarray(np.atleast_1d(np.asarray(t_eval, dtype=float)))
        d = np.sign(tf - t0)
        if te.size and (np.any(d * np.diff(te) < 0) or d * (te[0] - t0) < 0 or d * (tf - te[-1]) < 0):
            raise SolverError("t_eval must be sorted in the direction of integration and lie inside t_span")
    if int(max_steps) < 1:
        raise SolverError("max_steps must be at least 1")
    return t0, tf, np.ascontiguousarray(a), te


#: accepted steps between two progress callbacks of a driver (when reporting)
PROGRESS_EVERY = 10


def solve(model, y0, t_span, params, *, method, rtol, atol, t_eval, dense, max_steps,
          first_step, max_step, linear_solver="auto", progress=None) -> Solution:
    """See :meth:`CompiledModel.solve`."""
    from .progress import enabled, solve_reporter
    t0, tf, atol_v, te = _check_options(model, t_span, method, rtol, atol, t_eval, max_steps)
    if linear_solver not in LINEAR_SOLVERS:
        raise SolverError(f"unknown linear_solver {linear_solver!r}; choose one of {list(LINEAR_SOLVERS)}")
    if linear_solver == "krylov" and METHODS[method] != "bdf":
        raise SolverError(f"linear_solver='krylov' (GMRES + ILU(0)) is available with method='bdf', "
                          f"not with method={method!r}")
    y = model.initial_vector(y0)
    p = model.param_vector(params)
    if p.size == 0:
        p = np.zeros(1)
    dopri5, dopri5_eval, radau5, radau5_eval = _drivers()
    k = model.kernels
    meth = METHODS[method]
    want_dense = bool(dense)
    segments, ts_parts, ys_parts, ye_parts = [], [], [], []
    stats = np.zeros(C.N_STATS, dtype=np.int64)
    used = []
    steps_left = int(max_steps)
    report = enabled(progress)
    every = PROGRESS_EVERY if report else 0
    if meth in ("auto", "dopri5"):
        with solve_reporter(f"{model.name} dopri5", t0, tf, report):
            status, t_r, ts, ys, cf, ye, ne, st = dopri5(
                k.rhs, t0, tf, y, p, float(rtol), atol_v, float(first_step), float(max_step),
                steps_left, te, want_dense, meth == "auto", every)
        used.append("dopri5")
        stats += st
        ts_parts.append(ts)
        ys_parts.append(ys)
        ye_parts.append(ye[:ne])
        if want_dense:
            segments.append((dopri5_eval, ts, cf))
        steps_left -= int(st[C.ST_STEPS])
        if status == C.STIFF_DETECTED:
            y, t0, te = np.ascontiguousarray(ys[-1]), t_r, te[ne:]
            meth = "bdf" if y.size >= AUTO_BDF_MIN_STATES else "radau5"
    lin = None
    if meth in ("radau5", "bdf"):
        if linear_solver == "krylov":
            use_sparse, splan = True, krylov_plan(model).arrays()
        else:
            use_sparse, splan = choose_linear_solver(model, linear_solver)
        lin = "krylov" if linear_solver == "krylov" else ("sparse" if use_sparse else "dense")
        jdense = getattr(k, "jac", None)
        if not use_sparse and jdense is None:  # dense LU on the scattered sparse values
            from .drivers.radau5 import dense_from_values_plan
            splan = dense_from_values_plan(*model.jac_sparsity.arrays())
        # a kernel the chosen linear algebra does not call is passed as a placeholder
        driver, driver_eval = (radau5, radau5_eval) if meth == "radau5" else _bdf()
        with solve_reporter(f"{model.name} {meth} ({lin} LU)", t0, tf, report):
            mode = use_sparse if meth == "radau5" else {"dense": 0, "sparse": 1, "krylov": 2}[lin]
            status, t_r, ts, ys, cf, ye, ne, st = driver(
                k.rhs, k.jac_values if jdense is None else jdense, k.jac_values, t0, tf, y, p,
                float(rtol), atol_v, float(first_step) if not used else 0.0,
                float(max_step), max(steps_left, 1), te, want_dense, mode, splan, every)
        used.append(meth)
        stats += st
        if want_dense:
            segments.append((driver_eval, ts, cf))
        if ts_parts:  # continuing after the explicit segment: drop the repeated switch point
            ts, ys = ts[1:], ys[1:]
        ts_parts.append(ts)
        ys_parts.append(ys)
        ye_parts.append(ye[:ne])
    ts_all = np.concatenate(ts_parts)
    ys_all = np.concatenate(ys_parts, axis=0)
    if te.size or t_eval is not None:
        ye_all = np.concatenate(ye_parts, axis=0) if ye_parts else np.empty((0, y.size))
        t_out = np.asarray(t_eval, dtype=float)[: ye_all.shape[0]]
        y_out = ye_all.T
    else:
        t_out, y_out = ts_all, ys_all.T
    status = int(status)
    message = C.MESSAGES.get(status, f"unknown status {status}")
    if status != C.SUCCESS:
        message = f"{message} at t = {t_r:.17g}"
    stats_d = {name: int(v) for name, v in zip(C.STAT_NAMES, stats)}
    sol = Solution(model, t_out, np.ascontiguousarray(y_out), segments, p, status, message, float(t_r),
                   stats_d, "->".join(used))
    sol.linear_solver = lin  # "dense" / "sparse" for the Radau segment, None without one
    return sol
