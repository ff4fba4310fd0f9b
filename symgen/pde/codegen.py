"""StencilSystem -> Numba source: one loop nest per region, never one line per point.

Grid sizes, extents and spacings are read at run time from the parameter array (the
*grid block* after the user parameters), so the generated source is the same for every
grid size and the build cost does not grow with it.  Kernels (all in one module):

* ``rhs`` / ``jac_values``: ``cfunc`` kernels with the drivers' ABI
  ``void(t, y*, p*, out*)``; ``jac_values`` writes the Jacobian values in the order of
  the static CSR pattern, whose row pointer it reads from the parameter array.  Each has
  a serial and a ``prange`` body; the wrapper takes the parallel one from
  :data:`PAR_MIN` grid values on (threads only pay on large grids).
* ``jtv``: ``void(t, y*, p*, v*, out*)``, ``out = J^T v`` (the transposed stencil:
  every point scatters its stencil row times ``v``); compiled on first request.
* ``dfdt`` / ``pjac``: drivers' ABI, ``df/dt`` (``n`` values) and ``df/dp`` (``n x
  len(params)``, row-major), from the point expressions differentiated by ``t`` / by
  each parameter once per region (boundary values included); compiled on first request.

The CSR pattern itself is built with NumPy from the same regions (:mod:`.pattern`).
"""
from __future__ import annotations

import jinja2
import sympy as sp

from ..backends.numba.printer import NumbaPrinter
from ..ir.source import Source
from ..passes.manager import timed_pass
from .ir import StencilSystem

__all__ = ["emit_stencil_module", "emit_pass", "StencilPrinter", "PAR_MIN", "PAR_MIN_RHS", "PAR_MIN_JAC"]

#: The wrappers use the multithreaded bodies from this many state values on.
PAR_MIN = 1 << 16
#: Per-kernel thresholds (state values) from which the ``prange`` body of the RHS / of
#: the Jacobian values kernel is used.  Measured by ``benchmarks/bench_pde_parallel.py``
#: on the 2-core development machine (2 threads): the RHS of the cheapest stencil (2D
#: heat, 1 field) gains from 65536 values on (0.84x the serial time there, 0.55x at 1M),
#: the Brusselator's from about 18k; the Jacobian values (more work per point) gain
#: from about 16k values on (0.86x at 16384, 0.54x at 256k).  Below, the start-up of
#: the threads costs more than the loop.
PAR_MIN_RHS = 1 << 16
PAR_MIN_JAC = 1 << 14

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgen.templates", "."),
                          keep_trailing_newline=True, autoescape=False,
                          undefined=jinja2.StrictUndefined)


def small_integer_power(printer, expr, one: str, most_negative: int = -4, least_negative: int = -1):
    """``b**e`` printed without a ``pow`` call when ``e`` is a small integer (products, or
    ``one`` over a product for ``most_negative <= e <= least_negative``); ``None``
    otherwise.  Shared by the stencil printers of every target (``one`` is the target's
    literal 1 of the right precision)."""
    b, e = expr.args
    if e.is_Integer and 2 <= int(e) <= 4:
        s = printer.parenthesize(b, 100)
        return "(" + "*".join([s] * int(e)) + ")"
    if e.is_Integer and most_negative <= int(e) <= least_negative:
        return f"({one}/({printer._print(b ** (-e))}))"
    return None


class StencilPrinter(NumbaPrinter):
    """NumbaPrinter with small integer powers as products (no ``pow`` calls in loops)."""

    def _print_Pow(self, expr, rational=False):
        s = small_integer_power(self, expr, "1.0")
        return s if s is not None else super()._print_Pow(expr, rational)


def _axis_index(a: int, cls, s: int, wrapped: dict) -> str:
    if s == 0:
        return f"i{a}"
    k = cls.kind
    if k == "pw":
        return wrapped[(a, s)]
    base = f"i{a} + {s}" if s > 0 else f"i{a} - {-s}"
    if k == "plo" and cls.q + s < 0:
        return f"{base} + n{a}"
    if k == "phi" and s > cls.q:
        return f"{base} - n{a}"
    return base


def _linear(idx: list, nf: int, f: int) -> str:
    e = idx[0]
    for a in range(1, len(idx)):
        e = f"({e})*n{a} + {idx[a]}"
    return f"({e})*{nf} + {f}" if nf > 1 else (f"{e}" if f == 0 else f"{e} + {f}")


