"""Pieces shared by the sensitivity and adjoint drivers (:mod:`symgen.drivers.adjoint`,
:mod:`symgen.drivers.adjoint_stiff`, :mod:`symgen.drivers.forward_sens`).

* the Radau IIA constants (order 5, RADAU5's ``T``/``TI`` eigenbasis, the embedded
  order-3 error formula) as contiguous arrays;
* step-size bookkeeping: the first step, the checks before a step, the reaction to a
  failed LU, the error test and the new step size;
* Radau IIA building blocks: the coupled ``3n x 3n`` stage matrix and right-hand side,
  and the simplified Newton iteration on the transformed stage equations (one real and
  one complex ``n x n`` LU, dense or static-pattern sparse).

Every helper performs its operations in the order of the loops it replaced, so the
drivers' results are unchanged to the last bit.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .common import MAX_STEPS, NONFINITE, SINGULAR, ST_ACCEPTED, ST_REJECTED, STEP_UNDERFLOW, SUCCESS
from .radau5 import RADAU_IIA_CONSTANTS, lu_factor, lu_solve
from .sparse_lu import sparse_lu_factor, sparse_lu_solve

EPS = 2.220446049250313e-16

_RA = np.ascontiguousarray(RADAU_IIA_CONSTANTS["A"])
_RC = np.ascontiguousarray(RADAU_IIA_CONSTANTS["c"])
_RDD = np.ascontiguousarray(RADAU_IIA_CONSTANTS["dd"])
_RGAMMA = float(RADAU_IIA_CONSTANTS["gamma"])
# embedded order-3 quadrature (the RADAU5 error formula): h (g0 f(t_n) + sum d_j f(t_j))
# estimates the error of the order-5 Radau quadrature of mu and q (no filtering needed)
_RG0 = 1.0 / _RGAMMA
_RD = np.ascontiguousarray(np.linalg.solve((_RC[:, None] ** np.arange(3)[None, :]).T,
                                           np.array([-_RG0, 0.0, 0.0])))
_RT = np.ascontiguousarray(RADAU_IIA_CONSTANTS["T"])
_RTI = np.ascontiguousarray(RADAU_IIA_CONSTANTS["TI"])
_RALPHA = float(RADAU_IIA_CONSTANTS["alpha"])
_RBETA = float(RADAU_IIA_CONSTANTS["beta"])
NEWTON_MAX = 12      # simplified Newton iterations per step
NEWTON_TOL = 1e-3    # converged when the scaled increment is below this (tolerance units)


# ---- step-size bookkeeping --------------------------------------------------------
@njit(cache=True)
def radau_tolerances(rtol, atol, n):
    """RADAU5's conversion of ``rtol`` and ``atol[:n]``: returns ``(rt, at)``."""
    rt = 0.1 * rtol ** (2.0 / 3.0)
    at = np.empty(n)
    for i in range(n):
        at[i] = atol[i] * rt / rtol
    return rt, at


@njit(cache=True)
def first_step(h0, span):
    """The first step size: ``|h0|`` at most ``span``, or ``span / 1000`` when ``h0`` is 0."""
    return min(abs(h0), span) if h0 != 0.0 else span * 1e-3


@njit(cache=True)
def too_small(t, h):
    """Whether the step size ``h`` is below the floating-point resolution at ``t``."""
    return h < 16.0 * EPS * max(abs(t), 1.0)


@njit(cache=True)
def step_start(steps, max_steps, t, h, left):
    """Checks before a step with ``left`` still to go: ``(status, h, last)``; a status
    other than ``SUCCESS`` ends the integration, ``last`` when the clipped step ends it."""
    if steps >= max_steps:
        return MAX_STEPS, h, False
    if too_small(t, h):
        return STEP_UNDERFLOW, h, False
    last = h >= left
    if last:
        h = left
    return SUCCESS, h, last


@njit(cache=True)
def lu_failure(info, t, h):
    """After a failed LU (``info != 0``): ``(status, halved h)``, ``SUCCESS`` to retry."""
    h *= 0.5
    if info < 0 or too_small(t, h):
        return (SINGULAR if info > 0 else NONFINITE), h
    return SUCCESS, h


