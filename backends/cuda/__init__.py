"""CUDA backend: device functions (numba.cuda / numba.njit), ensemble kernels, CUDA C export."""
from .backend import CudaBackend

__all__ = ["CudaBackend"]
