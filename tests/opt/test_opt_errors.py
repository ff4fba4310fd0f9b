"""Bad models raise SymgenError subclasses naming the term and symbol; failed solves
return a status and a message (infeasible, unbounded), never a hang."""
import math

import numpy as np
import pytest
import sympy as sp

import symgen.opt as so
from symgen.errors import (IndexRangeError, ModelError, NonFiniteStartError, NonSmoothError,
                           SolverError, UndeclaredSymbolError)
from symgen.opt.drivers.common import INFEASIBLE, UNBOUNDED

from .hs_problems import hs071


@pytest.mark.parametrize("fn", [sp.Abs, lambda e: sp.Max(e, 0), lambda e: sp.Min(e, 1), sp.Heaviside,
                                lambda e: sp.Piecewise((e, e > 0), (0, True)), sp.sign])
def test_nonsmooth_flagged(fn):
    m = so.OptModel("ns")
    x = m.var("x", 3)
    i = so.index("i")
    m.minimize(sp.Sum(fn(x[i] - 1) + x[i]**2, (i, 0, 2)))
    with pytest.raises(NonSmoothError) as err:
        m.declare()
    assert "Sum(" in str(err.value)


def test_nonsmooth_in_constraint_and_allowed():
    m = so.OptModel("ns2")
    x = m.var("x", 2, init=[2, 2])
    m.minimize(x[0]**2 + x[1]**2)
    m.subject_to(sp.Abs(x[0]) >= 1, name="abs-row")
    with pytest.raises(NonSmoothError, match="abs-row"):
        m.declare()
    res = m.compile(allow_nonsmooth=True).minimize()
    assert res.status == 0 and res.f == pytest.approx(1.0, abs=1e-6)


def test_nonfinite_start_names_term_and_index():
    m = so.OptModel("nf")
    x = m.var("x", 5, init=[1, 2, 3, -1, 2])
    i = so.index("i")
    m.minimize(sp.Sum(x[i]**2 - sp.log(x[i]), (i, 0, 4)))
    with pytest.raises(NonFiniteStartError) as err:
        m.compile().minimize()
    msg = str(err.value)
    assert "i=3" in msg and "x[3]=-1" in msg and "log" in msg


def test_nonfinite_start_in_constraint():
    m = so.OptModel("nf2")
    x = m.var("x", 2, init=[0.0, 1.0])
    m.minimize(x[0]**2 + x[1]**2)
    m.subject_to(1 / x[0] + x[1] <= 4, name="reciprocal")
    with pytest.raises(NonFiniteStartError, match="reciprocal"):
        m.compile().minimize()


def test_bad_declarations():
    m = so.OptModel("bad")
    with pytest.raises(ModelError, match="lb > ub"):
        m.var("x", 3, lb=[0, 2, 0], ub=[1, 1, 1])
    x = m.var("y", 5)
    i = so.index("i")
    m.minimize(sp.Sum(x[i + 1]**2, (i, 0, 4)))
    with pytest.raises(IndexRangeError, match="size 5"):
        m.declare()
    m.minimize(sp.Sum(sp.Symbol("q") * x[i]**2, (i, 0, 4)))
    with pytest.raises(UndeclaredSymbolError, match="q"):
        m.declare()
    m.minimize(sp.Sum(x[i]**2, (i, 0, 4))**2)
    with pytest.raises(ModelError, match="not separable"):
        m.declare()
    m.minimize(x[i]**2)
    with pytest.raises(ModelError, match="not loop indices"):
        m.declare()
    with pytest.raises(ModelError, match="boolean"):
        m.subject_to(x[0]**2 == 3)


def test_method_and_option_errors():
    m, x, _, _ = hs071()
    cm = m.compile()
    with pytest.raises(SolverError, match="constraint"):
        cm.minimize(method="lbfgsb")
    with pytest.raises(SolverError, match="unknown method"):
        cm.minimize(method="newton")


def test_infeasible_start_is_reported_not_refused():
    m, x, f_star, _ = hs071()
    res = m.compile().minimize()
    assert res.start_violation == pytest.approx(12.0)   # 1+25+25+1 = 52 vs 40
    assert "start point infeasible" in res.message
    assert res.status == 0 and res.constraint_violation < 1e-8


@pytest.mark.parametrize("method", ["tron", "lbfgsb", "ipm"])
def test_unbounded_detected(method):
    m = so.OptModel("unbounded")
    x = m.var("x", 2, init=[1, 1])
    m.minimize(-x[0]**2 + x[1]**2)
    res = m.compile().minimize(method=method)
    assert res.status == UNBOUNDED, res.message
    assert "unbounded" in res.message


def test_unbounded_linear_with_constraint():
    m = so.OptModel("unbounded-lp")
    x = m.var("x", 2, init=[1, 1])
    m.minimize(x[0] + x[1])
    m.subject_to(x[0] - x[1] <= 3)
    res = m.compile().minimize()
    assert res.status == UNBOUNDED


@pytest.mark.parametrize("case", ["disk", "negative"])
def test_locally_infeasible_detected(case):
    m = so.OptModel("infeasible-" + case)
    x = m.var("x", 2, init=[0.5, 0.5])
    m.minimize(x[0]**2 + x[1]**2)
    if case == "disk":
        m.subject_to(x[0]**2 + x[1]**2 <= 1)
        m.subject_to(x[0] >= 3)
    else:
        m.subject_to(sp.Eq(x[0]**2 + x[1]**2, -1, evaluate=False))
    res = m.compile().minimize(max_iter=500)
    assert res.status == INFEASIBLE, res.message
    assert res.constraint_violation > 0.5
    assert math.isfinite(res.f) and np.isfinite(res.x).all()


def test_maximize_reports_declared_objective_and_min_multipliers():
    m = so.OptModel("max")
    x = m.var("x", 2, init=[0.1, 0.2])
    m.maximize(x[0] + x[1])
    m.subject_to(x[0]**2 + x[1]**2 <= 2)
    cm = m.compile()
    res = cm.minimize()
    assert res.status == 0
    assert res.f == pytest.approx(2.0, abs=1e-7)
    assert np.allclose(res[x], [1.0, 1.0], atol=1e-6)
    # stationarity of the minimized objective -f: -1 + lam * 2 x_i = 0
    assert res.lam[0] == pytest.approx(0.5, abs=1e-6)
    assert np.allclose(cm.gradient(res.x), [1.0, 1.0])
