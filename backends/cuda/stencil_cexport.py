"""Stencil IR (:mod:`symgen.pde.ir`) -> CUDA C (``.cu`` + ``.h``) for PDE models.

The same kernels as :mod:`.stencil_emit` (numba.cuda), written as CUDA C for use outside
Python (``nvcc -c`` / ``-ptx``, NVRTC, CuPy ``RawModule``):

* per region ``k`` and kind a point function ``sg_<kind>_r<k><T>(i0.., n0.., t, y, p, ...)``
  (``__host__ __device__``, a template over the float type ``T``);
* ``sg_<kind>_bulk_at`` (interior point of thread coordinates ``(tx, ty, tz)``) and
  ``sg_<kind>_edge_at`` (thread ``r`` of the one guarded 1-D boundary launch: region by
  run-time point counts, then the region's ranged axes), both ``__host__ __device__``;
* ``extern "C"`` kernels ``sg_<kind>_{bulk,edge}_{f32,f64}`` whose arguments start with
  the grid sizes ``n0, n1[, n2]`` (the source is identical for every grid size), and host
  launch helpers ``sg_stencil_<kind>_{f32,f64}(shape, ...)`` declared in the header;
* host sweeps ``sg_<kind>_sweep<T>`` (every point, serial; ``jtv`` adds without atomics)
  that a C++ compiler builds without CUDA (tests, CPU fallback).

The parameter block ``p`` is that of ``model.cuda`` / :meth:`PDEModel.param_vector`:
user parameters, then (size, lower end, spacing) per axis; the kernels read lower ends
and spacings from it and the sizes from their arguments.  Identifiers are generated
(``u3``, ``c12``, ``q0``); model names appear only in sanitized comments.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from symgen.errors import BackendError

from .printer import CudaCPrinter
from symgen.pde.codegen import small_integer_power

from .stencil_emit import (KINDS, _ENV, _Emitter, _comment, _extent, _first, _label, _ranged, bulk_region,
                           point_names)

__all__ = ["render_stencil_cu", "export_stencil_cu", "StencilCPrinter"]

_DTYPES = {"float32": ("f32", "float"), "float64": ("f64", "double")}


class StencilCPrinter(CudaCPrinter):
    """CUDA C printer with small integer powers as products (no ``pow`` in kernels)."""

    def _print_Pow(self, expr):
        s = small_integer_power(self, expr, "T(1.0)", least_negative=-2)
        return s if s is not None else super()._print_Pow(expr)


def _shifted_c(a: int, cls, s: int) -> str:
    """C index along axis ``a`` of the neighbour at offset ``s`` (periodic wrap applied)."""
    if s == 0:
        return f"i{a}"
    k = cls.kind
    base = f"i{a} + {s}" if s > 0 else f"i{a} - {-s}"
    if k == "pw":
        if s < 0:
            return f"(i{a} < {-s} ? i{a} - {-s} + n{a} : i{a} - {-s})"
        return f"(i{a} + {s} >= n{a} ? i{a} + {s} - n{a} : i{a} + {s})"
    if k == "plo" and cls.q + s < 0:
        return f"{base} + n{a}"
    if k == "phi" and s > cls.q:
        return f"{base} - n{a}"
    return base


class _CEmitter(_Emitter):
    """C statements for the stencil regions (reuses the index and expression logic)."""

    def _ref_index(self, region, ref) -> str:
        return self._linear([_shifted_c(a, c, ref.offset[a]) for a, c in enumerate(region.classes)],
                            ref.field)

    def point(self, k: int, region, kind: str) -> list:
        """Body lines of the point function of region ``k`` (``i*``, ``n*`` in scope)."""
        ss = self.ss
        ind = "    "
        exprs = self._exprs(region, kind)
        syms = set().union(*[e.free_symbols for e in exprs]) if exprs else set()
        lines = []
        for a in range(self.nd):
            if ss.coords[a] in syms:
                lines.append(f"{ind}const T lo{a} = p[SG_NP + {3 * a + 1}];")
            if ss.coords[a] in syms or ss.spacings[a] in syms:
                lines.append(f"{ind}const T h{a} = p[SG_NP + {3 * a + 2}];")
            if self.inv[a] in syms:
                lines.append(f"{ind}const T g{a} = T(1.0) / p[SG_NP + {3 * a + 2}];")
        for j, s in enumerate(ss.params):
            if s in syms:
                lines.append(f"{ind}const T q{j} = p[{j}];")
        for a, x in enumerate(ss.coords):
            if x in syms:
                first = "0" if ss.axes[a][1] else "1"
                lines.append(f"{ind}const T x{a} = lo{a} + T(i{a} + {first}) * h{a};")
        m = point_names(ss, self.inv)
        for j, (sym, ref) in enumerate(ss.neighbors):
            if sym in syms:
                m[sym] = f"u{j}"
                lines.append(f"{ind}const T u{j} = y[{self._ref_index(region, ref)}];")
        repl, red = sp.cse(exprs, symbols=sp.numbered_symbols("_T"), optimizations=None, order="none")
        m.update({s: f"c{j}" for j, (s, _) in enumerate(repl)})
        pr = StencilCPrinter(m)
        for j, (_, e) in enumerate(repl):
            lines.append(f"{ind}const T c{j} = {pr.doprint(e)};")
        pos = 0
        for pt in region.points:
            row = self._linear([f"i{a}" for a in range(self.nd)], pt.field)
            if kind == "rhs":
                lines.append(f"{ind}out[{row}] = {pr.doprint(red[pos])};")
                pos += 1
            elif kind == "jvp":
                terms = []
                for e in pt.jac:
                    terms.append(f"({pr.doprint(red[pos])}) * v[{self._ref_index(region, e.ref)}]")
                    pos += 1
                lines.append(f"{ind}out[{row}] = {' + '.join(terms) if terms else 'T(0.0)'};")
            elif kind == "jtv":
                lines.append(f"{ind}{{ const T vr = v[{row}];")
                for e in pt.jac:
                    lines.append(f"{ind}  SG_ADD(&out[{self._ref_index(region, e.ref)}], "
                                 f"({pr.doprint(red[pos])}) * vr);")
                    pos += 1
                lines.append(f"{ind}}}")
            else:
                lines.append(f"{ind}{{ const long long k = rowptr[{row}];")
                for j in range(len(pt.jac)):
                    lines.append(f"{ind}  out[k + {j}] = {pr.doprint(red[pos])};")
                    pos += 1
                lines.append(f"{ind}}}")
        return lines

    def bulk_at(self) -> list:
        """Lines mapping thread coordinates to the interior point (guarded)."""
        ss, nd = self.ss, self.nd
        region = ss.regions[bulk_region(ss)]
        tv = ["tx", "ty", "tz"][:nd]
        conds = [f"{tv[d]} < {_extent(nd - 1 - d, region.classes[nd - 1 - d], ss.reach[nd - 1 - d])}"
                 for d in range(nd)]
        lines = [f"    if (!({' && '.join(conds)})) return;"]
        for d in range(nd):
            a = nd - 1 - d
            first = _first(a, region.classes[a], ss.reach[a])
            lines.append(f"    const SG_INDEX i{a} = {first} + {tv[d]};" if first != "0"
                         else f"    const SG_INDEX i{a} = {tv[d]};")
        return lines

    def bulk_extents(self) -> list:
        """C expressions of the interior thread grid extents (x along the last axis)."""
        ss, nd = self.ss, self.nd
        region = ss.regions[bulk_region(ss)]
        return [_extent(a, region.classes[a], ss.reach[a]) for a in reversed(range(nd))]

    def edge_regions(self) -> list:
        """``(k, label, count, index lines)`` per boundary region."""
        ss = self.ss
        b = bulk_region(ss)
        out = []
        for k, region in enumerate(ss.regions):
            if k == b:
                continue
            ranged = [a for a, c in enumerate(region.classes) if _ranged(c)]
            count = " * ".join(f"(long long)({_extent(a, region.classes[a], ss.reach[a])})"
                               for a in ranged) or "1"
            lines = []
            for a, c in enumerate(region.classes):
                if not _ranged(c):
                    lines.append(f"const SG_INDEX i{a} = {_first(a, c, ss.reach[a])};")
            for j, a in enumerate(reversed(ranged)):
                c = region.classes[a]
                first = _first(a, c, ss.reach[a])
                ext = _extent(a, c, ss.reach[a])
                last = j == len(ranged) - 1
                pos = "r" if last else f"r % ({ext})"
                lines.append(f"const SG_INDEX i{a} = {first} + (SG_INDEX)({pos});" if first != "0"
                             else f"const SG_INDEX i{a} = (SG_INDEX)({pos});")
                if not last:
                    lines.append(f"r /= ({ext});")
            out.append((k, _label(region), count, lines))
        return out


_CALL = {"rhs": "t, y, p, out", "jvp": "t, y, p, v, out", "jtv": "t, y, p, v, out",
         "jac_values": "t, y, p, rowptr, out"}


def _decl(kind: str, T: str) -> str:
    """C parameter list of the ``kind`` kernels for float type ``T``."""
    mid = {"rhs": "", "jvp": f", const {T}* SG_RESTRICT v", "jtv": f", const {T}* SG_RESTRICT v",
           "jac_values": ", const long long* SG_RESTRICT rowptr"}[kind]
    return f"{T} t, const {T}* SG_RESTRICT y, const {T}* SG_RESTRICT p{mid}, {T}* SG_RESTRICT out"


def render_stencil_cu(model, dtype=None, header_name: str = "stencil.h") -> tuple:
    """``(cu_text, h_text)`` of the CUDA C stencil kernels of a compiled PDE model.
    ``dtype``: ``float32``, ``float64`` or ``None`` (both) picks the instantiated kernels."""
    from symgen import __version__
    ss = getattr(model, "stencil", None)
    if ss is None:
        raise BackendError("the CUDA C stencil export needs a PDE model (from sg.compile of a PDESystem)")
    if dtype is None:
        types = [_DTYPES["float32"], _DTYPES["float64"]]
    else:
        name = np.dtype(dtype).name
        if name not in _DTYPES:
            raise BackendError(f"CUDA C stencil export: dtype must be float32 or float64, got {name}")
        types = [_DTYPES[name]]
    em = _CEmitter(ss)
    nd = ss.ndim
    kinds = []
    for kind in KINDS:
        pts = [(k, _label(r), em.point(k, r, kind)) for k, r in enumerate(ss.regions)]
        kinds.append(dict(kind=kind, points=pts, decl=_decl(kind, "T"), call=_CALL[kind],
                          decl_by={ct: _decl(kind, ct) for _, ct in types}))
    ctx = dict(version=__version__, key=model.code_key, name=_comment(ss.name),
               fields=_comment(" ".join(ss.fields)), order=ss.order, np=len(ss.params), nd=nd,
               nf=ss.nfields, n=model.n, bulk=bulk_region(ss), bulk_at=em.bulk_at(),
               bulk_ext=em.bulk_extents(), edges=em.edge_regions(), kinds=kinds, types=types,
               ns=", ".join(f"n{a}" for a in range(nd)),
               ns_decl=", ".join(f"SG_INDEX n{a}" for a in range(nd)),
               tvs=["tx", "ty", "tz"][:nd], header=header_name, guard="SG_STENCIL_" + "".join(ch if ch.isalnum() else "_" for ch in str(model.code_key)[:16]).upper() + "_H",
               block={1: (256, 1, 1), 2: (32, 8, 1), 3: (32, 4, 2)}[nd])
    return (_ENV.get_template("cuda_stencil.cu.j2").render(**ctx),
            _ENV.get_template("cuda_stencil.h.j2").render(**ctx))


def export_stencil_cu(model, out_dir, dtype=None, stem: str = "stencil") -> dict:
    """Write ``<stem>.cu`` and ``<stem>.h`` (the CUDA C stencil kernels and host launch
    helpers of a compiled PDE model) into ``out_dir``; returns ``{"cu": path, "h": path}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not stem.replace("_", "").isalnum():
        raise BackendError(f"file stem must be letters, digits and underscores, got {stem!r}")
    cu, h = render_stencil_cu(model, dtype, header_name=f"{stem}.h")
    pcu, ph = out / f"{stem}.cu", out / f"{stem}.h"
    pcu.write_text(cu)
    ph.write_text(h)
    return {"cu": pcu, "h": ph}


