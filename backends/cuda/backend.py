"""CUDA backend: the Numba host kernels plus the model's device functions in one module.

``sg.compile(system, backend="cuda")`` gives a model whose host kernels (``model.rhs``,
``model.solve``...) are the Numba backend's ``cfunc`` kernels and whose kernel module
also defines ``make(jit, F)``, the dtype-generic device functions that the ensemble
solvers compile for CUDA (one trajectory per thread) and for CPU threads.  Models
compiled with another backend get the same device module on their first ensemble.
"""
from __future__ import annotations

from symgen.ir.kernels import KernelSet
from symgen.ir.source import Source

from ..numba.backend import NumbaBackend
from .device import render_device_module

__all__ = ["CudaBackend"]


class CudaBackend(NumbaBackend):
    """Numba host kernels + device functions (see the module docstring)."""

    name = "cuda"

    def emit(self, kset: KernelSet, key: str, version: str) -> Source:
        host = super().emit(kset, key, version)
        device, _ = render_device_module(kset, key, version)
        text = host.text + "\n\n" + device
        return Source(self.name, key, text, host.kernels + (("device", device),))
