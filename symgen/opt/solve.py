"""minimize: validate, check the start point, set up the linear algebra, call a driver."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import NonFiniteStartError, SolverError
from .result import OptResult

__all__ = ["minimize", "kkt_setup", "locate_nonfinite"]


def kkt_setup(model):
    """Static pattern of the KKT matrix, its ``L D L^T`` plan and the value maps.

    Order of unknowns: ``x`` (n), slacks of the inequality rows (ns), multipliers (m).
    Computed once per compiled model.
    """
    if model._kkt is not None:
        return model._kkt
    from .drivers.ldl import LDLPlan, make_ldl_plan
    ir = model.ir
    path = _kkt_path(model)
    if path is not None and str(path) in _KKT_LOADED:
        model._kkt = _KKT_LOADED[str(path)]
        return model._kkt
    if path is not None and path.exists():
        try:
            with np.load(path) as z:
                plan = LDLPlan(int(z["n"]), *(z[k] for k in ("perm", "cptr", "crow", "amap", "parent",
                                                              "lptr", "pair")))
                kkt = dict(plan=plan, **{k: z[k] for k in ("kmap_h", "kdiag", "kmap_j", "kslack",
                                                           "slack_row")})
            model._kkt = _KKT_LOADED[str(path)] = kkt
            return kkt
        except Exception:  # unreadable: plan again
            pass
    n, m = ir.n, ir.m
    slack_row = np.nonzero(ir.cl < ir.cu)[0].astype(np.int64)
    ns = slack_row.size
    nz = n + ns
    N = nz + m
    diag = np.arange(N, dtype=np.int64)
    rows = np.concatenate([model.hess_rows, diag, nz + model.jac_rows, nz + slack_row])
    cols = np.concatenate([model.hess_cols, diag, model.jac_cols, n + np.arange(ns, dtype=np.int64)])
    key = rows * N + cols
    uniq, inv = np.unique(key, return_inverse=True)
    r = uniq // N
    ptr = np.zeros(N + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=N), out=ptr[1:])
    plan = make_ldl_plan(ptr, uniq % N, N, _pairs(model, slack_row, nz))
    pos = plan.amap[inv]
    a, b, c = model.hess_rows.size, N, model.jac_rows.size
    kkt = dict(plan=plan, kmap_h=np.ascontiguousarray(pos[:a]), kdiag=np.ascontiguousarray(pos[a:a + b]),
               kmap_j=np.ascontiguousarray(pos[a + b:a + b + c]), kslack=np.ascontiguousarray(pos[a + b + c:]),
               slack_row=slack_row)
    model._kkt = kkt
    if path is not None:
        _KKT_LOADED[str(path)] = kkt
        try:
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez(tmp, n=plan.n, perm=plan.perm, cptr=plan.cptr, crow=plan.crow, amap=plan.amap,
                     parent=plan.parent, lptr=plan.lptr, pair=plan.pair,
                     **{k: v for k, v in kkt.items() if k != "plan"})
            tmp.replace(path)
        except OSError:
            pass
    return kkt


_KKT_LOADED: dict = {}     # cache file -> plan, once read in this process


def _kkt_path(model):
    """Cache file of the KKT plan: next to the kernels, named by the pattern of finite
    bounds (which decides the slacks and the 2x2 pivots; bound values do not)."""
    if not getattr(model, "cached_dir", None):
        return None
    import hashlib
    ir = model.ir
    h = hashlib.sha256()
    for a in (np.isfinite(ir.xl), np.isfinite(ir.xu), ir.cl < ir.cu, np.isfinite(ir.cl), np.isfinite(ir.cu)):
        h.update(np.packbits(a).tobytes())
        h.update(b"|")
    return model.cached_dir / f"kkt-{h.hexdigest()[:20]}.npz"


def _pairs(model, slack_row, nz):
    """Static 2x2 pivots: each primal unknown without curvature and without bounds (its
    KKT diagonal is structurally zero) paired with a constraint row it appears in
    (greedy matching); ``int[k, 2]`` of KKT indices ``(unknown, nz + row)``."""
    ir = model.ir
    n = ir.n
    has_diag = np.zeros(nz, bool)
    has_diag[model.hess_rows[model.hess_rows == model.hess_cols]] = True
    bounded = np.concatenate([np.isfinite(ir.xl) | np.isfinite(ir.xu),
                              np.isfinite(ir.cl[slack_row]) | np.isfinite(ir.cu[slack_row])])
    zero = np.nonzero(~has_diag & ~bounded)[0]
    if not zero.size:
        return np.zeros((0, 2), np.int64)
    rows = np.concatenate([model.jac_rows, slack_row])
    cols = np.concatenate([model.jac_cols, n + np.arange(slack_row.size)])
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    start = np.searchsorted(cols, zero)
    stop = np.searchsorted(cols, zero, side="right")
    used = np.zeros(ir.m, bool)
    out = []
    for v, a, b in zip(zero, start, stop):
        for r in rows[a:b]:
            if not used[r]:
                used[r] = True
                out.append((v, nz + r))
                break
    return np.asarray(out, np.int64).reshape(-1, 2)


def locate_nonfinite(model, x, p):
    """``(label, index point, {variable: value})`` of the first family term that is not
    finite at ``x`` (evaluated with NumPy from the SymPy template), or ``None``."""
    ir = model.ir
    for fam in list(ir.objective) + list(ir.constraints):
        grid = fam.grid()
        syms = [s.symbol for s in fam.slots] + list(fam.indices)
        fn = sp.lambdify(syms, fam.expr, modules="numpy")
        vals = [(x if s.kind == "x" else p)[s.positions(grid)] for s in fam.slots]
        vals += [grid[:, k].astype(float) for k in range(grid.shape[1])]
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(fn(*vals), dtype=float), (grid.shape[0],))
        bad = np.nonzero(~np.isfinite(out))[0]
        if bad.size:
            k = int(bad[0])
            point = {str(i): int(grid[k, d]) for d, i in enumerate(fam.indices)}
            values = {model.var_name(int(s.positions(grid[k:k + 1])[0])): float(x[s.positions(grid[k:k + 1])[0]])
                      for s in fam.slots if s.kind == "x"}
            return str(fam.label), point, values
    return None


def _violation(ir, x, c):
    v = 0.0
    if ir.n:
        v = max(v, float(np.max(np.maximum(ir.xl - x, 0.0), initial=0.0)),
                float(np.max(np.maximum(x - ir.xu, 0.0), initial=0.0)))
    if ir.m:
        v = max(v, float(np.max(np.maximum(ir.cl - c, 0.0))), float(np.max(np.maximum(c - ir.cu, 0.0))))
    return v


def _check_start(model, x, p):
    xs = np.clip(x, model.ir.xl, model.ir.xu)
    f = model._call("obj", xs, p, model._w(), 1)[0]
    c = model._call("cons", xs, p, model._w(), model.m)[:model.m] if model.m else np.zeros(0)
    g = model._call("grad", xs, p, model._w(), model.n)[:model.n]
    if np.isfinite(f) and np.isfinite(c).all() and np.isfinite(g).all():
        return
    where = locate_nonfinite(model, xs, model.user_params(p))
    if where is None:   # the value is finite but a derivative is not
        k = int(np.nonzero(~np.isfinite(g))[0][0]) if not np.isfinite(g).all() else -1
        raise NonFiniteStartError("the gradient is not finite at the initial point",
                                  symbol=model.var_name(k) if k >= 0 else None)
    label, point, values = where
    at = ", ".join(f"{k}={v}" for k, v in point.items())
    vv = ", ".join(f"{k}={v:g}" for k, v in list(values.items())[:6])
    raise NonFiniteStartError(f"term is NaN/Inf at the initial point{' at ' + at if at else ''} "
                              f"(variables: {vv})", equation=label)


def minimize(model, x0=None, params=None, *, method="auto", tol=1e-8, max_iter=3000,
             constr_tol=1e-8, check_start=True) -> OptResult:
    ir = model.ir
    if method not in ("auto", "ipm", "lbfgsb", "tron"):
        raise SolverError(f"unknown method {method!r}; choose one of auto, ipm, lbfgsb, tron")
    if not (tol > 0) or not (max_iter >= 0):
        raise SolverError(f"need tol > 0 and max_iter >= 0, got tol={tol}, max_iter={max_iter}")
    if method == "auto":
        method = "ipm" if ir.m else "tron"
    if ir.m and method != "ipm":
        raise SolverError(f"method {method!r} handles bounds only; this problem has {ir.m} "
                          f"constraint rows (use method='ipm')")
    p = model.param_vector(params)
    x = model.x0_vector(x0)
    if check_start:
        _check_start(model, x, p)
    c0 = model._call("cons", x, p, model._w(), ir.m)[:ir.m] if ir.m else np.zeros(0)
    start_viol = _violation(ir, x, c0)
    k = model.kernels
    if method == "ipm":
        from .drivers.ipm import ipm
        kk = kkt_setup(model)
        g0 = model._call("grad", np.clip(x, ir.xl, ir.xu), p, model._w(), ir.n)[:ir.n]
        gmax = float(np.max(np.abs(g0), initial=0.0))
        scale = min(1.0, 100.0 / gmax) if gmax > 0 and np.isfinite(gmax) else 1.0
        plan = kk["plan"]
        status, it, xs, f, lam, zl, zu, stats, err, trace = ipm(
            k["obj"], k["grad"], k["cons"], k["jac"], k["hess"], ir.n, x, ir.xl, ir.xu, ir.cl, ir.cu, p,
            model.jac_rows, model.jac_cols, model.hess_rows, model.hess_cols, model.hess_w,
            plan.perm, plan.cptr, plan.crow, plan.parent, plan.lptr, plan.pair, kk["kmap_h"], kk["kmap_j"],
            kk["kdiag"], kk["kslack"], kk["slack_row"], float(tol), int(max_iter), 0.1, scale,
            float(constr_tol))
    elif method == "lbfgsb":
        from .drivers.lbfgsb import lbfgsb
        status, it, xs, f, zl, zu, stats, err = lbfgsb(
            k["obj"], k["grad"], x, ir.xl, ir.xu, p, 10, float(tol), int(max_iter))
        lam = np.zeros(0)
    else:
        from .drivers.tron import tron
        status, it, xs, f, zl, zu, stats, err = tron(
            k["obj"], k["grad"], k["hvp"], x, ir.xl, ir.xu, p, float(tol), int(max_iter))
        lam = np.zeros(0)
    if method != "ipm":
        trace = None
    c = model._call("cons", xs, p, model._w(), ir.m)[:ir.m] if ir.m else np.zeros(0)
    extra = f"start point infeasible (violation {start_viol:.3g})" if start_viol > constr_tol else ""
    res = OptResult(np.asarray(xs), float(f) * ir.sense, np.asarray(lam), np.asarray(zl),
                     np.asarray(zu), int(it), int(status), OptResult.message_for(status, it, extra),
                     method, OptResult.stats_dict(stats), float(err), _violation(ir, xs, c), start_viol,
                     ir.variables)
    res.history = trace
    return res

