"""Code emitters, registered in one table (imported as ``symgen.backends``)."""
from __future__ import annotations

from symgen.errors import BackendError

__all__ = ["BACKENDS", "get_backend"]


def _numba():
    from .numba.backend import NumbaBackend
    return NumbaBackend()


def _llvm():
    from .llvm import LLVMBackend
    return LLVMBackend()


def _cuda():
    from .cuda import CudaBackend
    return CudaBackend()


def _llvm_jit():
    from .llvm import LLVMBackend
    return LLVMBackend(jit=True)


#: name -> factory of a backend object with ``emit(kset, key, version)`` and ``build(source, dir)``
BACKENDS = {
    "numba": _numba,
    "llvm": _llvm,
    "cuda": _cuda,
    "llvm-jit": _llvm_jit,
}


def get_backend(name: str):
    """Return the backend registered under ``name``."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None
    return factory()
