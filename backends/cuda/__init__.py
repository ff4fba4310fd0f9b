"""CUDA backend: device functions (numba.cuda / numba.njit), ensemble kernels, CUDA C export."""
from .backend import CudaBackend
from .stencil_cexport import export_stencil_cu

__all__ = ["CudaBackend", "export_stencil_cu"]
