"""Per-trajectory solvers written once as device-style functions.

Each ``make_*`` factory takes a model's device functions (from the generated module's
``make(jit, F)``), the ``jit`` decorator of the target (``numba.njit`` for the CPU,
``numba.cuda.jit(device=True)`` for CUDA) and the float type ``F``, and returns one
function that integrates one trajectory over small work arrays the caller provides
(heap arrays on the CPU, ``cuda.local.array`` on a GPU: the solver allocates nothing).

``solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive, out, stats, *work)``
integrates ``y`` in place from ``t0`` through every time of ``saveat`` (increasing,
``>= t0``), stepping exactly onto each of them and writing the state to ``out[j, :]``.
``adaptive`` false gives fixed steps of ``dt`` (shortened only to land on a save
time); adaptive mode starts from ``dt`` (or an estimate when ``dt <= 0``).  It returns a
status code of :mod:`symgen.drivers.common` and writes ``stats`` = (accepted,
rejected, f evaluations, Jacobian evaluations, LU factorizations).
"""
from __future__ import annotations

import math

import numpy as np

from ..drivers.common import MAX_STEPS, NONFINITE, SINGULAR, STEP_UNDERFLOW, SUCCESS
from .tableaus import ROS3P, TSIT5

__all__ = ["make_tsit5", "make_ros3p", "N_ENSEMBLE_STATS", "ENSEMBLE_STAT_NAMES", "work_sizes"]

N_ENSEMBLE_STATS = 5
ENSEMBLE_STAT_NAMES = ("accepted", "rejected", "nfev", "njev", "nlu")
#: consecutive rejected steps with a non-finite error before giving up
_MAX_NONFINITE = 30


def work_sizes(method: str, n: int, n_flags: int) -> tuple:
    """Lengths of the work arrays ``solve`` expects after ``stats``, in order."""
    if method == "tsit5":
        return (n,) * 8                     # k1..k7, ytmp
    return (n * n, n * n, n_flags) + (n,) * 6   # W, J, swap flags, dT, f0, f, u1, u2, u3, ytmp


def _eps(F) -> float:
    return float(np.finfo(np.dtype(str(F))).eps)


def _make_step_helpers(jit, F, n: int, fmax: float, expo: float):
    """Device functions the solvers share (for one target, float type, state count and
    step-size law ``h_new = h min(fmax, max(0.2, 0.9 err^expo))``)."""
    zero, one, tenth = F(0.0), F(1.0), F(0.1)
    safety, fmin, fmax, expo = F(0.9), F(0.2), F(fmax), F(expo)
    land_slack = F(1.000001)
    huge, inf = F(1e30), F(math.inf)

    @jit
    def save_points(out, y, saveat, j, t):
        """Write ``y`` to ``out[j]`` for each save time ``saveat[j] <= t``; returns the next ``j``."""
        while j < saveat.shape[0] and saveat[j] <= t:
            for i in range(n):
                out[j, i] = y[i]
            j += 1
        return j

    @jit
    def clip_step(t, h, target):
        """The step to try from ``t``: ``(hs, land)``, ``land`` when cut to end on ``target``."""
        if t + h * land_slack >= target:
            return target - t, True
        return h, False

    @jit
    def error_verdict(err, hs, bad):
        """Error test of a step ``hs``: ``(verdict, h, fac, bad)``; verdict 0 accepts (``fac``
        scales the next step), 1 retries with ``h``, 2 gives up (non-finite too often)."""
        if not (err < huge):      # NaN or overflow: shrink hard
            bad += 1
            if bad > _MAX_NONFINITE:
                return 2, hs, one, bad
            return 1, hs * tenth, one, bad
        bad = 0
        if err > one:
            return 1, hs * max(fmin, safety * err ** expo), one, bad
        fac = fmax
        if err > zero:
            fac = min(fmax, max(fmin, safety * err ** expo))
        return 0, hs, fac, bad

    @jit
    def all_finite(yt):
        """Whether every entry of ``yt`` is finite."""
        finite = True
        for i in range(n):
            if not (abs(yt[i]) < inf):
                finite = False
        return finite

    @jit
    def next_step(h, hs, fac, land):
        """The step after an accepted ``hs`` (one cut short to land keeps ``h``)."""
        hn = hs * fac
        if land and hn < h:
            hn = h
        return hn

    return save_points, clip_step, error_verdict, all_finite, next_step


