"""Forward sensitivities ``dx(t)/dq`` for a chosen subset of parameters and initial values.

The state is solved first (the ordinary compiled ``dopri5``/``radau5`` run, with dense
output), then the linear sensitivity equations ``S_c' = J S_c + F_p[:, c]`` along it
(:mod:`symgen.drivers.forward_sens`): explicitly with the generated ``jvp`` kernel after
``dopri5``, with Radau IIA and one LU per step shared by all directions after ``radau5``
(or ``bdf``, whose own dense output gives the state).
Each direction ``c`` is integrated scaled by ``|q_c|`` (as CVODES scales by ``pbar``), so
the state's absolute tolerances are meaningful for it; the result is unscaled.

The cost grows linearly with the number of directions (use the adjoint,
:func:`symgen.sensitivity.adjoint_gradient`, for the gradient of one loss with respect
to many parameters).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..drivers import common as C
from ..drivers.forward_sens import sens_explicit, sens_implicit, sens_implicit_transformed
from ..errors import SolverError
from .adjoint import _DENSE_KIND, _METHODS, ADJOINT_LINEAR_SOLVERS, COUPLED_MAX_STATES, _pde_kernels

__all__ = ["SensitivityResult", "forward_sensitivities"]


@dataclass
class SensitivityResult:
    """Solution and sensitivities at the output times.

    Attributes
    ----------
    t : ndarray (T,)
    y : ndarray (n, T)
        States at ``t``.
    sens : ndarray (T, n, k)
        ``sens[i, :, c] = dx(t_i)/dq_c``.
    wrt : tuple of str
        The directions ``q_c``: a parameter's name, or ``"<state>(t0)"`` for an initial value.
    status, message, stats
        As for a solve; a failure says where it stopped.
    """

    t: np.ndarray
    y: np.ndarray
    sens: np.ndarray
    wrt: tuple
    status: int = 0
    message: str = ""
    stats: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == 0


def _directions(model, wrt_params, wrt_y0):
    cols, labels, init = [], [], []
    params = list(model.params) if wrt_params is None else list(wrt_params)
    for q in params:
        j = model._pidx.get(q, model._pidx.get(str(q)))
        if j is None:
            raise SolverError("sensitivity requested for a parameter the model does not have", symbol=str(q))
        cols.append(j)
        labels.append(str(model.params[j]))
        init.append(-1)
    for s in (wrt_y0 or ()):
        i = model._state_index(s)
        if i is None and isinstance(s, (int, np.integer)) and 0 <= s < len(model.states):
            i = int(s)  # a state by its index (PDE models: point-major, fields interleaved)
        if i is None:
            raise SolverError("sensitivity requested for the initial value of an unknown state", symbol=str(s))
        cols.append(-1)
        labels.append(f"{model.states[i]}(t0)")
        init.append(i)
    return np.array(cols, dtype=np.int64), tuple(labels), init


def forward_sensitivities(model, y0, t_span, params=None, *, wrt_params=None, wrt_y0=(), t_eval=None,
                          method: str = "dopri5", rtol: float = 1e-8, atol=1e-10, sens_rtol=None,
                          max_steps: int = 1_000_000, linear_solver: str = "auto",
                          sens_linear_solver: str = "auto") -> SensitivityResult:
    """Sensitivities of the solution with respect to parameters and initial values.

    Parameters
    ----------
    model : CompiledModel
        Compiled with ``sensitivities=True`` (for ``method="dopri5"`` it needs ``jvp``).
    y0, t_span, params
        As for :meth:`CompiledModel.solve` (``t_span`` forward in time).
    wrt_params : sequence, optional
        Parameters (symbols or names); default all.
    wrt_y0 : sequence, optional
        States (symbols, names or indices into the state vector) whose initial values
        are directions.
    t_eval : array, optional
        Output times (default: the final time).
    method : {"dopri5", "radau5", "bdf"}
        The state solve; the sensitivity equations are integrated along its dense output,
        explicitly after ``dopri5``, with Radau IIA after ``radau5`` and ``bdf``.
    rtol, atol
        Tolerances of the state solve; the sensitivities use ``sens_rtol`` (default
        ``rtol``) and the state's ``atol`` on the scaled directions.
    sens_linear_solver : {"auto", "coupled", "dense", "sparse"}
        Linear algebra of the implicit sensitivity solve (as ``adjoint_linear_solver``
        of :func:`~symgen.sensitivity.adjoint_gradient`, on the pattern of ``J``).
    """
    if sens_linear_solver not in ADJOINT_LINEAR_SOLVERS:
        raise SolverError(f"unknown sens_linear_solver {sens_linear_solver!r}; "
                          f"choose one of {list(ADJOINT_LINEAR_SOLVERS)}")
    if method not in _METHODS or _METHODS[method] == "auto":
        raise SolverError(f"unknown method {method!r} for forward sensitivities; choose one of "
                          f"{sorted(k for k, v in _METHODS.items() if v != 'auto')}")
    _pde_kernels(model, ("jvp", "pjac"))
    meth = _METHODS[method]
    if meth == "dopri5" and getattr(model.kernels, "jvp", None) is None:
        raise SolverError("forward sensitivities need the jvp kernel: compile with sensitivities=True")
    t0, tf = float(t_span[0]), float(t_span[1])
    if not (np.isfinite(t0) and np.isfinite(tf) and tf > t0):
        raise SolverError(f"forward sensitivities need a forward time span t0 < tf, got {t_span!r}")
    cols, labels, init = _directions(model, wrt_params, wrt_y0)
    te = np.array([tf]) if t_eval is None else np.ascontiguousarray(np.atleast_1d(np.asarray(t_eval, float)))
    y = model.initial_vector(y0)
    p = model.param_vector(params)
    n, m, k = len(model.states), len(model.params), len(cols)
    pk = p if p.size else np.zeros(1)
    sol = model.solve(y, (t0, tf), p, method=meth, rtol=rtol, atol=atol, t_eval=te, dense=True,
                      max_steps=max_steps, linear_solver=linear_solver)
    if sol.status != C.SUCCESS:
        return SensitivityResult(te, sol.y, np.full((te.size, n, k), np.nan), labels, sol.status,
                                 f"state solve failed: {sol.message}", dict(sol.stats))
    (_, ts, cf), = sol._segments
    kind = _DENSE_KIND[meth]
    scale = np.array([max(abs(p[j]), 1e-300) if j >= 0 and p[j] != 0 else 1.0 for j in cols])
    S = np.zeros((k, n))
    for c, i in enumerate(init):
        if i >= 0:
            S[c, i] = 1.0
    at = np.broadcast_to(np.asarray(atol if not isinstance(atol, dict) else
                                    [atol.get(s, atol.get(str(s))) for s in model.states], dtype=float), (n,)).copy()
    srt = float(sens_rtol if sens_rtol is not None else rtol)
    st = np.zeros(C.N_STATS, dtype=np.int64)
    out = np.empty((te.size, n, k))
    t, h = t0, 0.0
    if ts.size > 1:
        h = float(ts[1] - ts[0])
    indptr, indices = model.jac_sparsity.arrays()
    mode = sens_linear_solver
    if mode == "auto":
        from ..solve import SPARSE_MIN_STATES
        mode = "coupled" if n <= COUPLED_MAX_STATES else ("sparse" if n >= SPARSE_MIN_STATES else "dense")
    if meth != "dopri5" and mode != "coupled":
        if getattr(model.kernels, "jvp", None) is None:
            raise SolverError("the transformed implicit sensitivity solve needs the jvp kernel: "
                              "compile with sensitivities=True")
        if mode == "sparse":
            from ..solve import sparse_plan
            splan = sparse_plan(model).arrays()
        else:
            from ..drivers.radau5 import NO_SPARSE_PLAN
            splan = NO_SPARSE_PLAN
    for i, tq in enumerate(te):
        if tq > t:
            if meth == "dopri5":
                status, t_r, h = sens_explicit(model.kernels.jvp, model.kernels.pjac, ts, cf, kind, t, tq, S, pk,
                                               cols, scale, n, m, srt, at, h, max_steps, st)
            elif mode == "coupled":
                status, t_r, h = sens_implicit(model.kernels.jac_values, indptr, indices, model.kernels.pjac, ts, cf,
                                               kind, t, tq, S, pk, cols, scale, n, m, srt, at, h, max_steps, st)
            else:
                status, t_r, h = sens_implicit_transformed(
                    model.kernels.jac_values, indptr, indices, model.kernels.jvp, model.kernels.pjac, mode == "sparse",
                    splan, ts, cf, kind, t, tq, S, pk, cols, scale, n, m, srt, at, h, max_steps, st)
            if status != C.SUCCESS:
                msg = C.MESSAGES.get(int(status), f"status {status}")
                return SensitivityResult(te, sol.y, out, labels, int(status),
                                         f"sensitivity solve failed: {msg} at t = {t_r:.17g}", dict(sol.stats))
            t = tq
        out[i] = (S / scale[:, None]).T
    stats = dict(sol.stats)
    stats.update({"sens_steps": int(st[C.ST_STEPS]), "sens_rejected": int(st[C.ST_REJECTED]),
                  "sens_nfev": int(st[C.ST_NFEV]), "sens_njev": int(st[C.ST_NJEV]), "sens_nlu": int(st[C.ST_NLU]),
                  "sens_linear_solver": mode if meth != "dopri5" else None})
    return SensitivityResult(te, sol.y, out, labels, 0, "success", stats)
