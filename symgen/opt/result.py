"""OptResult: what every optimization driver returns to the user."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SUCCESS = 0   # symgen.opt.drivers.common.SUCCESS (not imported: that module needs Numba)

__all__ = ["OptResult"]


@dataclass
class OptResult:
    """Result of :meth:`CompiledOpt.minimize`.

    Attributes
    ----------
    x : ndarray
        Solution (flat vector of all variables, in declaration order).
    f : float
        Objective value (of the declared objective, also for ``maximize``).
    lam : ndarray
        Constraint multipliers: ``grad F + J^T lam - z_lower + z_upper = 0`` at a
        solution, where ``F`` is the minimized objective (``f``, or ``-f`` for a model
        declared with ``maximize``).
    z_lower, z_upper : ndarray
        Bound multipliers (``>= 0``), same convention.
    iterations : int
    status : int
        0 success; see :mod:`symgen.opt.drivers.common`.
    message : str
    method : str
    stats : dict
        Kernel evaluations, factorizations, CG iterations.
    kkt_error : float
        Scaled first-order optimality error at ``x``.
    constraint_violation : float
        ``max`` violation of constraints and bounds at ``x``.
    start_violation : float
        The same at the initial guess (an infeasible start is allowed and reported).
    history : ndarray or None
        Interior-point iterations, one row each: objective, constraint violation,
        scaled dual infeasibility, barrier parameter, primal regularization, step
        length, line-search trials.
    """

    x: np.ndarray
    f: float
    lam: np.ndarray
    z_lower: np.ndarray
    z_upper: np.ndarray
    iterations: int
    status: int
    message: str
    method: str
    stats: dict = field(default_factory=dict)
    kkt_error: float = float("nan")
    constraint_violation: float = float("nan")
    start_violation: float = float("nan")
    _variables: tuple = field(default=(), repr=False)
    history: np.ndarray | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        return self.status == SUCCESS

    def __getitem__(self, var):
        """Value of a declared variable: a float, or an array of its shape."""
        for h, off, shape in self._variables:
            if h is var or h == var:
                if not shape:
                    return float(self.x[off])
                size = int(np.prod(shape))
                return self.x[off:off + size].reshape(shape)
        raise KeyError(f"{var} is not a variable of this problem")

    @staticmethod
    def message_for(status: int, iterations: int, extra: str = "") -> str:
        from .drivers.common import MESSAGES
        msg = MESSAGES.get(int(status), f"status {status}")
        msg = f"{msg} (after {iterations} iterations)"
        return msg + (f"; {extra}" if extra else "")

    @staticmethod
    def stats_dict(stats) -> dict:
        from .drivers.common import STAT_NAMES
        return {name: int(v) for name, v in zip(STAT_NAMES, stats)}

