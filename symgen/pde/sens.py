"""Stencil-level sensitivity kernels of a PDE model, and losses summed over the grid.

Every kernel is a loop nest per grid *region*, generated from the differentiated stencil
of :mod:`.ir` (the ``JacEntry`` rows for ``J``, and ``d(point expression)/d(parameter)``
taken here once per region and field), never from per-point equations, so the source is
the same for every grid size.  All take the drivers' vector ABI
``void(t, y*, p*, v*, out*)`` (``p`` the model's kernel parameter array, see
:meth:`PDEModel.param_vector`):

* ``jvp``:  ``out = J v``                    (gather along each stencil row)
* ``vjp``:  ``out = J^T v``                  (scatter of each stencil row times ``v``)
* ``pjvp``: ``out = (df/dp) q``   (``v = q``, one value per user parameter)
* ``pvjp``: ``out = (df/dp)^T w`` (one scalar accumulator per parameter in the loop nest)
* ``sens_pjac``: ``void(t, y*, p*, out*)``, ``df/dp`` dense row-major ``n x m`` (what
  the forward-sensitivity drivers read), named apart from the PDE side's own kernels.

:func:`compile_pde_loss` turns a :class:`~symgen.sensitivity.Loss` written with fields,
grid coordinates, parameters, time and data symbols into the ``point``/``quad`` kernels
of the adjoint (``out = [g, dg/dy (n), dg/dp (m)]``), where the loss term is the *sum
over the unknown grid points* of the pointwise expression (multiply by the cell volume
in the expression for a quadrature of the domain integral).  Data symbols take one
value per grid point and observation time: ``data`` has the shape
``(len(t_obs),) + grid shape + (len(loss.data),)`` (or that, flattened per row).
"""
from __future__ import annotations

import sympy as sp

from ..errors import ModelError
from ..ir.source import Source
from ..passes.derive import clean_derivative
from .codegen import _ENV, StencilPrinter, _comment, _Emitter, _linear

__all__ = ["emit_sens_module", "emit_loss_module", "sensitivity_kernels", "compile_pde_loss",
           "PDESensitivityKernels", "PDELoss", "SENS_KERNELS"]

#: kernel name -> (kind, argument list) of the generated loop-nest functions
SENS_KERNELS = {"jvp": "t, y, p, v, out", "vjp": "t, y, p, v, out", "pjvp": "t, y, p, v, out",
                "pvjp": "t, y, p, v, out", "pjac": "t, y, p, out"}


