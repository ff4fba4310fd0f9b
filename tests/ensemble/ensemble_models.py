"""Small models of the ensemble tests, with exact solutions where they have one."""
import math

import numpy as np
import sympy as sp

import symgen as sg


def oscillator():
    """x' = v, v' = -w^2 x (exact: x = cos(w t) for x0 = 1, v0 = 0)."""
    t = sg.time()
    x, v = sg.states("x v")
    w = sg.params("w")
    return sg.ODESystem([sg.D(x) == v, sg.D(v) == -w**2 * x], t, name="ens_oscillator")


def riccati_forced():
    """a' = -k a^2 (exact a0/(1 + k a0 t)); b' = -b + sin(t) (exact
    (b0 + 1/2) e^-t + (sin t - cos t)/2): nonlinear and non-autonomous (df/dt)."""
    t = sg.time()
    a, b = sg.states("a b")
    k = sg.params("k")
    return sg.ODESystem([sg.D(a) == -k * a**2, sg.D(b) == -b + sp.sin(t)], t,
                        name="ens_riccati_forced")


def riccati_exact(t, a0, b0, k):
    return np.array([a0 / (1 + k * a0 * t),
                     (b0 + 0.5) * math.exp(-t) + (math.sin(t) - math.cos(t)) / 2])


def blowup():
    """y' = y^2, y(0) = 1 blows up at t = 1."""
    t = sg.time()
    y = sg.states("y")
    return sg.ODESystem([sg.D(y) == y**2], t, name="ens_blowup")


def lorenz_py(p):
    s, r, b = p
    return lambda t, u: [s * (u[1] - u[0]), u[0] * (r - u[2]) - u[1], u[0] * u[1] - b * u[2]]


def robertson_py(p):
    k1, k2, k3 = p
    def f(t, y):
        return [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2],
                k2 * y[1] ** 2]
    def jac(t, y):
        return [[-k1, k3 * y[2], k3 * y[1]],
                [k1, -2 * k2 * y[1] - k3 * y[2], -k3 * y[1]],
                [0.0, 2 * k2 * y[1], 0.0]]
    return f, jac
