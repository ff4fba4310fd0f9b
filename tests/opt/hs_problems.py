"""Hock-Schittkowski test problems (W. Hock, K. Schittkowski, *Test Examples for Nonlinear
Programming Codes*, 1981) with their published optimal objective values.

Each builder returns ``(model, x, f_star, x_star or None)``; variables are one indexed
vector ``x`` (``x[0]`` is the book's ``x1``).
"""
import math

import sympy as sp

import symgen.opt as so

INF = math.inf


def _model(name, n, init, lb=-INF, ub=INF):
    m = so.OptModel(name)
    x = m.var("x", n, lb=lb, ub=ub, init=init)
    return m, x, [x[k] for k in range(n)]


def hs001():
    m, x, (x1, x2) = _model("hs001", 2, [-2, 1], lb=[-INF, -1.5])
    m.minimize(100 * (x2 - x1**2)**2 + (1 - x1)**2)
    return m, x, 0.0, [1, 1]


def hs003():
    m, x, (x1, x2) = _model("hs003", 2, [10, 1], lb=[-INF, 0])
    m.minimize(x2 + 1e-5 * (x2 - x1)**2)
    return m, x, 0.0, [0, 0]


def hs004():
    m, x, (x1, x2) = _model("hs004", 2, [1.125, 0.125], lb=[1, 0])
    m.minimize((x1 + 1)**3 / 3 + x2)
    return m, x, 8 / 3, [1, 0]


def hs005():
    m, x, (x1, x2) = _model("hs005", 2, [0, 0], lb=[-1.5, -3], ub=[4, 3])
    m.minimize(sp.sin(x1 + x2) + (x1 - x2)**2 - 1.5 * x1 + 2.5 * x2 + 1)
    return m, x, -math.sqrt(3) / 2 - math.pi / 3, [-math.pi / 3 + 0.5, -math.pi / 3 - 0.5]


def hs006():
    m, x, (x1, x2) = _model("hs006", 2, [-1.2, 1])
    m.minimize((1 - x1)**2)
    m.subject_to(sp.Eq(10 * (x2 - x1**2), 0))
    return m, x, 0.0, [1, 1]


def hs007():
    m, x, (x1, x2) = _model("hs007", 2, [2, 2])
    m.minimize(sp.log(1 + x1**2) - x2)
    m.subject_to(sp.Eq((1 + x1**2)**2 + x2**2 - 4, 0))
    return m, x, -math.sqrt(3), [0, math.sqrt(3)]


def hs010():
    m, x, (x1, x2) = _model("hs010", 2, [-10, 10])
    m.minimize(x1 - x2)
    m.subject_to(-3 * x1**2 + 2 * x1 * x2 - x2**2 + 1 >= 0)
    return m, x, -1.0, [0, 1]


def hs011():
    m, x, (x1, x2) = _model("hs011", 2, [4.9, 0.1])
    m.minimize((x1 - 5)**2 + x2**2 - 25)
    m.subject_to(-x1**2 + x2 >= 0)
    return m, x, -8.498464223, None


def hs012():
    m, x, (x1, x2) = _model("hs012", 2, [0, 0])
    m.minimize(0.5 * x1**2 + x2**2 - x1 * x2 - 7 * x1 - 7 * x2)
    m.subject_to(25 - 4 * x1**2 - x2**2 >= 0)
    return m, x, -30.0, [2, 3]


def hs014():
    m, x, (x1, x2) = _model("hs014", 2, [2, 2])
    m.minimize((x1 - 2)**2 + (x2 - 1)**2)
    m.subject_to(sp.Eq(x1 - 2 * x2 + 1, 0))
    m.subject_to(-x1**2 / 4 - x2**2 + 1 >= 0)
    return m, x, 9 - 2.875 * math.sqrt(7), [0.5 * (math.sqrt(7) - 1), 0.25 * (math.sqrt(7) + 1)]


def hs021():
    m, x, (x1, x2) = _model("hs021", 2, [-1, -1], lb=[2, -50], ub=[50, 50])
    m.minimize(0.01 * x1**2 + x2**2 - 100)
    m.subject_to(10 * x1 - x2 - 10 >= 0)
    return m, x, -99.96, [2, 0]


def hs026():
    m, x, (x1, x2, x3) = _model("hs026", 3, [-2.6, 2, 2])
    m.minimize((x1 - x2)**2 + (x2 - x3)**4)
    m.subject_to(sp.Eq((1 + x2**2) * x1 + x3**4 - 3, 0))
    return m, x, 0.0, None


def hs028():
    m, x, (x1, x2, x3) = _model("hs028", 3, [-4, 1, 1])
    m.minimize((x1 + x2)**2 + (x2 + x3)**2)
    m.subject_to(sp.Eq(x1 + 2 * x2 + 3 * x3 - 1, 0))
    return m, x, 0.0, [0.5, -0.5, 0.5]


