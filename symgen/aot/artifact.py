"""Write an exported artifact: native library, header, ctypes wrapper, manifest.

Layout of ``target="c"`` (everything in ``out``)::

    lib<name>.so  <name>.h  symgen_rt.h  <name>.py (ctypes wrapper)  manifest.json
    src/  kernels.ll kernels.o <name>_model.c radau5_constants.h runtime sources build.sh

``target="python"`` writes the same files into the package directory ``out/<name>/``
with ``__init__.py`` (the model's functions at module level) and ``_runtime.py`` (the
ctypes wrapper) instead of ``<name>.py``: ``import <name>`` needs only NumPy.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from pathlib import Path

from ..errors import ExportError
from . import native

__all__ = ["TARGETS", "write_artifact", "PACKAGE_INIT", "model_fields", "solver_fields", "prepare_root",
           "package_init", "write_numba_package", "DRIVER_SOURCES"]

TARGETS = ("python", "c")

#: ``__init__.py`` of a python-target package (the same text for every model)
PACKAGE_INIT = '''"""Standalone model exported by symgen (needs only NumPy): see manifest.json.

Functions: rhs, jac, jac_values, pjac, dfdt, observed_values, solve; names: states,
params, observed; ``model`` is the underlying ExportedModel.
"""
import os as _os

from ._runtime import ExportedModel, ExportedSolution, SolveError  # noqa: F401

model = ExportedModel(_os.path.dirname(_os.path.abspath(__file__)))
manifest = model.manifest
name = model.name
states, params, observed = model.states, model.params, model.observed
rhs, jac, jac_values, pjac, dfdt = model.rhs, model.jac, model.jac_values, model.pjac, model.dfdt
observed_values, solve = model.observed_values, model.solve
'''


def _sha(text) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


def _versions(cc: str) -> dict:
    import llvmlite
    import llvmlite.binding as llvm
    import numba
    import numpy
    import sympy

    from .. import __version__
    return {"symgen": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "sympy": sympy.__version__, "numba": numba.__version__, "llvmlite": llvmlite.__version__,
            "llvm": ".".join(map(str, llvm.llvm_version_info)), "cc": native.compiler_version(cc)}


def _sparsity(sp) -> dict:
    indptr, indices = sp.arrays()
    return {"shape": [sp.nrows, sp.ncols], "nnz": sp.nnz, "indptr": [int(v) for v in indptr],
            "indices": [int(v) for v in indices]}


def model_fields(model, prefix: str, target: str) -> dict:
    """Manifest entries every artifact has: identity, names and order, shapes, patterns."""
    from .. import __version__
    pb = model.problem
    return {
        "format": "symgen-export/1",
        "target": target,
        "name": prefix,
        "model_name": str(pb.name),
        "model_hash": model.key,
        "symgen_version": __version__,
        "states": [str(s) for s in model.states],
        "params": [str(s) for s in model.params],
        "observed": list(model.observed),
        "defaults": {str(k): float(v) for k, v in pb.defaults},
        "shapes": {"y": [len(model.states)], "p": [len(model.params)], "observed": [len(model.observed)],
                   "jac": [len(model.states), len(model.states)],
                   "pjac": [len(model.states), len(model.params)]},
        "jac": _sparsity(model.jac_sparsity),
        "pjac": _sparsity(model.pjac_sparsity),
    }


def solver_fields(auto_sparse: bool, plan) -> dict:
    """Manifest entries on the steppers: the automatic linear solver, the sparse LU plan, status codes."""
    return {
        "linear_solver_auto": "sparse" if auto_sparse else "dense",
        "sparse_lu": {"ordering": plan.ordering, "nnz_lu": int(plan.nnz_lu), "flops": int(plan.flops)},
        "status_codes": {"0": "success", "1": "max_steps", "2": "step_underflow", "3": "nonfinite",
                         "4": "stiff_detected", "5": "newton_failed", "6": "singular"},
    }


def prepare_root(out, prefix: str, target: str) -> Path:
    """The artifact directory (created); refuses a non-empty directory that is not an export."""
    out = Path(out)
    root = out / prefix if target == "python" else out
    if root.exists() and any(root.iterdir()) and not (root / "manifest.json").exists():
        raise ExportError(f"{root} exists and is not a symgen export (no manifest.json); refusing to overwrite")
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_init(model_class: str = "ExportedModel", module: str = "_runtime") -> str:
    """``__init__.py`` of a python-target package."""
    if model_class == "ExportedModel":
        return PACKAGE_INIT
    return PACKAGE_INIT.replace("from ._runtime import ExportedModel, ExportedSolution, SolveError  # noqa: F401",
                                f"from ._runtime import ExportedSolution, SolveError  # noqa: F401\n"
                                f"from .{module} import {model_class}").replace(
        "model = ExportedModel(", f"model = {model_class}(").replace(
        "(needs only NumPy)", "(needs NumPy and Numba: kernels and drivers as Numba source)")


def write_artifact(model, source, target: str, out, *, prefix: str, object_code: bytes,
                   target_info: dict, command: str | None, cc: str = "cc") -> dict:
    """Write the artifact of ``target`` for ``model`` (its LLVM ``source``) under ``out``.

    Returns a dict with the artifact directory, library path, manifest and build seconds.
    """
    from .. import __version__
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; choose one of {list(TARGETS)}")
    root = prepare_root(out, prefix, target)
    src = root / "src"
    if src.exists():
        shutil.rmtree(src)
    kernels = native.kernel_table(model, source)
    from ..solve import choose_linear_solver, sparse_plan
    plan = sparse_plan(model)
    auto_sparse = bool(choose_linear_solver(model, "auto")[0])
    files = {
        "src/kernels.ll": source.text,
        f"src/{prefix}_model.c": native.model_c(prefix, model, kernels, __version__),
        f"src/{prefix}.h": native.model_header(prefix, model, kernels, __version__, auto_sparse),
        f"src/{prefix}_plan.c": native.plan_c(prefix, plan),
        "src/radau5_constants.h": native.radau_constants_header(),
        "src/build.sh": native.build_script(prefix),
    }
    for name in native.RUNTIME_SOURCES:
        files[f"src/{name}"] = (native.RUNTIME_DIR / name).read_text()
    for rel, text in files.items():
        _write(root / rel, text)
    os.chmod(root / "src/build.sh", 0o755)
    _write(src / "kernels.o", object_code)
    lib_name = f"lib{prefix}.so"
    t0 = time.perf_counter()
    tmp_lib = root / f".{lib_name}.{os.getpid()}.tmp"
    link_cmd = native.compile_library(src, tmp_lib, prefix, cc)
    tmp_lib.replace(root / lib_name)
    build_seconds = time.perf_counter() - t0
    # public copies next to the library
    shutil.copyfile(src / f"{prefix}.h", root / f"{prefix}.h")
    shutil.copyfile(src / "symgen_rt.h", root / "symgen_rt.h")
    wrapper = (native.RUNTIME_DIR / "pymodel.py").read_text()
    if target == "python":
        _write(root / "_runtime.py", wrapper)
        _write(root / "__init__.py", PACKAGE_INIT)
        py_files = {"_runtime.py": wrapper, "__init__.py": PACKAGE_INIT}
    else:
        _write(root / f"{prefix}.py", wrapper)
        py_files = {f"{prefix}.py": wrapper}
    manifest = {
        **model_fields(model, prefix, target),
        "flavour": "native",
        "library": lib_name,
        "header": f"{prefix}.h",
        "kernels": {k.name: {"c_name": f"{prefix}_{k.name}", "symbol": k.symbol, "out_size": k.out_size}
                    for k in kernels},
        "steppers": {"dopri5": f"{prefix}_dopri5", "radau5": f"{prefix}_radau5"},
        **solver_fields(auto_sparse, plan),
        "target_machine": target_info,
        "compiler": {"cc": cc, "flags": list(native.CFLAGS), "link": "-shared ... kernels.o -lm"},
        "rebuild": {
            "command": command,
            "relink": "sh src/build.sh   (relinks the library from src/ without symgen)",
            "versions": _versions(cc),
        },
        "sources_sha256": {rel: _sha(text) for rel, text in sorted({**files, **py_files}.items())},
        "kernels_object_sha256": _sha(object_code),
    }
    _write(root / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return {"directory": root, "library": root / lib_name, "manifest": manifest,
            "build_seconds": build_seconds, "link_command": link_cmd}


#: symgen's driver modules shipped (as source) by the numba flavour
DRIVER_SOURCES = ("common.py", "dopri5.py", "radau5.py", "sparse_lu.py", "evaluate.py")


def write_numba_package(model, out, *, prefix: str, command: str | None) -> dict:
    """The ``numba`` flavour of the python target: ``out/<prefix>/`` with the Numba
    backend's generated kernels (``kernels.py``), symgen's drivers as source
    (``_drivers/``), the sparse LU plan and the same wrapper API; needs NumPy and Numba."""
    import numpy as np

    from ..drivers import __file__ as drivers_init
    from ..solve import choose_linear_solver, sparse_plan
    root = prepare_root(out, prefix, "python")
    drivers = Path(drivers_init).resolve().parent
    plan = sparse_plan(model)
    auto_sparse = bool(choose_linear_solver(model, "auto")[0])
    wrapper = (native.RUNTIME_DIR / "pymodel.py").read_text()
    nb_wrapper = (native.RUNTIME_DIR / "numba_model.py").read_text()
    init = package_init("NumbaModel", "_numba_runtime")
    files = {"kernels.py": model.irs["source"].text, "_runtime.py": wrapper, "_numba_runtime.py": nb_wrapper,
             "__init__.py": init,
             "_drivers/__init__.py": '"""symgen\'s compiled ODE drivers (copied verbatim by symgen export)."""\n'}
    for name in DRIVER_SOURCES:
        files[f"_drivers/{name}"] = (drivers / name).read_text()
    # the drivers report progress through ``..progress`` (standard library only)
    files["progress.py"] = (drivers.parent / "progress.py").read_text()
    if (root / "_drivers").exists():
        shutil.rmtree(root / "_drivers")
    for rel, text in files.items():
        _write(root / rel, text)
    arrays = dict(zip(("perm", "indptr", "indices", "diag", "amap"), plan.arrays()))
    with open(root / "sparse_plan.npz", "wb") as fh:
        np.savez(fh, **arrays)
    manifest = {
        **model_fields(model, prefix, "python"),
        "flavour": "numba",
        "requires": ["numpy", "numba"],
        "kernels": {name: {"out_size": size} for name, size in _kernel_sizes(model).items()},
        **solver_fields(auto_sparse, plan),
        "rebuild": {"command": command, "versions": _versions("cc")},
        "sources_sha256": {rel: _sha(text) for rel, text in sorted(files.items())},
    }
    _write(root / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return {"directory": root, "library": None, "manifest": manifest, "build_seconds": 0.0}


def _kernel_sizes(model) -> dict:
    n, m = len(model.states), len(model.params)
    return {"rhs": n, "jac_values": model.jac_sparsity.nnz, "pjac": n * m, "dfdt": n,
            "observed": len(model.observed)}
