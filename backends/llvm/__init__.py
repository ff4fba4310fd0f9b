"""LLVM backend: kernels as LLVM IR (llvmlite), sharded into bounded functions,
compiled ahead of time into a shared library cached on disk.

Modules: :mod:`.emitter` (expressions -> instructions), :mod:`.module` (kernels ->
sharded functions -> module text), :mod:`.backend` (emit/build with llvmlite, the
disk cache of shared libraries, Numba-callable kernels).
"""
from .backend import LLVMBackend, LLVMKernel, LLVMKernels
from .module import ShardOptions

__all__ = ["LLVMBackend", "LLVMKernel", "LLVMKernels", "ShardOptions"]
