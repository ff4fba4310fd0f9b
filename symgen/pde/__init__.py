"""PDEs on structured grids: fields, operators, boundary conditions, stencil kernels.

A PDE is never scalarized: it is discretized once per grid *region* (interior and
boundary bands) into stencils, lowered to loop nests whose sizes are run-time values,
and integrated by the ODE drivers (method of lines) or solved for a steady state by a
compiled Newton method.
"""
from __future__ import annotations

from .bcs import BC, Dirichlet, Neumann, Robin
from .build import compile_pde
from .discretize import discretize
from .fd import stencil, weights
from .grid import Axis, Field, Grid, fields
from .model import PDEModel, SteadyResult
from .operators import Dx, Upwind, diff, divergence, gradient, laplacian, upwind
from .system import PDESystem

__all__ = ["Grid", "Axis", "Field", "fields", "PDESystem", "BC", "Dirichlet", "Neumann", "Robin",
           "Dx", "Upwind", "diff", "gradient", "divergence", "laplacian", "upwind", "discretize",
           "stencil", "weights", "compile_pde", "PDEModel", "SteadyResult"]