class _Emitter:
    def __init__(self, ss: StencilSystem):
        self.ss = ss
        self.nd = ss.ndim
        self.nf = ss.nfields
        self.np = len(ss.params)
        self.refs = dict(ss.neighbors)
        # expressions use inverse spacings (products instead of divisions in the loops)
        self.inv = tuple(sp.Symbol(f"_G{a}", positive=True) for a in range(self.nd))
        self._to_inv = {h: 1 / g for h, g in zip(ss.spacings, self.inv)}

    def _loops(self, region, parallel: bool, offsets: set, coords: set, ind: str):
        """Loop headers (list of lines) and the body indentation for one region."""
        lines, pr_done = [], False
        ss = self.ss
        # threads only for the bulk (every axis a full range); bands stay serial
        parallel = parallel and all(c.kind in ("in", "pw") for c in region.classes)
        wrapped = {}
        for a, cls in enumerate(region.classes):
            R = ss.reach[a]
            k = cls.kind
            if k in ("in", "pw"):
                lo, hi = (f"{R}", f"n{a} - {R}") if k == "in" else ("0", f"n{a}")
                rng = "prange" if (parallel and not pr_done) else "range"
                pr_done = pr_done or parallel
                lines.append(f"{ind}for i{a} in {rng}({lo}, {hi}):")
                ind += "    "
            elif k == "lo":
                lines.append(f"{ind}i{a} = {cls.q - 1}")
            elif k == "hi":
                lines.append(f"{ind}i{a} = n{a} - {cls.q}")
            elif k == "plo":
                lines.append(f"{ind}i{a} = {cls.q}")
            elif k == "phi":
                lines.append(f"{ind}i{a} = n{a} - {cls.q + 1}")
            if a in coords:
                first = "0.0" if ss.axes[a][1] else "1.0"
                lines.append(f"{ind}x{a} = lo{a} + (i{a} + {first})*h{a}")
            if k == "pw":
                for s in sorted({o[a] for o in offsets if o[a] != 0}):
                    name = f"w{a}_{'m' if s < 0 else 'p'}{abs(s)}"
                    wrapped[(a, s)] = name
                    lines.append(f"{ind}{name} = (i{a} + {s}) % n{a}")
        return lines, ind, wrapped

    def _symbol_map(self, region, wrapped, temps, used) -> dict:
        ss = self.ss
        m = {ss.t: "t"}
        m.update({s: f"q{k}" for k, s in enumerate(ss.params)})
        m.update({x: f"x{a}" for a, x in enumerate(ss.coords)})
        m.update({h: f"h{a}" for a, h in enumerate(ss.spacings)})
        m.update({g: f"g{a}" for a, g in enumerate(self.inv)})
        for sym, ref in ss.neighbors:
            if sym not in used:
                continue
            idx = [_axis_index(a, c, ref.offset[a], wrapped) for a, c in enumerate(region.classes)]
            m[sym] = f"yv[{', '.join(idx)}, {ref.field}]"
        m.update({s: f"c{k}" for k, s in enumerate(temps)})
        return m

    def _row(self, f: int) -> str:
        return _linear([f"i{a}" for a in range(self.nd)], self.nf, f)

    def _col(self, region, ref, wrapped) -> str:
        idx = [_axis_index(a, c, ref.offset[a], wrapped) for a, c in enumerate(region.classes)]
        return ", ".join(idx) + f", {ref.field}"

    def _row_nd(self, f: int) -> str:
        return ", ".join(f"i{a}" for a in range(self.nd)) + f", {f}"

    def region_code(self, region, kind: str, parallel: bool, ind: str) -> list:
        ps = region.points
        if kind == "rhs":
            exprs = [p.expr for p in ps]
        elif kind == "dfdt":   # explicit time derivative of the point expression
            exprs = [sp.diff(p.expr, self.ss.t) for p in ps]
        elif kind == "pjac":   # one row of df/dp per point and field
            exprs = [sp.diff(p.expr, q) for p in ps for q in self.ss.params]
        else:
            exprs = [e.expr for p in ps for e in p.jac]
        exprs = [e.xreplace(self._to_inv) for e in exprs]
        syms = set().union(*[e.free_symbols for e in exprs]) if exprs else set()
        offsets = {self.refs[s].offset for s in syms if s in self.refs}
        if kind == "jtv":
            offsets |= {e.ref.offset for p in ps for e in p.jac}
        coords = {a for a, x in enumerate(self.ss.coords) if x in syms}
        lines, bind, wrapped = self._loops(region, parallel, offsets, coords, ind)
        red, pr = exprs, None
        if exprs:
            temps_sym = sp.numbered_symbols("_T")
            repl, red = sp.cse(exprs, symbols=temps_sym, optimizations=None, order="none")
            temps = [s for s, _ in repl]
            pr = StencilPrinter(self._symbol_map(region, wrapped, temps, syms))
            for k, (_, e) in enumerate(repl):
                lines.append(f"{bind}c{k} = {pr.doprint(e)}")
        pos = 0
        for p in ps:
            row = self._row(p.field)
            if kind in ("rhs", "dfdt"):
                lines.append(f"{bind}ov[{self._row_nd(p.field)}] = {pr.doprint(red[pos])}")
                pos += 1
            elif kind == "pjac":
                for j in range(self.np):
                    lines.append(f"{bind}pv[{self._row_nd(p.field)}, {j}] = {pr.doprint(red[pos])}")
                    pos += 1
            elif kind == "jacv":
                lines.append(f"{bind}k = int(p[IP + {row}])")
                for j in range(len(p.jac)):
                    lines.append(f"{bind}out[k + {j}] = {pr.doprint(red[pos])}")
                    pos += 1
            elif kind == "jtv":
                lines.append(f"{bind}vr = v[{row}]")
                for e in p.jac:
                    lines.append(f"{bind}ov[{self._col(region, e.ref, wrapped)}] += ({pr.doprint(red[pos])})*vr")
                    pos += 1
        return lines

    def function(self, name: str, kind: str, args: str, parallel: bool) -> str:
        head = "@njit(cache=True, error_model=\"numpy\", parallel=True)" if parallel else \
            "@njit(cache=True, error_model=\"numpy\")"
        lines = [head, f"def {name}({args}):"]
        for a in range(self.nd):
            lines.append(f"    n{a} = int(p[NP + {3 * a}])")
            lines.append(f"    lo{a} = p[NP + {3 * a + 1}]")
            lines.append(f"    h{a} = p[NP + {3 * a + 2}]")
            lines.append(f"    g{a} = 1.0/h{a}")
        for k in range(self.np):  # parameters as locals: loaded once, not once per point
            lines.append(f"    q{k} = p[{k}]")
        # N-d views: indices the compiler can prove in bounds (no wraparound tests in loops)
        shape = "(" + ", ".join(f"n{a}" for a in range(self.nd)) + f", {self.nf})"
        lines.append(f"    yv = y.reshape({shape})")
        if kind in ("rhs", "jtv", "dfdt"):
            lines.append(f"    ov = out.reshape({shape})")
        if kind == "pjac":
            if self.np == 0:  # no parameters: df/dp has no columns
                return "\n".join(lines[:2] + ["    return"])
            lines.append(f"    pv = out.reshape({shape[:-1]}, {self.np}))")
        for region in self.ss.regions:
            cls = ", ".join(f"{c.kind}{c.q if c.kind not in ('in', 'pw') else ''}" for c in region.classes)
            lines.append(f"    # region ({cls})")
            lines += self.region_code(region, kind, parallel, "    ")
        return "\n".join(lines)


