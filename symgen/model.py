"""CompiledModel: compiled kernels + compiled drivers behind one object."""
from __future__ import annotations

import math

import numpy as np

from .errors import MissingValueError, NonFiniteValueError, SymgenError
from .ir.system import Sparsity

__all__ = ["CompiledModel"]


class CompiledModel:
    """A model compiled to kernels, ready to solve.

    Attributes
    ----------
    problem : Problem
        The declared model.
    states, params : tuple of sympy.Symbol
        Order of the runtime arrays ``y`` and ``p``.
    observed : tuple of str
        Names of the algebraic outputs.
    jac_sparsity, pjac_sparsity : Sparsity
        Static CSR patterns of df/dy and df/dp.
    irs : dict
        Every pipeline intermediate (only ``problem`` and ``source`` after a cache hit).
    cached : bool
        Whether the compiled kernels came from the disk cache.
    manifest : dict
        Names, patterns, op counts and per-stage timings of the build.
    """

    def __init__(self, problem, module, manifest, irs, *, cached, load_seconds):
        self.problem = problem
        self.name = problem.name
        self.states = problem.states
        self.params = problem.params
        self.observed = tuple(name for name, _ in problem.observed)
        self.manifest = manifest
        self.irs = irs
        self.cached = cached
        self.load_seconds = load_seconds
        self.kernels = module
        self.key = manifest["key"]
        self.jac_sparsity = _sparsity(manifest["jac"])
        self.pjac_sparsity = _sparsity(manifest["pjac"])
        self._sidx = {s: i for i, s in enumerate(self.states)}
        self._sidx.update({str(s): i for i, s in enumerate(self.states)})
        self._pidx = {s: i for i, s in enumerate(self.params)}
        self._pidx.update({str(s): i for i, s in enumerate(self.params)})
        self._oidx = {name: j for j, name in enumerate(self.observed)}
        self._defaults = {str(k): v for k, v in problem.defaults}

    def __repr__(self) -> str:
        return (f"CompiledModel({self.name!r}, {len(self.states)} states, {len(self.params)} params, "
                f"jac nnz={self.jac_sparsity.nnz}, cached={self.cached})")

    # -- names -> indices -----------------------------------------------------------
    def _state_index(self, key):
        return self._sidx.get(key, self._sidx.get(str(key)))

    def _observed_index(self, key):
        return self._oidx.get(str(key))

    def _vector(self, values, order, index, what: str) -> np.ndarray:
        n = len(order)
        if values is None:
            values = {}
        if isinstance(values, dict):
            out = np.full(n, np.nan)
            for k, v in values.items():
                i = index.get(k, index.get(str(k)))
                if i is None:
                    raise SymgenError(f"{what} given for a symbol the model does not have", symbol=str(k))
                out[i] = _to_float(v, k, what)
            missing = np.flatnonzero(np.isnan(out))  # names printed only where needed
            for i in missing:
                s = order[i]
                if str(s) in self._defaults and not _given(values, s):
                    out[i] = self._defaults[str(s)]
            for i in missing:
                s = order[i]
                if math.isnan(out[i]) and not _given(values, s):
                    raise MissingValueError(f"no {what} given", symbol=str(s))
        else:
            out = np.array(values, dtype=float).ravel()
            if out.size != n:
                raise SymgenError(f"{what}: expected {n} values in the order {[str(s) for s in order]}, "
                                  f"got {out.size}")
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            raise NonFiniteValueError(f"{what} is not finite ({out[bad[0]]})", symbol=str(order[bad[0]]))
        return np.ascontiguousarray(out)

    def initial_vector(self, y0) -> np.ndarray:
        """``y0`` (dict by symbol or name, or sequence) as the runtime state array."""
        return self._vector(y0, self.states, self._sidx, "initial value")

    def param_vector(self, params) -> np.ndarray:
        """``params`` (dict by symbol or name, or sequence) as the runtime parameter array."""
        return self._vector(params, self.params, self._pidx, "parameter value")

    # -- kernels from Python -----------------------------------------------------------
    def _call(self, name, t, y, p, size):
        out = np.empty(size)
        y = np.ascontiguousarray(y, dtype=float)
        p = np.ascontiguousarray(p, dtype=float)
        direct = getattr(self.kernels, "call_arrays", None)   # LLVM: ctypes, no Numba dispatch
        if direct is not None:
            direct(name, float(t), y, p, out)
        else:
            from .drivers.evaluate import call_kernel   # imports Numba: only when needed
            call_kernel(getattr(self.kernels, name), float(t), y, p, out)
        return out

    def rhs(self, t, y, p) -> np.ndarray:
        """f(t, y, p)."""
        return self._call("rhs", t, y, p, len(self.states))

    def jac(self, t, y, p) -> np.ndarray:
        """Dense df/dy, shape (n, n)."""
        n = len(self.states)
        if getattr(self.kernels, "jac", None) is not None:
            return self._call("jac", t, y, p, n * n).reshape(n, n)
        vals = self._call("jac_values", t, y, p, self.jac_sparsity.nnz)
        J = np.zeros((n, n))
        for k, i, j in self.jac_sparsity.entries():
            J[i, j] = vals[k]
        return J

    def jac_sparse(self, t, y, p):
        """df/dy as a ``scipy.sparse.csr_matrix`` on the static pattern."""
        import scipy.sparse as sps
        vals = self._call("jac_values", t, y, p, self.jac_sparsity.nnz)
        indptr, indices = self.jac_sparsity.arrays()
        return sps.csr_matrix((vals, indices, indptr), shape=(self.jac_sparsity.nrows, self.jac_sparsity.ncols))

    def pjac(self, t, y, p) -> np.ndarray:
        """Dense df/dp, shape (n, len(params))."""
        return self._call("pjac", t, y, p, len(self.states) * len(self.params)).reshape(
            len(self.states), len(self.params))

    def dfdt(self, t, y, p) -> np.ndarray:
        """Explicit time derivative of f."""
        return self._call("dfdt", t, y, p, len(self.states))

    def _call_vector(self, name, t, y, p, v, size):
        kernel = getattr(self.kernels, name, None)
        if kernel is None:
            raise SymgenError(f"the model has no {name} kernel: compile it with sensitivities=True")
        out = np.empty(size)
        args = (float(t), np.ascontiguousarray(y, dtype=float), np.ascontiguousarray(p, dtype=float),
                np.ascontiguousarray(v, dtype=float), out)
        direct = getattr(self.kernels, "call_arrays", None)   # LLVM: ctypes, no Numba dispatch
        if direct is not None:
            direct(name, *args)
        else:
            from .drivers.evaluate import call_vector
            call_vector(kernel, *args)
        return out

    def jvp(self, t, y, p, v) -> np.ndarray:
        """``(df/dy) v`` (needs ``compile(..., sensitivities=True)``)."""
        return self._call_vector("jvp", t, y, p, v, len(self.states))

    def vjp(self, t, y, p, w) -> np.ndarray:
        """``(df/dy)^T w`` (needs ``compile(..., sensitivities=True)``)."""
        return self._call_vector("vjp", t, y, p, w, len(self.states))

    def pvjp(self, t, y, p, w) -> np.ndarray:
        """``(df/dp)^T w`` (needs ``compile(..., sensitivities=True)``)."""
        return self._call_vector("pvjp", t, y, p, w, len(self.params))

    def residual(self, t, y, yp, p) -> np.ndarray:
        """F(t, y, y', p) = y' - f(t, y, p)."""
        out = np.empty(len(self.states))
        from .drivers.evaluate import call_residual, residual_from_rhs
        kernel = getattr(self.kernels, "residual", None)
        if kernel is None:
            residual_from_rhs(self.kernels.rhs, float(t), np.ascontiguousarray(y, dtype=float),
                              np.ascontiguousarray(yp, dtype=float), np.ascontiguousarray(p, dtype=float), out)
            return out
        call_residual(kernel, float(t), np.ascontiguousarray(y, dtype=float),
                      np.ascontiguousarray(yp, dtype=float), np.ascontiguousarray(p, dtype=float), out)
        return out

    def observed_values(self, t, ys, p) -> np.ndarray:
        """Observables at times ``t`` (m,) and states ``ys`` (m, n): shape (m, n_observed)."""
        from .drivers.evaluate import kernel_over_points
        return kernel_over_points(self.kernels.observed, np.ascontiguousarray(t, dtype=float),
                                  np.ascontiguousarray(ys, dtype=float), np.ascontiguousarray(p, dtype=float),
                                  len(self.observed))

    def scipy_functions(self, params):
        """``(fun, jac)`` for ``scipy.integrate.solve_ivp`` backed by the compiled kernels."""
        p = self.param_vector(params)
        return (lambda t, y: self.rhs(t, y, p)), (lambda t, y: self.jac(t, y, p))

    # -- inspection ----------------------------------------------------------------
    def source(self, kernel: str | None = None) -> str:
        """Generated source of one kernel (``rhs``, ``jac_values``, ``pjac``, ``dfdt``,
        ``observed``) or of the whole module."""
        if kernel is None:
            return self.irs["source"].text
        return self.irs["source"].kernel(kernel)

    @property
    def timings(self) -> dict:
        """Seconds per pipeline stage of the build that produced the kernels."""
        return dict(self.manifest["timings"])

    # -- solving ---------------------------------------------------------------------
    def solve(self, y0, t_span, params=None, *, method: str = "auto", rtol: float = 1e-6,
              atol=1e-9, t_eval=None, dense: bool = True, max_steps: int = 1_000_000,
              first_step: float = 0.0, max_step: float = 0.0, linear_solver: str = "auto",
              progress: bool | None = None):
        """Integrate the model; one call into compiled code per method used.

        Parameters
        ----------
        y0 : dict or sequence
            Initial values by state symbol or name (defaults fill the rest).
        t_span : (t0, tf)
        params : dict or sequence, optional
            Parameter values; changing them never recompiles.
        method : {"auto", "dopri5", "radau5", "bdf"}
            ``auto`` starts explicit and switches to Radau IIA when it detects stiffness
            (to BDF from 500 states on);
            ``bdf`` is variable-order BDF (NDF, orders 1-5) with one real factorization
            kept over many steps: the cheaper stiff method for large sparse systems.
        rtol, atol : float (atol may be per state: sequence or dict)
        t_eval : array, optional
            Return the solution at these times (from the dense output).
        dense : bool
            Keep the dense output so that ``sol(t)`` works.
        max_steps : int
            Maximum number of step attempts.
        linear_solver : {"auto", "dense", "sparse", "krylov"}
            Linear algebra of the stiff methods' Newton matrices: dense LU with partial
            pivoting, or a static-pattern sparse LU on the Jacobian's CSR pattern with a
            fill-reducing ordering computed once per model.  ``auto`` uses sparse from 50
            states on unless the planned sparse factorization would need more than a
            quarter of the dense one's operations (or its factors half of ``n^2``).
            ``krylov`` (with ``method="bdf"``): GMRES on the Newton matrix with
            matrix-vector products of the sparse Jacobian, preconditioned by its ILU(0)
            (no fill: memory O(nnz) for very large systems).
            ``sol.linear_solver`` says which one ran.
        progress : bool, optional
            Report t, steps and elapsed time on stderr while solving (default: on in an
            interactive terminal outside CI; ``SYMGEN_PROGRESS=0/1`` overrides).

        Returns
        -------
        Solution
            Never raises for a failed integration: check ``status``/``message``.
        """
        from .solve import solve
        return solve(self, y0, t_span, params, method=method, rtol=rtol, atol=atol, t_eval=t_eval,
                     dense=dense, max_steps=max_steps, first_step=first_step, max_step=max_step,
                     linear_solver=linear_solver, progress=progress)


def _given(values: dict, s) -> bool:
    return s in values or str(s) in values


def _to_float(v, k, what) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise SymgenError(f"{what} is not a number: {v!r}", symbol=str(k)) from None


def _sparsity(d: dict) -> Sparsity:
    return Sparsity(d["shape"][0], d["shape"][1], tuple(d["indptr"]), tuple(d["indices"]))
