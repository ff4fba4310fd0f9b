"""Losses given symbolically, differentiated by symgen, compiled to kernels.

A :class:`Loss` is ``L = sum_i g(t_i, x(t_i), p, d_i) + integral of h(t, x, p) dt`` where
``d_i`` are data values (one row per observation time).  Two kernels with the vector
signature ``void(t, y*, p*, v*, out*)`` (``v`` = the data row) are generated:

* ``point``: ``out = [g, dg/dx (n), dg/dp (m)]``
* ``quad``:  ``out = [h, dh/dx (n), dh/dp (m)]``

They are compiled by the model's backend into their own cache entry (keyed by the
model, the loss expressions and the generator versions), so a loss never recompiles the
model.
"""
from __future__ import annotations

import sympy as sp

from ..cache import entry_dir, model_key
from ..errors import ModelError
from ..ir.kernels import VECTOR_ARGS, KernelSet
from ..ir.problem import Problem
from ..passes.derive import clean_derivative
from ..passes.lower import make_kernel

__all__ = ["Loss", "CompiledLoss", "compile_loss"]


class Loss:
    """A scalar loss of a solution.

    Parameters
    ----------
    point : sympy.Expr, optional
        ``g(t, x, p, d)``, summed over the observation times (``t_obs``) with the data
        row ``d_i`` of each.
    integrand : sympy.Expr, optional
        ``h(t, x, p)``, integrated over the time span.
    data : sequence of sympy.Symbol, optional
        Symbols of ``point`` that take the data values (columns of the ``data`` array).
    """

    def __init__(self, point=0, integrand=0, data=()):
        self.point = sp.sympify(point)
        self.integrand = sp.sympify(integrand)
        self.data = tuple(data)

    def __repr__(self) -> str:
        return f"Loss(point={self.point}, integrand={self.integrand}, data={self.data})"


class CompiledLoss:
    """The loss kernels of one (model, loss) pair: ``point``, ``quad`` and ``has_quad``."""

    def __init__(self, loss, module, key):
        self.loss = loss
        self.point = module.point
        self.quad = module.quad
        self.has_quad = loss.integrand != 0
        self.key = key
        self.n_data = len(loss.data)


def _check_symbols(expr, allowed, what):
    for s in sorted(expr.free_symbols, key=str):
        if s not in allowed:
            raise ModelError(f"the loss' {what} uses a symbol that is neither time, a state, a parameter "
                             "nor a declared data symbol", equation=str(expr), symbol=str(s))


def _gradient_outputs(expr, states, params):
    outs = [(0, expr)]
    for k, s in enumerate(tuple(states) + tuple(params)):
        d = clean_derivative(sp.diff(expr, s)) if s in expr.free_symbols else sp.S.Zero
        if d != 0:
            outs.append((1 + k, d))
    return outs


def compile_loss(model, loss: Loss) -> CompiledLoss:
    """Generate, compile (or load from the cache) the kernels of ``loss`` for ``model``
    (for a PDE model: the loss summed over the grid, :func:`symgen.pde.sens.compile_pde_loss`)."""
    if getattr(model, "stencil", None) is not None:
        from ..pde.sens import compile_pde_loss
        return compile_pde_loss(model, loss)
    cache = model.__dict__.setdefault("_compiled_losses", {})
    hit = cache.get(id(loss))
    if hit is not None and hit.loss is loss:  # the same Loss object again: no hashing
        return hit
    pb = model.problem
    data = tuple(loss.data)
    allowed = set(pb.states) | set(pb.params) | {pb.t}
    _check_symbols(loss.point, allowed | set(data), "point term")
    _check_symbols(loss.integrand, allowed, "integrand")
    if len(set(data)) != len(data) or set(data) & allowed:
        raise ModelError("data symbols must be distinct and not states, parameters or time",
                         symbol=str(next((d for d in data if d in allowed), data)))
    backend_name = model.manifest.get("backend", "numba")
    # the key: the model's key and the loss as a pseudo-problem (data symbols as extra inputs)
    pseudo = Problem(f"{pb.name}_loss", pb.t, pb.states, tuple(pb.params) + data,
                     (loss.point, loss.integrand))
    key = model_key(pseudo, {"kind": "loss", "model": model.key, "backend": backend_name})
    if key in cache:
        cache[id(loss)] = cache[key]
        return cache[key]
    n, m = len(pb.states), len(pb.params)
    kernels = (make_kernel("point", _gradient_outputs(loss.point, pb.states, pb.params), 1 + n + m,
                           zero_fill=True, args=VECTOR_ARGS),
               make_kernel("quad", _gradient_outputs(loss.integrand, pb.states, pb.params), 1 + n + m,
                           zero_fill=True, args=VECTOR_ARGS))
    kset = KernelSet(pb, kernels, model.jac_sparsity, model.pjac_sparsity, v_symbols=data)
    from .. import __version__
    from ..backends import get_backend
    backend = get_backend(backend_name)
    src = backend.emit(kset, key, __version__)
    from pathlib import Path
    module = backend.build(src, Path(entry_dir(key)))
    out = CompiledLoss(loss, module, key)
    cache[key] = cache[id(loss)] = out
    return out