def make_tsit5(dev: dict, jit, F, n: int):
    """Adaptive (or fixed-step) Tsitouras 5(4) for one trajectory."""
    rhs = dev["rhs"]
    c = [F(v) for v in TSIT5["c"]]
    a = [[F(v) for v in row] for row in TSIT5["a"]]
    bt = [F(v) for v in TSIT5["btilde"]]
    c2, c3, c4, c5 = c[1], c[2], c[3], c[4]
    a21 = a[1][0]
    a31, a32 = a[2]
    a41, a42, a43 = a[3]
    a51, a52, a53, a54 = a[4]
    a61, a62, a63, a64, a65 = a[5]
    b1, b2, b3, b4, b5, b6 = a[6]
    bt1, bt2, bt3, bt4, bt5, bt6, bt7 = bt
    eps16 = F(16.0 * _eps(F))
    zero, one = F(0.0), F(1.0)
    nn = F(n)
    save_points, clip_step, error_verdict, all_finite, next_step = _make_step_helpers(jit, F, n, 10.0, -0.2)

    @jit
    def initial_step(t, y, p, f0, y1, f1, rtol, atol, hmax):
        d0 = zero
        d1 = zero
        for i in range(n):
            sc = atol + rtol * abs(y[i])
            d0 += (y[i] / sc) * (y[i] / sc)
            d1 += (f0[i] / sc) * (f0[i] / sc)
        d0 = math.sqrt(d0 / nn)
        d1 = math.sqrt(d1 / nn)
        h0 = F(1e-6)
        if d0 >= F(1e-5) and d1 >= F(1e-5):
            h0 = F(0.01) * d0 / d1
        h0 = min(h0, hmax)
        for i in range(n):
            y1[i] = y[i] + h0 * f0[i]
        rhs(t + h0, y1, p, f1)
        d2 = zero
        for i in range(n):
            sc = atol + rtol * abs(y[i])
            d2 += ((f1[i] - f0[i]) / sc) * ((f1[i] - f0[i]) / sc)
        d2 = math.sqrt(d2 / nn) / h0
        dm = max(d1, d2)
        if dm <= F(1e-15):
            h1 = max(F(1e-6), h0 * F(1e-3))
        else:
            h1 = (F(0.01) / dm) ** F(0.2)
        return min(F(100.0) * h0, h1, hmax)

    @jit
    def solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive, out, stats,
              k1, k2, k3, k4, k5, k6, k7, yt):
        ns = saveat.shape[0]
        t = t0
        j = save_points(out, y, saveat, 0, t)
        acc = 0
        rej = 0
        nf = 0
        status = SUCCESS
        if j < ns:
            rhs(t, y, p, k1)
            nf += 1
            h = dt
            if adaptive and dt <= zero:
                h = initial_step(t, y, p, k1, k2, k3, rtol, atol, saveat[ns - 1] - t0)
                nf += 1
        bad = 0
        while j < ns:
            if acc + rej >= max_steps:
                status = MAX_STEPS
                break
            target = saveat[j]
            hs, land = clip_step(t, h, target)
            if hs <= eps16 * abs(t):
                status = STEP_UNDERFLOW
                break
            for i in range(n):
                yt[i] = y[i] + hs * (a21 * k1[i])
            rhs(t + c2 * hs, yt, p, k2)
            for i in range(n):
                yt[i] = y[i] + hs * (a31 * k1[i] + a32 * k2[i])
            rhs(t + c3 * hs, yt, p, k3)
            for i in range(n):
                yt[i] = y[i] + hs * (a41 * k1[i] + a42 * k2[i] + a43 * k3[i])
            rhs(t + c4 * hs, yt, p, k4)
            for i in range(n):
                yt[i] = y[i] + hs * (a51 * k1[i] + a52 * k2[i] + a53 * k3[i] + a54 * k4[i])
            rhs(t + c5 * hs, yt, p, k5)
            for i in range(n):
                yt[i] = y[i] + hs * (a61 * k1[i] + a62 * k2[i] + a63 * k3[i] + a64 * k4[i]
                                     + a65 * k5[i])
            rhs(t + hs, yt, p, k6)
            for i in range(n):
                yt[i] = y[i] + hs * (b1 * k1[i] + b2 * k2[i] + b3 * k3[i] + b4 * k4[i]
                                     + b5 * k5[i] + b6 * k6[i])
            rhs(t + hs, yt, p, k7)
            nf += 6
            fac = one
            if adaptive:
                err = zero
                for i in range(n):
                    e = hs * (bt1 * k1[i] + bt2 * k2[i] + bt3 * k3[i] + bt4 * k4[i]
                              + bt5 * k5[i] + bt6 * k6[i] + bt7 * k7[i])
                    sc = atol + rtol * max(abs(y[i]), abs(yt[i]))
                    err += (e / sc) * (e / sc)
                err = math.sqrt(err / nn)
                verdict, hn, fac, bad = error_verdict(err, hs, bad)
                if verdict != 0:
                    rej += 1
                    if verdict == 2:
                        status = NONFINITE
                        break
                    h = hn
                    continue
            elif not all_finite(yt):
                status = NONFINITE
                break
            acc += 1
            t = target if land else t + hs
            for i in range(n):
                y[i] = yt[i]
                k1[i] = k7[i]
            if adaptive:
                h = next_step(h, hs, fac, land)
            if land:
                j = save_points(out, y, saveat, j, t)
        stats[0] = acc
        stats[1] = rej
        stats[2] = nf
        stats[3] = 0
        stats[4] = 0
        return status

    return solve


