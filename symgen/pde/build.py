"""The PDE pipeline: declare -> discretize -> emit -> build -> assemble.

::

    PDESystem --discretize--> StencilSystem --emit--> Source --build--> module --> PDEModel

The cache key hashes the emitted source (which does not depend on grid sizes) with the
generator fingerprint, so one build serves every grid size of a model.
"""
from __future__ import annotations

import hashlib
import math
import tempfile
import time
import uuid
from pathlib import Path

from ..backends.numba.backend import NumbaBackend
from ..cache import _generator_fingerprint, entry_dir
from ..errors import ModelError
from ..ir.source import Source
from ..passes.manager import PassContext
from .codegen import emit_stencil_module
from .discretize import discretize_pass
from .system import PDESystem

__all__ = ["compile_pde", "pde_key", "StencilKernels", "pde_manifest"]

_KEY_PLACEHOLDER = "{{symgen-key}}"


def _pde_fingerprint() -> str:
    h = hashlib.sha256(_generator_fingerprint().encode())
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def pde_key(text: str) -> str:
    """Content hash of an emitted module (with the key placeholder) and the generators."""
    return hashlib.sha256((_pde_fingerprint() + "|" + text).encode()).hexdigest()


class StencilKernels:
    """The kernels of a compiled PDE model on its grid.

    ``rhs`` and ``jac_values`` are the serial cfuncs, or (``parallel="auto"`` on a grid
    of at least ``PAR_MIN_RHS`` / ``PAR_MIN_JAC`` state values, or ``parallel=True``)
    the cfuncs with ``prange`` bodies, compiled on first access: a model whose grid is
    too small for threads to pay never compiles them, and the serial pipeline time
    stays the same for every grid size (the parallel compile time is recorded in
    ``timings`` as ``build_parallel_rhs`` / ``build_parallel_jac``).
    """

    def __init__(self, module, n: int, parallel, timings: dict):
        from .codegen import PAR_MIN_JAC, PAR_MIN_RHS
        if parallel not in (True, False, "auto"):
            raise ModelError(f"parallel must be True, False or 'auto', got {parallel!r}")
        self.module = module
        self.jac = None
        self.jtv_kernel = module.jtv_kernel
        self.parallel = parallel
        self._timings = timings
        if parallel == "auto":  # one thread (NUMBA_NUM_THREADS=1): the prange bodies cannot pay
            from numba import config
            threads = int(config.NUMBA_NUM_THREADS) >= 2
        else:
            threads = True
        self._use = {"rhs": parallel is True or (parallel == "auto" and threads and n >= PAR_MIN_RHS),
                     "jac": parallel is True or (parallel == "auto" and threads and n >= PAR_MIN_JAC)}
        self._chosen = {}

    def _pick(self, name, serial, compile_parallel):
        k = self._chosen.get(name)
        if k is None:
            if self._use[name]:
                t0 = time.perf_counter()
                k = compile_parallel()
                self._timings["build_parallel_" + name] = time.perf_counter() - t0
            else:
                k = serial
            self._chosen[name] = k
        return k

    @property
    def rhs(self):
        return self._pick("rhs", self.module.rhs, self.module.parallel_rhs)

    @property
    def jac_values(self):
        return self._pick("jac", self.module.jac_values, self.module.parallel_jac)

    def uses_threads(self) -> dict:
        """``{"rhs": bool, "jac": bool}``: which kernels take the ``prange`` bodies."""
        return dict(self._use)


