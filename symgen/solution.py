"""Solution: the result of a solve, indexable by symbol, with dense output and stats."""
from __future__ import annotations

import numpy as np

__all__ = ["Solution"]


class Solution:
    """Result of :meth:`CompiledModel.solve`.

    Attributes
    ----------
    t : ndarray, shape (m,)
        Accepted step times (or the requested ``t_eval``).
    y : ndarray, shape (n, m)
        States at ``t`` (SciPy's layout: one row per state).
    status : int
        0 on success; see ``symgen.drivers.common`` for the other codes.
    message : str
        What happened, with the time reached when the solve failed.
    success : bool
    t_reached : float
        Time of the last accepted step.
    stats : dict
        steps, accepted, rejected, nfev, njev, nlu, newton_iters, linear_solves.
    method : str
        The method(s) used (``"dopri5"``, ``"radau5"`` or ``"dopri5->radau5"``).
    """

    def __init__(self, model, t, y, segments, p, status, message, t_reached, stats, method):
        self._model = model
        self.t = t
        self.y = y
        self._segments = segments  # list of (dense_eval, ts, coeffs)
        self._p = p
        self.status = status
        self.message = message
        self.success = status == 0
        self.t_reached = t_reached
        self.stats = stats
        self.method = method

    def __repr__(self) -> str:
        return (f"Solution(status={self.status}, message={self.message!r}, points={self.t.size}, "
                f"t_reached={self.t_reached:g}, method={self.method!r}, stats={self.stats})")

    # -- indexing -------------------------------------------------------------------
    def __getitem__(self, key):
        """``sol[x]`` (state or observable, by symbol or name) -> values at ``sol.t``."""
        idx = self._model._state_index(key)
        if idx is not None:
            return self.y[idx]
        j = self._model._observed_index(key)
        if j is not None:
            return self._model.observed_values(self.t, self.y.T, self._p)[:, j]
        raise KeyError(f"{key!r} is neither a state nor an observable of model "
                       f"{self._model.name!r}")

    def __call__(self, tq):
        """Dense output: states at time(s) ``tq``; shape (n,) or (n, len(tq))."""
        if not self._segments:
            raise ValueError("this solution has no dense output (solve with dense=True)")
        scalar = np.ndim(tq) == 0
        tq = np.atleast_1d(np.asarray(tq, dtype=float))
        out = np.full((tq.size, self.y.shape[0]), np.nan)
        lo_all = min(min(s[1][0], s[1][-1]) for s in self._segments)
        hi_all = max(max(s[1][0], s[1][-1]) for s in self._segments)
        if np.any((tq < lo_all - 1e-12 * abs(lo_all)) | (tq > hi_all + 1e-12 * abs(hi_all))):
            raise ValueError(f"dense output requested outside the solved span [{lo_all}, {hi_all}]")
        done = np.zeros(tq.size, dtype=bool)
        for evaluate, ts, coeffs in self._segments:
            if ts.size < 2:
                continue
            lo, hi = min(ts[0], ts[-1]), max(ts[0], ts[-1])
            sel = (~done) & (tq >= lo) & (tq <= hi)
            if sel.any():
                out[sel] = evaluate(ts, coeffs, tq[sel])
                done |= sel
        return out[0] if scalar else out.T

    def plot(self, *keys, ax=None):
        """Plot states/observables against time with matplotlib (``pip install symgen[plot]``)."""
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        keys = keys or self._model.states
        for k in keys:
            ax.plot(self.t, self[k], label=str(k))
        ax.set_xlabel(str(self._model.problem.t))
        ax.legend()
        return ax

    def to_dict(self) -> dict:
        """``{state name: values}`` for every state."""
        return {str(s): self.y[i] for i, s in enumerate(self._model.states)}