def _comment(text: str) -> str:
    """A user-given name, safe inside a comment."""
    return "".join(ch if ch.isalnum() or ch in " _-." else "_" for ch in str(text))[:80]


def emit_stencil_module(ss: StencilSystem, key: str, version: str) -> Source:
    """The module source of every kernel of ``ss`` (identical for every grid size)."""
    em = _Emitter(ss)
    funcs = [
        ("_rhs_serial", em.function("_rhs_serial", "rhs", "t, y, p, out", False)),
        ("_rhs_parallel", em.function("_rhs_parallel", "rhs", "t, y, p, out", True)),
        ("_jacv_serial", em.function("_jacv_serial", "jacv", "t, y, p, out", False)),
        ("_jacv_parallel", em.function("_jacv_parallel", "jacv", "t, y, p, out", True)),
        ("_jtv", em.function("_jtv", "jtv", "t, y, p, v, out", False)),
        ("_dfdt", em.function("_dfdt", "dfdt", "t, y, p, out", False)),
        ("_pjac", em.function("_pjac", "pjac", "t, y, p, out", False)),
    ]
    text = _ENV.get_template("pde_module.py.j2").render(
        version=version, key=key, name=_comment(ss.name), fields=_comment(" ".join(ss.fields)),
        order=ss.order, nparams=em.np, ndim=em.nd, nfields=em.nf, par_min=PAR_MIN,
        par_min_rhs=PAR_MIN_RHS, par_min_jac=PAR_MIN_JAC,
        functions=[f for _, f in funcs])
    return Source("numba-stencil", key, text, tuple(funcs))


@timed_pass("emit")
def emit_pass(ss: StencilSystem, ctx) -> Source:
    """Pipeline pass: :func:`emit_stencil_module` with the key and version from ``ctx``."""
    return emit_stencil_module(ss, ctx.options["key"], ctx.options["version"])
