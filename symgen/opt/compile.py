"""compile_opt: the optimization pipeline, one straight line.

    declare  OptModel -> OptIR          (families of templates; no SymPy work per element)
    derive   OptIR    -> OptSystem      (template derivatives; sparse patterns by NumPy)
    emit     OptSystem -> module text   (five Numba loop kernels)
    build    text     -> cfuncs         (content-hash disk cache; Numba's cache inside)
    assemble          -> CompiledOpt    (.minimize, scipy adapters)

A warm start (same structure, any sizes of data) skips derivation and code generation:
the manifest keeps which slots and slot pairs have nonzero derivatives, all the sparse
patterns are generated from.
"""
from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path


from .. import __version__
from ..cache import _generator_fingerprint, entry_dir, read_manifest, write_manifest
from ..ir.source import Source
from .derive import derive_opt, patterns, structure_of
from .emit import KERNEL_NAMES, emit_opt
from .model import CompiledOpt

__all__ = ["compile_opt", "opt_key"]


@functools.lru_cache(maxsize=1)
def _opt_fingerprint() -> str:
    h = hashlib.sha256(_generator_fingerprint().encode())
    here = Path(__file__).resolve().parent
    for name in ("ir.py", "declare.py", "derive.py", "emit.py", "emit_llvm.py", "compile.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def opt_key(ir, backend: str = "llvm") -> str:
    """Content hash of the kernel-shaping structure of ``ir``, the backend and the
    generators."""
    h = hashlib.sha256(_opt_fingerprint().encode())
    h.update(backend.encode())
    h.update(ir.structure_key().encode())
    return "opt-" + h.hexdigest()[:40]


def _load(text: str, key: str, directory: Path | None):
    from ..backends.numba.backend import NumbaBackend
    if directory is None:
        import tempfile
        directory = Path(tempfile.mkdtemp(prefix="symgen-opt-"))
    return NumbaBackend().build(Source("numba", key, text, ()), directory)


class LazyKernels(dict):
    """``{name: cfunc}`` compiled on first access (a solver that needs no constraints
    or Hessian never pays for compiling them)."""

    def __init__(self, module):
        super().__init__()
        self._module = module

    def __missing__(self, name):
        if name not in KERNEL_NAMES:
            raise KeyError(name)
        k = self._module.kernel(name)
        self[name] = k
        return k


BACKENDS = ("auto", "llvm", "numba", "tape")
TAPE_MAX_SIZE = 1000       # "auto": problems with n + m up to this run on a tape


def compile_opt(model, *, cache: bool = True, allow_nonsmooth: bool = False,
                backend: str = "auto") -> CompiledOpt:
    """Run the pipeline on ``model`` (an :class:`~symgen.opt.dsl.OptModel`).

    ``backend="llvm"``: LLVM IR through llvmlite, a cached shared library (milliseconds
    to build); ``"numba"``: Numba ``cfunc`` kernels compiled on first use; ``"tape"``:
    the kernels as expression tapes run by a precompiled evaluator (nothing compiled
    per problem; :mod:`symgen.opt.tape`); ``"auto"`` (default): ``"tape"`` when
    ``n + m <= TAPE_MAX_SIZE`` and every function has a tape instruction, else ``"llvm"``.
    """
    if backend not in BACKENDS:
        from ..errors import BackendError
        raise BackendError(f"unknown optimization backend {backend!r}; choose one of {list(BACKENDS)}")
    timings = {}
    t0 = time.perf_counter()
    ir = model.declare(allow_nonsmooth=allow_nonsmooth)
    timings["declare"] = time.perf_counter() - t0
    if backend in ("auto", "tape"):
        out = _compile_tape(ir, cache, timings, t0, strict=backend == "tape")
        if out is not None:
            return out
        backend = "llvm"
    key = opt_key(ir, backend)
    manifest = read_manifest(key) if cache else None
    text_path = entry_dir(key) / ("kernels.py" if backend == "numba" else "kernels.ll")
    if manifest is not None and text_path.exists():
        t1 = time.perf_counter()
        pats = patterns(ir, manifest["structure"])
        sizes = manifest["sizes"]
        text = text_path.read_text()
        timings["patterns"] = time.perf_counter() - t1
        cached = True
    else:
        t1 = time.perf_counter()
        system = derive_opt(ir)
        timings["derive"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        if backend == "numba":
            text, sizes = emit_opt(system, key, __version__)
        else:
            from .emit_llvm import emit_llvm
            text, sizes = emit_llvm(system, key, __version__)
        timings["emit"] = time.perf_counter() - t1
        pats = (system.jac_ptr, system.jac_idx, system.jac_map, system.hess_ptr, system.hess_idx,
                system.hess_map, system.hess_w)
        manifest = {"structure": structure_of(system.objective + system.constraints),
                    "sizes": sizes, "name": ir.name}
        cached = False
    t1 = time.perf_counter()
    if backend == "numba":
        kernels = LazyKernels(_load(text, key, entry_dir(key) if cache else None))
    else:
        from .emit_llvm import build_llvm
        d = entry_dir(key) if cache else None
        if d is not None:
            d.mkdir(parents=True, exist_ok=True)
            if not text_path.exists():
                text_path.write_text(text)
        kernels = build_llvm(text, key, d)
    timings["build"] = time.perf_counter() - t1
    if cache and not cached:
        write_manifest(key, manifest)
    timings["total"] = time.perf_counter() - t0
    out = CompiledOpt(ir, key, kernels, sizes, pats, text, timings, cached)
    out.cached_dir = entry_dir(key) if cache else None
    out.backend = backend
    return out


def _compile_tape(ir, cache, timings, t0, strict):
    """The tape path of :func:`compile_opt`; ``None`` when ``"auto"`` should fall back
    to generated code (problem too large, or a function without a tape instruction)."""
    import numpy as np

    from .tape import TapeUnsupported, build_tape, disassemble
    if not strict and ir.n + ir.m > TAPE_MAX_SIZE:
        return None
    key = opt_key(ir, "tape")
    manifest = read_manifest(key) if cache else None
    path = entry_dir(key) / "tape.npy"
    tape = None
    if manifest is not None and path.exists():
        t1 = time.perf_counter()
        try:
            tape = np.load(path)
            pats = patterns(ir, manifest["structure"])
        except (OSError, ValueError):
            tape = None
        timings["patterns"] = time.perf_counter() - t1
    cached = tape is not None
    if tape is None:
        t1 = time.perf_counter()
        system = derive_opt(ir)
        timings["derive"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        try:
            tape = build_tape(system)
        except TapeUnsupported as exc:
            if strict:
                from ..errors import BackendError
                raise BackendError(f"the tape backend cannot evaluate this problem: {exc}") from None
            return None
        timings["emit"] = time.perf_counter() - t1
        pats = (system.jac_ptr, system.jac_idx, system.jac_map, system.hess_ptr, system.hess_idx,
                system.hess_map, system.hess_w)
        if cache:
            d = entry_dir(key)
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / "tape.tmp.npy"
            np.save(tmp, tape)
            tmp.replace(path)
            write_manifest(key, {"structure": structure_of(system.objective + system.constraints),
                                 "name": ir.name})
    t1 = time.perf_counter()
    from .drivers.tape_eval import tape_kernels
    kernels = tape_kernels()
    timings["build"] = time.perf_counter() - t1
    sizes = {name: int(tape[int(tape[1 + k])]) for k, name in enumerate(KERNEL_NAMES)}
    timings["total"] = time.perf_counter() - t0
    out = CompiledOpt(ir, key, kernels, sizes, pats, lambda: disassemble(tape), timings, cached)
    out.p_prefix = tape
    out.cached_dir = entry_dir(key) if cache else None
    out.backend = "tape"
    return out
