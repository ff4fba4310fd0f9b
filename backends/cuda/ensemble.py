"""CUDA ensemble kernels: one trajectory per thread, the whole solve in one kernel.

The per-trajectory solvers of :mod:`symgen.ensemble.solvers` and the model's device
functions are compiled with ``numba.cuda.jit(device=True)``; the kernel copies its
trajectory's initial values and parameters into thread-local arrays (registers after
unrolling for small systems), integrates, and writes the saved states, the status and
the step statistics.  :func:`compile_ptx` gives the PTX of the same kernel for a
compute capability without a GPU; :func:`ptxas_report` assembles it with ``ptxas -v``
and returns registers and spills.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from symgen.errors import BackendError

__all__ = ["cuda_kernel_function", "cuda_runner", "compile_ptx", "ptxas_report", "kernel_signature"]

try:  # a module global: the CUDA simulator swaps it in the kernels' globals
    from numba import cuda
except ImportError:  # pragma: no cover - depends on the installed extra
    cuda = None

_RUNNERS: dict = {}


def _cuda():
    if cuda is None:  # pragma: no cover - depends on the installed extra
        raise BackendError("the CUDA backend needs numba-cuda: pip install 'symgen[cuda]'")
    return cuda


def cuda_kernel_function(dev_mod, method: str, F):
    """The Python function of the ensemble kernel (for ``cuda.jit`` or ``compile_ptx``)."""
    _cuda()
    from symgen.ensemble.solvers import make_ros3p, make_tsit5

    def device_jit(fn):
        # Numba-level inlining: one kernel function (also lets compile_ptx run without
        # a GPU, where separately compiled device functions would query the device)
        return cuda.jit(device=True, inline="always")(fn)

    n, npar = dev_mod.N_STATES, dev_mod.N_PARAMS
    np1 = max(npar, 1)
    dev = dev_mod.make(device_jit, F)
    if method == "tsit5":
        solve = make_tsit5(dev, device_jit, F, n)

        def kernel(y0s, ps, t0, saveat, dt, rtol, atol, max_steps, adaptive, us, status, stats):
            i = cuda.grid(1)
            if i < y0s.shape[0]:
                y = cuda.local.array(n, F)
                p = cuda.local.array(np1, F)
                k1 = cuda.local.array(n, F)
                k2 = cuda.local.array(n, F)
                k3 = cuda.local.array(n, F)
                k4 = cuda.local.array(n, F)
                k5 = cuda.local.array(n, F)
                k6 = cuda.local.array(n, F)
                k7 = cuda.local.array(n, F)
                yt = cuda.local.array(n, F)
                for k in range(n):
                    y[k] = y0s[i, k]
                for k in range(npar):
                    p[k] = ps[i, k]
                status[i] = solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive,
                                  us[i], stats[i], k1, k2, k3, k4, k5, k6, k7, yt)
        return kernel
    if not getattr(dev_mod, "HAS_LU", False):
        from .linalg import LOOP_MAX
        raise BackendError(f"the Rosenbrock ensemble solver takes at most {LOOP_MAX} states; "
                           f"this model has {n}")
    nflags = dev_mod.N_SWAP_FLAGS
    nsq = n * n
    solve = make_ros3p(dev, device_jit, F, n)

    def kernel(y0s, ps, t0, saveat, dt, rtol, atol, max_steps, adaptive, us, status, stats):
        i = cuda.grid(1)
        if i < y0s.shape[0]:
            y = cuda.local.array(n, F)
            p = cuda.local.array(np1, F)
            W = cuda.local.array(nsq, F)
            J = cuda.local.array(nsq, F)
            s = cuda.local.array(nflags, F)
            dT = cuda.local.array(n, F)
            f0 = cuda.local.array(n, F)
            f = cuda.local.array(n, F)
            u1 = cuda.local.array(n, F)
            u2 = cuda.local.array(n, F)
            u3 = cuda.local.array(n, F)
            yt = cuda.local.array(n, F)
            for k in range(n):
                y[k] = y0s[i, k]
            for k in range(npar):
                p[k] = ps[i, k]
            status[i] = solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive,
                              us[i], stats[i], W, J, s, dT, f0, f, u1, u2, u3, yt)
    return kernel


def kernel_signature(F):
    """Numba signature of the ensemble kernel for float type ``F``."""
    from numba import types
    return (F[:, ::1], F[:, ::1], F, F[::1], F, F, F, types.int64, types.boolean,
            F[:, :, ::1], types.int32[::1], types.int64[:, ::1])


def cuda_runner(dev_mod, key: str, method: str, dtype):
    """The jitted CUDA kernel for ``(model, method, dtype)``, memoized per process."""
    from symgen.ensemble.cpu import float_type
    memo = (key, method, str(np.dtype(dtype)))
    k = _RUNNERS.get(memo)
    if k is None:
        F = float_type(dtype)
        k = _cuda().jit(cuda_kernel_function(dev_mod, method, F))
        _RUNNERS[memo] = k
    return k


def compile_ptx(dev_mod, method: str, dtype, cc=(8, 0)) -> str:
    """PTX of the ensemble kernel for compute capability ``cc`` (no GPU needed)."""
    from symgen.ensemble.cpu import float_type
    F = float_type(dtype)
    fn = cuda_kernel_function(dev_mod, method, F)
    ptx, _ = _cuda().compile_ptx(fn, kernel_signature(F), cc=cc)
    return ptx


_VERSION_RE = re.compile(r"Unsupported \.version (\d+\.\d+); current version is '(\d+\.\d+)'")


def ptxas_report(ptx: str, arch: str = "sm_80", ptxas: str | None = None) -> dict:
    """Assemble ``ptx`` with ``ptxas -v``; ``{"registers", "spill_stores", "spill_loads",
    "stack", "log"}``.  A PTX ISA version newer than the installed ptxas knows (NVVM
    from a newer toolkit) is lowered to the version ptxas reports, once."""
    exe = ptxas or shutil.which("ptxas")
    if exe is None:
        raise BackendError("ptxas not found")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "k.ptx"
        for _ in range(2):
            src.write_text(ptx)
            r = subprocess.run([exe, "-v", f"-arch={arch}", str(src), "-o", str(Path(d) / "k.cubin")],
                               capture_output=True, text=True, timeout=300)
            m = _VERSION_RE.search(r.stderr)
            if r.returncode == 0 or m is None:
                break
            ptx = re.sub(r"^\.version \d+\.\d+", f".version {m.group(2)}", ptx, count=1, flags=re.M)
    log = r.stdout + r.stderr
    if r.returncode != 0:
        raise BackendError(f"ptxas failed: {log[-2000:]}")
    regs = [int(x) for x in re.findall(r"Used (\d+) registers", log)]
    stores = [int(x) for x in re.findall(r"(\d+) bytes spill stores", log)]
    loads = [int(x) for x in re.findall(r"(\d+) bytes spill loads", log)]
    stack = [int(x) for x in re.findall(r"(\d+) bytes stack frame", log)]
    return {"registers": max(regs, default=0), "spill_stores": sum(stores), "spill_loads": sum(loads),
            "stack": max(stack, default=0), "log": log}


def run_on_gpu(dev_mod, key, method, dtype, args, us, status, stats, threads_per_block, bar):
    """Copy the inputs to the GPU, launch the ensemble kernel (in a few launches when a
    progress report is wanted) and copy the results back into ``us``, ``status``,
    ``stats``."""
    _cuda()
    if not cuda.is_available():
        raise BackendError("backend='cuda' found no usable CUDA GPU and driver (NUMBA_ENABLE_CUDASIM=1 "
                           "runs the kernels in Numba's CUDA simulator)")
    kernel = cuda_runner(dev_mod, key, method, dtype)
    ys, ps = args[0], args[1]
    ntraj = ys.shape[0]
    d_ts = cuda.to_device(args[3])
    pieces = 20 if bar.enabled else 1
    edges = np.linspace(0, ntraj, max(1, min(pieces, ntraj)) + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        d_y, d_p = cuda.to_device(ys[lo:hi]), cuda.to_device(ps[lo:hi])
        d_u = cuda.to_device(us[lo:hi])
        d_s, d_st = cuda.to_device(status[lo:hi]), cuda.to_device(stats[lo:hi])
        blocks = (hi - lo + threads_per_block - 1) // threads_per_block
        kernel[blocks, threads_per_block](d_y, d_p, args[2], d_ts, *args[4:], d_u, d_s, d_st)
        us[lo:hi] = d_u.copy_to_host()
        status[lo:hi] = d_s.copy_to_host()
        stats[lo:hi] = d_st.copy_to_host()
        bar.update(int(hi - lo))


# ---- batched model kernels: one state vector per thread -----------------------------------

_BATCH: dict = {}


def batch_kernel_function(dev_mod, name: str, F):
    """Python function of a CUDA kernel evaluating the device function ``name``
    (``rhs``, ``dfdt``, ``jac_values``, ``jac`` or ``jvp``) at many points:
    ``kernel(t, ys, ps, vs, out)`` with row ``i`` of ``ys``/``ps``/``vs``/``out`` for
    thread ``i`` (``vs`` only read by ``jvp``).  Method-of-lines PDE models use it for
    their right-hand side and Jacobian-vector products over many states at once
    (Newton-Krylov, sensitivity sweeps)."""
    _cuda()

    def device_jit(fn):
        return cuda.jit(device=True, inline="always")(fn)

    fn = dev_mod.make(device_jit, F)[name]
    np1 = max(dev_mod.N_PARAMS, 1)
    npar = dev_mod.N_PARAMS

    if name == "jvp":
        def kernel(t, ys, ps, vs, out):
            i = cuda.grid(1)
            if i < ys.shape[0]:
                p = cuda.local.array(np1, F)
                for k in range(npar):
                    p[k] = ps[i, k]
                fn(t, ys[i], p, vs[i], out[i])
    else:
        def kernel(t, ys, ps, vs, out):
            i = cuda.grid(1)
            if i < ys.shape[0]:
                p = cuda.local.array(np1, F)
                for k in range(npar):
                    p[k] = ps[i, k]
                fn(t, ys[i], p, out[i])
    return kernel


def batch_eval(dev_mod, key: str, name: str, t, ys, ps, vs=None, dtype=np.float64,
               threads_per_block: int = 128) -> np.ndarray:
    """Evaluate device function ``name`` at every row of ``ys``/``ps`` on the GPU."""
    from symgen.ensemble.cpu import float_type
    sizes = {"rhs": dev_mod.N_STATES, "dfdt": dev_mod.N_STATES, "jvp": dev_mod.N_STATES,
             "jac": dev_mod.N_STATES ** 2, "jac_values": None}
    if name not in sizes:
        raise BackendError(f"no batched device kernel {name!r}; have {sorted(sizes)}")
    memo = (key, name, str(np.dtype(dtype)))
    k = _BATCH.get(memo)
    if k is None:
        k = _cuda().jit(batch_kernel_function(dev_mod, name, float_type(dtype)))
        _BATCH[memo] = k
    ys = np.ascontiguousarray(ys, dtype=dtype)
    m = ys.shape[0]
    ps = np.ascontiguousarray(np.broadcast_to(ps, (m, max(dev_mod.N_PARAMS, 0))), dtype=dtype)
    vs = np.zeros_like(ys) if vs is None else np.ascontiguousarray(vs, dtype=dtype)
    size = sizes[name] if sizes[name] is not None else dev_mod.JAC_NNZ
    out = np.zeros((m, size), dtype=dtype)
    d_out = cuda.to_device(out)
    k[(m + threads_per_block - 1) // threads_per_block, threads_per_block](
        np.dtype(dtype).type(t), cuda.to_device(ys), cuda.to_device(ps), cuda.to_device(vs), d_out)
    return d_out.copy_to_host()
