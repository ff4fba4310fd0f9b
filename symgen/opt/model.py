"""CompiledOpt: compiled kernels of an optimization problem, evaluators and ``minimize``."""
from __future__ import annotations

import numpy as np

from ..errors import MissingValueError, NonFiniteValueError, SolverError
from .drivers import common as C

__all__ = ["CompiledOpt", "METHODS"]

METHODS = ("auto", "ipm", "lbfgsb", "tron")


def _rows_of(ptr):
    return np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))


class CompiledOpt:
    """An optimization problem compiled to kernels.

    Attributes
    ----------
    ir : OptIR
        The declared problem (families, bounds, initial guess).
    key : str
        Content hash (cache entry).
    kernels : dict
        ``obj``, ``grad``, ``cons``, ``jac``, ``hess`` Numba ``cfunc`` objects.
    source : str
        The generated module.
    timings : dict
        Seconds per pipeline stage.
    cached : bool
        Whether the kernels came from the disk cache.
    """

    def __init__(self, ir, key, kernels, sizes, pats, source, timings, cached):
        self.ir = ir
        self.key = key
        self.kernels = kernels
        self.sizes = sizes
        self._source = source
        self.p_prefix = None          # the tape (tape backend): kernels read it in front of p
        self.backend = None
        self.timings = timings
        self.cached = cached
        (self.jac_ptr, self.jac_idx, self.jac_map, self.hess_ptr, self.hess_idx, self.hess_map,
         self.hess_w) = pats
        jr = _rows_of(self.jac_ptr)
        self.jac_rows = np.ascontiguousarray(jr[self.jac_map])
        self.jac_cols = np.ascontiguousarray(self.jac_idx[self.jac_map])
        hr = _rows_of(self.hess_ptr)
        self.hess_rows = np.ascontiguousarray(hr[self.hess_map])
        self.hess_cols = np.ascontiguousarray(self.hess_idx[self.hess_map])
        self._kkt = None

    @property
    def source(self) -> str:
        """The generated module (LLVM IR, Numba source, or the tape's listing)."""
        if callable(self._source):
            self._source = self._source()
        return self._source

    # -- sizes and vectors -------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.ir.n

    @property
    def m(self) -> int:
        return self.ir.m

    def param_vector(self, params=None) -> np.ndarray:
        """Parameter vector from the declared defaults overridden by ``params``
        (``{symbol_or_base: value}``)."""
        p = self.ir.p0.copy()
        for h, val in (params or {}).items():
            for ph, off, shape in self.ir.params:
                if ph is h or ph == h:
                    size = int(np.prod(shape)) if shape else 1
                    v = np.asarray(val, dtype=float).reshape(-1)
                    if v.size == 1:
                        v = np.full(size, float(v[0]))
                    if v.size != size:
                        raise SolverError(f"parameter {h} needs {size} values, got {v.size}")
                    p[off:off + size] = v
                    break
            else:
                raise SolverError(f"{h} is not a parameter of this problem")
        if np.isnan(p).any():
            k = int(np.nonzero(np.isnan(p))[0][0])
            raise MissingValueError("no value for a parameter", symbol=self._param_name(k))
        if not np.isfinite(p).all():
            k = int(np.nonzero(~np.isfinite(p))[0][0])
            raise NonFiniteValueError("parameter value is not finite", symbol=self._param_name(k))
        p = p if p.size else np.zeros(1)
        if self.p_prefix is not None:
            return np.concatenate([self.p_prefix, p])
        return p

    def user_params(self, p: np.ndarray) -> np.ndarray:
        """The user parameters of a kernel parameter array (without the tape)."""
        return p if self.p_prefix is None else p[self.p_prefix.size:]

    def _param_name(self, k):
        for h, off, shape in self.ir.params:
            size = int(np.prod(shape)) if shape else 1
            if off <= k < off + size:
                return str(h) if not shape else f"{h}[{np.unravel_index(k - off, shape)}]"
        return str(k)

    def x0_vector(self, x0=None) -> np.ndarray:
        """Initial guess: the declared one, or ``x0`` (a flat array or ``{var: value}``)."""
        x = self.ir.x0.copy()
        if x0 is None:
            return x
        if isinstance(x0, dict):
            for h, val in x0.items():
                for vh, off, shape in self.ir.variables:
                    if vh is h or vh == h:
                        size = int(np.prod(shape)) if shape else 1
                        x[off:off + size] = np.broadcast_to(np.asarray(val, float).reshape(-1), (size,))
                        break
                else:
                    raise SolverError(f"{h} is not a variable of this problem")
            return x
        x = np.asarray(x0, dtype=float).reshape(-1).copy()
        if x.size != self.n:
            raise SolverError(f"x0 has {x.size} values for {self.n} variables")
        if not np.isfinite(x).all():
            raise NonFiniteValueError("initial guess is not finite", symbol=self.var_name(int(np.nonzero(~np.isfinite(x))[0][0])))
        return x

    def var_name(self, k: int) -> str:
        """Printable name of flat variable ``k`` (``x[3]``, ``y[2, 5]``)."""
        for h, off, shape in self.ir.variables:
            size = int(np.prod(shape)) if shape else 1
            if off <= k < off + size:
                if not shape:
                    return str(h)
                idx = np.unravel_index(k - off, shape)
                return f"{h}[{', '.join(str(int(i)) for i in idx)}]"
        return f"x_{k}"

    # -- evaluators (compiled kernels) -----------------------------------------------
    def _call(self, name, x, p, w, size):
        out = np.zeros(max(size, 1))
        C.call(self.kernels[name], np.ascontiguousarray(x, dtype=float), p,
               np.ascontiguousarray(w, dtype=float), out)
        return out

    def _w(self, sigma=1.0, lam=None):
        w = np.zeros(self.m + 1)
        w[0] = sigma
        if lam is not None:
            w[1:] = lam
        return w

    def objective(self, x, params=None) -> float:
        """``f(x)`` of the declared objective (sign restored for ``maximize``)."""
        return float(self._call("obj", x, self.param_vector(params), self._w(), 1)[0]) * self.ir.sense

    def gradient(self, x, params=None) -> np.ndarray:
        return self._call("grad", x, self.param_vector(params), self._w(), self.n)[:self.n] * self.ir.sense

    def constraints(self, x, params=None) -> np.ndarray:
        return self._call("cons", x, self.param_vector(params), self._w(), self.m)[:self.m]

    def jacobian(self, x, params=None):
        """Constraint Jacobian as a SciPy CSR matrix on the static pattern."""
        import scipy.sparse as sps
        coo = self._call("jac", x, self.param_vector(params), self._w(), self.sizes["jac"])
        vals = np.zeros(self.jac_idx.size)
        np.add.at(vals, self.jac_map, coo[:self.jac_map.size])
        return sps.csr_matrix((vals, self.jac_idx, self.jac_ptr), shape=(self.m, self.n))

    def hessian_lower(self, x, lam=None, sigma=1.0, params=None):
        """Lower triangle of ``sigma * H_f + sum lam_i H_ci`` (SciPy CSR, static pattern);
        ``H_f`` is the Hessian of the minimized objective (``-f`` for ``maximize``)."""
        import scipy.sparse as sps
        coo = self._call("hess", x, self.param_vector(params), self._w(sigma, lam), self.sizes["hess"])
        vals = np.zeros(self.hess_idx.size)
        np.add.at(vals, self.hess_map, coo[:self.hess_map.size] * self.hess_w)
        return sps.csr_matrix((vals, self.hess_idx, self.hess_ptr), shape=(self.n, self.n))

    def hessian(self, x, lam=None, sigma=1.0, params=None):
        """Full symmetric Hessian of the Lagrangian (SciPy CSR)."""
        lo = self.hessian_lower(x, lam, sigma, params)
        import scipy.sparse as sps
        return (lo + sps.tril(lo, -1).T).tocsr()

    def hessp(self, x, v, lam=None, sigma=1.0, params=None) -> np.ndarray:
        """Hessian-vector product ``H v`` of the Lagrangian ``sigma f + lam . c`` from the
        derived ``hvp`` kernel (directional derivative of the gradient; no Hessian is
        assembled)."""
        v = np.asarray(v, dtype=float).reshape(-1)
        if v.size != self.n:
            raise SolverError(f"v has {v.size} values for {self.n} variables")
        w = np.concatenate([self._w(sigma, lam), v])
        return self._call("hvp", x, self.param_vector(params), w, self.n)[:self.n]

    # -- solving ---------------------------------------------------------------------
    def minimize(self, x0=None, params=None, *, method: str = "auto", tol: float = 1e-8,
                 max_iter: int = 3000, constr_tol: float = 1e-8, check_start: bool = True):
        """Solve the problem with a compiled driver.

        Parameters
        ----------
        x0 : array or dict, optional
            Initial guess (default: the declared ``init``).
        params : dict, optional
            ``{parameter: value}`` overriding the declared values.
        method : str
            ``"ipm"`` (primal-dual interior point; any constraints), ``"tron"`` (trust-region
            Newton-CG with bounds), ``"lbfgsb"`` (limited-memory quasi-Newton with bounds),
            ``"auto"``: ``"tron"`` without constraints, ``"ipm"`` otherwise.
        tol : float
            Tolerance of the (scaled) first-order optimality error.
        max_iter : int
        constr_tol : float
            Constraint violation accepted at the solution.
        check_start : bool
            Evaluate the objective and constraints at ``x0`` first and raise
            :class:`~symgen.errors.NonFiniteStartError` naming the term at fault.

        Returns
        -------
        OptResult
        """
        from .solve import minimize
        return minimize(self, x0, params, method=method, tol=tol, max_iter=max_iter,
                        constr_tol=constr_tol, check_start=check_start)

    def scipy_problem(self, params=None):
        """``scipy.optimize.minimize`` arguments backed by the compiled kernels
        (see :func:`symgen.opt.adapters.scipy_problem`)."""
        from .adapters import scipy_problem
        return scipy_problem(self, params)

    def __repr__(self):
        return (f"CompiledOpt({self.ir.name!r}, n={self.n}, m={self.m}, nnz(J)={self.jac_idx.size}, "
                f"nnz(tril H)={self.hess_idx.size}, cached={self.cached})")

