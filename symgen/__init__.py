"""symgen: symbolic models -> simplified, differentiated, compiled kernels and solvers.

>>> import symgen as sg
>>> t = sg.time()
>>> x = sg.states("x")
>>> k = sg.params("k")
>>> model = sg.compile(sg.ODESystem([sg.D(x) == -k * x], t, name="decay"))  # doctest: +SKIP
>>> sol = model.solve({x: 1.0}, (0, 1), params={k: 2.0})                    # doctest: +SKIP
"""
from __future__ import annotations

__version__ = "0.1.0"

from .dsl.symbols import D, params, states, time
from .dsl.system import ODESystem
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .pipeline import compile, run_pipeline
from .show import report, show
from . import io  # noqa: E402  (importers: sg.io.load_bionetgen)
from . import opt  # noqa: E402  (optimization: sg.opt.OptModel)
from .aot import export  # noqa: E402  (ahead-of-time export: sg.export)
from . import pde  # noqa: E402  (PDEs on structured grids)
from .pde import (Dirichlet, Grid, Neumann, PDESystem, Robin, divergence, fields, gradient,  # noqa: E402
                  laplacian, upwind)
from .pde import diff as pdiff  # noqa: E402

__all__ = ["__version__", "time", "states", "params", "D", "ODESystem", "compile", "run_pipeline",
           "show", "report", "io", "opt", "export", *_errors_all,
           "pde", "Grid", "fields", "PDESystem", "Dirichlet", "Neumann", "Robin", "laplacian", "gradient",
           "divergence", "upwind", "pdiff"]
