"""Feasibility restoration of the interior-point method: a problem whose barrier steps
stall without it (Waechter and Biegler's example of a line-search interior-point
method that fails to converge), and infeasible problems that end with the INFEASIBLE
status at a minimizer of the violation instead of iterating."""
import numpy as np
import pytest
import sympy as sp

import symgen.opt as so
from symgen.opt.drivers.common import INFEASIBLE


def _wachter_biegler(x0):
    """min x1  s.t.  x1^2 - x2 - 1 = 0,  x1 - x3 - 1/2 = 0,  x2, x3 >= 0.
    Unique solution (1, 0, 1/2), f* = 1.  From x1 < 0 the Newton steps of a barrier
    method with fraction-to-the-boundary are cut to zero length while infeasible."""
    m = so.OptModel("wachter-biegler")
    x = m.var("x", 3, lb=[-np.inf, 0, 0], init=x0)
    m.minimize(x[0])
    m.subject_to(sp.Eq(x[0]**2 - x[1] - 1, 0))
    m.subject_to(sp.Eq(x[0] - x[2] - sp.Rational(1, 2), 0))
    return m


@pytest.mark.parametrize("x0", [[-2, 1, 1], [-3, 1, 1], [-2, 0.5, 0.5], [-1.5, 2, 2]])
def test_restoration_rescues_stalled_barrier_steps(x0):
    res = _wachter_biegler(x0).compile().minimize(method="ipm", max_iter=300)
    assert res.status == 0, res.message
    assert res.stats["restorations"] >= 1          # the problem needs the phase
    assert res.f == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(res.x, [1.0, 0.0, 0.5], atol=1e-6)
    assert res.constraint_violation <= 1e-8


def test_infeasible_box_and_equality_reported_at_minimal_violation():
    """x0 + x1 = 3 with both in [0, 1]: the violation is smallest (1) at (1, 1)."""
    m = so.OptModel("infeasible-box")
    x = m.var("x", 2, lb=0, ub=1, init=[0.2, 0.3])
    m.minimize((x[0] - 0.5)**2 + x[1]**2)
    m.subject_to(sp.Eq(x[0] + x[1], 3))
    res = m.compile().minimize(method="ipm", max_iter=3000)
    assert res.status == INFEASIBLE, res.message
    assert "infeasible" in res.message
    assert res.iterations < 3000
    assert res.stats["restorations"] >= 1
    assert res.constraint_violation == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(res.x, [1.0, 1.0], atol=1e-4)


def test_infeasible_inequalities_end_with_status():
    """x^2 + y^2 <= 1 and x + y >= 3 do not meet (distance sqrt(2)-ish gap)."""
    m = so.OptModel("infeasible-disk-halfplane")
    x = m.var("x", 2, init=[0.0, 0.0])
    m.minimize(x[0] - x[1])
    m.subject_to(x[0]**2 + x[1]**2 <= 1)
    m.subject_to(x[0] + x[1] >= 3)
    res = m.compile().minimize(method="ipm", max_iter=3000)
    assert res.status == INFEASIBLE, res.message
    assert res.iterations < 3000
    assert res.constraint_violation > 0.1
