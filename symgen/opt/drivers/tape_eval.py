"""Precompiled evaluator of optimization tapes (see :mod:`symgen.opt.tape`).

Six ``cfunc`` entry points of the kernel ABI ``void(x*, p*, w*, out*)``, one per kernel
(``obj``, ``grad``, ``cons``, ``jac``, ``hess``, ``hvp``), all running :func:`run`
on the program the tape in front of ``p`` holds for them.  They are compiled once per
installation (Numba's disk cache) and created on first use; the drivers call them
through the same first-class-function type as generated kernels.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import carray, cfunc, njit

from .common import OPT_KERNEL_SIG

__all__ = ["run", "tape_kernels"]


@njit(cache=True, error_model="numpy")
def _powi(a, k):
    r = 1.0
    b = a
    while k > 0:
        if k & 1:
            r *= b
        b *= b
        k >>= 1
    return r


@njit(cache=True, error_model="numpy")
def run(which, xp, pp, wp, op):
    """Run kernel ``which`` of the tape in front of ``pp``."""
    L = int(carray(pp, (1,))[0])
    p = carray(pp, (L,))
    n = int(p[7])
    m = int(p[8])
    q = int(p[1 + which])
    nout = int(p[q])
    x = carray(xp, (max(n, 1),))
    w = carray(wp, (1 + m + n,))
    out = carray(op, (max(nout, 1),))
    if p[q + 1] != 0.0:
        for k in range(nout):
            out[k] = 0.0
    njobs = int(p[q + 2])
    q += 3
    idx = np.zeros(8, np.int64)
    for _ in range(njobs):
        nl = int(p[q])
        lims = q + 1
        q += 1 + 2 * nl
        row0 = int(p[q])
        row_loops = int(p[q + 1])
        weight = int(p[q + 2])
        ns = int(p[q + 3])
        slots = q + 4
        q = slots + ns * (2 + nl)
        nregs = int(p[q])
        ni = int(p[q + 1])
        code = q + 2
        q = code + 4 * ni
        no = int(p[q])
        outs = q + 1
        q = outs + 4 * no
        regs = np.zeros(max(nregs, 1))
        count = 1
        for d in range(nl):
            lo = int(p[lims + 2 * d])
            hi = int(p[lims + 2 * d + 1])
            idx[d] = lo
            count *= max(hi - lo + 1, 0)
        for r in range(count):
            # slot loads at const + coef . i
            for s in range(ns):
                b = slots + s * (2 + nl)
                pos = int(p[b + 1])
                for d in range(nl):
                    pos += int(p[b + 2 + d]) * idx[d]
                base = int(p[b])
                if base == 0:
                    regs[s] = x[pos]
                elif base == 1:
                    regs[s] = p[pos]
                else:
                    regs[s] = w[pos]
            for d in range(nl):
                regs[ns + d] = float(idx[d])
            k = ns + nl
            for c in range(code, code + 4 * ni, 4):
                o = int(p[c])
                a = regs[int(p[c + 1])]
                if o == 0:
                    v = p[c + 3]
                elif o == 1:
                    v = a + regs[int(p[c + 2])]
                elif o == 2:
                    v = a * regs[int(p[c + 2])]
                elif o == 3:
                    v = a / regs[int(p[c + 2])]
                elif o == 4:
                    v = -a
                elif o == 5:
                    v = _powi(a, int(p[c + 3]))
                elif o == 6:
                    v = a ** regs[int(p[c + 2])]
                elif o == 7:
                    v = math.sqrt(a) if a >= 0.0 else math.nan
                elif o == 8:
                    v = math.exp(a)
                elif o == 9:
                    v = math.log(a) if a > 0.0 else (-math.inf if a == 0.0 else math.nan)
                elif o == 10:
                    v = math.sin(a)
                elif o == 11:
                    v = math.cos(a)
                elif o == 12:
                    v = math.tan(a)
                elif o == 13:
                    v = math.asin(a) if abs(a) <= 1.0 else math.nan
                elif o == 14:
                    v = math.acos(a) if abs(a) <= 1.0 else math.nan
                elif o == 15:
                    v = math.atan(a)
                elif o == 16:
                    v = math.sinh(a)
                elif o == 17:
                    v = math.cosh(a)
                elif o == 18:
                    v = math.tanh(a)
                elif o == 19:
                    v = abs(a)
                else:
                    v = a - regs[int(p[c + 2])]
                regs[k] = v
                k += 1
            row = row0
            stride = 1
            for d in range(row_loops - 1, -1, -1):
                lo = int(p[lims + 2 * d])
                hi = int(p[lims + 2 * d + 1])
                row += (idx[d] - lo) * stride
                stride *= hi - lo + 1
            wt = 1.0
            if weight == 1:
                wt = w[0]
            elif weight == 2:
                wt = w[1 + row]
            for c in range(outs, outs + 4 * no, 4):
                mode = int(p[c])
                v = wt * regs[int(p[c + 1])]
                if mode == 0:
                    out[0] += v
                elif mode == 1:
                    b = slots + int(p[c + 2]) * (2 + nl)
                    pos = int(p[b + 1])
                    for d in range(nl):
                        pos += int(p[b + 2 + d]) * idx[d]
                    out[pos] += v
                elif mode == 2:
                    out[row] += v
                else:
                    out[int(p[c + 2]) + r * int(p[c + 3])] = v
            # next index point (row-major odometer)
            for d in range(nl - 1, -1, -1):
                idx[d] += 1
                if idx[d] <= int(p[lims + 2 * d + 1]):
                    break
                idx[d] = int(p[lims + 2 * d])


def _obj(x, p, w, out):
    run(0, x, p, w, out)


def _grad(x, p, w, out):
    run(1, x, p, w, out)


def _cons(x, p, w, out):
    run(2, x, p, w, out)


def _jac(x, p, w, out):
    run(3, x, p, w, out)


def _hess(x, p, w, out):
    run(4, x, p, w, out)


def _hvp(x, p, w, out):
    run(5, x, p, w, out)


_ENTRY = {"obj": _obj, "grad": _grad, "cons": _cons, "jac": _jac, "hess": _hess, "hvp": _hvp}


class _EntryPoints(dict):
    """``{name: cfunc}``, each created (loaded from Numba's cache after the first
    compilation on a machine) when a driver first needs it: the IPM never loads
    ``hvp``, TRON never loads ``cons``, ``jac`` or ``hess``."""

    def __missing__(self, name):
        fn = _ENTRY.get(name)
        if fn is None:
            raise KeyError(name)
        k = self[name] = cfunc(OPT_KERNEL_SIG, cache=True, error_model="numpy")(fn)
        return k


@functools.lru_cache(maxsize=1)
def tape_kernels() -> dict:
    """The evaluator's entry points, shared by every problem on the tape backend."""
    return _EntryPoints()
