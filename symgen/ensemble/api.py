"""``model.ensemble``: many trajectories of one compiled model, on CPU threads, a CUDA
GPU or a Dask cluster, with the same per-trajectory solvers."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..drivers.common import MESSAGES, SUCCESS
from ..errors import NonFiniteValueError, SolverError
from .solvers import ENSEMBLE_STAT_NAMES

__all__ = ["EnsembleSolution", "ensemble", "METHODS", "ENSEMBLE_BACKENDS", "Progress"]

#: method name -> solver (``rosenbrock`` is ROS3P)
METHODS = {"tsit5": "tsit5", "rosenbrock": "ros3p", "ros3p": "ros3p"}
ENSEMBLE_BACKENDS = ("cpu", "cuda", "dask")


@dataclass
class EnsembleSolution:
    """Result of :func:`ensemble`.

    Attributes
    ----------
    t : ndarray (n_save,)
        Save times.
    u : ndarray (n_traj, n_save, n_states)
        States at the save times (NaN after a trajectory's failure).
    status : ndarray (n_traj,) of int32
        Status code per trajectory (0: success; :data:`symgen.drivers.common.MESSAGES`).
    stats : ndarray (n_traj, 5) of int64
        Accepted and rejected steps, f and J evaluations, LU factorizations.
    """

    t: np.ndarray
    u: np.ndarray
    status: np.ndarray
    stats: np.ndarray
    states: tuple
    method: str
    backend: str
    dtype: np.dtype
    seconds: float = 0.0          # wall time of the call (first use includes compiling the solver)
    info: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """Whether every trajectory reached the last save time."""
        return bool(np.all(self.status == SUCCESS))

    @property
    def failed(self) -> np.ndarray:
        """Indices of the trajectories that did not succeed."""
        return np.flatnonzero(self.status != SUCCESS)

    def message(self, i: int) -> str:
        """Status of trajectory ``i`` in words, with the last save time it reached."""
        code = int(self.status[i])
        done = np.flatnonzero(np.all(np.isfinite(self.u[i]), axis=1))
        reached = f"; last saved state at t = {self.t[done[-1]]:g}" if done.size else ""
        return MESSAGES.get(code, f"status {code}") + reached

    def stat(self, name: str) -> np.ndarray:
        """One column of ``stats`` by name (``accepted``, ``rejected``, ``nfev``, ...)."""
        return self.stats[:, ENSEMBLE_STAT_NAMES.index(name)]

    def __getitem__(self, state) -> np.ndarray:
        """``u[:, :, index of state]`` (state symbol, name or index)."""
        if isinstance(state, (int, np.integer)):
            return self.u[:, :, state]
        names = [str(s) for s in self.states]
        try:
            return self.u[:, :, names.index(str(state))]
        except ValueError:
            raise KeyError(state) from None


class Progress:
    """A one-line count of finished trajectories on stderr; ``enabled=None`` decides as
    every symgen report does (:func:`symgen.progress.enabled`: a terminal, not CI,
    ``SYMGEN_PROGRESS`` overrides)."""

    def __init__(self, total: int, label: str, enabled):
        from ..progress import enabled as default_enabled
        self.enabled = default_enabled(enabled)
        self.total, self.label, self.done, self.t0 = total, label, 0, time.perf_counter()

    def update(self, k: int) -> None:
        self.done += k
        if self.enabled:
            el = time.perf_counter() - self.t0
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} trajectories "
                             f"({100.0 * self.done / max(self.total, 1):.0f}%, {el:.1f} s)")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _table(model, values, order, index, what):
    """``values`` -> (n_traj, len(order)) float64 array.  ``values`` is a 2-D array, one
    vector (every trajectory), or a dict by symbol or name of scalars and/or
    per-trajectory arrays of one common length (model defaults fill the rest)."""
    m = len(order)
    if values is None:
        values = {}
    if isinstance(values, dict):
        scalars, columns, n = {}, {}, 1
        for k, v in values.items():
            a = np.asarray(v, dtype=float).ravel()
            if a.size == 1:
                scalars[k] = a[0]
                continue
            i = index.get(k, index.get(str(k)))
            if i is None:
                raise SolverError(f"{what} given for a symbol the model does not have", symbol=str(k))
            if n != 1 and a.size != n:
                raise SolverError(f"{what}: per-trajectory arrays of different lengths ({n} and "
                                  f"{a.size})", symbol=str(k))
            n = a.size
            columns[i] = a
            scalars[order[i]] = 0.0       # placeholder, replaced by the column below
        out = np.tile(model._vector(scalars, order, index, what), (n, 1))
        for i, a in columns.items():
            out[:, i] = a
    else:
        out = np.array(values, dtype=float)
        if out.ndim == 1:
            out = out[None, :]
        if out.ndim != 2 or out.shape[1] != m:
            raise SolverError(f"{what}: expected shape (n_traj, {m}) in the order "
                              f"{[str(s) for s in order]}, got {out.shape}")
    bad = np.argwhere(~np.isfinite(out))
    if bad.size:
        r, c = bad[0]
        raise NonFiniteValueError(f"{what} of trajectory {r} is not finite ({out[r, c]})",
                                  symbol=str(order[c]))
    return out


def _broadcast(a, b, what):
    na, nb = a.shape[0], b.shape[0]
    if na == nb:
        return a, b
    if na == 1:
        return np.repeat(a, nb, axis=0), b
    if nb == 1:
        return a, np.repeat(b, na, axis=0)
    raise SolverError(f"{what}: {na} sets of initial values but {nb} sets of parameters")


def ensemble(model, params=None, y0=None, t_span=(0.0, 1.0), *, saveat=None, method="tsit5",
             backend="cpu", dtype=np.float64, rtol=1e-6, atol=1e-8, dt=0.0, adaptive=True,
             max_steps=100_000, progress=None, threads_per_block=128, scheduler=None,
             n_workers=2, chunks=None, retries=2):
    """Solve ``model`` for many parameter sets and/or initial values.

    Parameters
    ----------
    params, y0 : array (n_traj, n) or (n,), or dict by symbol/name of scalars or
        per-trajectory arrays (model defaults fill missing entries)
    t_span : (t0, tf)
    saveat : array, optional
        Increasing times in ``[t0, tf]`` at which states are saved (default ``[tf]``);
        the solver steps exactly onto each of them.
    method : {"tsit5", "rosenbrock"}
        Tsitouras 5(4) explicit, or the ROS3P Rosenbrock method with the generated
        Jacobian and a per-thread pivoted LU (unrolled up to 16 states, looped in
        local memory up to 64).
    backend : {"cpu", "cuda", "dask"}
        Threads over trajectories; one trajectory per GPU thread; Dask tasks
        (``scheduler`` address, or a local cluster of ``n_workers`` processes).
    dtype : float64 or float32
    rtol, atol : float
    dt : float
        Fixed step when ``adaptive`` is false, first step otherwise (0: estimated).
    progress : bool or None
        Progress line on stderr; ``None``: only on a terminal and not under ``CI``.

    Returns
    -------
    EnsembleSolution
        Never raises for a failed trajectory: see ``status`` and ``message(i)``.
    """
    solver = METHODS.get(method)
    if solver is None:
        raise SolverError(f"unknown ensemble method {method!r}; choose from {sorted(METHODS)}")
    if backend not in ENSEMBLE_BACKENDS:
        raise SolverError(f"unknown ensemble backend {backend!r}; choose from {list(ENSEMBLE_BACKENDS)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise SolverError(f"ensemble dtype must be float32 or float64, not {dtype}")
    t0, tf = (float(v) for v in t_span)
    if not (math.isfinite(t0) and math.isfinite(tf) and tf > t0):
        raise SolverError(f"t_span must be finite and increasing, got {t_span}")
    ts = np.array([tf] if saveat is None else saveat, dtype=float).ravel()
    if ts.size == 0 or np.any(np.diff(ts) < 0) or ts[0] < t0 or ts[-1] > tf or not np.all(np.isfinite(ts)):
        raise SolverError(f"saveat must be increasing times in [{t0}, {tf}]")
    if not adaptive and not dt > 0:
        raise SolverError("fixed-step mode (adaptive=False) needs dt > 0")
    if not (rtol > 0 and atol > 0):
        raise SolverError("rtol and atol must be positive")
    if int(threads_per_block) < 1 or (chunks is not None and int(chunks) < 1) or int(max_steps) < 1:
        raise SolverError("threads_per_block, chunks and max_steps must be positive")
    ps = _table(model, params, model.params, model._pidx, "parameter value")
    ys = _table(model, y0, model.states, model._sidx, "initial value")
    ys, ps = _broadcast(ys, ps, "ensemble")
    ntraj = ys.shape[0]
    from ..backends.cuda.linalg import LOOP_MAX
    if solver == "ros3p" and len(model.states) > LOOP_MAX:
        raise SolverError(f"method='rosenbrock' is a per-trajectory solver for small and medium systems "
                          f"(at most {LOOP_MAX} states: dense LU per thread); this model has "
                          f"{len(model.states)}; use method='tsit5' or model.solve per trajectory")
    from .device import device_module
    dev_mod = device_module(model)
    args = (np.ascontiguousarray(ys, dtype=dtype), np.ascontiguousarray(ps, dtype=dtype),
            dtype.type(t0), np.ascontiguousarray(ts, dtype=dtype), dtype.type(dt),
            dtype.type(rtol), dtype.type(atol), int(max_steps), bool(adaptive))
    us = np.full((ntraj, ts.size, len(model.states)), np.nan, dtype=dtype)
    status = np.zeros(ntraj, dtype=np.int32)
    stats = np.zeros((ntraj, 5), dtype=np.int64)
    bar = Progress(ntraj, f"ensemble[{backend}]", progress)
    start = time.perf_counter()
    info = {}
    try:
        if backend == "cpu":
            from .cpu import cpu_runner
            import numba
            run = cpu_runner(dev_mod, model.key, solver, dtype)
            # dynamic scheduling of the chunks: trajectories differ in cost (adaptive
            # steps) and threads share the machine with other work
            old = numba.set_parallel_chunksize(2)
            try:
                for lo, hi in _batches(ntraj, 20 if bar.enabled else 1):
                    run(args[0][lo:hi], args[1][lo:hi], *args[2:], us[lo:hi], status[lo:hi], stats[lo:hi])
                    bar.update(hi - lo)
            finally:
                numba.set_parallel_chunksize(old)
        elif backend == "cuda":
            from ..backends.cuda.ensemble import run_on_gpu
            run_on_gpu(dev_mod, model.key, solver, dtype, args, us, status, stats,
                       threads_per_block, bar)
        else:
            from .distributed import run_dask
            info = run_dask(model, dev_mod, solver, dtype, args, us, status, stats, bar,
                            scheduler=scheduler, n_workers=n_workers, chunks=chunks, retries=retries)
    finally:
        bar.close()
    return EnsembleSolution(ts, us, status, stats, tuple(model.states), method, backend, dtype,
                            time.perf_counter() - start, info)


def _batches(n: int, k: int):
    k = max(1, min(k, n))
    edges = np.linspace(0, n, k + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
