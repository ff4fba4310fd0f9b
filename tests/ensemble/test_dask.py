"""Distributed ensembles on a 2-worker local Dask cluster: results identical to the
serial CPU run, in order; failed tasks reported, never dropped."""
import numpy as np
import pytest

import symgen as sg

distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster
    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(lc)
    yield client
    client.close()
    lc.close()


@pytest.fixture(scope="module")
def lorenz(examples_path):
    from lorenz import build
    return sg.compile(build())


def test_dask_two_workers_identical_to_serial(lorenz, cluster):
    rng = np.random.default_rng(7)
    n = 37   # not a multiple of the chunk count: uneven chunks
    ps = np.column_stack([9 + 2 * rng.random(n), 20 + 10 * rng.random(n), np.full(n, 8 / 3)])
    kw = dict(params=ps, y0=[1.0, 0.0, 0.0], t_span=(0, 2), saveat=[1.0, 2.0], rtol=1e-9, atol=1e-9)
    serial = lorenz.ensemble(backend="cpu", **kw)
    dist = lorenz.ensemble(backend="dask", scheduler=cluster, chunks=5, **kw)
    assert dist.info["chunks"] == 5 and dist.info["workers"] == 2
    np.testing.assert_array_equal(dist.u, serial.u)
    np.testing.assert_array_equal(dist.status, serial.status)
    np.testing.assert_array_equal(dist.stats, serial.stats)
    # each worker compiled the solver once for its tasks (5 chunks on 2 workers), from
    # the device module it imported from its cache by the model's key
    def worker_state(key):
        import sys
        from symgen.ensemble import cpu
        return (sum(1 for k in cpu._RUNNERS if k[0] == key),
                any(m.startswith("_symgen_device_" + key[:24]) for m in sys.modules))
    states = cluster.run(worker_state, lorenz.key)
    assert len(states) == 2
    for compiled, imported in states.values():
        assert compiled == 1 and imported
    # the scheduler address (not the client object) works too
    again = lorenz.ensemble(backend="dask", scheduler=cluster.scheduler.address, chunks=3, **kw)
    np.testing.assert_array_equal(again.u, serial.u)


def test_failed_tasks_are_retried_then_reported(lorenz, cluster):
    from symgen.ensemble.distributed import EnsembleTaskError, gather_in_order, submit_chunks
    args = (np.ones((4, 3)), np.ones((4, 3)), 0.0, np.array([1.0]), 0.0, 1e-6, 1e-6, 1000, True)
    edges = np.array([0, 2, 4])
    # a device module that cannot be imported: every attempt of every task fails
    futs = submit_chunks(cluster, lorenz.key + "-broken", "raise RuntimeError('broken module')\n",
                         "tsit5", np.float64, args, edges, retries=1)
    us, status, stats = np.zeros((4, 1, 3)), np.zeros(4, np.int32), np.zeros((4, 5), np.int64)

    class Bar:
        def update(self, k):
            pass
    with pytest.raises(EnsembleTaskError, match=r"2 of 2 ensemble tasks failed.*trajectories 0\.\.1.*broken"):
        gather_in_order(futs, edges, us, status, stats, Bar())