@njit(cache=True)
def step_control(h, err, reject, expo, grow, stats):
    """Error test, counted in ``stats``, and next step size: ``(accepted, new h)``."""
    fac = 0.9 * err ** -expo if err > 0.0 else 10.0
    if err <= 1.0:
        stats[ST_ACCEPTED] += 1
        return True, h * min(1.0 if reject else grow, max(0.2, fac))
    stats[ST_REJECTED] += 1
    return False, h * min(1.0, max(0.2, fac))


@njit(cache=True)
def scaled_ssq(e, y, yn, at, rt, err):
    """``err`` plus the sum of ``(e_i / (at_i + rt max(|y_i|, |yn_i|)))^2`` over ``e``."""
    for i in range(e.shape[0]):
        sk = at[i] + rt * max(abs(y[i]), abs(yn[i]))
        r = e[i] / sk if sk > 0.0 else (0.0 if e[i] == 0.0 else np.inf)
        err += r * r
    return err


# ---- backward stretches between the point terms of the adjoint -------------------
@njit(cache=True)
def segment_target(stops, s, t_lo):
    """Where backward stretch ``s`` ends: ``stops[s]``, or ``t_lo`` after the last stop."""
    return stops[s] if s < stops.shape[0] else t_lo


@njit(cache=True)
def add_jump(z, stops, jumps, s, nm):
    """Add the point term ``jumps[s]`` to ``z[:nm]`` (nothing after the last stop)."""
    if s < stops.shape[0]:
        for i in range(nm):
            z[i] += jumps[s, i]


# ---- Radau IIA: coupled stage system ----------------------------------------------
@njit(cache=True)
def coupled_stage_matrix(hs, Ms, n, big):
    """``big = I - hs (A (x) I) blockdiag(Ms)``, the coupled ``3n x 3n`` stage matrix."""
    for bi in range(3):
        for bj in range(3):
            a = hs * _RA[bi, bj]
            for i in range(n):
                for q in range(n):
                    big[bi * n + i, bj * n + q] = -a * Ms[bj, i, q]
                if bi == bj:
                    big[bi * n + i, bj * n + i] += 1.0


@njit(cache=True)
def coupled_stage_rhs(hs, y, R, n, rhs):
    """``rhs = 1 (x) y + hs (A (x) I) R`` (``R``: the stage forcings, ``3 x n``)."""
    for bi in range(3):
        for i in range(n):
            acc = y[i]
            for bj in range(3):
                acc += hs * _RA[bi, bj] * R[bj, i]
            rhs[bi * n + i] = acc


@njit(cache=True)
def jac_dense(jacv, indptr, indices, t, x, p, vals, sgn, transpose, M):
    """``M = sgn J(t, x)`` (``sgn J^T`` with ``transpose``), dense, from the CSR values kernel."""
    jacv(t, x.ctypes, p.ctypes, vals.ctypes)
    n = x.shape[0]
    M[:, :] = 0.0
    for i in range(n):
        for q in range(indptr[i], indptr[i + 1]):
            if transpose:
                M[indices[q], i] = sgn * vals[q]
            else:
                M[i, indices[q]] = sgn * vals[q]


@njit(cache=True)
def shifted_matrix(g, M, E):
    """``E = g I - M`` (dense, ``M`` square)."""
    n = M.shape[0]
    for i in range(n):
        for q in range(n):
            E[i, q] = -M[i, q]
        E[i, i] += g


# ---- Radau IIA: simplified Newton on the transformed stage equations --------------
@njit(cache=True)
def transformed_factor(sparse, splan, lu, vals, jptr, jidx, sgn, transpose, fac1, alphn, betan):
    """Factor ``E1 = fac1 I + sgn K`` and ``E2 = (alphn + i betan) I + sgn K`` into ``lu``.

    ``K`` is the matrix of the CSR values ``vals`` (pattern ``jptr``, ``jidx``; its
    transpose with ``transpose``) when dense; sparse, ``vals`` must already hold the
    values of ``sgn K`` in the pattern planned in ``splan``.  Returns the LU status."""
    perm, sptr, sidx, sdiag, samap = splan
    E1, piv1, E2, piv2, luv1, luw1, luv2, luw2 = lu
    if sparse:
        ier = sparse_lu_factor(sptr, sidx, sdiag, samap, vals, fac1, luv1, luw1)
        if ier == 0:
            ier = sparse_lu_factor(sptr, sidx, sdiag, samap, vals, complex(alphn, betan), luv2, luw2)
        return ier
    n = E1.shape[0]
    for i in range(n):
        for q in range(n):
            E1[i, q] = 0.0
            E2[i, q] = 0.0
        E1[i, i] = fac1
        E2[i, i] = complex(alphn, betan)
    for r in range(n):
        for q in range(jptr[r], jptr[r + 1]):
            c = jidx[q]
            v = sgn * vals[q]
            if transpose:
                E1[c, r] += v
                E2[c, r] += v
            else:
                E1[r, c] += v
                E2[r, c] += v
    ier = lu_factor(E1, piv1)
    if ier != 0:
        return ier
    return lu_factor(E2, piv2)