class _SensEmitter(_Emitter):
    """The loop-nest emitter of :mod:`.codegen` with the sensitivity kinds."""

    def __init__(self, ss):
        super().__init__(ss)
        self.m = len(ss.params)
        # the differentiated stencil w.r.t. the parameters: per region and field
        self.dp = {}
        for r, region in enumerate(ss.regions):
            for k, pt in enumerate(region.points):
                free = pt.expr.free_symbols
                self.dp[(r, k)] = tuple((j, d) for j, q in enumerate(ss.params) if q in free
                                        for d in (clean_derivative(sp.diff(pt.expr, q)),) if d != 0)

    def prologue(self, name: str, args: str) -> list:
        lines = ["@njit(cache=True, error_model=\"numpy\")", f"def {name}({args}):"]
        for a in range(self.nd):
            lines.append(f"    n{a} = int(p[NP + {3 * a}])")
            lines.append(f"    lo{a} = p[NP + {3 * a + 1}]")
            lines.append(f"    h{a} = p[NP + {3 * a + 2}]")
            lines.append(f"    g{a} = 1.0/h{a}")
        for k in range(self.np):
            lines.append(f"    q{k} = p[{k}]")
        lines.append(f"    yv = y.reshape({self.shape()})")
        return lines

    def shape(self, last=None) -> str:
        return "(" + ", ".join(f"n{a}" for a in range(self.nd)) + f", {self.nf if last is None else last})"

    def sens_region(self, r: int, region, kind: str, ind: str) -> list:
        ps = region.points
        if kind in ("jvp", "vjp"):
            items = [(k, e.ref, e.expr) for k, pt in enumerate(ps) for e in pt.jac]
        else:
            items = [(k, j, d) for k in range(len(ps)) for j, d in self.dp[(r, k)]]
        if not items:
            return []
        exprs = [it[2].xreplace(self._to_inv) for it in items]
        syms = set().union(*[e.free_symbols for e in exprs])
        offsets = {self.refs[s].offset for s in syms if s in self.refs}
        if kind in ("jvp", "vjp"):
            offsets |= {it[1].offset for it in items}
        coords = {a for a, x in enumerate(self.ss.coords) if x in syms}
        lines, bind, wrapped = self._loops(region, False, offsets, coords, ind)
        repl, red = sp.cse(exprs, symbols=sp.numbered_symbols("_T"), optimizations=None, order="none")
        pr = StencilPrinter(self._symbol_map(region, wrapped, [s for s, _ in repl], syms))
        for k, (_, e) in enumerate(repl):
            lines.append(f"{bind}c{k} = {pr.doprint(e)}")
        for k, pt in enumerate(ps):
            mine = [(red[i], it) for i, it in enumerate(items) if it[0] == k]
            if not mine:
                continue
            row = self._row_nd(pt.field)
            if kind == "jvp":
                terms = " + ".join(f"({pr.doprint(e)})*vv[{self._col(region, it[1], wrapped)}]" for e, it in mine)
                lines.append(f"{bind}ov[{row}] = {terms}")
            elif kind == "vjp":
                lines.append(f"{bind}vr = vv[{row}]")
                for e, it in mine:
                    lines.append(f"{bind}ov[{self._col(region, it[1], wrapped)}] += ({pr.doprint(e)})*vr")
            elif kind == "pjvp":
                terms = " + ".join(f"({pr.doprint(e)})*v[{it[1]}]" for e, it in mine)
                lines.append(f"{bind}ov[{row}] = {terms}")
            elif kind == "pvjp":
                lines.append(f"{bind}vr = vv[{row}]")
                for e, it in mine:
                    lines.append(f"{bind}a{it[1]} += ({pr.doprint(e)})*vr")
            else:  # pjac, dense row-major n x m
                lines.append(f"{bind}rr = ({self._row(pt.field)})*{self.m}")
                for e, it in mine:
                    lines.append(f"{bind}out[rr + {it[1]}] = {pr.doprint(e)}")
        return lines

    def sens_function(self, name: str, kind: str) -> str:
        lines = self.prologue(name, SENS_KERNELS[kind])
        if kind in ("jvp", "vjp", "pvjp"):
            lines.append(f"    vv = v.reshape({self.shape()})")
        if kind in ("jvp", "vjp", "pjvp"):
            lines.append(f"    ov = out.reshape({self.shape()})")
        if kind == "pvjp":
            lines += [f"    a{j} = 0.0" for j in range(self.m)]
        for r, region in enumerate(self.ss.regions):
            body = self.sens_region(r, region, kind, "    ")
            if body:
                cls = ", ".join(f"{c.kind}{c.q if c.kind not in ('in', 'pw') else ''}" for c in region.classes)
                lines.append(f"    # region ({cls})")
                lines += body
        if kind == "pvjp":
            lines += [f"    out[{j}] = a{j}" for j in range(self.m)]
        return "\n".join(lines)

    # -- losses summed over the grid -------------------------------------------------
    def loss_function(self, name: str, expr, symbols: dict, n_data: int) -> str:
        """``out = [sum g, dg/dy (n), sum dg/dp (m)]`` for the pointwise ``expr`` whose
        symbols ``symbols`` maps to roles ``("field", f)``, ``("coord", a)``,
        ``("data", k)``, ``("param", j)`` or ``("t",)``."""
        lines = self.prologue(name, "t, y, p, v, out")
        if n_data:
            lines.append(f"    dv = v.reshape({self.shape(n_data)})")
        lines.append("    acc = 0.0")
        lines += [f"    a{j} = 0.0" for j in range(self.m)]
        loc = {}
        for s, role in symbols.items():
            if role[0] == "field":
                loc[s] = sp.Symbol(f"_LF{role[1]}", real=True)
            elif role[0] == "data":
                loc[s] = sp.Symbol(f"_LD{role[1]}", real=True)
        e = expr.xreplace(loc)
        outs = [("acc", e)]
        for s, role in sorted(symbols.items(), key=lambda kv: kv[1]):
            if role[0] == "field":
                outs.append((f"f{role[1]}", clean_derivative(sp.diff(e, loc[s]))))
            elif role[0] == "param":
                outs.append((f"a{role[1]}", clean_derivative(sp.diff(e, s))))
        outs = [(k, d) for k, d in outs if k == "acc" or d != 0]
        ind = "    "
        used_coords = sorted(a for s, r in symbols.items() if r[0] == "coord" for a in (r[1],))
        for a in range(self.nd):
            lines.append(f"{ind}for i{a} in range(n{a}):")
            ind += "    "
            if a in used_coords:
                first = "0.0" if self.ss.axes[a][1] else "1.0"
                lines.append(f"{ind}x{a} = lo{a} + (i{a} + {first})*h{a}")
        repl, red = sp.cse([d for _, d in outs], symbols=sp.numbered_symbols("_T"), optimizations=None,
                           order="none")
        at = ", ".join(f"i{a}" for a in range(self.nd))
        names = {}
        for s, role in symbols.items():
            if role[0] == "field":
                names[loc[s]] = f"yv[{at}, {role[1]}]"
            elif role[0] == "data":
                names[loc[s]] = f"dv[{at}, {role[1]}]"
            elif role[0] == "param":
                names[s] = f"q{role[1]}"
            elif role[0] == "coord":
                names[s] = f"x{role[1]}"
            else:
                names[s] = "t"
        names.update({s: f"c{k}" for k, (s, _) in enumerate(repl)})
        pr = StencilPrinter(names)
        for k, (_, d) in enumerate(repl):
            lines.append(f"{ind}c{k} = {pr.doprint(d)}")
        for (key, _), d in zip(outs, red):
            if key.startswith("f"):
                lines.append(f"{ind}out[1 + {_linear([f'i{a}' for a in range(self.nd)], self.nf, int(key[1:]))}]"
                             f" = {pr.doprint(d)}")
            else:
                lines.append(f"{ind}{key} += {pr.doprint(d)}")
        lines.append("    out[0] = acc")
        nn = " * ".join([str(self.nf)] + [f"n{a}" for a in range(self.nd)])
        lines += [f"    out[1 + {nn} + {j}] = a{j}" for j in range(self.m)]
        return "\n".join(lines)


