"""The device-function module of a compiled model, kept in its cache entry.

Models compiled with ``backend="cuda"`` carry the device functions in their kernel
module.  For any other backend the device module is emitted once from the model's
kernels (rebuilt from its problem by the symbolic passes when the model came from the
cache) and written next to the model as ``device.py``; later processes, Dask workers
included, import it from the cache by the model's key without any symbolic work.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ..cache import entry_dir
from ..errors import BackendError

__all__ = ["device_module", "load_device_module", "DEVICE_FILE"]

DEVICE_FILE = "device.py"


def _kernel_set(model):
    ks = model.irs.get("kernels")
    if ks is not None:
        return ks
    from ..passes.manager import PassContext
    from ..passes.stages import derive_pass, lower_pass, simplify_pass
    # the manifest does not keep the compile options: a model built with non-default
    # rewrite phases gets device functions from the default ones (the same values)
    ctx = PassContext.from_env({})
    return lower_pass(derive_pass(simplify_pass(model.problem, ctx), ctx), ctx)


def _import(path: Path, key: str):
    modname = f"_symgen_device_{key[:24]}"
    mod = sys.modules.get(modname)
    if mod is not None and getattr(mod, "__file__", None) == str(path):
        return mod
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod


def load_device_module(key: str, directory: str | None = None):
    """Import the device module of the cached model ``key`` (no symbolic work).

    ``directory`` is the cache entry (default: this process's cache root)."""
    d = Path(directory) if directory else entry_dir(key)
    path = d / DEVICE_FILE
    if not path.exists():
        raise BackendError(f"no device module in the cache entry {d} (model key {key[:12]}); "
                           "run an ensemble with this model once in the process that compiled it")
    return _import(path, key)


def device_module(model):
    """The device-function module of ``model`` (emitted and cached on first use)."""
    if hasattr(model.kernels, "make"):
        return model.kernels
    d = entry_dir(model.key)
    path = d / DEVICE_FILE
    if not path.exists():
        from .. import __version__
        from ..backends.cuda.device import render_device_module
        text, _ = render_device_module(_kernel_set(model), model.key, __version__)
        d.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return _import(path, model.key)
