"""Numba flavour of an exported symgen model: the generated Numba kernels (``kernels.py``)
and symgen's compiled drivers shipped as source (``_drivers``), called through the same
API as the native flavour.  Needs NumPy and Numba (no symgen, SymPy or Jinja2); the
drivers are JIT-compiled on first use and cached next to their sources.
"""
import os

import numpy as np

from ._runtime import ExportedModel

__all__ = ["NumbaModel"]

_PLAN_KEYS = ("perm", "indptr", "indices", "diag", "amap")


class NumbaModel(ExportedModel):
    """:class:`ExportedModel` whose kernels and steppers are Numba functions."""

    def _bind(self, directory, man):
        from . import kernels
        from ._drivers.dopri5 import dopri5
        from ._drivers.evaluate import call_kernel
        from ._drivers.radau5 import dense_from_values_plan, radau5
        self._k = {name: getattr(kernels, name) for name in man["kernels"]}
        self._call_kernel = call_kernel
        self._dopri5_nb, self._radau5_nb = dopri5, radau5
        self._dense_plan = dense_from_values_plan(self.jac_indptr, self.jac_indices)
        with np.load(os.path.join(directory, "sparse_plan.npz")) as plan:
            self._sparse_plan = tuple(np.ascontiguousarray(plan[k]) for k in _PLAN_KEYS)

    def _call(self, name, t, y, p, out):
        self._call_kernel(self._k[name], t, y, p, out)

    def _run(self, which, t0, tf, y, p, rtol, atol, h0, hmax, max_steps, te, dense, flag):
        rhs = self._k["rhs"]
        if which == "dopri5":
            st, t_r, ts, ys, cf, ye, ne, stats = self._dopri5_nb(
                rhs, float(t0), float(tf), y, p, float(rtol), atol, float(h0), float(hmax), int(max_steps), te,
                bool(dense), bool(flag))
        else:
            sparse = flag == 1 or (flag == -1 and self.manifest.get("linear_solver_auto") == "sparse")
            sparse = bool(sparse and len(self.states) > 0)
            jv = self._k["jac_values"]
            st, t_r, ts, ys, cf, ye, ne, stats = self._radau5_nb(
                rhs, jv, jv, float(t0), float(tf), y, p, float(rtol), atol, float(h0), float(hmax), int(max_steps),
                te, bool(dense), sparse, self._sparse_plan if sparse else self._dense_plan)
        return int(st), float(t_r), ts, ys, (cf if dense else None), ye[:ne], np.asarray(stats, dtype=np.int64)