def _render(ss, key, version, funcs, what, n_data=0) -> Source:
    em_np = len(ss.params)
    text = _ENV.get_template("pde_sens.py.j2").render(
        version=version, key=key, name=_comment(ss.name), fields=_comment(" ".join(ss.fields)), what=what,
        order=ss.order, nparams=em_np, ndim=ss.ndim, nfields=ss.nfields, ndata=n_data,
        functions=[f for _, f in funcs])
    return Source("numba-stencil-sens", key, text, tuple(funcs))


def emit_sens_module(ss, key: str, version: str) -> Source:
    """Source of the ``jvp``, ``vjp``, ``pjvp``, ``pvjp`` and ``sens_pjac`` kernels of ``ss``."""
    em = _SensEmitter(ss)
    funcs = [(f"_{k}", em.sens_function(f"_{k}", k)) for k in SENS_KERNELS]
    return _render(ss, key, version, funcs, "sensitivity")


def _loss_symbols(model, expr, data: tuple, what: str) -> dict:
    ss = model.stencil
    roles = {model.system.t: ("t",)}
    roles.update({f: ("field", k) for k, f in enumerate(model.fields)})
    roles.update({x: ("coord", a) for a, x in enumerate(model.grid.coords)})
    roles.update({q: ("param", j) for j, q in enumerate(ss.params)})
    for k, d in enumerate(data):
        if d in roles:
            raise ModelError("data symbols must be distinct and not fields, coordinates, parameters or time",
                             symbol=str(d))
        roles[d] = ("data", k)
    out = {}
    for s in sorted(expr.free_symbols, key=str):
        if s not in roles or (what == "integrand" and roles[s][0] == "data"):
            raise ModelError(f"the loss' {what} uses a symbol that is neither time, a field, a grid coordinate, "
                             "a parameter nor a declared data symbol", equation=str(expr), symbol=str(s))
        out[s] = roles[s]
    return out


def emit_loss_module(model, loss, key: str, version: str) -> Source:
    """Source of the ``point`` and ``quad`` kernels of ``loss`` summed over ``model``'s grid."""
    data = tuple(loss.data)
    if len(set(data)) != len(data):
        raise ModelError("data symbols must be distinct", symbol=str(data))
    em = _SensEmitter.__new__(_SensEmitter)
    _Emitter.__init__(em, model.stencil)
    em.m = len(model.stencil.params)
    funcs = []
    for name, expr, what in (("_point", loss.point, "point term"), ("_quad", loss.integrand, "integrand")):
        syms = _loss_symbols(model, expr, data, what)
        funcs.append((name, em.loss_function(name, expr, syms, len(data) if name == "_point" else 0)))
    return _render(model.stencil, key, version, funcs, "loss", len(data))


