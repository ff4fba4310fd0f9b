"""Numba backend: KernelSet -> module of ``@cfunc`` kernels -> compiled function pointers."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import jinja2

from symgen.ir.kernels import RESIDUAL_ARGS, VECTOR_ARGS, KernelSet
from symgen.ir.source import Source

from .printer import NumbaPrinter

__all__ = ["NumbaBackend"]

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgen.templates", "."),
                          keep_trailing_newline=True, autoescape=False,
                          undefined=jinja2.StrictUndefined)


def _symbol_map(kset: KernelSet, kernel) -> dict:
    pb = kset.problem
    m = {pb.t: "t"}
    m.update({s: f"y[{i}]" for i, s in enumerate(pb.states)})
    m.update({s: f"p[{i}]" for i, s in enumerate(pb.params)})
    m.update({s: f"yp[{i}]" for i, s in enumerate(kset.yp_symbols)})
    m.update({s: f"v[{i}]" for i, s in enumerate(kset.v_symbols)})
    m.update({a.target: f"c{i}" for i, a in enumerate(kernel.body)})
    return m


class NumbaBackend:
    """Emit Numba ``cfunc`` kernels with the drivers' C signature and compile them."""

    name = "numba"
    extension = ".py"

    def emit(self, kset: KernelSet, key: str, version: str) -> Source:
        views = []
        for k in kset.kernels:
            pr = NumbaPrinter(_symbol_map(kset, k))
            lines = [f"c{i} = {pr.doprint(a.expr)}" for i, a in enumerate(k.body)]
            lines += [f"out[{i}] = {pr.doprint(e)}" for i, e in k.outputs]
            views.append(SimpleNamespace(
                name=k.name, args=k.args, lines=lines, zero_fill=k.zero_fill, out_size=k.out_size,
                n_outputs=len(k.outputs), n_temps=len(k.body),
                signature="SIG_RESIDUAL" if k.args in (RESIDUAL_ARGS, VECTOR_ARGS) else "SIG"))
        text = _ENV.get_template("numba_module.py.j2").render(kernels=views, key=key, version=version)
        parts = text.split("\n\n\n# kernel ")
        per_kernel = tuple((v.name, "# kernel " + part) for v, part in zip(views, parts[1:]))
        return Source(self.name, key, text, per_kernel)

    def build(self, source: Source, directory: Path):
        """Write the module into ``directory`` (once) and import it; Numba's own cache
        next to the file makes a second process load machine code instead of compiling."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "kernels.py"
        if not path.exists() or path.read_text() != source.text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(source.text)
            tmp.replace(path)
        modname = f"_symgen_kernels_{source.key[:24]}"
        if modname in sys.modules:
            return sys.modules[modname]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
        return mod
