"""Exported symgen model: kernels and ODE steppers in a native library, called with ctypes.

Needs only NumPy (no symgen, SymPy, Numba or llvmlite, no compilation at import or call
time).  Everything model-specific (names, sizes, pattern, symbols) is read from
``manifest.json`` next to this file; the code itself is the same for every model.

>>> import mymodel                                  # doctest: +SKIP
>>> sol = mymodel.solve({"x": 1.0}, (0.0, 1.0), {"k": 2.0})
>>> sol.t, sol.y, sol["x"], sol(0.5), sol.status, sol.message, sol.stats
"""
import ctypes
import json
import math
import os

import numpy as np

__all__ = ["ExportedModel", "ExportedSolution", "SolveError", "load"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_D = ctypes.c_double
_I64 = ctypes.c_int64
_DP = ctypes.POINTER(ctypes.c_double)
_STAT_NAMES = ("steps", "accepted", "rejected", "nfev", "njev", "nlu", "newton_iters", "linear_solves")
_MESSAGES = {0: "the solver reached the end of the time span", 1: "maximum number of steps reached",
             2: "step size became too small", 3: "non-finite values (NaN/Inf) in the right-hand side",
             4: "problem detected as stiff",
             5: "Newton iteration failed to converge at the smallest step size", 6: "Newton matrix singular"}
_STIFF = 4
_LINEAR = {"auto": -1, "dense": 0, "sparse": 1}
_METHODS = {"auto": "auto", "dopri5": "dopri5", "rk45": "dopri5", "explicit": "dopri5",
            "radau5": "radau5", "radau": "radau5", "stiff": "radau5"}


class SolveError(ValueError):
    """Bad arguments to :meth:`ExportedModel.solve` (names the value at fault)."""


class _Result(ctypes.Structure):
    _fields_ = [("status", _I64), ("t_reached", _D), ("stats", _I64 * 8), ("n", _I64), ("m", _I64),
                ("k", _I64), ("n_eval", _I64), ("ts", _DP), ("ys", _DP), ("coeffs", _DP),
                ("yeval", _DP)]


def _ptr(a):
    return a.ctypes.data_as(_DP)


def _take(ptr, count):
    if count <= 0 or not ptr:
        return np.empty(0)
    return np.ctypeslib.as_array(ptr, shape=(count,)).copy()


def _dense_segments(ts, coeffs, tq, k):
    m = ts.shape[0]
    if ts[-1] >= ts[0]:
        idx = np.searchsorted(ts, tq, side="right") - 1
    else:
        idx = np.searchsorted(-ts, -tq, side="right") - 1
    idx = np.clip(idx, 0, m - 2)
    s = ((tq - ts[idx]) / (ts[idx + 1] - ts[idx]))[:, None]
    return coeffs[idx], s


def _eval_dopri5(ts, coeffs, tq):
    c, s = _dense_segments(ts, coeffs, tq, 5)
    s1 = 1.0 - s
    return c[:, 0] + s * (c[:, 1] + s1 * (c[:, 2] + s * (c[:, 3] + s1 * c[:, 4])))


def _eval_radau5(ts, coeffs, tq):
    c, s = _dense_segments(ts, coeffs, tq, 4)
    return c[:, 0] + s * (c[:, 1] + s * (c[:, 2] + s * c[:, 3]))


class ExportedSolution:
    """Result of :meth:`ExportedModel.solve` (the fields of symgen's ``Solution``).

    Attributes: ``t`` (m,), ``y`` (n, m), ``status`` (0 on success), ``message``,
    ``success``, ``t_reached``, ``stats`` (dict), ``method``; ``sol["x"]`` a state's
    values, ``sol(t)`` the dense output.
    """

    def __init__(self, model, t, y, segments, status, message, t_reached, stats, method):
        self._model = model
        self.t, self.y, self._segments = t, y, segments
        self.status, self.message, self.success = status, message, status == 0
        self.t_reached, self.stats, self.method = t_reached, stats, method
        self._p = None  # parameter vector (set by solve)

    def __repr__(self):
        return (f"ExportedSolution(status={self.status}, message={self.message!r}, "
                f"points={self.t.size}, method={self.method!r})")

    def __getitem__(self, name):
        """A state's or an observable's values at ``t``."""
        i = self._model._state_index.get(str(name))
        if i is not None:
            return self.y[i]
        if str(name) in self._model.observed:
            j = self._model.observed.index(str(name))
            return np.array([self._model.observed_values(t, self.y[:, k], self._p)[j]
                             for k, t in enumerate(self.t)])
        raise KeyError(f"{name!r} is neither a state nor an observable of the model")

    def __call__(self, tq):
        if not self._segments:
            raise ValueError("this solution has no dense output (solve with dense=True)")
        scalar = np.ndim(tq) == 0
        tq = np.atleast_1d(np.asarray(tq, dtype=float))
        out = np.full((tq.size, self.y.shape[0]), np.nan)
        done = np.zeros(tq.size, dtype=bool)
        for evaluate, ts, coeffs in self._segments:
            if ts.size < 2:
                continue
            lo, hi = min(ts[0], ts[-1]), max(ts[0], ts[-1])
            sel = (~done) & (tq >= lo) & (tq <= hi)
            if sel.any():
                out[sel] = evaluate(ts, coeffs, tq[sel])
                done |= sel
        if not done.all():
            raise ValueError("dense output requested outside the solved span")
        return out[0] if scalar else out.T


class ExportedModel:
    """One exported model: its kernels and steppers from the native library.

    Attributes
    ----------
    name : str
    states, params, observed : tuple of str
        Order of the runtime arrays ``y``, ``p`` and of the observables.
    manifest : dict
    """

    def __init__(self, directory=_HERE):
        with open(os.path.join(directory, "manifest.json")) as fh:
            self.manifest = man = json.load(fh)
        self.name = man["name"]
        self.states = tuple(man["states"])
        self.params = tuple(man["params"])
        self.observed = tuple(man["observed"])
        self._defaults = dict(man.get("defaults", {}))
        self._state_index = {s: i for i, s in enumerate(self.states)}
        self._param_index = {s: i for i, s in enumerate(self.params)}
        jac = man["jac"]
        self.jac_indptr = np.asarray(jac["indptr"], dtype=np.int64)
        self.jac_indices = np.asarray(jac["indices"], dtype=np.int64)
        self._sizes = {name: int(info["out_size"]) for name, info in man["kernels"].items()}
        self._bind(directory, man)

    def _bind(self, directory, man):
        """Load the native library and declare its functions."""
        self._lib = ctypes.CDLL(os.path.join(directory, man["library"]))
        self._kernels = {}
        for kname, info in man["kernels"].items():
            fn = getattr(self._lib, info["c_name"])
            fn.restype = None
            fn.argtypes = [_D, _DP, _DP, _DP]
            self._kernels[kname] = fn
        common = [_D, _D, _DP, _DP, _D, _DP, _D, _D, _I64, _DP, _I64, ctypes.c_int]
        self._dopri5 = getattr(self._lib, man["steppers"]["dopri5"])
        self._dopri5.argtypes = common + [ctypes.c_int, ctypes.POINTER(_Result)]
        self._dopri5.restype = _I64
        self._radau5 = getattr(self._lib, man["steppers"]["radau5"])
        self._radau5.argtypes = common + [ctypes.c_int, ctypes.POINTER(_Result)]
        self._radau5.restype = _I64
        self._free = self._lib.sg_result_free
        self._free.argtypes = [ctypes.POINTER(_Result)]
        self._free.restype = None

    def __repr__(self):
        return f"<exported symgen model {self.name!r}: {len(self.states)} states, {len(self.params)} params>"

    # -- values ------------------------------------------------------------------------
    def _vector(self, values, order, index, what, defaults=None):
        n = len(order)
        if values is None:
            values = {}
        if isinstance(values, dict):
            out = np.full(n, np.nan)
            for k, v in values.items():
                i = index.get(str(k))
                if i is None:
                    raise SolveError(f"{what} given for {str(k)!r}, which the model does not have")
                out[i] = float(v)
            for i in np.flatnonzero(np.isnan(out)):
                name = order[i]
                if defaults and name in defaults and str(name) not in map(str, values):
                    out[i] = defaults[name]
                else:
                    raise SolveError(f"no {what} given for {name!r}")
        else:
            out = np.array(values, dtype=float).ravel()
            if out.size != n:
                raise SolveError(f"{what}: expected {n} values in the order {list(order)}, got {out.size}")
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            raise SolveError(f"{what} for {order[bad[0]]!r} is not finite")
        return np.ascontiguousarray(out)

    def initial_vector(self, y0):
        """``y0`` (dict by name, or sequence in the order of ``states``) as an array."""
        return self._vector(y0, self.states, self._state_index, "initial value", self._defaults)

    def param_vector(self, params):
        """``params`` (dict by name, or sequence in the order of ``params``) as an array."""
        return self._vector(params, self.params, self._param_index, "parameter value", self._defaults)

    # -- kernels -----------------------------------------------------------------------
    def kernel(self, name, t, y, p):
        """Call kernel ``name`` (rhs, jac_values, pjac, dfdt, observed) at ``(t, y, p)``."""
        if name not in self._sizes:
            raise KeyError(f"the model has no kernel {name!r}; kernels: {sorted(self._sizes)}")
        y = np.ascontiguousarray(y, dtype=float)
        p = np.ascontiguousarray(p, dtype=float)
        if y.shape != (len(self.states),):
            raise SolveError(f"y must have shape ({len(self.states)},), got {y.shape}")
        if p.shape != (len(self.params),):
            raise SolveError(f"p must have shape ({len(self.params)},), got {p.shape}")
        if p.size == 0:
            p = np.zeros(1)
        out = np.empty(max(self._sizes[name], 1))
        self._call(name, float(t), y, p, out)
        return out[: self._sizes[name]]

    def _call(self, name, t, y, p, out):
        self._kernels[name](t, _ptr(y), _ptr(p), _ptr(out))

    def rhs(self, t, y, p):
        """f(t, y, p), shape (n,)."""
        return self.kernel("rhs", t, y, p)

    def jac_values(self, t, y, p):
        """df/dy on the static CSR pattern (``jac_indptr``, ``jac_indices``)."""
        return self.kernel("jac_values", t, y, p)

    def jac(self, t, y, p):
        """Dense df/dy, shape (n, n)."""
        n = len(self.states)
        vals = self.jac_values(t, y, p)
        J = np.zeros((n, n))
        rows = np.repeat(np.arange(n), np.diff(self.jac_indptr))
        J[rows, self.jac_indices] = vals
        return J

    def pjac(self, t, y, p):
        """Dense df/dp, shape (n, len(params))."""
        return self.kernel("pjac", t, y, p).reshape(len(self.states), len(self.params))

    def dfdt(self, t, y, p):
        """Explicit time derivative of f."""
        return self.kernel("dfdt", t, y, p)

    def observed_values(self, t, y, p):
        """The observables at one point."""
        return self.kernel("observed", t, y, p)

    # -- solving -----------------------------------------------------------------------
    def _run(self, which, t0, tf, y, p, rtol, atol, h0, hmax, max_steps, te, dense, flag):
        res = _Result()
        args = [float(t0), float(tf), _ptr(y), _ptr(p), float(rtol), _ptr(atol), float(h0), float(hmax),
                int(max_steps), _ptr(te) if te.size else None, int(te.size), int(bool(dense))]
        if which == "dopri5":
            code = self._dopri5(*args, int(bool(flag)), ctypes.byref(res))
        else:
            code = self._radau5(*args, int(flag), ctypes.byref(res))
        if code < 0:
            raise MemoryError(f"{which}: the native stepper failed (code {code})")
        try:
            n, m, k = int(res.n), int(res.m), int(res.k)
            ts = _take(res.ts, m)
            ys = _take(res.ys, m * n).reshape(m, n)
            cf = _take(res.coeffs, (m - 1) * k * n).reshape(max(m - 1, 0), k, n) if dense else None
            ye = _take(res.yeval, int(res.n_eval) * n).reshape(int(res.n_eval), n)
            stats = np.array(res.stats[:], dtype=np.int64)
            return int(res.status), float(res.t_reached), ts, ys, cf, ye, stats
        finally:
            self._free(ctypes.byref(res))

    def solve(self, y0, t_span, params=None, *, method="auto", rtol=1e-6, atol=1e-9, t_eval=None,
              dense=True, max_steps=1_000_000, first_step=0.0, max_step=0.0, linear_solver="auto"):
        """Integrate the model with the native steppers (same options and defaults as
        symgen's ``CompiledModel.solve``).

        ``linear_solver`` (Radau's Newton matrices): ``"dense"`` LU with partial pivoting,
        ``"sparse"`` static-pattern LU (ordering computed at export), ``"auto"`` the choice
        symgen made for this model (``manifest["linear_solver_auto"]``).

        Returns an :class:`ExportedSolution`; a failed integration does not raise
        (``status``, ``message`` with the time reached, ``linear_solver`` used).
        """
        if linear_solver not in _LINEAR:
            raise SolveError(f"unknown linear_solver {linear_solver!r}; choose one of {list(_LINEAR)}")
        if method not in _METHODS:
            raise SolveError(f"unknown method {method!r}; choose one of {sorted(_METHODS)}")
        t0, tf = (float(v) for v in t_span)
        if not (math.isfinite(t0) and math.isfinite(tf)) or t0 == tf:
            raise SolveError(f"t_span must be two different finite times, got {t_span!r}")
        if not (rtol > 0 and math.isfinite(rtol)):
            raise SolveError(f"rtol must be positive and finite, got {rtol!r}")
        n = len(self.states)
        if isinstance(atol, dict):
            atol_v = self._vector(atol, self.states, self._state_index, "atol")
        else:
            atol_v = np.ascontiguousarray(np.broadcast_to(np.asarray(atol, dtype=float), (n,)))
        if not np.all((atol_v >= 0) & np.isfinite(atol_v)):
            raise SolveError("atol must be finite and non-negative")
        te = np.empty(0) if t_eval is None else np.ascontiguousarray(np.atleast_1d(np.asarray(t_eval, dtype=float)))
        d = np.sign(tf - t0)
        if te.size and (np.any(d * np.diff(te) < 0) or d * (te[0] - t0) < 0 or d * (tf - te[-1]) < 0):
            raise SolveError("t_eval must be sorted in the direction of integration and lie inside t_span")
        if int(max_steps) < 1:
            raise SolveError("max_steps must be at least 1")
        y = self.initial_vector(y0)
        p = self.param_vector(params)
        if p.size == 0:
            p = np.zeros(1)
        meth = _METHODS[method]
        segments, ts_parts, ys_parts, ye_parts, used = [], [], [], [], []
        stats = np.zeros(8, dtype=np.int64)
        steps_left = int(max_steps)
        if meth in ("auto", "dopri5"):
            status, t_r, ts, ys, cf, ye, st = self._run("dopri5", t0, tf, y, p, rtol, atol_v, first_step,
                                                        max_step, steps_left, te, dense, meth == "auto")
            used.append("dopri5")
            stats += st
            ts_parts.append(ts)
            ys_parts.append(ys)
            ye_parts.append(ye)
            if dense:
                segments.append((_eval_dopri5, ts, cf))
            steps_left -= int(st[0])
            if status == _STIFF:
                y, t0, te = np.ascontiguousarray(ys[-1]), t_r, te[ye.shape[0]:]
                meth = "radau5"
        if meth == "radau5":
            status, t_r, ts, ys, cf, ye, st = self._run(
                "radau5", t0, tf, y, p, rtol, atol_v, float(first_step) if not used else 0.0, max_step,
                max(steps_left, 1), te, dense, _LINEAR[linear_solver])
            used.append("radau5")
            stats += st
            if dense:
                segments.append((_eval_radau5, ts, cf))
            if ts_parts:
                ts, ys = ts[1:], ys[1:]
            ts_parts.append(ts)
            ys_parts.append(ys)
            ye_parts.append(ye)
        if t_eval is not None:
            ye_all = np.concatenate(ye_parts, axis=0)
            t_out = np.atleast_1d(np.asarray(t_eval, dtype=float))[: ye_all.shape[0]]
            y_out = ye_all.T
        else:
            t_out, y_out = np.concatenate(ts_parts), np.concatenate(ys_parts, axis=0).T
        message = _MESSAGES.get(status, f"unknown status {status}")
        if status != 0:
            message = f"{message} at t = {t_r:.17g}"
        sol = ExportedSolution(self, t_out, np.ascontiguousarray(y_out), segments, status, message, t_r,
                               {k: int(v) for k, v in zip(_STAT_NAMES, stats)}, "->".join(used))
        sol._p = p[: len(self.params)]
        sol.linear_solver = None
        if "radau5" in used:
            auto = self.manifest.get("linear_solver_auto", "dense")
            sol.linear_solver = auto if linear_solver == "auto" else linear_solver
            if n == 0:
                sol.linear_solver = "dense"
        return sol


def load(directory=_HERE):
    """The :class:`ExportedModel` of the artifact in ``directory``."""
    return ExportedModel(directory)
