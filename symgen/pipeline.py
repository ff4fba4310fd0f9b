"""The pipeline: one straight line, one IR type per arrow.

::

    declare   user objects -> Problem
    simplify  Problem      -> Problem    (rewrite rules in phases, cost model)
    derive    Problem      -> System     (sparse Jacobian, df/dp, df/dt)
    lower     System       -> KernelSet  (CSE, power lowering)
    emit      KernelSet    -> Source     (printer + Jinja2 scaffold)
    build     Source       -> module     (Numba, content-hash disk cache)
    assemble  module       -> CompiledModel
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .backends import get_backend
from .cache import entry_dir, model_key, read_manifest, write_manifest
from .ir.source import Source, SourceFile
from .passes.manager import PassContext
from .passes.stages import (build_pass, declare_pass, derive_pass, emit_pass, lower_pass,
                            simplify_pass)

__all__ = ["PipelineResult", "run_pipeline", "compile", "load_compiled"]

#: options that change generated code (and therefore the cache key)
_CODE_OPTIONS = ("backend", "phases", "disable", "sensitivities")


@dataclass
class PipelineResult:
    """Every intermediate of one pipeline run."""

    irs: dict
    module: object
    key: str
    timings: dict
    notes: dict = field(default_factory=dict)


def _options(backend: str, options: dict) -> dict:
    opts = {"backend": backend, **options}
    if not opts.get("sensitivities", True):  # sensitivities=False is the default build
        del opts["sensitivities"]
    return {k: opts[k] for k in _CODE_OPTIONS if k in opts}


def run_pipeline(system, *, backend: str = "numba", **options) -> PipelineResult:
    """Run every stage on ``system`` (an ``ODESystem`` or a ``Problem``)."""
    from .progress import Progress, enabled
    ctx = PassContext.from_env(_options(backend, options))
    problem = declare_pass(system, ctx)
    ctx.progress = Progress(f"compiling {problem.name}", enabled(options.get("progress")))
    key = model_key(problem, ctx.options)
    ctx.options.update(key=key, directory=str(entry_dir(key)), backend_obj=get_backend(backend))
    simplified = simplify_pass(problem, ctx)
    derived = derive_pass(simplified, ctx)
    kernels = lower_pass(derived, ctx)
    source = emit_pass(kernels, ctx)
    module = build_pass(source, ctx)
    irs = {"problem": problem, "simplified": simplified, "system": derived, "kernels": kernels,
           "source": source}
    return PipelineResult(irs, module, key, dict(ctx.timings), dict(ctx.notes))


def _manifest(res: PipelineResult, backend: str) -> dict:
    from . import __version__
    pb, sysir, src = res.irs["problem"], res.irs["system"], res.irs["source"]
    return {
        "key": res.key, "name": pb.name, "backend": backend, "symgen_version": __version__,
        "states": [str(s) for s in pb.states], "params": [str(s) for s in pb.params],
        "observed": [name for name, _ in pb.observed],
        "jac": {"shape": [sysir.jac.nrows, sysir.jac.ncols], "indptr": list(sysir.jac.indptr),
                "indices": list(sysir.jac.indices)},
        "pjac": {"shape": [sysir.pjac.nrows, sysir.pjac.ncols], "indptr": list(sysir.pjac.indptr),
                 "indices": list(sysir.pjac.indices)},
        "timings": res.timings, "notes": res.notes,
        "kernels": _kernel_spans(src),
        "library": getattr(res.module, "library_info", lambda: None)(),
    }


def _kernel_spans(src: Source) -> dict:
    """Each kernel's source as ``[start, end]`` in the module text when it is a slice of
    it (no second copy of a large module in the manifest), else as text."""
    out, pos = {}, 0
    for name, text in src.kernels:
        i = src.text.find(text, pos)
        if i < 0:
            i = src.text.find(text)
        out[name] = [i, i + len(text)] if i >= 0 else text
        pos = max(pos, i + len(text)) if i >= 0 else pos
    return out


def _kernel_sources(text: str, spans: dict) -> tuple:
    return tuple((name, text[v[0]:v[1]] if isinstance(v, list) else v) for name, v in spans.items())


def compile(system, *, backend: str = "numba", cache: bool = True, **options):
    """Compile a model ahead of time (or load it from the disk cache).

    Parameters
    ----------
    system : ODESystem
        The declared model.
    backend : str
        A name registered in ``symgen.backends.BACKENDS``.
    cache : bool
        Reuse a cached build of the same model and options (a second process then
        compiles nothing).
    **options
        ``phases`` (rewrite phases), ``disable`` (pass names to skip), ``progress``
        (report the stages on stderr; default: on in an interactive terminal outside CI,
        ``SYMGEN_PROGRESS=0/1`` overrides), ``sensitivities=True`` (also the JVP/VJP
        kernels ``jvp``, ``vjp``, ``pvjp`` that :mod:`symgen.sensitivity` needs).

    Returns
    -------
    CompiledModel
    """
    from .model import CompiledModel
    if getattr(system, "is_pde", False) and backend == "cuda":  # CPU loop nests + CUDA stencils
        from .backends.cuda.stencil import compile_pde_cuda
        return compile_pde_cuda(system, cache=cache, **options)
    if getattr(system, "is_pde", False):  # PDEs on grids: stencil pipeline (symgen.pde)
        from .pde.build import compile_pde
        return compile_pde(system, backend=backend, cache=cache, **options)
    t0 = time.perf_counter()
    opts = _options(backend, options)
    ctx = PassContext.from_env(opts)
    problem = declare_pass(system, ctx)
    key = model_key(problem, opts)
    if cache:
        model = load_compiled(problem, key, backend, t0=t0)
        if model is not None:
            return model
    res = run_pipeline(problem, backend=backend, **options)
    manifest = _manifest(res, backend)
    write_manifest(key, manifest)
    return CompiledModel(problem, res.module, manifest, res.irs, cached=False,
                         load_seconds=time.perf_counter() - t0)


def load_compiled(problem, key: str, backend: str, *, t0: float | None = None):
    """The cached build ``key`` as a CompiledModel of ``problem``, or None if not cached.

    ``problem`` supplies the names (states, parameters, observables, defaults); its
    expressions are not used, so an importer that knows the key can pass a problem
    without right-hand sides and skip building them (see ``symgen.io.compile_bionetgen``).
    """
    from .model import CompiledModel
    t0 = time.perf_counter() if t0 is None else t0
    manifest = read_manifest(key)
    backend_obj = get_backend(backend)
    src_path = entry_dir(key) / ("kernels" + getattr(backend_obj, "extension", ".py"))
    if manifest is None or not src_path.exists():
        return None
    info, loader = manifest.get("library"), getattr(backend_obj, "load", None)
    module = loader(entry_dir(key), info) if (info and loader) else None
    if module is not None:   # the compiled library as it is: the generated text stays on disk
        src = SourceFile(backend, key, src_path, manifest["kernels"])
    else:
        text = src_path.read_text()
        src = Source(backend, key, text, _kernel_sources(text, manifest["kernels"]))
        module = backend_obj.build(src, Path(entry_dir(key)))
    irs = {"problem": problem, "source": src}
    return CompiledModel(problem, module, manifest, irs, cached=True, load_seconds=time.perf_counter() - t0)