def make_ros3p(dev: dict, jit, F, n: int):
    """Adaptive (or fixed-step) ROS3P Rosenbrock method with the generated Jacobian and
    the unrolled LU of the device module."""
    rhs, jac, dfdt = dev["rhs"], dev["jac"], dev["dfdt"]
    lu_factor, lu_solve = dev["lu_factor"], dev["lu_solve"]
    T = ROS3P
    gamma = F(T["gamma"])
    a21 = F(T["a"][1][0])
    a31, a32 = (F(v) for v in T["a"][2])
    C21 = F(T["C"][1][0])
    C31, C32 = (F(v) for v in T["C"][2])
    c2, c3 = F(T["c"][1]), F(T["c"][2])
    d1, d2, d3 = (F(v) for v in T["d"])
    b1, b2, b3 = (F(v) for v in T["b"])
    e1, e2, e3 = (F(v) for v in T["btilde"])
    eps16 = F(16.0 * _eps(F))
    zero, one, half = F(0.0), F(1.0), F(0.5)
    nn = F(n)
    save_points, clip_step, error_verdict, all_finite, next_step = _make_step_helpers(jit, F, n, 6.0,
                                                                                      -1.0 / 3.0)

    @jit
    def solve(y, p, t0, saveat, dt, rtol, atol, max_steps, adaptive, out, stats,
              W, J, s, dT, f0, f, u1, u2, u3, yt):
        ns = saveat.shape[0]
        t = t0
        j = save_points(out, y, saveat, 0, t)
        acc = 0
        rej = 0
        nf = 0
        nj = 0
        nlu = 0
        status = SUCCESS
        h = dt
        if adaptive and dt <= zero:
            h = (saveat[ns - 1] - t0) * F(1e-6) if j < ns else one
        fresh = False
        bad = 0
        while j < ns:
            if acc + rej >= max_steps:
                status = MAX_STEPS
                break
            target = saveat[j]
            hs, land = clip_step(t, h, target)
            if hs <= eps16 * abs(t):
                status = STEP_UNDERFLOW
                break
            if not fresh:
                rhs(t, y, p, f0)
                jac(t, y, p, J)
                dfdt(t, y, p, dT)
                nf += 1
                nj += 1
                fresh = True
            g = one / (hs * gamma)
            for i in range(n * n):
                W[i] = -J[i]
            for i in range(n):
                W[i * n + i] += g
            nlu += 1
            if lu_factor(W, s) != 0:
                rej += 1
                bad += 1
                if bad > _MAX_NONFINITE:
                    status = SINGULAR
                    break
                h = hs * half
                continue
            ih = one / hs
            for i in range(n):
                u1[i] = f0[i] + hs * d1 * dT[i]
            lu_solve(W, s, u1)
            for i in range(n):
                yt[i] = y[i] + a21 * u1[i]
            rhs(t + c2 * hs, yt, p, f)
            for i in range(n):
                u2[i] = f[i] + hs * d2 * dT[i] + ih * (C21 * u1[i])
            lu_solve(W, s, u2)
            for i in range(n):
                yt[i] = y[i] + a31 * u1[i] + a32 * u2[i]
            rhs(t + c3 * hs, yt, p, f)
            for i in range(n):
                u3[i] = f[i] + hs * d3 * dT[i] + ih * (C31 * u1[i] + C32 * u2[i])
            lu_solve(W, s, u3)
            nf += 2
            for i in range(n):
                yt[i] = y[i] + b1 * u1[i] + b2 * u2[i] + b3 * u3[i]
            fac = one
            if adaptive:
                err = zero
                for i in range(n):
                    e = e1 * u1[i] + e2 * u2[i] + e3 * u3[i]
                    sc = atol + rtol * max(abs(y[i]), abs(yt[i]))
                    err += (e / sc) * (e / sc)
                err = math.sqrt(err / nn)
                verdict, hn, fac, bad = error_verdict(err, hs, bad)
                if verdict != 0:
                    rej += 1
                    if verdict == 2:
                        status = NONFINITE
                        break
                    h = hn
                    continue
            elif not all_finite(yt):
                status = NONFINITE
                break
            acc += 1
            bad = 0
            t = target if land else t + hs
            for i in range(n):
                y[i] = yt[i]
            fresh = False
            if adaptive:
                h = next_step(h, hs, fac, land)
            if land:
                j = save_points(out, y, saveat, j, t)
        stats[0] = acc
        stats[1] = rej
        stats[2] = nf
        stats[3] = nj
        stats[4] = nlu
        return status

    return solve
