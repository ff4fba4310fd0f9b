"""Van der Pol (mu = 1000, the vdp1000 form) as hand-written driver kernels and as NumPy
functions for SciPy references; shared by the driver tests."""
import numpy as np
from numba import cfunc

from symgen.drivers.common import KERNEL_SIG

MU = 1000.0


@cfunc(KERNEL_SIG, cache=True)
def vdp_rhs(t, y, p, dy):
    dy[0] = y[1]
    dy[1] = p[0] * (1.0 - y[0] * y[0]) * y[1] - y[0]


@cfunc(KERNEL_SIG, cache=True)
def vdp_jac(t, y, p, J):
    J[0] = 0.0
    J[1] = 1.0
    J[2] = -2.0 * p[0] * y[0] * y[1] - 1.0
    J[3] = p[0] * (1.0 - y[0] * y[0])


def vdp_py(t, y):
    return np.array([y[1], MU * (1 - y[0] ** 2) * y[1] - y[0]])


def vdp_py_jac(t, y):
    return np.array([[0.0, 1.0], [-2 * MU * y[0] * y[1] - 1.0, MU * (1 - y[0] ** 2)]])
