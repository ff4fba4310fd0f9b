"""Implicit differentiation: gradients of solutions of equations, not of solver iterations.

Steady states
    ``F(x*, p) = 0`` (``F`` the model's right-hand side at a fixed time).  For a loss
    ``g(x*, p)``: ``dg/dp = g_p - F_p^T lam`` with ``J^T lam = g_x`` (one sparse LU of
    the generated Jacobian's transpose on its static pattern, and the generated ``pvjp``
    kernel); ``dx*/dp = -J^-1 F_p`` for the whole sensitivity matrix.  How ``x*`` was
    found (:func:`steady_state`'s Newton iteration, a long solve, anything) does not
    matter: only the equations at ``x*`` are used.

Optimization solutions
    ``x*(p) = argmin phi(x, p)`` subject to ``c(x, p) = 0``, with multipliers ``nu``
    (``grad phi + c_x^T nu = 0``).  The KKT system
    ``K = [[H, A^T], [A, 0]]`` (``H`` the Hessian of the Lagrangian, ``A = c_x``) gives
    ``d(x*, nu)/dp = -K^-1 [L_xp; c_p]`` and, for a loss ``l(x*, p)``,
    ``dl/dp = l_p - w^T [L_xp; c_p]`` with ``K w = [l_x; 0]``.  The derivatives are
    generated symbolically and compiled (:class:`OptimizationProblem`); ``K`` is dense
    (problems of up to a few thousand variables).  Inequality constraints are not
    handled (active ones may be passed as equalities).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from ..cache import entry_dir, model_key
from ..drivers.evaluate import call_vector
from ..errors import ModelError, SolverError
from ..ir.kernels import VECTOR_ARGS, KernelSet
from ..ir.problem import Problem
from ..ir.system import Sparsity
from ..passes.derive import sparse_jacobian
from ..passes.lower import make_kernel
from .loss import Loss, compile_loss

__all__ = ["SteadyState", "steady_state", "steady_state_gradient", "steady_state_sensitivity",
           "OptimizationProblem", "CompiledOptimization"]


@dataclass
class SteadyState:
    """Result of :func:`steady_state`: ``x``, ``status`` (0 = converged), ``message``,
    ``iterations`` and the final residual norm ``residual`` (max-norm of ``F``)."""

    x: np.ndarray
    status: int
    message: str
    iterations: int
    residual: float

    @property
    def success(self) -> bool:
        return self.status == 0


def _splu(A):
    from scipy.sparse.linalg import splu
    return splu(A.tocsc())


def steady_state(model, x0, params=None, *, t: float = 0.0, tol: float = 1e-12, max_iter: int = 100) -> SteadyState:
    """Solve ``f(t, x, p) = 0`` by Newton's method with the generated sparse Jacobian
    (step halving on the residual norm).  Never raises for non-convergence: check
    ``status``/``message``."""
    x = model.initial_vector(x0).copy()
    p = model.param_vector(params)
    F = model.rhs(t, x, p)
    r = float(np.abs(F).max()) if F.size else 0.0
    for it in range(int(max_iter)):
        if r <= tol * max(1.0, float(np.abs(x).max())):
            return SteadyState(x, 0, "converged", it, r)
        try:
            dx = _splu(model.jac_sparse(t, x, p)).solve(-F)
        except RuntimeError as exc:
            return SteadyState(x, 6, f"singular Jacobian at Newton iteration {it} ({exc})", it, r)
        lam = 1.0
        while lam > 1e-8:
            xn = x + lam * dx
            Fn = model.rhs(t, xn, p)
            rn = float(np.abs(Fn).max())
            if np.isfinite(rn) and rn < r or lam == 1.0 and rn <= r * (1 + 1e-12):
                break
            lam *= 0.5
        else:
            return SteadyState(x, 5, f"Newton made no progress at iteration {it} (residual {r:.3e})", it, r)
        x, F, r = xn, Fn, rn
    ok = r <= tol * max(1.0, float(np.abs(x).max()))
    return SteadyState(x, 0 if ok else 1, "converged" if ok else
                       f"no convergence in {max_iter} Newton iterations (residual {r:.3e})", int(max_iter), r)


def steady_state_sensitivity(model, x_star, params=None, *, t: float = 0.0) -> np.ndarray:
    """``dx*/dp = -J^-1 F_p`` at a steady state, shape ``(n, len(params))``."""
    x = model.initial_vector(x_star)
    p = model.param_vector(params)
    lu = _splu(model.jac_sparse(t, x, p))
    return -lu.solve(np.asfortranarray(model.pjac(t, x, p)))


def steady_state_gradient(model, loss, x_star, params=None, *, t: float = 0.0):
    """``(g, dg/dp)`` of a loss ``g(x*, p)`` (a SymPy expression or a :class:`Loss` with a
    point term) at the steady state ``x_star``: one transposed sparse solve and one
    ``pvjp`` call, whatever the number of parameters."""
    if getattr(model.kernels, "pvjp", None) is None:
        raise SolverError("steady-state gradients need the pvjp kernel: compile with sensitivities=True")
    loss = loss if isinstance(loss, Loss) else Loss(point=loss)
    if loss.data or loss.integrand != 0:
        raise ModelError("a steady-state loss is one point term g(x, p) without data or integrand",
                         equation=str(loss))
    cl = compile_loss(model, loss)
    x = model.initial_vector(x_star)
    p = model.param_vector(params)
    pk = p if p.size else np.zeros(1)
    n, m = x.size, p.size
    buf = np.empty(1 + n + m)
    call_vector(cl.point, float(t), x, pk, np.zeros(1), buf)
    lam = _splu(model.jac_sparse(t, x, p).T).solve(buf[1:1 + n].copy())
    return float(buf[0]), buf[1 + n:] - model.pvjp(t, x, p, lam)


# ---------------------------------------------------------------------------------------
# optimization solutions
# ---------------------------------------------------------------------------------------
class OptimizationProblem:
    """``min_x phi(x, p)`` subject to ``c(x, p) = 0``, for implicit differentiation.

    Parameters
    ----------
    objective : sympy.Expr
    variables, params : sequence of sympy.Symbol
    constraints : sequence of sympy.Expr, optional
        Equality constraints ``c_j(x, p) = 0``.
    name : str
    """

    def __init__(self, objective, variables, params, constraints=(), name: str = "optimization"):
        self.objective = sp.sympify(objective)
        self.variables = tuple(variables)
        self.params = tuple(params)
        self.constraints = tuple(sp.sympify(c) for c in constraints)
        self.name = name
        allowed = set(self.variables) | set(self.params)
        for label, e in [("objective", self.objective)] + [(f"constraint {j}", c) for j, c in enumerate(self.constraints)]:
            bad = sorted(e.free_symbols - allowed, key=str)
            if bad:
                raise ModelError(f"the {label} uses a symbol that is neither a variable nor a parameter",
                                 equation=str(e), symbol=str(bad[0]))

    def compile(self, backend: str = "numba") -> "CompiledOptimization":
        """Generate and compile the KKT kernels (cached on disk like models)."""
        return CompiledOptimization(self, backend)


def _dense(pattern: Sparsity, values, offset_r=0, offset_c=0, ncols=None):
    """``(flat index, expr)`` of a sparse matrix placed in a dense row-major block."""
    ncols = pattern.ncols if ncols is None else ncols
    return [((offset_r + i) * ncols + offset_c + j, v) for (k, i, j), v in zip(pattern.entries(), values)]


class CompiledOptimization:
    """Compiled KKT kernels of an :class:`OptimizationProblem`.

    Kernel ``kkt`` (vector signature, ``v`` = the multipliers ``nu``) writes the dense
    ``K`` (``(n+q)^2``) followed by ``[L_xp; c_p]`` (``(n+q) x m``); kernel ``grad``
    writes ``grad_x phi`` and ``c`` (for the multiplier estimate and residual checks).
    """

    def __init__(self, problem: OptimizationProblem, backend: str):
        from .. import __version__
        from ..backends import get_backend
        self.problem = problem
        x, p, c = problem.variables, problem.params, problem.constraints
        n, m, q = len(x), len(p), len(c)
        self.n, self.m, self.q = n, m, q
        nu = tuple(sp.Dummy(f"nu{j}", real=True) for j in range(q))
        lagr = problem.objective + sum((nu[j] * c[j] for j in range(q)), sp.S.Zero)
        gphi = [sp.diff(problem.objective, s) for s in x]
        gl = [sp.diff(lagr, s) for s in x]
        H, Hv = sparse_jacobian(gl, x)
        A, Av = sparse_jacobian(list(c), x)
        Lp, Lpv = sparse_jacobian(gl, p)
        Cp, Cpv = sparse_jacobian(list(c), p)
        N = n + q
        kk = _dense(H, Hv, 0, 0, N) + _dense(A, Av, n, 0, N)
        kk += [(j * N + n + i, v) for (_, i, j), v in zip(A.entries(), Av)]  # A^T block
        base = N * N
        kk += [(base + k, v) for k, v in _dense(Lp, Lpv, 0, 0, m) + _dense(Cp, Cpv, n, 0, m)]
        grad = list(enumerate(gphi)) + [(n + j, cj) for j, cj in enumerate(c)]
        t = sp.Dummy("t")
        pb = Problem(problem.name, t, x, p, tuple(gl) + tuple(c))
        key = model_key(Problem(problem.name, t, x, p + nu, (problem.objective,) + c),
                        {"kind": "kkt", "backend": backend})
        kernels = (make_kernel("kkt", kk, N * N + N * m, zero_fill=True, args=VECTOR_ARGS),
                   make_kernel("grad", grad, N, zero_fill=True, args=VECTOR_ARGS))
        kset = KernelSet(pb, kernels, H, Lp, v_symbols=nu)
        be = get_backend(backend)
        self.source = be.emit(kset, key, __version__)
        self.kernels = be.build(self.source, Path(entry_dir(key)))
        self.key = key

    def _vectors(self, x, p, nu):
        x = np.ascontiguousarray(np.asarray(x, dtype=float).ravel())
        p = np.ascontiguousarray(np.asarray(p, dtype=float).ravel())
        if x.size != self.n or p.size != self.m:
            raise SolverError(f"expected {self.n} variable and {self.m} parameter values, got {x.size} and {p.size}")
        if nu is None:
            nu = self.multipliers(x, p)
        nu = np.ascontiguousarray(np.asarray(nu, dtype=float).ravel())
        return x, (p if p.size else np.zeros(1)), (nu if nu.size else np.zeros(1))

    def gradient_and_constraints(self, x, p):
        """``(grad_x phi, c)`` at ``(x, p)``."""
        x = np.ascontiguousarray(np.asarray(x, dtype=float).ravel())
        p = np.ascontiguousarray(np.asarray(p, dtype=float).ravel())
        out = np.empty(self.n + self.q)
        call_vector(self.kernels.grad, 0.0, x, p if p.size else np.zeros(1), np.zeros(max(self.q, 1)), out)
        return out[:self.n], out[self.n:]

    def multipliers(self, x, p):
        """Least-squares multipliers from ``grad phi + A^T nu = 0``."""
        if self.q == 0:
            return np.zeros(0)
        g, _ = self.gradient_and_constraints(x, p)
        K, _ = self.kkt(x, p, np.zeros(self.q))
        A = K[self.n:, :self.n]
        return np.linalg.lstsq(A.T, -g, rcond=None)[0]

    def kkt(self, x, p, nu=None):
        """``(K, B)``: the KKT matrix and ``[L_xp; c_p]`` at ``(x, p, nu)``."""
        x, pk, nuk = self._vectors(x, p, nu)
        N = self.n + self.q
        out = np.empty(N * N + N * self.m)
        call_vector(self.kernels.kkt, 0.0, x, pk, nuk, out)
        return out[:N * N].reshape(N, N), out[N * N:].reshape(N, self.m)

    def solution_sensitivity(self, x, p, nu=None):
        """``dx*/dp`` (``n x m``) at a KKT point."""
        K, B = self.kkt(x, p, nu)
        return -np.linalg.solve(K, B)[:self.n]

    def loss_gradient(self, loss, x, p, nu=None):
        """``(l, dl/dp)`` of a loss ``l(x*, p)`` (SymPy expression) at the solution ``x``:
        one solve with ``K`` whatever the number of parameters."""
        pr = self.problem
        loss = sp.sympify(loss)
        bad = sorted(loss.free_symbols - set(pr.variables) - set(pr.params), key=str)
        if bad:
            raise ModelError("the loss uses a symbol that is neither a variable nor a parameter",
                             equation=str(loss), symbol=str(bad[0]))
        args = list(pr.variables) + list(pr.params)
        vals = dict(zip(args, list(np.ravel(x)) + list(np.ravel(p))))
        lx = np.array([float(sp.diff(loss, s).subs(vals)) for s in pr.variables])
        lp = np.array([float(sp.diff(loss, s).subs(vals)) for s in pr.params])
        K, B = self.kkt(x, p, nu)
        w = np.linalg.solve(K.T, np.concatenate([lx, np.zeros(self.q)]))
        return float(loss.subs(vals)), lp - w @ B