def export_cuda_target(model_or_system, out, *, name=None, cache: bool = True) -> dict:
    """``sg.export(..., target="cuda")``: CUDA C source of a model, no GPU needed.

    A PDE model or system: ``<name>.cu`` and ``<name>.h`` (the stencil kernels and host
    launch helpers, :func:`export_stencil_cu`); an ODE model or system: ``<name>.cu`` (its
    device functions and ensemble solvers, :func:`.cexport.export_cuda_c`).
    """
    from symgen.aot.native import c_identifier
    from symgen.errors import ExportError
    from symgen.model import CompiledModel
    from symgen.pipeline import compile as sg_compile
    model = model_or_system
    if not (hasattr(model, "stencil") or isinstance(model, CompiledModel)):
        if not hasattr(model, "problem") and type(model).__name__ not in ("PDESystem", "Problem"):
            raise ExportError(f"export needs a system or a compiled model, got {type(model).__name__}")
        model = sg_compile(model_or_system, cache=cache)
    prefix = c_identifier(name if name is not None else getattr(model, "name", "model"))
    if name is not None and prefix != name:
        raise ExportError("export name must be a C identifier (letters, digits, _; not starting with sg_)",
                          symbol=repr(name))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "stencil"):
        files = export_stencil_cu(model, out, stem=prefix)
    else:
        from .cexport import export_cuda_c
        files = {"cu": out / f"{prefix}.cu"}
        export_cuda_c(model, files["cu"])
    return {"directory": out, **files, "model": model}
