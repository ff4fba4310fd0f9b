"""LLVM backend: kernels as LLVM IR (llvmlite), sharded into bounded functions,
compiled ahead of time into a shared library cached on disk.

Modules: :mod:`.emitter` (expressions -> instructions, with llvmlite's IR builder),
:mod:`.module` (kernels -> sharded functions -> module text), :mod:`.backend` (emit,
then parse/verify/optimize/compile with llvmlite.binding, the disk cache of shared
libraries, Numba-callable kernels, and the public helpers ``target_machine``,
``fingerprint``, ``compile_module``, ``jit``, ``link`` and ``LOADED`` that other kernel
families, e.g. :mod:`symgen.opt.emit_llvm`, build on).
"""
from .backend import LLVMBackend, LLVMKernels
from .module import ShardOptions


def __getattr__(name):   # LLVMKernel subclasses a Numba class: made on first use
    if name == "LLVMKernel":
        from .backend import _kernel_class
        return _kernel_class()
    raise AttributeError(name)

__all__ = ["LLVMBackend", "LLVMKernel", "LLVMKernels", "ShardOptions"]
