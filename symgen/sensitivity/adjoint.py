"""Gradients of a loss through a solve by the continuous adjoint with checkpointing.

For ``x' = f(t, x, p)``, ``x(t0) = x0`` and the loss
``L = sum_i g(t_i, x(t_i), p, d_i) + integral_{t0}^{tf} h(t, x, p) dt`` the adjoint
``lam`` solves, backwards from ``lam(tf) = 0``::

    lam' = -(J^T lam + h_x)        with jumps  lam(t_i-) = lam(t_i+) + g_x(t_i)
    dL/dp  = integral (F_p^T lam + h_p) dt + sum_i g_p(t_i),     dL/dx0 = lam(t0)

Which adjoint, and why
----------------------
symgen uses the *continuous* (optimise-then-discretise) adjoint, integrated with its
own error control, with the forward solution interpolated from checkpoints
("interpolating adjoint"), not a discrete adjoint of the integrator's steps:

* it works unchanged behind both drivers: the forward solve is the ordinary compiled
  ``dopri5``/``radau5`` run, and the backward solve is an explicit (DOPRI5) or, for
  stiff models, an implicit (Radau IIA) integration of the linear adjoint equation
  (:mod:`symgen.drivers.adjoint`), each with its own step-size control, so the
  gradient's accuracy is set by tolerances like the solution's;
* a discrete adjoint of RADAU5 would have to transpose the simplified-Newton stage
  solves step by step (and is exact only for converged Newton iterates), and backward
  re-integration of ``x`` (a "backsolve" adjoint) is unstable for stiff, dissipative
  models;
* memory is bounded by the user: ``checkpoints = K`` splits the span into ``K``
  intervals; the first forward pass keeps only the ``K`` states at the interval starts
  (and the states at the observation times), and the backward pass re-solves one
  interval at a time with dense output.  The largest array held is one interval's
  trajectory, about ``1/K`` of the whole one (reported in ``AdjointResult.memory``).

Compared with a discrete adjoint, the gradient is that of the exact solution up to the
tolerances (not the exact gradient of the computed solution); at tight tolerances the
two agree with central finite differences to the requested accuracy.

After ``bdf`` and ``auto`` forward solves
-----------------------------------------
With ``method="bdf"`` the checkpoint pass and the interval re-solves are BDF runs, and
the backward solve is the Radau IIA adjoint reading ``x(t)`` from BDF's own dense output
(its interpolating polynomial over each step).  A backward *BDF* adjoint was not built:
a multistep method restarts at every observation jump and interval boundary at order 1
with small steps, where the one-step Radau IIA restarts at full order; BDF keeps the
forward cost of large stiff models low, and the backward cost is that of the Radau
adjoint (with the transformed, sparse ``n x n`` systems on the pattern of ``J^T``).
``method="auto"`` runs dopri5 with stiffness detection interval by interval, as
:meth:`CompiledModel.solve`; the interval where stiffness is found is split at that time
(its second start state is one more checkpoint), and from there on the forward solves
use radau5 (bdf from :data:`symgen.solve.AUTO_BDF_MIN_STATES` states) and the backward
solve is implicit; before it, explicit.

PDE models
----------
A :class:`~symgen.pde.PDEModel` takes the same path with the stencil-level kernels of
:mod:`symgen.pde.sens` (``vjp`` = ``J^T w``, ``pvjp`` = ``(df/dp)^T w``) and losses
summed over the grid; nothing is scalarized.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..drivers import common as C
from ..drivers.adjoint import DENSE_BDF, DENSE_DOPRI5, DENSE_RADAU5, adjoint_explicit
from ..drivers.adjoint_stiff import adjoint_implicit, adjoint_implicit_transformed
from ..drivers.evaluate import vector_kernel_over_points
from ..errors import SolverError
from .loss import Loss, compile_loss

__all__ = ["AdjointResult", "adjoint_gradient"]

_METHODS = {"dopri5": "dopri5", "rk45": "dopri5", "explicit": "dopri5",
            "radau5": "radau5", "radau": "radau5", "stiff": "radau5", "bdf": "bdf", "auto": "auto"}
#: dense-output layout of each forward method
_DENSE_KIND = {"dopri5": DENSE_DOPRI5, "radau5": DENSE_RADAU5, "bdf": DENSE_BDF}


@dataclass
class AdjointResult:
    """Loss value and its gradients.

    Attributes
    ----------
    loss : float
    grad_p : ndarray
        ``dL/dp`` in the order of ``model.params``.
    grad_y0 : ndarray
        ``dL/dx0`` in the order of ``model.states``.
    status : int
        0 on success (codes of :mod:`symgen.drivers.common`).
    message : str
        Says where a failed forward or backward solve stopped.
    stats : dict
        Forward steps (first pass and re-solves), backward steps, kernel calls.
    memory : dict
        Bytes held: ``checkpoints`` (the K saved states), ``observations`` (states at the
        observation times), ``peak_interval`` (largest re-solved interval's trajectory
        and dense output) and ``full_trajectory_estimate`` (one whole dense trajectory,
        what K = 1 holds).
    """

    loss: float
    grad_p: np.ndarray
    grad_y0: np.ndarray
    status: int = 0
    message: str = ""
    stats: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == 0


#: ``adjoint_linear_solver="auto"`` solves the coupled ``3n x 3n`` Radau stage system up to
#: this many states, the transformed ``n x n`` real + complex systems above it (sparse
#: from :data:`symgen.solve.SPARSE_MIN_STATES` states on)
COUPLED_MAX_STATES = 24
ADJOINT_LINEAR_SOLVERS = ("auto", "coupled", "dense", "sparse")


def transposed_plan(model):
    """``(tmap, splan)``: the CSR order of ``J^T`` as indices into ``J``'s values, and the
    sparse LU plan of ``s I + J^T`` (computed once per model)."""
    cached = getattr(model, "_adjoint_lu_plan", None)
    if cached is not None:
        return cached
    from ..drivers.sparse_lu import INDEX_DTYPE, make_plan
    sp = model.jac_sparsity
    indptr, indices = sp.arrays()
    n = sp.nrows
    rows = np.repeat(np.arange(n), np.diff(indptr))
    tmap = np.lexsort((rows, indices)).astype(np.int64)      # by column, then row
    tptr = np.concatenate([[0], np.cumsum(np.bincount(indices, minlength=n))]).astype(np.int64)
    plan = make_plan(tptr, rows[tmap], n)
    model._adjoint_lu_plan = (tmap, tuple(np.ascontiguousarray(a, dtype=INDEX_DTYPE) for a in plan.arrays()))
    return model._adjoint_lu_plan


class _Forward:
    """The compiled forward drivers, called directly (options validated once by the
    caller: no per-interval ``Solution`` and input checks)."""

    def __init__(self, model, rtol, atol_v, max_steps, linear_solver):
        from ..solve import _drivers
        self.model = model
        self.k = model.kernels
        self.rtol, self.atol, self.max_steps = float(rtol), atol_v, int(max_steps)
        self.linear_solver = linear_solver
        self.dopri5, _, self.radau5, _ = _drivers()
        self._lin = None

    def _linear_algebra(self):
        """``(jac, mode, splan)`` of the implicit drivers (chosen as :func:`symgen.solve.solve` does)."""
        if self._lin is None:
            from ..solve import choose_linear_solver, krylov_plan
            model = self.model
            jdense = getattr(self.k, "jac", None)
            if self.linear_solver == "krylov":
                sparse, splan = True, krylov_plan(model).arrays()
            else:
                sparse, splan = choose_linear_solver(model, self.linear_solver)
            if not sparse and jdense is None:
                from ..drivers.radau5 import dense_from_values_plan
                splan = dense_from_values_plan(*model.jac_sparsity.arrays())
            bdf_mode = 2 if self.linear_solver == "krylov" else int(sparse)
            self._lin = (self.k.jac_values if jdense is None else jdense, sparse, bdf_mode, splan)
        return self._lin

    def __call__(self, meth, y, a, b, p, te, dense):
        """``(status, message, ts, ys, coeffs, y at te, steps, t reached)`` on ``[a, b]`` from
        ``y``; ``meth="auto"`` is dopri5 that stops with ``STIFF_DETECTED`` on stiffness."""
        k = self.k
        if meth in ("dopri5", "auto"):
            out = self.dopri5(k.rhs, a, b, y, p, self.rtol, self.atol, 0.0, 0.0, self.max_steps, te, dense,
                              meth == "auto", 0)
        else:
            jac, sparse, bdf_mode, splan = self._linear_algebra()
            if meth == "radau5":
                out = self.radau5(k.rhs, jac, k.jac_values, a, b, y, p, self.rtol, self.atol, 0.0, 0.0,
                                  self.max_steps, te, dense, sparse, splan, 0)
            else:
                from ..solve import _bdf
                out = _bdf()[0](k.rhs, jac, k.jac_values, a, b, y, p, self.rtol, self.atol, 0.0, 0.0,
                                self.max_steps, te, dense, bdf_mode, splan, 0)
        status, t_r, ts, ys, cf, ye, ne, st = out
        ok = status == C.SUCCESS or (meth == "auto" and status == C.STIFF_DETECTED)
        msg = "" if ok else f"{C.MESSAGES.get(int(status), status)} at t = {t_r:.17g}"
        return int(status), msg, ts, ys, cf, ye[:ne], int(st[C.ST_STEPS]), float(t_r)


def _failed(model, status, message):
    return AdjointResult(np.nan, np.full(len(model.params), np.nan), np.full(len(model.states), np.nan),
                         status, message)


def _obs_arrays(t_obs, data, n_data, t0, tf):
    if t_obs is None:
        t_obs = np.empty(0)
    t_obs = np.ascontiguousarray(np.atleast_1d(np.asarray(t_obs, dtype=float)))
    if t_obs.size and (np.any(np.diff(t_obs) < 0) or t_obs[0] < t0 or t_obs[-1] > tf):
        raise SolverError("t_obs must be ascending and inside t_span")
    if data is None:
        data = np.zeros((t_obs.size, max(n_data, 1)))
    data = np.asarray(data, dtype=float)
    if data.ndim == 1:
        data = data.reshape(t_obs.size, -1) if t_obs.size else data.reshape(0, -1)
    elif data.ndim > 2 and data.shape[0] == t_obs.size:  # a PDE model: one grid of data per time
        data = data.reshape(t_obs.size, -1)
    if data.shape[0] != t_obs.size or (n_data and data.shape[1] != n_data):
        raise SolverError(f"data must have one row per observation time and {n_data} columns "
                          f"(one per data symbol), got shape {data.shape}")
    if data.shape[1] == 0:
        data = np.zeros((t_obs.size, 1))
    return t_obs, np.ascontiguousarray(data)


def adjoint_gradient(model, loss: Loss, y0, t_span, params=None, *, t_obs=None, data=None,
                     method: str = "dopri5", rtol: float = 1e-8, atol=1e-10, checkpoints: int = 8,
                     adjoint_rtol: float | None = None, adjoint_atol=None,
                     quadrature_errcon: bool = False, max_steps: int = 1_000_000,
                     linear_solver: str = "auto", adjoint_linear_solver: str = "auto") -> AdjointResult:
    """Loss and gradient with respect to the parameters and the initial state.

    Parameters
    ----------
    model : CompiledModel or PDEModel
        Compiled with ``sensitivities=True`` (it needs the ``vjp``/``pvjp`` kernels); a
        :class:`~symgen.pde.PDEModel` gets its stencil-level kernels on first use.
    loss : Loss
        Point terms (at ``t_obs``, with ``data``) and an integrand.  For a PDE model the
        expressions use fields, grid coordinates, parameters, time and data symbols and
        each term is summed over the grid points (:mod:`symgen.pde.sens`); ``data`` is then
        ``(len(t_obs),) + grid shape + (len(loss.data),)``.
    y0, t_span, params
        As for :meth:`CompiledModel.solve` (``t_span`` forward in time).
    t_obs : array, optional
        Ascending observation times inside ``t_span``.
    data : array (len(t_obs), len(loss.data)), optional
    method : {"dopri5", "radau5", "bdf", "auto"}
        Forward driver; the backward solve is explicit after ``dopri5`` and implicit
        (Radau IIA, reading ``x(t)`` from the forward method's own dense output) after
        ``radau5`` and ``bdf``.  ``auto`` runs dopri5 with stiffness detection, as
        :meth:`CompiledModel.solve` does; from the interval where it finds the problem
        stiff on, the rest of the span is solved (and re-solved) with radau5, or bdf from
        :data:`symgen.solve.AUTO_BDF_MIN_STATES` states, and its adjoint is implicit;
        ``stats["methods"]`` says which ran.
    rtol, atol
        Tolerances of the forward solve.
    checkpoints : int
        Number of intervals the span is split into (the memory bound, see module notes).
    adjoint_rtol, adjoint_atol
        Tolerances of the backward solve for ``lam`` (default: the forward ``rtol`` and
        ``atol``).
    linear_solver : str
        Of the forward Radau/BDF solves (see :meth:`CompiledModel.solve`; ``"krylov"``
        with ``bdf`` only).
    adjoint_linear_solver : {"auto", "coupled", "dense", "sparse"}
        Of the backward Radau solve: the coupled ``3n x 3n`` stage system (exact, one
        dense LU; small models), or simplified Newton on the transformed stage equations
        with one real and one complex ``n x n`` LU per step, dense or static-pattern
        sparse on the pattern of ``J^T``.  ``auto``: coupled up to
        :data:`COUPLED_MAX_STATES` states, then sparse from 50 states, else dense.
    quadrature_errcon : bool
        Also control the error of the quadrature ``mu`` (the parameter gradient) in the
        backward solve (off by default, as CVODES' quadratures: ``mu`` is an
        integral of ``lam``, accurate when ``lam`` is); the integral term of the loss is
        always controlled.
    """
    _pde_kernels(model, ("vjp", "pvjp"))
    if getattr(model.kernels, "vjp", None) is None:
        raise SolverError("adjoint gradients need the vjp kernels: compile with sensitivities=True")
    if method not in _METHODS:
        raise SolverError(f"unknown method {method!r} for adjoint gradients; choose one of {sorted(_METHODS)}")
    meth = _METHODS[method]
    K = int(checkpoints)
    if K < 1:
        raise SolverError("checkpoints must be at least 1")
    if adjoint_linear_solver not in ADJOINT_LINEAR_SOLVERS:
        raise SolverError(f"unknown adjoint_linear_solver {adjoint_linear_solver!r}; "
                          f"choose one of {list(ADJOINT_LINEAR_SOLVERS)}")
    from ..solve import AUTO_BDF_MIN_STATES, LINEAR_SOLVERS, _check_options
    if linear_solver not in LINEAR_SOLVERS or (linear_solver == "krylov" and meth != "bdf"):
        raise SolverError(f"linear_solver {linear_solver!r} is not available for adjoint gradients with "
                          f"method={method!r}")
    t0, tf = float(t_span[0]), float(t_span[1])
    if not (np.isfinite(t0) and np.isfinite(tf) and tf > t0):
        raise SolverError(f"adjoint gradients need a forward time span t0 < tf, got {t_span!r}")
    cl = compile_loss(model, loss)
    t_obs, data = _obs_arrays(t_obs, data, cl.n_data, t0, tf)
    y = model.initial_vector(y0)
    p = model.param_vector(params)
    n, m = len(model.states), len(model.params)
    pk = p if p.size else np.zeros(1)
    bounds = np.linspace(t0, tf, K + 1)
    # observation k belongs to interval j with bounds[j] < t_k <= bounds[j+1] (t0: interval 0)
    owner = np.clip(np.searchsorted(bounds, t_obs, side="left") - 1, 0, K - 1)
    _, _, atol_v, _ = _check_options(model, (t0, tf), "dopri5" if meth == "auto" else meth, rtol, atol, None,
                                     max_steps)
    forward = _Forward(model, rtol, atol_v, max_steps, linear_solver)
    stats = {"forward_steps": 0, "resolve_steps": 0, "backward_steps": 0, "backward_rejected": 0,
             "backward_nfev": 0, "backward_njev": 0, "backward_nlu": 0}
    memory = {"checkpoints": 0, "observations": 0, "peak_interval": 0}

    # ---- forward pass: keep the interval starts and the states at the observation times.
    # Each interval is a list of segments [method, start, end, start state]: one, or two
    # where method="auto" found the problem stiff inside it (dopri5, then the stiff method,
    # which also runs every later interval).
    stiff_meth = None
    segs = []
    xobs = np.empty((t_obs.size, n))
    cur = y.copy()
    last = None
    for j in range(K):
        lo, hi = bounds[j], bounds[j + 1]
        sel = np.flatnonzero(owner == j)
        te = np.append(t_obs[sel], hi)
        # the last interval keeps its dense output: the backward pass starts with it
        mj = meth if meth != "auto" else (stiff_meth or "auto")
        res = forward(mj, cur, lo, hi, pk, te, j == K - 1)
        if res[0] not in (C.SUCCESS, C.STIFF_DETECTED) or res[1]:
            return _failed(model, res[0], f"forward solve failed: {res[1]}")
        stats["forward_steps"] += res[6]
        here = [["dopri5" if mj == "auto" else mj, lo, hi, cur]]
        ye = res[5]
        if res[0] == C.STIFF_DETECTED:
            stiff_meth = "bdf" if n >= AUTO_BDF_MIN_STATES else "radau5"
            ne = ye.shape[0]
            xobs[sel[:ne]] = ye[:ne]
            t_s, y_s = res[7], np.ascontiguousarray(res[3][-1])
            here[0][2] = t_s
            here.append([stiff_meth, t_s, hi, y_s])
            res = forward(stiff_meth, y_s, t_s, hi, pk, te[ne:], j == K - 1)
            if res[0] != C.SUCCESS:
                return _failed(model, res[0], f"forward solve failed: {res[1]}")
            stats["forward_steps"] += res[6]
            ye = np.concatenate([ye, res[5]])
        xobs[sel] = ye[:sel.size]
        cur = np.ascontiguousarray(ye[-1])
        segs.append(here)
        last = res
        memory["peak_interval"] = max(memory["peak_interval"], sum(a.nbytes for a in res[2:6]))
    memory["checkpoints"] = sum(s[3].nbytes for here in segs for s in here)
    memory["observations"] = xobs.nbytes + data.nbytes
    stats["methods"] = "->".join(dict.fromkeys(s[0] for here in segs for s in here))

    # ---- loss value from the point terms
    z = np.zeros(n + m + 1)
    gobs = np.empty((t_obs.size, 1 + n + m))
    if t_obs.size:
        vector_kernel_over_points(cl.point, t_obs, xobs, pk, data, gobs)
    value = float(gobs[:, 0].sum())

    # ---- backward pass, one segment at a time: explicit after dopri5, Radau IIA after a
    # stiff method (the forward dense output of radau5 or bdf gives x(t))
    art = float(adjoint_rtol if adjoint_rtol is not None else rtol)
    if adjoint_atol is None:
        adjoint_atol = atol if not isinstance(atol, dict) else [atol.get(s, atol.get(str(s))) for s in model.states]
    lam_atol = np.broadcast_to(np.asarray(adjoint_atol, dtype=float), (n,))
    # the integral term q of the loss is always in the error test (it is the loss value);
    # the parameter gradient mu only on request (as CVODES' quadratures)
    qa = float(np.min(lam_atol)) if n else 1e-12
    quad_atol = np.append(np.full(m, qa if quadrature_errcon else np.inf), qa)
    aat = np.ascontiguousarray(np.concatenate([lam_atol, quad_atol]))
    st = np.zeros(C.N_STATS, dtype=np.int64)
    indptr, indices = model.jac_sparsity.arrays()
    implicit = any(s[0] != "dopri5" for here in segs for s in here)
    mode = adjoint_linear_solver
    if implicit and mode == "auto":
        from ..solve import SPARSE_MIN_STATES
        mode = "coupled" if n <= COUPLED_MAX_STATES else ("sparse" if n >= SPARSE_MIN_STATES else "dense")
    if implicit and mode in ("dense", "sparse"):
        if mode == "sparse":
            tmap, splan = transposed_plan(model)
        else:
            from ..drivers.sparse_lu import INDEX_DTYPE
            tmap = np.empty(0, np.int64)
            splan = tuple(np.empty(0, INDEX_DTYPE) for _ in range(5))
    stats["adjoint_linear_solver"] = mode if implicit else None
    h = 0.0
    full = 0
    for j in range(K - 1, -1, -1):
        for si in range(len(segs[j]) - 1, -1, -1):
            sm, lo, hi, start = segs[j][si]
            if j == K - 1 and si == len(segs[j]) - 1:
                res = last
            else:
                res = forward(sm, start, lo, hi, pk, np.empty(0), True)
                if res[0] != C.SUCCESS:
                    return _failed(model, res[0], f"forward re-solve failed: {res[1]}")
                stats["resolve_steps"] += res[6]
            ts, cf = res[2], res[4]
            kind = _DENSE_KIND[sm]
            held = sum(a.nbytes for a in res[2:6])
            memory["peak_interval"] = max(memory["peak_interval"], held)
            full += held
            if h == 0.0 and ts.size > 1:
                h = float(ts[-1] - ts[-2])
            sel = np.flatnonzero((owner == j) & (t_obs <= hi) & ((t_obs > lo) | (lo == t0)))[::-1]
            stops = np.ascontiguousarray(t_obs[sel])
            jumps = np.ascontiguousarray(gobs[sel, 1:])
            if sm == "dopri5":
                status, t_r, h = adjoint_explicit(model.kernels.vjp, model.kernels.pvjp, cl.quad, cl.has_quad,
                                                  ts, cf, kind, hi, lo, stops, jumps, z, pk, n, m, art, aat, h,
                                                  max_steps, st)
            elif mode != "coupled":
                status, t_r, h = adjoint_implicit_transformed(
                    model.kernels.jac_values, indptr, indices, model.kernels.vjp, model.kernels.pvjp, cl.quad,
                    cl.has_quad, mode == "sparse", tmap, splan, ts, cf, kind, hi, lo, stops, jumps, z, pk, n, m,
                    art, np.ascontiguousarray(aat[:n]), np.ascontiguousarray(aat[n:]), h, max_steps, st)
            else:
                status, t_r, h = adjoint_implicit(model.kernels.jac_values, indptr, indices, model.kernels.pvjp,
                                                  cl.quad, cl.has_quad, ts, cf, kind, hi, lo, stops, jumps, z, pk,
                                                  n, m, art, aat[:n].copy(), aat[n:].copy(), h, max_steps, st)
            if status != C.SUCCESS:
                msg = C.MESSAGES.get(int(status), f"status {status}")
                return _failed(model, int(status), f"adjoint (backward) solve failed: {msg} at t = {t_r:.17g}")
    stats["backward_steps"] = int(st[C.ST_STEPS])
    stats["backward_rejected"] = int(st[C.ST_REJECTED])
    stats["backward_nfev"] = int(st[C.ST_NFEV])
    stats["backward_njev"] = int(st[C.ST_NJEV])
    stats["backward_nlu"] = int(st[C.ST_NLU])
    memory["full_trajectory_estimate"] = full
    value += z[n + m]
    return AdjointResult(float(value), z[n:n + m].copy(), z[:n].copy(), 0, "success", stats, memory)


def _pde_kernels(model, kinds):
    """A PDE model gets the stencil-level kernels ``kinds`` on first use (:mod:`symgen.pde.sens`)."""
    if getattr(model, "stencil", None) is not None:
        from ..pde.sens import sensitivity_kernels
        sensitivity_kernels(model, kinds)
