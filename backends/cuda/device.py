"""KernelSet -> device-function module (Python for numba.njit / numba.cuda.jit).

The module's ``make(jit, F)`` returns a dict of device functions for the float type
``F``:

* ``rhs(t, y, p, out)``, ``dfdt(t, y, p, out)``: as the host kernels;
* ``jac(t, y, p, out)``: dense row-major Jacobian (scattered from the sparse values);
* ``jac_values(t, y, p, out)``: Jacobian values on the static CSR pattern;
* ``jvp(t, y, p, v, out)``: ``out = J(t, y, p) v`` without forming J;
* ``lu_factor(a, s)`` / ``lu_solve(a, s, b)``: pivoted LU of size n (unrolled for
  n <= 16, looped up to 64; absent above).
"""
from __future__ import annotations

from types import SimpleNamespace

import jinja2

from symgen.ir.kernels import KernelSet

from .linalg import has_lu, lu_lines, n_swap_flags
from .printer import CudaCPrinter, DevicePrinter

__all__ = ["device_views", "render_device_module", "ENV"]

ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgen.templates", "."),
                         keep_trailing_newline=True, autoescape=False,
                         undefined=jinja2.StrictUndefined)

_ARGS = ("t", "y", "p", "out")


def _symbol_map(kset: KernelSet, kernel) -> dict:
    pb = kset.problem
    m = {pb.t: "t"}
    m.update({s: f"y[{i}]" for i, s in enumerate(pb.states)})
    m.update({s: f"p[{i}]" for i, s in enumerate(pb.params)})
    m.update({a.target: f"c{i}" for i, a in enumerate(kernel.body)})
    return m


def _view(name, params, lines, out_size, zero_fill=False, n_outputs=None, n_temps=0):
    return SimpleNamespace(name=name, params=params, lines=lines, out_size=out_size,
                           zero_fill=zero_fill, n_outputs=out_size if n_outputs is None else n_outputs,
                           n_temps=n_temps)


def device_views(kset: KernelSet, printer_cls=DevicePrinter, end: str = "") -> list:
    """Printed bodies of the device functions (``end`` ends a statement: "" or ";")."""
    n = kset.problem.n
    decl = "const T " if printer_cls is CudaCPrinter else ""
    views = []

    def temps(k, pr):
        return [f"{decl}c{i} = {pr.doprint(a.expr)}{end}" for i, a in enumerate(k.body)]

    for name in ("rhs", "dfdt", "jac_values"):
        k = kset.get(name)
        pr = printer_cls(_symbol_map(kset, k))
        lines = temps(k, pr) + [f"out[{i}] = {pr.doprint(e)}{end}" for i, e in k.outputs]
        views.append(_view(name, _ARGS, lines, k.out_size, k.zero_fill, len(k.outputs), len(k.body)))
    # dense Jacobian and Jacobian-vector product from the sparse values' expressions
    k = kset.get("jac_values")
    pr = printer_cls(_symbol_map(kset, k))
    entries = list(kset.jac.entries())
    exprs = dict(k.outputs)
    printed = {kk: pr.doprint(exprs[kk]) for kk, _, _ in entries if kk in exprs}
    dense = temps(k, pr) + [f"out[{i * n + j}] = {printed[kk]}{end}"
                            for kk, i, j in entries if kk in printed]
    views.append(_view("jac", _ARGS, dense, n * n, True, len(printed), len(k.body)))
    rows: dict = {}
    for kk, i, j in entries:
        if kk in printed:
            rows.setdefault(i, []).append(f"({printed[kk]}) * v[{j}]")
    zero = "T(0.0)" if printer_cls is CudaCPrinter else "F(0.0)"
    jvp = temps(k, pr) + [f"out[{i}] = {' + '.join(rows.get(i, [zero]))}{end}" for i in range(n)]
    views.append(_view("jvp", ("t", "y", "p", "v", "out"), jvp, n, False, n, len(k.body)))
    if has_lu(n):
        factor, solve = lu_lines(n, printer_cls is CudaCPrinter)
        views.append(_view("lu_factor", ("a", "s"), factor, n * n))
        views.append(_view("lu_solve", ("a", "s", "b"), solve, n))
    return views


def render_device_module(kset: KernelSet, key: str, version: str) -> tuple:
    """``(text, views)`` of the device-function module."""
    n = kset.problem.n
    views = device_views(kset)
    text = ENV.get_template("cuda_device.py.j2").render(
        kernels=views, key=key, version=version, n=n, n_params=len(kset.problem.params),
        n_flags=n_swap_flags(n), has_lu=has_lu(n), jac_nnz=kset.jac.nnz)
    return text, views
