"""Ahead-of-time export of a model to a standalone artifact (no symgen at run time).

``export(model_or_system, target="python"|"c", out=DIR)`` compiles the model with the
LLVM backend (or reuses that build), emits its kernels as a relocatable object file,
links them with symgen's C runtime (the Dormand-Prince and Radau steppers, ported from
the compiled drivers operation by operation) into ``lib<name>.so``, and writes a C
header, a ctypes/NumPy wrapper and ``manifest.json`` (model hash, names and order,
shapes, sparsity, target CPU, compiler flags, how to rebuild).  See
:mod:`symgen.aot.artifact` for the layout.
"""
from __future__ import annotations

import time

from ..errors import ExportError
from .artifact import TARGETS, write_artifact, write_numba_package
from .native import c_identifier

__all__ = ["export", "TARGETS", "FLAVOURS", "ExportResult", "llvm_model"]

#: python-target flavours: the native library (NumPy only) or Numba source (NumPy + Numba)
FLAVOURS = ("native", "numba")


class ExportResult(dict):
    """What :func:`export` wrote: ``directory``, ``library``, ``manifest``, ``timings``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def llvm_model(model_or_system, *, cache: bool = True):
    """The model compiled with the LLVM backend (``model_or_system`` itself when it is one)."""
    from ..model import CompiledModel
    from ..pipeline import compile as sg_compile
    if isinstance(model_or_system, CompiledModel):
        if model_or_system.manifest.get("backend") in ("llvm", "llvm-jit"):  # same IR
            return model_or_system
        return sg_compile(model_or_system.problem, backend="llvm", cache=cache)
    if not hasattr(model_or_system, "problem") and type(model_or_system).__name__ != "Problem":
        raise ExportError(f"export needs an ODESystem or a compiled model, got {type(model_or_system).__name__}")
    return sg_compile(model_or_system, backend="llvm", cache=cache)


def _target_machine(cpu: str, opt: int):
    """``(target machine, description)`` for the kernels' object code."""
    import llvmlite.binding as llvm

    from ..backends.llvm.backend import host as _host, target_machine as host_machine
    triple, host_cpu, host_features = _host()
    if cpu == "host":
        tm = host_machine(opt)
        name, features = host_cpu, host_features
    elif cpu == "generic":
        name = "x86-64" if triple.startswith(("x86_64", "amd64")) else "generic"
        features = ""
        tm = llvm.Target.from_triple(triple).create_target_machine(cpu=name, features=features, opt=opt,
                                                                   reloc="pic", codemodel="default")
    else:
        raise ExportError(f"unknown cpu {cpu!r}; choose 'host' or 'generic'")
    return tm, {"triple": triple, "cpu": name, "features": features, "data_layout": str(tm.target_data),
                "opt_level": opt, "reloc": "pic", "host_cpu": host_cpu}


def export(model_or_system, target: str = "python", out=".", *, name: str | None = None,
           command: str | None = None, cc: str = "cc", cache: bool = True, cpu: str = "host",
           flavour: str = "native") -> ExportResult:
    """Export a model as a standalone artifact.

    Parameters
    ----------
    model_or_system : CompiledModel or ODESystem
        The model (a model compiled with another backend is rebuilt with the LLVM
        backend: the artifact's kernels are LLVM object code).
    target : {"python", "c", "cuda"}
        ``python``: the package directory ``out/<name>/`` (``import <name>`` needs only
        NumPy); ``c``: ``lib<name>.so``, ``<name>.h``, ``<name>.py`` and ``manifest.json``
        in ``out``; ``cuda``: CUDA C source in ``out`` (``<name>.cu`` and ``<name>.h``
        with the stencil kernels of a PDE model, ``<name>.cu`` with the ensemble solvers
        of an ODE model; see :mod:`symgen.backends.cuda.stencil_cexport`).
    out : path
        Output directory (created).
    name : str, optional
        Name of the library, header and C functions (default: the model's name made a C
        identifier, ``model`` if it cannot be).
    command : str, optional
        The command that produced the export, recorded in the manifest (the CLI sets it).
    cc : str
        C compiler driver used to link.
    cpu : {"host", "generic"}
        Target of the kernels' machine code: this machine's CPU and features (as the
        in-process LLVM backend), or the baseline of the architecture (x86-64) for an
        artifact that runs on any machine of it.  Without fast-math the results are the
        same either way; only speed differs.
    flavour : {"native", "numba"}
        ``numba`` (python target only): ship the Numba backend's generated kernels and
        symgen's drivers as source instead of the native library (needs Numba at run
        time; JIT-compiled on first use, then cached next to the package).

    Returns
    -------
    ExportResult
        ``directory``, ``library``, ``manifest`` and ``timings`` (seconds).
    """
    from ..backends.llvm.backend import LLVMBackend, compile_module as _compile_module
    if target == "cuda":  # CUDA C source: PDE stencil kernels, or ODE ensemble solvers
        from ..backends.cuda.stencil_cexport import export_cuda_target
        t0 = time.perf_counter()
        res = export_cuda_target(model_or_system, out, name=name, cache=cache)
        return ExportResult(res, timings={"export": time.perf_counter() - t0})
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; choose one of {list(TARGETS)}")
    if flavour not in FLAVOURS or (flavour == "numba" and target != "python"):
        raise ExportError(f"unknown flavour {flavour!r} for target {target!r}; the python target takes "
                          f"{list(FLAVOURS)}, the c target only 'native'")
    timings = {}
    if flavour == "numba":
        return _export_numba(model_or_system, out, name, command, cache, timings)
    t0 = time.perf_counter()
    model = llvm_model(model_or_system, cache=cache)
    timings["compile"] = time.perf_counter() - t0
    source = model.irs["source"]
    prefix = c_identifier(name if name is not None else model.name)
    if name is not None and prefix != name:
        raise ExportError("export name must be a C identifier (letters, digits, _; not starting with sg_)",
                          symbol=repr(name))
    opt = LLVMBackend().opt_level
    tm, target_info = _target_machine(cpu, opt)
    t0 = time.perf_counter()
    mod = _compile_module(source.text, tm, opt, {})
    obj = tm.emit_object(mod)
    timings["kernels_object"] = time.perf_counter() - t0
    if command is None:
        command = (f"symgen.export(<model {model.key[:16]}>, target={target!r}, out=..., "
                   f"name={prefix!r})")
    res = write_artifact(model, source, target, out, prefix=prefix, object_code=obj,
                         target_info=target_info, command=command, cc=cc)
    timings["link"] = res.pop("build_seconds")
    return ExportResult(res, timings=timings, model=model)


def _export_numba(model_or_system, out, name, command, cache, timings) -> ExportResult:
    from ..model import CompiledModel
    from ..pipeline import compile as sg_compile
    t0 = time.perf_counter()
    if isinstance(model_or_system, CompiledModel):
        model = (model_or_system if model_or_system.manifest.get("backend") == "numba"
                 else sg_compile(model_or_system.problem, backend="numba", cache=cache))
    else:
        model = sg_compile(model_or_system, backend="numba", cache=cache)
    timings["compile"] = time.perf_counter() - t0
    prefix = c_identifier(name if name is not None else model.name)
    if name is not None and prefix != name:
        raise ExportError("export name must be an identifier (letters, digits, _; not starting with sg_)",
                          symbol=repr(name))
    if command is None:
        command = f"symgen.export(<model {model.key[:16]}>, target='python', flavour='numba', name={prefix!r})"
    res = write_numba_package(model, out, prefix=prefix, command=command)
    res.pop("build_seconds")
    return ExportResult(res, timings=timings, model=model)
