"""Progress reporting: on/off rules, stage lines of a compile, solve callbacks that do not
change the numbers."""
import numpy as np
import pytest

import symgen as sg
from symgen import progress


@pytest.mark.parametrize("env,ci,flag,expected", [
    ({"SYMGEN_PROGRESS": "1"}, "true", None, True),     # explicit env wins over CI
    ({"SYMGEN_PROGRESS": "0"}, "", None, False),
    ({}, "true", None, False),                          # CI: off
    ({}, "true", True, True),                           # explicit argument wins
    ({}, "", None, False),                              # pytest's captured stderr is no TTY
])
def test_enabled_rules(monkeypatch, env, ci, flag, expected):
    monkeypatch.delenv("SYMGEN_PROGRESS", raising=False)
    monkeypatch.setenv("CI", ci)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert progress.enabled(flag) is expected


def _vdp():
    t = sg.time()
    x, v = sg.states("x v")
    mu = sg.params("mu")
    return sg.ODESystem([sg.D(x) == v, sg.D(v) == mu * (1 - x**2) * v - x], t,
                        name="vdp_progress"), (x, v, mu)


def test_compile_reports_stages(tmp_cache, capsys, monkeypatch):
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    system, _ = _vdp()
    sg.compile(system, progress=True)
    err = capsys.readouterr().err
    for stage in ("simplify", "derive", "lower", "emit", "build"):
        assert f"compiling vdp_progress: {stage} " in err, err


def test_solve_progress_does_not_change_the_solution(capsys, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    system, (x, v, mu) = _vdp()
    model = sg.compile(system)
    kw = dict(params={mu: 1000.0}, rtol=1e-6, atol=1e-6)
    for method in ("dopri5", "radau5"):
        quiet = model.solve({x: 2.0, v: 0.0}, (0, 1.0 if method == "dopri5" else 3000.0),
                            method=method, progress=False, **kw)
        capsys.readouterr()
        loud = model.solve({x: 2.0, v: 0.0}, (0, 1.0 if method == "dopri5" else 3000.0),
                           method=method, progress=True, **kw)
        err = capsys.readouterr().err
        assert f"vdp_progress {method}" in err and "% of the span" in err
        assert quiet.stats == loud.stats
        np.testing.assert_array_equal(quiet.y, loud.y)