def compile_pde(system: PDESystem, *, order: int = 2, cache: bool = True, backend: str = "numba",
                parallel="auto", **options):
    """Discretize and compile a :class:`PDESystem` (see :func:`symgen.compile`).

    Parameters
    ----------
    order : int
        Accuracy order of the finite differences (2 or 4).
    cache : bool
        Reuse the compiled module of an identical model (any grid size).  ``False``
        builds in a fresh temporary directory (cold compile, for measurements).
    parallel : ``"auto"``, bool
        ``"auto"`` (default): per kernel, the multithreaded (``prange``) body when the
        grid has at least ``symgen.pde.codegen.PAR_MIN_RHS`` (RHS) /
        ``PAR_MIN_JAC`` (Jacobian values) state values, the serial one below (thresholds
        measured by ``benchmarks/bench_pde_parallel.py``).  ``True``: the ``prange``
        wrappers for any grid (they still run serially below the thresholds);
        ``False``: serial only.  The parallel bodies are in the generated module either
        way but compiled only on first use (a few seconds of Numba compilation).
    """
    from .model import PDEModel
    from .. import __version__
    if not isinstance(system, PDESystem):
        raise ModelError(f"compile_pde needs a PDESystem, got {type(system).__name__}")
    if backend != "numba":
        raise ModelError(f"PDE models compile with the numba stencil backend only, not {backend!r}")
    if parallel not in (True, False, "auto"):
        raise ModelError(f"parallel must be True, False or 'auto', got {parallel!r}")
    t0 = time.perf_counter()
    ctx = PassContext.from_env({"order": int(order), **options})
    ss = discretize_pass(system, ctx)
    t1 = time.perf_counter()
    src = emit_stencil_module(ss, _KEY_PLACEHOLDER, __version__)
    key = pde_key(src.text)
    if not cache:
        key = uuid.uuid4().hex[:24] + key[:40]  # the module name (first 24) must be new too
    text = src.text.replace(_KEY_PLACEHOLDER, key)
    src = Source(src.backend, key, text, src.kernels)
    ctx.timings["emit"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    directory = entry_dir(key) if cache else Path(tempfile.mkdtemp(prefix="symgen_pde_"))
    cached = cache and (directory / "kernels.py").exists()
    module = NumbaBackend().build(src, directory)
    ctx.timings["build"] = time.perf_counter() - t2
    n = len(system.fields) * math.prod(a.n_unknown for a in system.grid.axes)
    timings = dict(ctx.timings)
    kernels = StencilKernels(module, n, parallel, timings)
    model = PDEModel(system, ss, src, kernels, key, timings, cached=cached,
                     load_seconds=time.perf_counter() - t0)
    info = pde_manifest(model, backend)
    model.manifest.update(info)  # the same timings dict stays in place
    if not (directory / "manifest.json").exists():
        _write_json(directory / "manifest.json", {**info, "timings": timings})
    return model


def pde_manifest(model, backend: str = "numba") -> dict:
    """What a PDE build records next to its kernels (``manifest.json`` in the cache
    entry, like ODE builds): names, grid, stencil summary, content hash.  The compiled
    module serves every grid size; ``grid`` is the one it was first built for."""
    from .. import __version__
    ss, g = model.stencil, model.grid
    inner = next((r for r in ss.regions if all(c.kind in ("in", "pw") for c in r.classes)), ss.regions[0])
    return {
        "key": model.code_key, "kind": "pde", "name": model.name, "backend": backend,
        "generator": "numba-stencil", "symgen_version": __version__,
        "fields": [str(f) for f in model.fields], "params": [str(q) for q in model.params],
        "grid": [{"axis": a.name, "lo": a.lo, "hi": a.hi, "nodes": a.n, "unknown_nodes": a.n_unknown,
                  "periodic": a.periodic} for a in g.axes],
        "grid_independent": True,
        "states": model.n,
        "stencil": {
            "order": ss.order, "reach": list(ss.reach), "span": list(ss.span), "regions": len(ss.regions),
            "interior_points": [{"field": ss.fields[p.field], "neighbors": len(p.jac),
                                 "offsets": sorted({tuple(e.ref.offset) for e in p.jac})} for p in inner.points],
            "region_classes": [[f"{c.kind}{c.q if c.kind not in ('in', 'pw') else ''}" for c in r.classes]
                               for r in ss.regions],
        },
        "bcs": [bc.describe() for bc in model.system.bcs],
        "kernels": [name for name, _ in model._source.kernels],
        "source_chars": len(model._source.text),
    }


def _write_json(path: Path, data: dict) -> None:
    import json
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    tmp.replace(path)
