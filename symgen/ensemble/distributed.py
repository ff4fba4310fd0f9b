"""Distributed ensembles on Dask (``dask.distributed``).

The trajectories are cut into chunks, one task each.  A task carries the model's key
and the text of its device module (scattered once to every worker); the worker writes
that text into its own symgen cache entry when it is missing and imports it from there,
so no worker runs symbolic work, and each worker process compiles the solver once per
(model, method, dtype) and reuses it for all its tasks.  Results are placed by chunk
index (the order of the trajectories is kept whatever order tasks finish in).  A task
that raises is retried ``retries`` times by the scheduler; one that still fails is
reported in an :class:`EnsembleTaskError` naming its trajectories, never dropped.
"""
from __future__ import annotations

import numpy as np

from ..errors import SymgenError

__all__ = ["run_dask", "run_chunk", "EnsembleTaskError"]


class EnsembleTaskError(SymgenError):
    """Dask tasks of an ensemble failed after their retries."""


def run_chunk(key: str, device_text: str, method: str, dtype: str, ys, ps, rest):
    """Worker side: integrate one chunk; returns ``(us, status, stats)``."""
    from ..cache import entry_dir
    from .cpu import cpu_runner
    from .device import DEVICE_FILE, load_device_module
    d = entry_dir(key)
    path = d / DEVICE_FILE
    if not path.exists() or path.read_text() != device_text:
        d.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{np.random.randint(1 << 30)}.tmp")
        tmp.write_text(device_text)
        tmp.replace(path)
    dev_mod = load_device_module(key)
    run = cpu_runner(dev_mod, key, method, np.dtype(dtype))
    ntraj = ys.shape[0]
    us = np.full((ntraj, rest[1].shape[0], ys.shape[1]), np.nan, dtype=ys.dtype)
    status = np.zeros(ntraj, dtype=np.int32)
    stats = np.zeros((ntraj, 5), dtype=np.int64)
    run(ys, ps, *rest, us, status, stats)
    return us, status, stats


def _client(scheduler, n_workers):
    from dask.distributed import Client, LocalCluster
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster, True
    if isinstance(scheduler, Client):
        return scheduler, None, False
    return Client(scheduler), None, True


def submit_chunks(client, key, device_text, method, dtype, args, edges, retries):
    """Submit one task per chunk ``[edges[i], edges[i+1])``; returns the futures."""
    text = client.scatter(device_text, broadcast=True)
    rest = args[2:]
    futs = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        futs.append(client.submit(run_chunk, key, text, method, str(np.dtype(dtype)),
                                  args[0][lo:hi], args[1][lo:hi], rest, retries=retries, pure=False))
    return futs


def gather_in_order(futs, edges, us, status, stats, bar):
    """Wait for every task; write each chunk's results at its own rows; raise
    :class:`EnsembleTaskError` listing every chunk that failed."""
    from dask.distributed import as_completed
    index = {f.key: i for i, f in enumerate(futs)}
    failed = []
    for fut in as_completed(futs):
        i = index[fut.key]
        lo, hi = int(edges[i]), int(edges[i + 1])
        if fut.status != "finished":
            failed.append(f"trajectories {lo}..{hi - 1}: {fut.exception()!r}")
            continue
        u, s, st = fut.result()
        us[lo:hi], status[lo:hi], stats[lo:hi] = u, s, st
        bar.update(hi - lo)
    if failed:
        raise EnsembleTaskError(f"{len(failed)} of {len(futs)} ensemble tasks failed after their "
                                "retries: " + "; ".join(failed))


def run_dask(model, dev_mod, method, dtype, args, us, status, stats, bar, *, scheduler=None,
             n_workers=2, chunks=None, retries=2):
    """Run an ensemble as Dask tasks (see the module docstring)."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the installed extra
        raise SymgenError("backend='dask' needs dask.distributed: pip install 'symgen[dask]'") from e
    ntraj = args[0].shape[0]
    client, cluster, own = _client(scheduler, n_workers)
    try:
        nw = max(1, len(client.scheduler_info().get("workers", {})) or n_workers)
        k = max(1, min(ntraj, chunks or 4 * nw))
        edges = np.linspace(0, ntraj, k + 1).astype(int)
        with open(dev_mod.__file__) as fh:
            text = fh.read()
        futs = submit_chunks(client, model.key, text, method, dtype, args, edges, retries)
        gather_in_order(futs, edges, us, status, stats, bar)
        return {"chunks": k, "workers": nw, "scheduler": client.scheduler.address}
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()
