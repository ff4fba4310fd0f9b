"""The PDE pipeline: declare -> discretize -> emit -> build -> assemble.

::

    PDESystem --discretize--> StencilSystem --emit--> Source --build--> module --> PDEModel

The cache key hashes the emitted source (which does not depend on grid sizes) with the
generator fingerprint, so one build serves every grid size of a model.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
import uuid
from types import SimpleNamespace
from pathlib import Path

from ..backends.numba.backend import NumbaBackend
from ..cache import _generator_fingerprint, entry_dir
from ..errors import ModelError
from ..ir.source import Source
from ..passes.manager import PassContext
from .codegen import emit_stencil_module
from .discretize import discretize_pass
from .system import PDESystem

__all__ = ["compile_pde", "pde_key"]

_KEY_PLACEHOLDER = "{{symgen-key}}"


def _pde_fingerprint() -> str:
    h = hashlib.sha256(_generator_fingerprint().encode())
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def pde_key(text: str) -> str:
    """Content hash of an emitted module (with the key placeholder) and the generators."""
    return hashlib.sha256((_pde_fingerprint() + "|" + text).encode()).hexdigest()


def compile_pde(system: PDESystem, *, order: int = 2, cache: bool = True, backend: str = "numba",
                parallel: bool = False, **options):
    """Discretize and compile a :class:`PDESystem` (see :func:`symgen.compile`).

    Parameters
    ----------
    order : int
        Accuracy order of the finite differences (2 or 4).
    cache : bool
        Reuse the compiled module of an identical model (any grid size).  ``False``
        builds in a fresh temporary directory (cold compile, for measurements).
    parallel : bool
        Use the multithreaded (``prange``) kernel bodies for grids of at least
        ``symgen.pde.codegen.PAR_MIN`` state values (serial below).  They are in the
        generated module either way but compiled only when asked for (a parallel body
        costs several seconds of Numba compilation and pays only on large grids).
    """
    from .model import PDEModel
    from .. import __version__
    if not isinstance(system, PDESystem):
        raise ModelError(f"compile_pde needs a PDESystem, got {type(system).__name__}")
    if backend != "numba":
        raise ModelError(f"PDE models compile with the numba stencil backend only, not {backend!r}")
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
    kernels = SimpleNamespace(rhs=module.rhs, jac_values=module.jac_values, jtv_kernel=module.jtv_kernel,
                              module=module, jac=None)
    if parallel:
        kernels.rhs, kernels.jac_values = module.parallel_kernels()
    ctx.timings["build"] = time.perf_counter() - t2
    return PDEModel(system, ss, src, kernels, key, dict(ctx.timings), cached=cached,
                    load_seconds=time.perf_counter() - t0)
