"""CPU ensembles: the per-trajectory solvers, multithreaded over trajectories.

The solver and the model's device functions are compiled together (the model's
functions inlined into the solver) once per (model, method, float type) and process;
trajectories are split into chunks of :data:`CHUNK` that Numba's ``prange`` spreads over
threads, each chunk allocating its work arrays once.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .solvers import make_ros3p, make_tsit5

__all__ = ["cpu_runner", "CHUNK", "float_type"]

#: trajectories per parallel chunk (work arrays are allocated once per chunk)
CHUNK = 16

_RUNNERS: dict = {}


def float_type(dtype):
    """Numba float type of a NumPy float dtype (float32 or float64)."""
    dt = np.dtype(dtype)
    if dt == np.float32:
        return numba.float32
    if dt == np.float64:
        return numba.float64
    raise TypeError(dtype)


def _device_jit(fn):
    # LLVM inlines the small device functions into the solver; Numba-level inlining
    # ("always") would also expose the solver's counters to the parfor pass
    return njit(error_model="numpy")(fn)


def _parallel(chunk_fn):
    @njit(parallel=True, error_model="numpy")
    def run(y0s, ps, t0, saveat, dt, rtol, atol, max_steps, adaptive, us, status, stats):
        ntraj = y0s.shape[0]
        nchunk = (ntraj + CHUNK - 1) // CHUNK
        for c in prange(nchunk):
            chunk_fn(c * CHUNK, min(ntraj, (c + 1) * CHUNK), y0s, ps, t0, saveat, dt, rtol, atol,
                     max_steps, adaptive, us, status, stats)
    return run


def _tsit5_runner(solve, n, npar, F):
    @njit(error_model="numpy")
    def chunk(lo, hi, y0s, ps, t0, saveat, dt, rtol, atol, max_steps, adaptive, us, status, stats):
        y = np.empty(n, F)
        p = np.empty(max(npar, 1), F)
        k1 = np.empty(n, F)
        k2 = np.empty(n, F)
        k3 = np.empty(n, F)
        k4 = np.empty(n, F)
        k5 = np.empty(n, F)
        k6 = np.empty(n, F)
        k7 = np.empty(n, F)
        yt = np.empty(n, F)
        for i in range(lo, hi):
            for k in range(n):
                y[k] = y0s[i, k]
            for k in range(npar):
                p[k] = ps[i, k]
            status[i] = solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive,
                              us[i], stats[i], k1, k2, k3, k4, k5, k6, k7, yt)
    return _parallel(chunk)


def _ros3p_runner(solve, n, npar, nflags, F):
    @njit(error_model="numpy")
    def chunk(lo, hi, y0s, ps, t0, saveat, dt, rtol, atol, max_steps, adaptive, us, status, stats):
        y = np.empty(n, F)
        p = np.empty(max(npar, 1), F)
        W = np.empty(n * n, F)
        J = np.empty(n * n, F)
        s = np.empty(nflags, F)
        dT = np.empty(n, F)
        f0 = np.empty(n, F)
        f = np.empty(n, F)
        u1 = np.empty(n, F)
        u2 = np.empty(n, F)
        u3 = np.empty(n, F)
        yt = np.empty(n, F)
        for i in range(lo, hi):
            for k in range(n):
                y[k] = y0s[i, k]
            for k in range(npar):
                p[k] = ps[i, k]
            status[i] = solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive,
                              us[i], stats[i], W, J, s, dT, f0, f, u1, u2, u3, yt)
    return _parallel(chunk)


def cpu_runner(dev_mod, key: str, method: str, dtype):
    """Compiled ``run(y0s, ps, t0, saveat, dt, rtol, atol, max_steps, adaptive, us,
    status, stats)`` for a model's device module (memoized per process)."""
    F = float_type(dtype)
    memo = (key, method, str(np.dtype(dtype)))
    run = _RUNNERS.get(memo)
    if run is None:
        n, npar = dev_mod.N_STATES, dev_mod.N_PARAMS
        dev = dev_mod.make(_device_jit, F)
        if method == "tsit5":
            run = _tsit5_runner(make_tsit5(dev, _device_jit, F, n), n, npar, F)
        else:
            run = _ros3p_runner(make_ros3p(dev, _device_jit, F, n), n, npar, dev_mod.N_SWAP_FLAGS, F)
        _RUNNERS[memo] = run
    return run