def _build(src: Source, key: str):
    from ..backends.numba.backend import NumbaBackend
    from ..cache import entry_dir
    return NumbaBackend().build(Source(src.backend, key, src.text.replace(_KEY, key), src.kernels), entry_dir(key))


_KEY = "{{symgen-key}}"


class PDESensitivityKernels:
    """The sensitivity kernels of one PDE model, callable from Python too.

    ``kernel(kind)`` gives the compiled cfunc of ``jvp``, ``vjp``, ``pjvp``, ``pvjp``
    (vector ABI) or ``pjac`` (the dense ``df/dp`` kernel ``sens_pjac``), each compiled
    on its first request; the ``call_*`` methods evaluate them on NumPy arrays.
    """

    def __init__(self, model, module, key):
        self.model, self.module, self.key = model, module, key

    def kernel(self, kind: str):
        return self.module.kernel(kind)

    def _vec(self, kind, t, y, v, params, size):
        import numpy as np
        from .kernels_call import call_vec_kernel
        out = np.empty(size)
        call_vec_kernel(self.kernel(kind), float(t), np.ascontiguousarray(y, dtype=float),
                        self.model.param_vector(params), np.ascontiguousarray(v, dtype=float), out)
        return out

    def call_jvp(self, t, y, v, params=None):
        """``J(t, y) v``."""
        return self._vec("jvp", t, y, v, params, self.model.n)

    def call_vjp(self, t, y, w, params=None):
        """``J(t, y)^T w``."""
        return self._vec("vjp", t, y, w, params, self.model.n)

    def call_pjvp(self, t, y, q, params=None):
        """``(df/dp) q`` (``q``: one value per user parameter)."""
        return self._vec("pjvp", t, y, q, params, self.model.n)

    def call_pvjp(self, t, y, w, params=None):
        """``(df/dp)^T w``."""
        return self._vec("pvjp", t, y, w, params, len(self.model.params))

    def call_pjac(self, t, y, params=None):
        """``df/dp`` as a dense ``(n, m)`` array."""
        import numpy as np
        from ..drivers.evaluate import call_kernel
        m = len(self.model.params)
        out = np.empty(self.model.n * m)
        call_kernel(self.kernel("pjac"), float(t), np.ascontiguousarray(y, dtype=float),
                    self.model.param_vector(params), out)
        return out.reshape(self.model.n, m)


def sensitivity_kernels(model, kinds=tuple(SENS_KERNELS)) -> PDESensitivityKernels:
    """Generate (or load from the cache) the sensitivity kernels of a
    :class:`~symgen.pde.PDEModel`, compile those named in ``kinds`` and attach them to
    ``model.kernels`` (``jvp``, ``vjp``, ``pjvp``, ``pvjp``, ``pjac``: what the adjoint and
    forward-sensitivity drivers call)."""
    out = getattr(model, "_sens_kernels", None)
    if out is None:
        from .. import __version__
        from .build import pde_key
        src = emit_sens_module(model.stencil, _KEY, __version__)
        key = pde_key(src.text)
        out = PDESensitivityKernels(model, _build(src, key), key)
        model._sens_kernels = out
    for kind in kinds:
        setattr(model.kernels, kind, out.kernel(kind))
    return out


class PDELoss:
    """The compiled ``point``/``quad`` kernels of one (PDE model, loss) pair, with the
    interface of :class:`~symgen.sensitivity.loss.CompiledLoss` (``n_data`` counts the
    data values of one observation time: grid points times data symbols)."""

    def __init__(self, loss, module, key, n_data):
        self.loss, self.key = loss, key
        self.point, self.quad = module.point, module.quad
        self.has_quad = loss.integrand != 0
        self.n_data = n_data


def compile_pde_loss(model, loss) -> PDELoss:
    """Kernels of ``loss`` (a :class:`~symgen.sensitivity.Loss` over fields) for ``model``."""
    cache = model.__dict__.setdefault("_compiled_losses", {})
    hit = cache.get(id(loss))
    if hit is not None and hit.loss is loss:
        return hit
    from .. import __version__
    from .build import pde_key
    src = emit_loss_module(model, loss, _KEY, __version__)
    key = pde_key(src.text)
    module = _build(src, key)
    out = PDELoss(loss, module, key, len(loss.data) * (model.n // len(model.fields)))
    cache[id(loss)] = out
    return out
