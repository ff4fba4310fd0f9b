"""Ensemble API around the solvers: progress reporting, models loaded from the cache,
the ensemble example."""
import io
import sys

import numpy as np

import symgen as sg
from symgen.ensemble.api import Progress


def test_progress_line_and_ci_default(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    bar = Progress(10, "ensemble[cpu]", True)
    bar.update(4)
    bar.update(6)
    bar.close()
    assert "4/10 trajectories (40%" in buf.getvalue() and "10/10" in buf.getvalue()
    monkeypatch.delenv("SYMGEN_PROGRESS", raising=False)
    monkeypatch.setenv("CI", "true")
    assert not Progress(10, "x", None).enabled
    monkeypatch.delenv("CI")
    assert not Progress(10, "x", None).enabled      # StringIO is not a terminal


def test_progress_reported_during_a_cpu_ensemble(examples_path, monkeypatch):
    from lorenz import build
    model = sg.compile(build())
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    sol = model.ensemble(y0=np.ones((40, 3)), t_span=(0, 0.1), progress=True)
    assert sol.success
    assert buf.getvalue().count("trajectories") == 20 and "40/40" in buf.getvalue()


def test_model_from_cache_gets_its_device_module(tmp_cache, examples_path):
    from lorenz import build
    first = sg.compile(build())
    a = first.ensemble(y0=[1.0, 0.0, 0.0], t_span=(0, 0.5))
    (tmp_cache / first.key[:2] / first.key / "device.py").unlink()
    again = sg.compile(build())
    assert again.cached and "kernels" not in again.irs
    b = again.ensemble(y0=[1.0, 0.0, 0.0], t_span=(0, 0.5))   # device module re-derived
    np.testing.assert_array_equal(a.u, b.u)
    assert (tmp_cache / first.key[:2] / first.key / "device.py").exists()


def test_lorenz_ensemble_example(examples_path):
    import lorenz_ensemble
    _, ens, rho, spread = lorenz_ensemble.main(n=120, quiet=True)
    assert ens.success
    z_end = ens["z"][:, -1]
    stable = (rho > 2.0) & (rho < 12.0)          # the fixed points C+- have z = rho - 1
    np.testing.assert_allclose(z_end[stable], rho[stable] - 1.0, atol=1e-5)
    below = rho < 0.5                            # the origin attracts everything
    assert np.all(np.abs(z_end[below]) < 1e-6)
    assert np.all(spread[rho > 28.0] > 10.0)     # chaotic
