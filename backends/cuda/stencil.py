"""CUDA stencil kernels of a compiled PDE model and their host wrapper.

``sg.compile(pde, backend="cuda")`` returns the usual :class:`~symgen.pde.PDEModel`
(CPU loop-nest kernels, solvers) with ``model.cuda``, a :class:`CudaStencil`:

* ``model.cuda.kernels``: the device-callable kernels (``numba.cuda`` dispatchers)
  ``{"rhs_bulk", "rhs_edge", "jvp_bulk", ..., "zero"}``; ``model.cuda.launch(kind)``
  gives the ``(kernel, grid, block)`` pairs for this grid;
* ``model.cuda.rhs(t, y, params)``, ``.jvp(t, y, v, params)``, ``.jtv(t, y, v, params)``,
  ``.jac_values(t, y, params)``: host wrappers that take NumPy arrays (the result comes
  back as NumPy) or CUDA device arrays (the result stays on the device; ``out=`` may
  be given).

:func:`cuda_stencil` gives the same for a model compiled with the Numba backend.  The
module is generated from the model's stencil IR (:mod:`.stencil_emit`), written to the
model's cache entry and imported from there.  :func:`compile_stencil_ptx` gives the PTX
of one kernel for a compute capability without a GPU.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

from symgen.cache import entry_dir
from symgen.errors import BackendError, MissingValueError, NonFiniteValueError, SymgenError

from .stencil_emit import KINDS, bulk_region, emit_cuda_stencil_module, region_extents

__all__ = ["CudaStencil", "cuda_stencil", "compile_pde_cuda", "stencil_module", "compile_stencil_ptx",
           "stencil_signature", "BLOCKS"]

try:  # a module global: the CUDA simulator swaps it in
    from numba import cuda
except ImportError:  # pragma: no cover - depends on the installed extra
    cuda = None

#: threads per block of the bulk kernel by dimension (x along the last axis)
BLOCKS = {1: (256,), 2: (32, 8), 3: (32, 4, 2)}
#: threads per block of the boundary kernel
EDGE_BLOCK = 128

_MODULES: dict = {}


def _cuda():
    if cuda is None:  # pragma: no cover - depends on the installed extra
        raise BackendError("the CUDA backend needs numba-cuda: pip install 'symgen[cuda]'")
    return cuda


def stencil_module(model):
    """The generated CUDA stencil module of a PDE model (emitted once per process and
    model code; kept in the model's cache entry as ``cuda_stencil_<hash>.py``)."""
    from symgen import __version__
    mod = _MODULES.get(model.code_key)
    if mod is not None:
        return mod
    text = emit_cuda_stencil_module(model.stencil, model.code_key, __version__)
    h = hashlib.sha256(text.encode()).hexdigest()[:20]
    d = entry_dir(model.code_key)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"cuda_stencil_{h}.py"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    modname = f"_symgen_cuda_stencil_{h}"
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    mod.SOURCE = text
    _MODULES[model.code_key] = mod
    return mod


def stencil_signature(kind: str, F):
    """Numba signature of the ``kind`` kernels for float type ``F``."""
    from numba import types
    a = F[::1]
    if kind == "rhs":
        return (F, a, a, a)
    if kind in ("jvp", "jtv"):
        return (F, a, a, a, a)
    if kind == "jac_values":
        return (F, a, a, types.int64[::1], a)
    raise BackendError(f"no stencil kernel kind {kind!r}; have {list(KINDS)}")


def compile_stencil_ptx(model, kind: str, part: str = "bulk", dtype=np.float64, cc=(8, 0)) -> str:
    """PTX of kernel ``<kind>_<part>`` (part ``"bulk"`` or ``"edge"``) for compute
    capability ``cc`` (NVVM only; no GPU needed)."""
    from symgen.ensemble.cpu import float_type
    F = float_type(dtype)
    fns = stencil_module(model).make(lambda f: f, F)
    name = f"{kind}_{part}"
    if name not in fns:
        raise BackendError(f"no stencil kernel {name!r}")
    ptx, _ = _cuda().compile_ptx(fns[name], stencil_signature(kind, F), cc=cc)
    return ptx


def _is_device(a) -> bool:
    """A CUDA device array (a real one, or the simulator's, which has no
    ``__cuda_array_interface__``)."""
    return hasattr(a, "__cuda_array_interface__") or hasattr(a, "copy_to_host")


def _grid(ext: list, block: tuple) -> tuple:
    return tuple((e + b - 1) // b for e, b in zip(ext, block))


class CudaStencil:
    """Device kernels of a PDE model's stencils and a host wrapper (module docstring).

    Parameters
    ----------
    model : PDEModel
    dtype : float32 or float64
        Float type of the kernels (arrays of another type are converted on the way in).
    block : tuple, optional
        Threads per block of the bulk kernel (default :data:`BLOCKS` by dimension).
    edge_block : int
        Threads per block of the boundary kernel.
    """

    def __init__(self, model, dtype=np.float64, block=None, edge_block: int = EDGE_BLOCK):
        from symgen.ensemble.cpu import float_type
        self.model = model
        self.dtype = np.dtype(dtype)
        self.F = float_type(self.dtype)
        self.module = stencil_module(model)
        self.source = self.module.SOURCE
        ss = model.stencil
        nd = ss.ndim
        self.block = tuple(block) if block is not None else BLOCKS[nd]
        if len(self.block) != nd or min(self.block) < 1:
            raise SymgenError(f"block must be {nd} positive thread counts, got {block}")
        self.edge_block = int(edge_block)
        shape = tuple(int(s) for s in model.shape)
        bulk = ss.regions[bulk_region(ss)]
        ext = region_extents(ss, bulk, shape)[::-1]  # x along the last axis
        self.bulk_grid = _grid(ext, self.block)
        self.edge_threads = sum(int(np.prod(region_extents(ss, r, shape)))
                                for k, r in enumerate(ss.regions) if k != bulk_region(ss))
        self.meta = len(model.params) + 3 * nd
        self.kernels = self.module.make(_cuda().jit, self.F)
        self._rowptr = None
        self._pcache = None

    # -- launches ---------------------------------------------------------------------
    def launch(self, kind: str) -> list:
        """``[(kernel, grid, block), ...]`` that together evaluate ``kind`` on this grid."""
        if kind not in KINDS:
            raise BackendError(f"no stencil kernel kind {kind!r}; have {list(KINDS)}")
        out = [(self.kernels[f"{kind}_bulk"], self.bulk_grid, self.block)]
        if self.edge_threads:
            g = (self.edge_threads + self.edge_block - 1) // self.edge_block
            out.append((self.kernels[f"{kind}_edge"], (g,), (self.edge_block,)))
        return out

    # -- arguments --------------------------------------------------------------------
    def _dev(self, a, size: int, what: str):
        c = _cuda()
        if _is_device(a):
            if a.dtype != self.dtype or a.ndim != 1 or a.shape[0] != size:
                raise SymgenError(f"{what}: expected a 1-D {self.dtype} device array of length {size}, "
                                  f"got {a.dtype} {a.shape}")
            return a, True
        h = np.ascontiguousarray(np.asarray(a, dtype=self.dtype).ravel())
        if h.size != size:
            raise SymgenError(f"{what}: expected {size} values, got {h.size}")
        return c.to_device(h), False

    def param_block(self, params=None) -> np.ndarray:
        """User parameters (dict by symbol/name with the model's defaults filling in, or a
        sequence) followed by the grid block, float64 on the host: the first ``META``
        values of :meth:`PDEModel.param_vector` without building the Jacobian pattern
        (which a 4096^2 grid would spend a gigabyte on)."""
        m = self.model
        names = [str(s) for s in m.params]
        if params is None:
            params = {}
        if isinstance(params, dict):
            given = {str(k): v for k, v in params.items()}
            for k in given:
                if k not in names:
                    raise SymgenError("parameter value given for a symbol the model does not have", symbol=k)
            defaults = {str(k): v for k, v in m.system.defaults.items()}
            vals = []
            for s in names:
                if s not in given and s not in defaults:
                    raise MissingValueError("no parameter value given", symbol=s)
                vals.append(float(given.get(s, defaults.get(s))))
            vals = np.array(vals, dtype=float)
        else:
            vals = np.asarray(params, dtype=float).ravel()
            if vals.size == self.meta + m.n + 1 or vals.size == self.meta:  # a kernel parameter array
                vals = vals[:len(names)]
            if vals.size != len(names):
                raise SymgenError(f"expected {len(names)} parameter values in the order {names}")
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            raise NonFiniteValueError("parameter value is not finite", symbol=names[int(bad[0])])
        grid = [v for a in m.grid.axes for v in (a.n_unknown, a.lo, a.h)]
        return np.concatenate([vals, np.array(grid, dtype=float)])

    def params(self, params=None):
        """The device parameter block (user parameters and grid block) for ``params``:
        a dict/sequence as for :meth:`PDEModel.param_vector`, or a device array."""
        c = _cuda()
        if params is not None and _is_device(params):
            if params.shape[0] < self.meta or params.dtype != self.dtype:
                raise SymgenError(f"device parameter array: expected {self.meta} {self.dtype} values")
            return params
        host = self.param_block(params).astype(self.dtype)
        if self._pcache is not None and np.array_equal(self._pcache[0], host):
            return self._pcache[1]
        d = c.to_device(host)
        self._pcache = (host, d)
        return d

    def _run(self, kind, t, args, out, size, user):
        """Launch ``kind``; the result stays on the device when any of the arrays the
        caller gave (``user``, ``out``) is a device array, else it comes back as NumPy."""
        c = _cuda()
        n_dev = any(_is_device(a) for a in user) or (out is not None and _is_device(out))
        if out is None:
            d_out = c.device_array(size, dtype=self.dtype)
        else:
            d_out, _ = self._dev(out, size, "out")
        if kind == "jtv":  # atomic adds accumulate into a zeroed output
            z = self.kernels["zero"]
            z[(size + 255) // 256, 256](d_out)
        tt = self.dtype.type(t)
        for k, grid, block in self.launch(kind):
            k[grid, block](tt, *args, d_out)
        if n_dev:
            return d_out
        return d_out.copy_to_host()

    # -- host wrappers ----------------------------------------------------------------
    def rhs(self, t, y, params=None, out=None):
        """``f(t, y)`` on the GPU."""
        n = self.model.n
        dy, _ = self._dev(y, n, "y")
        return self._run("rhs", t, (dy, self.params(params)), out, n, (y,))

    def jvp(self, t, y, v, params=None, out=None):
        """``J(t, y) v`` on the GPU."""
        n = self.model.n
        dy, _ = self._dev(y, n, "y")
        dv, _ = self._dev(v, n, "v")
        return self._run("jvp", t, (dy, self.params(params), dv), out, n, (y, v))

    def jtv(self, t, y, v, params=None, out=None):
        """``J(t, y)^T v`` on the GPU (atomic scatter of the stencil rows)."""
        n = self.model.n
        dy, _ = self._dev(y, n, "y")
        dv, _ = self._dev(v, n, "v")
        return self._run("jtv", t, (dy, self.params(params), dv), out, n, (y, v))

    def jac_values(self, t, y, params=None, out=None):
        """Jacobian values in the order of ``model.jac_sparsity`` on the GPU."""
        c = _cuda()
        n = self.model.n
        if self._rowptr is None:
            self._rowptr = c.to_device(np.ascontiguousarray(self.model.jac_sparsity.indptr, dtype=np.int64))
        dy, _ = self._dev(y, n, "y")
        return self._run("jac_values", t, (dy, self.params(params), self._rowptr), out,
                         self.model.jac_sparsity.nnz, (y,))


def cuda_stencil(model, dtype=np.float64, **options) -> CudaStencil:
    """The :class:`CudaStencil` of a compiled PDE model (any backend)."""
    if not hasattr(model, "stencil"):
        raise BackendError("cuda_stencil needs a PDE model (from sg.compile of a PDESystem)")
    return CudaStencil(model, dtype, **options)


def compile_pde_cuda(system, *, dtype=np.float64, block=None, **options):
    """``sg.compile(pde, backend="cuda")``: the PDE model (CPU kernels and solvers) with
    ``model.cuda``, its :class:`CudaStencil` (kernels are compiled on first launch)."""
    from symgen.pde.build import compile_pde
    model = compile_pde(system, backend="numba", **options)
    model.cuda = CudaStencil(model, dtype, block=block)
    return model