@njit(cache=True)
def transformed_solve(sparse, splan, lu, rre, rc):
    """Solve ``E1 rre' = rre`` and ``E2 rc' = rc`` in place with the factors in ``lu``."""
    perm, sptr, sidx, sdiag, samap = splan
    E1, piv1, E2, piv2, luv1, luw1, luv2, luw2 = lu
    if sparse:
        sparse_lu_solve(sptr, sidx, sdiag, perm, luv1, rre, luw1)
        sparse_lu_solve(sptr, sidx, sdiag, perm, luv2, rc, luw2)
    else:
        lu_solve(E1, piv1, rre)
        lu_solve(E2, piv2, rc)


@njit(cache=True)
def transformed_solve_real(sparse, splan, lu, rre):
    """Solve ``E1 rre' = rre`` in place (the error estimate's filter)."""
    perm, sptr, sidx, sdiag, samap = splan
    E1, piv1, E2, piv2, luv1, luw1, luv2, luw2 = lu
    if sparse:
        sparse_lu_solve(sptr, sidx, sdiag, perm, luv1, rre, luw1)
    else:
        lu_solve(E1, piv1, rre)


@njit(cache=True)
def transformed_residual(F, W, fac1, alphn, betan, rre, rc):
    """Right-hand sides of the transformed Newton systems from the stage values ``F``."""
    for i in range(rre.shape[0]):
        a1 = F[0, i]
        a2 = F[1, i]
        a3 = F[2, i]
        rre[i] = _RTI[0, 0] * a1 + _RTI[0, 1] * a2 + _RTI[0, 2] * a3 - fac1 * W[0, i]
        rc[i] = complex(_RTI[1, 0] * a1 + _RTI[1, 1] * a2 + _RTI[1, 2] * a3 - (alphn * W[1, i] - betan * W[2, i]),
                        _RTI[2, 0] * a1 + _RTI[2, 1] * a2 + _RTI[2, 2] * a3 - (betan * W[1, i] + alphn * W[2, i]))


@njit(cache=True)
def transformed_update(W, Z, rre, rc, scal, acc):
    """Add the Newton increments to ``W``, set ``Z = T W``; returns ``acc`` plus the
    increments' squared norm scaled by ``scal``."""
    for i in range(rre.shape[0]):
        W[0, i] += rre[i]
        W[1, i] += rc[i].real
        W[2, i] += rc[i].imag
        d1 = rre[i] / scal[i]
        d2 = rc[i].real / scal[i]
        d3 = rc[i].imag / scal[i]
        acc += d1 * d1 + d2 * d2 + d3 * d3
        w1 = W[0, i]
        w2 = W[1, i]
        w3 = W[2, i]
        Z[0, i] = _RT[0, 0] * w1 + _RT[0, 1] * w2 + _RT[0, 2] * w3
        Z[1, i] = _RT[1, 0] * w1 + _RT[1, 1] * w2 + _RT[1, 2] * w3
        Z[2, i] = _RT[2, 0] * w1 + _RT[2, 1] * w2 + _RT[2, 2] * w3
    return acc


@njit(cache=True)
def newton_verdict(it, dyno, dynold):
    """After Newton iteration ``it`` with scaled increment ``dyno``: 1 converged,
    -1 failed (non-finite, diverging or too slow), 0 go on."""
    if not np.isfinite(dyno):
        return -1
    if dyno <= NEWTON_TOL:
        return 1
    if it >= 1 and dyno > 0.9 * dynold:
        return -1
    return 0
