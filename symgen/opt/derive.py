"""derive: OptIR -> OptSystem (per-family gradient and Hessian templates, sparse patterns).

Each family's template is differentiated once by its own variable slots with the
term-wise sparse derivative engine of :mod:`symgen.passes.derive`; second derivatives
come from differentiating the gradient entries the same way.  The patterns of the
constraint Jacobian (CSR) and of the lower triangle of the Lagrangian Hessian (CSR) are
then generated numerically by evaluating the slots' affine positions over each family's
index box (NumPy, O(nnz)); kernels write the values of every family entry in a fixed
coordinate order and a *scatter map* sums them into the patterns (entries of two
families, or of two slots that meet at one position, add up).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..passes.derive import sparse_jacobian
from .ir import Family, OptIR

__all__ = ["FamilyDerivs", "OptSystem", "derive_opt", "structure_of", "patterns", "hvp_terms"]


@dataclass(frozen=True, slots=True)
class FamilyDerivs:
    """Derivatives of one family's template by its variable slots.

    ``grad`` is ``((slot position in family.slots, expr), ...)``; ``hess`` is
    ``((a, b, expr), ...)`` with ``a >= b`` in slot order (each unordered pair once).
    The Hessian-vector-product templates are built from ``hess`` when a kernel needs
    them (:func:`hvp_terms`).
    """

    family: Family
    grad: tuple
    hess: tuple


@dataclass(frozen=True, slots=True, eq=False)
class OptSystem:
    """Derived problem plus the static sparsity of ``J`` and ``tril(H)``."""

    ir: OptIR
    objective: tuple
    constraints: tuple
    jac_ptr: np.ndarray = field(repr=False)
    jac_idx: np.ndarray = field(repr=False)
    jac_map: np.ndarray = field(repr=False)
    hess_ptr: np.ndarray = field(repr=False)
    hess_idx: np.ndarray = field(repr=False)
    hess_map: np.ndarray = field(repr=False)
    hess_w: np.ndarray = field(repr=False)

    @property
    def jac_nnz(self) -> int:
        return int(self.jac_idx.size)

    @property
    def hess_nnz(self) -> int:
        return int(self.hess_idx.size)


def _derive_family(fam: Family, second: bool = True) -> FamilyDerivs:
    xs = [k for k, s in enumerate(fam.slots) if s.kind == "x"]
    syms = [fam.slots[k].symbol for k in xs]
    if not syms:
        return FamilyDerivs(fam, (), ())
    g_sp, g_vals = sparse_jacobian([fam.expr], syms)
    grad = tuple((xs[j], v) for (_, _, j), v in zip(g_sp.entries(), g_vals))
    hess = []
    if second and grad:
        h_sp, h_vals = sparse_jacobian([v for _, v in grad], syms)
        for (_, r, j), v in zip(h_sp.entries(), h_vals):
            a = grad[r][0]
            b = xs[j]
            if a >= b:
                hess.append((a, b, v))
    return FamilyDerivs(fam, grad, tuple(hess))


def hvp_terms(fam: Family, hess):
    """Directional derivatives of the gradient templates: ``(vsyms, ((a, expr), ...))``
    where ``expr`` is ``sum_b d2f/dx_a dx_b v_b`` and ``vsyms[b]`` stands for the
    direction's value at slot ``b``.

    ``vsyms[k]`` stands for the direction's value at slot ``k`` (``None`` for parameter
    slots).  Each second derivative of the template enters twice (``(a, b)`` and
    ``(b, a)``), so the product needs no symmetric expansion of an assembled matrix."""
    import sympy as sp
    vsyms = tuple(sp.Dummy(f"v{k}") if s.kind == "x" else None for k, s in enumerate(fam.slots))
    acc: dict = {}
    for a, b, e in hess:
        acc[a] = acc.get(a, 0) + e * vsyms[b]
        if a != b:
            acc[b] = acc.get(b, 0) + e * vsyms[a]
    return vsyms, tuple((a, acc[a]) for a in sorted(acc))


def structure_of(derivs) -> list:
    """JSON-able structure of the derivatives (which slots and slot pairs are nonzero),
    all the pattern generation needs (kept in the cache manifest)."""
    return [[[g for g, _ in d.grad], [[a, b] for a, b, _ in d.hess]] for d in derivs]


def _csr(rows, cols, n_rows, n_cols):
    """Unique CSR pattern of COO ``(rows, cols)`` and the map COO entry -> CSR slot."""
    key = rows.astype(np.int64) * max(n_cols, 1) + cols
    uniq, inv = np.unique(key, return_inverse=True)
    r, c = uniq // max(n_cols, 1), uniq % max(n_cols, 1)
    ptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=n_rows), out=ptr[1:])
    return ptr, c.astype(np.int64), inv.astype(np.int64)


def patterns(ir: OptIR, structure: list):
    """``(jac_ptr, jac_idx, jac_map, hess_ptr, hess_idx, hess_map, hess_w)`` from the
    derivative structure of every family (objective families first).

    COO order (the order the generated kernels write): family by family, grid point by
    grid point (row-major over the family's loops), entry by entry.
    """
    fams = list(ir.objective) + list(ir.constraints)
    jr, jc, hr, hc, hw = [], [], [], [], []
    for k, (fam, (gslots, hpairs)) in enumerate(zip(fams, structure)):
        grid = fam.grid()
        pos = [s.positions(grid) for s in fam.slots]
        if k >= len(ir.objective) and gslots:
            rows = fam.rows(grid)
            jr.append(np.repeat(rows, len(gslots)))
            jc.append(np.stack([pos[g] for g in gslots], axis=1).ravel())
        if hpairs:
            pa = np.stack([pos[a] for a, _ in hpairs], axis=1).ravel()
            pb = np.stack([pos[b] for _, b in hpairs], axis=1).ravel()
            off = np.array([a != b for a, b in hpairs] * grid.shape[0], dtype=bool)
            hr.append(np.maximum(pa, pb))
            hc.append(np.minimum(pa, pb))
            hw.append(np.where(off & (pa == pb), 2.0, 1.0))
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64))
    jp, ji, jm = _csr(cat(jr), cat(jc), ir.m, ir.n)
    hp, hi, hm = _csr(cat(hr), cat(hc), ir.n, ir.n)
    w = np.concatenate(hw) if hw else np.zeros(0)
    return jp, ji, jm, hp, hi, hm, w


def derive_opt(ir: OptIR) -> OptSystem:
    """Differentiate every family once and generate the sparse patterns."""
    obj = tuple(_derive_family(f) for f in ir.objective)
    con = tuple(_derive_family(f) for f in ir.constraints)
    pats = patterns(ir, structure_of(obj + con))
    return OptSystem(ir, obj, con, *pats)
