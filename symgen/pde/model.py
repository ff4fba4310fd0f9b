"""PDEModel: a compiled PDE system on its grid, ready to evaluate, integrate and solve."""
from __future__ import annotations

import math
import time

import numpy as np

from ..drivers.evaluate import call_kernel
from ..errors import GridError, MissingValueError, NonFiniteValueError, SolverError, SymgenError
from .grid import Field

__all__ = ["PDEModel", "GridSparsity", "SteadyResult"]


class GridSparsity:
    """Static CSR pattern of the stencil Jacobian (NumPy arrays; rows of one grid point
    list their columns in stencil order)."""

    def __init__(self, n: int, indptr: np.ndarray, indices: np.ndarray):
        self.nrows = self.ncols = int(n)
        self.indptr = indptr
        self.indices = indices

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def arrays(self):
        return self.indptr, self.indices

    def entries(self):
        for i in range(self.nrows):
            for k in range(self.indptr[i], self.indptr[i + 1]):
                yield k, i, int(self.indices[k])


class _StateNames:
    """State names on demand (``u[i,j]``): a grid of a million points needs no list."""

    def __init__(self, fields, shape):
        self.fields, self.shape = fields, shape
        self.n = len(fields) * int(np.prod(shape))

    def __len__(self):
        return self.n

    def __getitem__(self, k):
        if not -self.n <= k < self.n:
            raise IndexError(k)
        k %= self.n
        f = k % len(self.fields)
        idx = np.unravel_index(k // len(self.fields), self.shape)
        return f"{self.fields[f]}[{','.join(str(int(i)) for i in idx)}]"


class SteadyResult:
    """Result of :meth:`PDEModel.solve_steady`: ``y``, ``status`` (0 converged),
    ``message``, ``iterations``, ``residual`` (max norm), ``njev``, ``nfev``,
    ``success``; ``field(u)`` gives one field on the grid."""

    def __init__(self, model, y, status, message, iterations, residual, njev, nfev):
        self._model = model
        self.y, self.status, self.message = y, status, message
        self.iterations, self.residual, self.njev, self.nfev = iterations, residual, njev, nfev
        self.success = status == 0

    def field(self, f):
        return self._model.unpack(self.y)[str(f)]

    def __repr__(self):
        return (f"SteadyResult(status={self.status}, message={self.message!r}, "
                f"iterations={self.iterations}, residual={self.residual:.3g})")


class PDEModel:
    """A PDE system compiled to stencil kernels.

    ``y`` (the state vector) holds every field at every unknown grid point, point-major
    with the fields interleaved; :meth:`unpack` / :meth:`initial_vector` convert.
    The parameter array the kernels receive is :meth:`param_vector`: the user parameters
    followed by the grid block (size, lower end and spacing of each axis) and the
    Jacobian's CSR row pointer, so one compiled module serves every grid size.

    Attributes
    ----------
    system, grid, fields, params, stencil (StencilSystem), kernels (``rhs`` and
    ``jac_values`` cfuncs with the drivers' ABI; ``jtv_kernel()`` gives the ``J^T v`` cfunc),
    jac_sparsity (GridSparsity), timings, cached, key.
    """

    def __init__(self, system, stencil, source, module, key, timings, *, cached, load_seconds):
        self.system = system
        self.stencil = stencil
        self.name = system.name
        self.grid = system.grid
        self.fields = system.fields
        self.params = system.params
        self.kernels = module
        self._source = source
        self.code_key = key
        self.key = key + "-grid-" + "x".join(str(a.n) for a in self.grid.axes)
        self.cached = cached
        self.load_seconds = load_seconds
        self.manifest = {"timings": timings}
        self.shape = self.grid.shape
        self.states = _StateNames([str(f) for f in self.fields], self.shape)
        self.n = len(self.states)
        self._check_grid()
        self._meta = np.array([v for a in self.grid.axes for v in (a.n_unknown, a.lo, a.h)], dtype=float)
        self._sparsity = None  # the CSR pattern is run-time data of the grid: built on first use
        self._defaults = {str(k): float(v) for k, v in system.defaults.items()}
        self._pidx = {str(s): i for i, s in enumerate(self.params)}

    def __repr__(self) -> str:
        return (f"PDEModel({self.name!r}, grid={self.grid!r}, fields={[str(f) for f in self.fields]}, "
                f"order={self.stencil.order}, {self.n} states)")

    # -- set-up -----------------------------------------------------------------------
    def _check_grid(self):
        ss = self.stencil
        for a, ax in enumerate(self.grid.axes):
            R, S = ss.reach[a], ss.span[a]
            need = 2 * R + 1 if ax.periodic else max(2 * R + 1, R + S)
            if ax.n_unknown < need:
                raise GridError(f"axis {ax.name!r} has {ax.n_unknown} unknown nodes; the order-{ss.order} "
                                f"stencils of this model need at least {need}", symbol=ax.name)

    @property
    def jac_sparsity(self) -> GridSparsity:
        """Static CSR pattern of the Jacobian on this grid (built with NumPy on first use;
        its time is ``timings["pattern"]``)."""
        if self._sparsity is None:
            from .pattern import build_pattern
            t0 = time.perf_counter()
            indptr, indices = build_pattern(self.stencil, self.shape)
            self._indptr_f = indptr.astype(np.float64)
            self._sparsity = GridSparsity(self.n, indptr, indices)
            self.manifest["timings"]["pattern"] = time.perf_counter() - t0
        return self._sparsity

    # -- vectors ------------------------------------------------------------------------
    def param_vector(self, params=None) -> np.ndarray:
        """User parameters (dict by symbol/name or sequence; defaults fill in) followed by
        the grid block and the CSR row pointer: the ``p`` every kernel takes."""
        npar = len(self.params)
        if isinstance(params, np.ndarray) and params.size == npar + self._meta.size + self.n + 1:
            return np.ascontiguousarray(params, dtype=float)  # already a kernel parameter array
        if params is None:
            params = {}
        if isinstance(params, dict):
            vals = np.full(npar, np.nan)
            for k, v in params.items():
                i = self._pidx.get(str(k))
                if i is None:
                    raise SymgenError("parameter value given for a symbol the model does not have", symbol=str(k))
                vals[i] = float(v)
            for i, s in enumerate(self.params):
                if math.isnan(vals[i]):
                    if str(s) not in self._defaults:
                        raise MissingValueError("no parameter value given", symbol=str(s))
                    vals[i] = self._defaults[str(s)]
        else:
            vals = np.asarray(params, dtype=float).ravel()
            if vals.size != npar:
                raise SymgenError(f"expected {npar} parameter values in the order {[str(s) for s in self.params]}")
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            raise NonFiniteValueError("parameter value is not finite", symbol=str(self.params[bad[0]]))
        _ = self.jac_sparsity
        return np.concatenate([vals, self._meta, self._indptr_f])

    def _p(self, params):
        return self.param_vector(params)

    def initial_vector(self, y0) -> np.ndarray:
        """``y0`` as the state vector: a flat array of length ``n``, or a dict
        ``{field: value}`` with a number, an array of the grid shape, or a callable of
        the coordinates (``lambda x, y: ...``) per field."""
        if isinstance(y0, dict):
            out = np.empty(self.shape + (len(self.fields),))
            given = {str(k): v for k, v in y0.items()}
            for k in given:
                if k not in {str(f) for f in self.fields}:
                    raise SymgenError("initial value given for something that is not a field", symbol=k)
            mesh = self.grid.mesh()
            for j, f in enumerate(self.fields):
                if str(f) not in given:
                    raise MissingValueError("no initial value given", symbol=str(f))
                v = given[str(f)]
                v = v(*mesh) if callable(v) else v
                out[..., j] = np.broadcast_to(np.asarray(v, dtype=float), self.shape)
            y = out.ravel()
        else:
            y = np.asarray(y0, dtype=float).ravel()
            if y.size != self.n:
                raise SymgenError(f"expected {self.n} initial values (grid {self.shape} x {len(self.fields)} fields), "
                                  f"got {y.size}")
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise NonFiniteValueError("initial value is not finite", symbol=self.states[int(bad[0])])
        return np.ascontiguousarray(y)

    def unpack(self, y) -> dict:
        """``{field name: array of the grid shape}`` from a state vector."""
        y = np.asarray(y, dtype=float).reshape(self.shape + (len(self.fields),))
        return {str(f): y[..., j].copy() for j, f in enumerate(self.fields)}

    def field(self, sol, f, k: int = -1) -> np.ndarray:
        """Field ``f`` on the grid at output ``k`` of a Solution."""
        return self.unpack(sol.y[:, k])[str(f)]

    def _state_index(self, key):
        return None

    def _observed_index(self, key):
        return None

    # -- kernels from Python ---------------------------------------------------------
    def rhs(self, t, y, params=None) -> np.ndarray:
        out = np.empty(self.n)
        call_kernel(self.kernels.rhs, float(t), np.ascontiguousarray(y, dtype=float), self._p(params), out)
        return out

    def jac_values(self, t, y, params=None) -> np.ndarray:
        out = np.empty(self.jac_sparsity.nnz)
        call_kernel(self.kernels.jac_values, float(t), np.ascontiguousarray(y, dtype=float), self._p(params), out)
        return out

    def jac_sparse(self, t, y, params=None):
        """df/dy as ``scipy.sparse.csr_matrix`` (duplicates summed, columns sorted)."""
        import scipy.sparse as sps
        indptr, indices = self.jac_sparsity.arrays()
        m = sps.csr_matrix((self.jac_values(t, y, params), indices, indptr), shape=(self.n, self.n))
        m.sum_duplicates()
        m.sort_indices()
        return m

    def jac(self, t, y, params=None) -> np.ndarray:
        """Dense df/dy (small grids only)."""
        return self.jac_sparse(t, y, params).toarray()

    def jtv(self, t, y, v, params=None) -> np.ndarray:
        """``J(t, y)^T v`` from the transposed-stencil kernel."""
        from .kernels_call import call_vec_kernel
        out = np.empty(self.n)
        call_vec_kernel(self.kernels.jtv_kernel(), float(t), np.ascontiguousarray(y, dtype=float), self._p(params),
                        np.ascontiguousarray(v, dtype=float), out)
        return out

    def dfdt(self, t, y, params=None) -> np.ndarray:
        """Explicit time derivative ``df/dt`` (forcing and time-dependent boundary values)."""
        out = np.empty(self.n)
        call_kernel(self.kernels.module.dfdt_kernel(), float(t), np.ascontiguousarray(y, dtype=float),
                    self._p(params), out)
        return out

    def pjac(self, t, y, params=None) -> np.ndarray:
        """Dense ``df/dp``, shape ``(n, len(params))`` (the user parameters, not the grid block)."""
        npar = len(self.params)
        out = np.empty(self.n * npar)
        if npar:
            call_kernel(self.kernels.module.pjac_kernel(), float(t), np.ascontiguousarray(y, dtype=float),
                        self._p(params), out)
        return out.reshape(self.n, npar)

    def spectral_radius(self, t, y, params=None) -> float:
        """Gershgorin bound on the Jacobian's spectral radius at ``(t, y)``."""
        vals = np.abs(self.jac_values(t, y, params))
        return float(np.max(np.add.reduceat(vals, self.jac_sparsity.indptr[:-1]))) if vals.size else 0.0

    def cfl_step(self, t, y, params=None, stability: float = 2.5) -> float:
        """Largest explicit step ``stability / rho(J)`` (Dormand–Prince's stability region
        reaches about 3.3 along the negative real axis and 3 on the imaginary one)."""
        rho = self.spectral_radius(t, y, params)
        return stability / rho if rho > 0 else 0.0

    def source(self, kernel: str | None = None) -> str:
        """Generated source of the module or of one function (``_rhs_serial``, ...)."""
        return self._source.text if kernel is None else self._source.kernel(kernel)

    @property
    def timings(self) -> dict:
        return dict(self.manifest["timings"])

    # -- solving ----------------------------------------------------------------------
    def solve(self, y0, t_span, params=None, *, method: str = "auto", rtol: float = 1e-6, atol=1e-9,
              t_eval=None, dense: bool = True, max_steps: int = 1_000_000, first_step: float = 0.0,
              max_step: float = 0.0, linear_solver: str = "auto"):
        """Integrate the semi-discrete system with the compiled ODE drivers (method of lines).

        Same options as :meth:`symgen.model.CompiledModel.solve`.  With
        ``method="dopri5"`` the step is bounded by the CFL-type limit :meth:`cfl_step`
        at the initial state (unless ``max_step`` is smaller); ``"radau5"`` and ``"bdf"``
        factor the stencil Jacobian with the static-pattern sparse LU
        (``linear_solver="auto"``/``"sparse"``), ``"bdf"`` with ``linear_solver="krylov"``
        solves with GMRES preconditioned by ILU(0) on the stencil pattern, and ``"auto"``
        starts explicit and continues a stiff problem with BDF from 500 states on (Radau
        below), as for ODE models.
        ``model.field(sol, u)`` gives a field on the grid.
        """
        from ..solve import solve
        if isinstance(atol, dict):
            raise SolverError("atol for a PDE model is a number or an array of length n")
        y = self.initial_vector(y0)
        p = self.param_vector(params)
        self.last_cfl_step = None
        if method in ("dopri5", "rk45", "explicit"):
            try:
                t0 = float(t_span[0])
            except (TypeError, ValueError, IndexError):
                t0 = 0.0
            h = self.cfl_step(t0, y, p)
            if h > 0:
                self.last_cfl_step = h
                max_step = h if max_step <= 0 else min(max_step, h)
        return solve(self, y, t_span, p, method=method, rtol=rtol, atol=atol, t_eval=t_eval,
                     dense=dense, max_steps=max_steps, first_step=first_step, max_step=max_step,
                     linear_solver=linear_solver)

    def solve_steady(self, guess, params=None, *, t: float = 0.0, ftol: float = 1e-10, xtol: float = 1e-12,
                     max_iter: int = 50) -> SteadyResult:
        """Solve ``f(t, y) = 0`` (the steady state of ``D(u) == rhs``) by compiled Newton
        with backtracking line search and the sparse stencil Jacobian."""
        from ..solve import sparse_plan
        from .newton import NEWTON_MESSAGES, newton
        y = self.initial_vector(guess)
        p = self.param_vector(params)
        plan = sparse_plan(self)
        status, ys, it, res, nj, nf = newton(
            self.kernels.rhs, self.kernels.jac_values, float(t), y, p, self.jac_sparsity.nnz,
            plan.indptr, plan.indices, plan.diag, plan.perm, plan.amap, float(ftol), float(xtol), int(max_iter))
        msg = NEWTON_MESSAGES[int(status)]
        if status != 0:
            msg += f" after {int(it)} iterations (residual {res:.3g})"
        return SteadyResult(self, ys, int(status), msg, int(it), float(res), int(nj), int(nf))