def hs035():
    m, x, (x1, x2, x3) = _model("hs035", 3, [0.5, 0.5, 0.5], lb=0)
    m.minimize(9 - 8 * x1 - 6 * x2 - 4 * x3 + 2 * x1**2 + 2 * x2**2 + x3**2 + 2 * x1 * x2 + 2 * x1 * x3)
    m.subject_to(3 - x1 - x2 - 2 * x3 >= 0)
    return m, x, 1 / 9, [4 / 3, 7 / 9, 4 / 9]


def hs038():
    m, x, (x1, x2, x3, x4) = _model("hs038", 4, [-3, -1, -3, -1], lb=-10, ub=10)
    m.minimize(100 * (x2 - x1**2)**2 + (1 - x1)**2 + 90 * (x4 - x3**2)**2 + (1 - x3)**2
               + 10.1 * ((x2 - 1)**2 + (x4 - 1)**2) + 19.8 * (x2 - 1) * (x4 - 1))
    return m, x, 0.0, [1, 1, 1, 1]


def hs040():
    m, x, (x1, x2, x3, x4) = _model("hs040", 4, [0.8] * 4)
    m.minimize(-x1 * x2 * x3 * x4)
    m.subject_to(sp.Eq(x1**3 + x2**2 - 1, 0))
    m.subject_to(sp.Eq(x1**2 * x4 - x3, 0))
    m.subject_to(sp.Eq(x4**2 - x2, 0))
    return m, x, -0.25, [2**(-1 / 3), 2**(-1 / 2), 2**(-11 / 12), 2**(-1 / 4)]


def hs043():
    m, x, (x1, x2, x3, x4) = _model("hs043", 4, [0, 0, 0, 0])
    m.minimize(x1**2 + x2**2 + 2 * x3**2 + x4**2 - 5 * x1 - 5 * x2 - 21 * x3 + 7 * x4)
    m.subject_to(8 - x1**2 - x2**2 - x3**2 - x4**2 - x1 + x2 - x3 + x4 >= 0)
    m.subject_to(10 - x1**2 - 2 * x2**2 - x3**2 - 2 * x4**2 + x1 + x4 >= 0)
    m.subject_to(5 - 2 * x1**2 - x2**2 - x3**2 - 2 * x1 + x2 + x4 >= 0)
    return m, x, -44.0, [0, 1, 2, -1]


def hs048():
    m, x, (x1, x2, x3, x4, x5) = _model("hs048", 5, [3, 5, -3, 2, -2])
    m.minimize((x1 - 1)**2 + (x2 - x3)**2 + (x4 - x5)**2)
    m.subject_to(sp.Eq(x1 + x2 + x3 + x4 + x5, 5))
    m.subject_to(sp.Eq(x3 - 2 * (x4 + x5), -3))
    return m, x, 0.0, [1, 1, 1, 1, 1]


def hs065():
    m, x, (x1, x2, x3) = _model("hs065", 3, [-5, 5, 0], lb=[-4.5, -4.5, -5], ub=[4.5, 4.5, 5])
    m.minimize((x1 - x2)**2 + (x1 + x2 - 10)**2 / 9 + (x3 - 5)**2)
    m.subject_to(48 - x1**2 - x2**2 - x3**2 >= 0)
    return m, x, 0.9535288567, None


def hs071():
    m, x, (x1, x2, x3, x4) = _model("hs071", 4, [1, 5, 5, 1], lb=1, ub=5)
    m.minimize(x1 * x4 * (x1 + x2 + x3) + x3)
    m.subject_to(x1 * x2 * x3 * x4 >= 25)
    m.subject_to(sp.Eq(x1**2 + x2**2 + x3**2 + x4**2, 40))
    return m, x, 17.0140173, [1.0, 4.7429994, 3.8211503, 1.3794082]


def hs076():
    m, x, (x1, x2, x3, x4) = _model("hs076", 4, [0.5] * 4, lb=0)
    m.minimize(x1**2 + 0.5 * x2**2 + x3**2 + 0.5 * x4**2 - x1 * x3 + x3 * x4 - x1 - 3 * x2 + x3 - x4)
    m.subject_to(5 - x1 - 2 * x2 - x3 - x4 >= 0)
    m.subject_to(4 - 3 * x1 - x2 - 2 * x3 + x4 >= 0)
    m.subject_to(x2 + 4 * x3 - 1.5 >= 0)
    return m, x, -4.681818181, None


PROBLEMS = {f.__name__: f for f in (hs001, hs003, hs004, hs005, hs006, hs007, hs010, hs011, hs012,
                                     hs014, hs021, hs026, hs028, hs035, hs038, hs040, hs043, hs048,
                                     hs065, hs071, hs076)}
