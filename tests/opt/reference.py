"""Independent references for optimization tests: the declared SymPy expressions,
expanded (``Sum.doit``) and evaluated by SymPy/NumPy -- never the generated kernels."""
import numpy as np
import sympy as sp


def flat_symbols(model):
    """``(symbols, substitution)``: one SymPy symbol per flat variable and the map from
    every declared scalar / indexed element to it."""
    syms, sub = [], {}
    for h, off, shape, name in model._vars:
        if not shape:
            s = sp.Symbol(f"_x{off}", real=True)
            syms.append(s)
            sub[h] = s
            continue
        for k, idx in enumerate(np.ndindex(*shape)):
            s = sp.Symbol(f"_x{off + k}", real=True)
            syms.append(s)
            sub[h[idx]] = s
    return syms, sub


def _expand(e, sub, psub):
    e = e.doit() if e.has(sp.Sum) else e
    return e.xreplace(psub).xreplace(sub)


def param_sub(model, values=None):
    out = {}
    for h, off, shape, name in model._params:
        v = np.asarray(values[h] if values and h in values else model._p0[[p[0] for p in model._params].index(h)], float)
        if not shape:
            out[h] = sp.Float(float(v.reshape(-1)[0]))
        else:
            for k, idx in enumerate(np.ndindex(*shape)):
                out[h[idx]] = sp.Float(float(v.reshape(-1)[k]))
    return out


def references(model, params=None):
    """Dict of NumPy callables ``f, grad, hess, c, jac, chess(x, lam)`` from SymPy."""
    syms, sub = flat_symbols(model)
    psub = param_sub(model, params)
    f = _expand(model._sense * model._objective, sub, psub)
    cons = []
    for d, lo, hi, forall, label in model._constraints:
        if not forall:
            cons.append(_expand(d, sub, psub))
            continue
        ranges = [range(int(lo_), int(hi_) + 1) for _, lo_, hi_ in forall]
        for point in np.ndindex(*[len(r) for r in ranges]):
            vals = {forall[k][0]: ranges[k][point[k]] for k in range(len(forall))}
            cons.append(_expand(d.xreplace({s: sp.Integer(v) for s, v in vals.items()}), sub, psub))
    X = sp.Matrix(syms)
    fm = sp.Matrix([f])
    cm = sp.Matrix(cons) if cons else sp.zeros(0, 1)
    lam = sp.symbols(f"_l0:{len(cons)}") if cons else ()
    lag_c = sum((l * c for l, c in zip(lam, cons)), sp.S.Zero)
    out = {
        "f": sp.lambdify([syms], f, "numpy"),
        "grad": sp.lambdify([syms], fm.jacobian(X), "numpy"),
        "hess": sp.lambdify([syms], sp.hessian(f, syms), "numpy"),
        "c": sp.lambdify([syms], cm, "numpy"),
        "jac": sp.lambdify([syms], cm.jacobian(X) if cons else sp.zeros(0, len(syms)), "numpy"),
        "chess": sp.lambdify([syms, list(lam)], sp.hessian(lag_c, syms) if cons else sp.zeros(len(syms)), "numpy"),
    }
    return out
