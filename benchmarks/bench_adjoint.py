"""Cost of a gradient through a solve: adjoint vs forward sensitivities vs finite
differences (symgen) and CasADi's adjoint (CVODES with reverse-mode AD), for 10, 100 and
1000 parameters on a model whose parameters enter every equation.

    x_i' = 1 - x_i + 0.5 sin(x_{i+1}) + 0.5 sin(2 t + i) + (1/P) sum_k p_k cos(0.7 i + 1.3 k) x_{(i+k) mod n}

(n = 10 states, forced so that the solve keeps stepping), loss = sum over 20 observation
times of |x(t_j) - d_j|^2 on [0, 50].
Every figure is the best of ``--repeat`` runs in this process; the ratios that matter
are time(gradient) / time(forward solve) of the same tool.  Then the adjoint's memory
(bytes of forward trajectory held at once) against the checkpoint setting.  Last, the
adjoint/forward cost after the stiff drivers: Robertson with radau5, bdf and auto, and
the 2D Brusselator in PDE form (N = 16, 512 states, stencil-level kernels) with radau5
and bdf (``--no-stiff`` skips it).

Run: python benchmarks/bench_adjoint.py [--repeat 5] [--params 10 100 1000]
"""
import argparse
import time

import numpy as np
import sympy as sp

import symgen as sg
from symgen.sensitivity import Loss, adjoint_gradient, forward_sensitivities

N_STATES = 10
T_END = 50.0
RTOL, ATOL = 1e-8, 1e-10


def coefficients(P):
    i, k = np.meshgrid(np.arange(N_STATES), np.arange(P), indexing="ij")
    return np.cos(0.7 * i + 1.3 * k)


def build(P):
    t = sg.time()
    x = sg.states("x", shape=N_STATES)
    p = sg.params("p", shape=P) if P > 1 else [sg.params("p0")]
    c = coefficients(P)
    eqs = []
    for i in range(N_STATES):
        coupling = sp.Add(*[float(c[i, k]) * p[k] * x[(i + k) % N_STATES] for k in range(P)]) / P
        eqs.append(sg.D(x[i]) == 1 - x[i] + sp.Rational(1, 2) * sp.sin(x[(i + 1) % N_STATES])
                   + sp.Rational(1, 2) * sp.sin(2 * t + i) + coupling)
    return sg.ODESystem(eqs, t, params=list(p), name=f"bench_adjoint_{P}")


def best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def casadi_case(P, p0, x0, t_obs, data, repeat):
    import casadi as ca
    x = ca.SX.sym("x", N_STATES)
    p = ca.SX.sym("p", P)
    t = ca.SX.sym("t")
    c = coefficients(P)
    f = ca.vertcat(*[1 - x[i] + 0.5 * ca.sin(x[(i + 1) % N_STATES]) + 0.5 * ca.sin(2 * t + i)
                     + sum(float(c[i, k]) * p[k] * x[(i + k) % N_STATES] for k in range(P)) / P
                     for i in range(N_STATES)])
    F = ca.integrator("F", "cvodes", {"x": x, "p": p, "t": t, "ode": f}, 0.0, list(t_obs),
                      {"abstol": ATOL, "reltol": RTOL})
    pm = ca.MX.sym("p", P)
    X = F(x0=x0, p=pm)["xf"]
    loss = ca.sumsqr(X - ca.DM(data.T))
    fwd = ca.Function("loss", [pm], [loss])
    grad = ca.Function("grad", [pm], [loss, ca.gradient(loss, pm)])
    t_f, L = best_of(lambda: float(fwd(p0)), repeat)
    t_g, (L2, g) = best_of(lambda: grad(p0), repeat)
    return t_f, t_g, float(L2), np.array(g).ravel()


def run(P, repeat, with_casadi=True):
    t0 = time.perf_counter()
    model = sg.compile(build(P), backend="llvm", sensitivities=True)
    t_compile = time.perf_counter() - t0
    rng = np.random.default_rng(P)
    p0 = rng.uniform(0.5, 1.5, P)
    x0 = np.linspace(0.1, 1.0, N_STATES)
    t_obs = np.linspace(T_END / 20, T_END, 20)
    ref = model.solve(x0, (0.0, T_END), p0 * 1.1, t_eval=t_obs, rtol=1e-10, atol=1e-12)
    data = ref.y.T.copy()
    d = sp.symbols(f"d0:{N_STATES}")
    loss = Loss(point=sum((s - di) ** 2 for s, di in zip(model.states, d)), data=d)
    kw = dict(method="dopri5", rtol=RTOL, atol=ATOL)

    def forward():
        return model.solve(x0, (0.0, T_END), p0, t_eval=t_obs, dense=False, **kw)

    def loss_value(p):
        y = model.solve(x0, (0.0, T_END), p, t_eval=t_obs, dense=False, **kw).y.T
        return float(((y - data) ** 2).sum())

    adjoint_gradient(model, loss, x0, (0.0, T_END), p0, t_obs=t_obs, data=data, **kw)  # compile the loss
    t_fwd, _ = best_of(forward, repeat)
    t_adj, r = best_of(lambda: adjoint_gradient(model, loss, x0, (0.0, T_END), p0, t_obs=t_obs, data=data,
                                                checkpoints=4, **kw), repeat)
    row = {"P": P, "compile": t_compile, "fwd": t_fwd, "adj": t_adj, "loss": r.loss}

    def fd():
        L0 = loss_value(p0)
        g = np.empty(P)
        for k in range(P):
            e = np.zeros(P)
            e[k] = 1e-6 * max(abs(p0[k]), 1.0)
            g[k] = (loss_value(p0 + e) - L0) / e[k]
        return g

    row["fd"], g_fd = best_of(fd, 1)

    def fsens():
        s = forward_sensitivities(model, x0, (0.0, T_END), p0, t_eval=t_obs, **kw)
        y = s.y.T  # (T, n)
        return np.einsum("ti,tik->k", 2 * (y - data), s.sens)

    row["fs"], g_fs = best_of(fsens, 1 if P >= 1000 else repeat)
    rel = lambda a, b: float(np.abs(a - b).max() / np.abs(b).max())  # noqa: E731
    row["err_fs"] = rel(g_fs, r.grad_p)
    row["err_fd"] = rel(g_fd, r.grad_p)
    if with_casadi:
        try:
            t_cf, t_cg, Lc, gc = casadi_case(P, p0, x0, t_obs, data, repeat)
            row.update(cas_fwd=t_cf, cas_grad=t_cg, err_cas=rel(gc, r.grad_p), cas_loss=Lc)
        except ImportError:
            pass
    return row, model, (p0, x0, t_obs, data, loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--params", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--no-casadi", action="store_true")
    ap.add_argument("--no-stiff", action="store_true")
    args = ap.parse_args()
    print(f"model: {N_STATES} states, P parameters in every equation; dopri5 rtol={RTOL} atol={ATOL}; "
          f"loss at 20 times on [0, {T_END}]; best of {args.repeat}")
    hdr = (f"{'P':>5} {'compile s':>9} {'fwd ms':>8} {'adjoint ms':>10} {'adj/fwd':>8} {'fwd-sens/fwd':>12} "
           f"{'FD/fwd':>8} {'CasADi fwd ms':>13} {'CasADi grad/fwd':>15} {'symgen adj / CasADi grad':>24} "
           f"{'|g_fs-g_adj|':>12} {'|g_fd-g_adj|':>12} {'|g_cas-g_adj|':>13}")
    print(hdr)
    kept = None
    for P in args.params:
        row, model, extra = run(P, args.repeat, not args.no_casadi)
        if P == 100 or kept is None:
            kept = (model, extra)
        cas = (f"{1e3 * row['cas_fwd']:13.2f} {row['cas_grad'] / row['cas_fwd']:15.2f} "
               f"{row['adj'] / row['cas_grad']:24.3f}") if "cas_fwd" in row else f"{'-':>13} {'-':>15} {'-':>24}"
        print(f"{P:5d} {row['compile']:9.2f} {1e3 * row['fwd']:8.3f} {1e3 * row['adj']:10.3f} "
              f"{row['adj'] / row['fwd']:8.2f} {row['fs'] / row['fwd']:12.1f} {row['fd'] / row['fwd']:8.1f} "
              f"{cas} {row['err_fs']:12.1e} {row['err_fd']:12.1e} {row.get('err_cas', float('nan')):13.1e}",
              flush=True)
    model, (p0, x0, t_obs, data, loss) = kept
    print(f"\nadjoint memory vs checkpoints (P = {len(p0)}): bytes of forward trajectory held at once")
    print(f"{'checkpoints':>11} {'peak interval B':>15} {'checkpoints B':>13} {'whole trajectory B':>18} "
          f"{'adjoint ms':>10}")
    for K in (1, 2, 4, 8, 16, 32):
        t_adj, r = best_of(lambda: adjoint_gradient(model, loss, x0, (0.0, T_END), p0, t_obs=t_obs, data=data,
                                                    method="dopri5", rtol=RTOL, atol=ATOL, checkpoints=K),
                           args.repeat)
        m = r.memory
        print(f"{K:11d} {m['peak_interval']:15d} {m['checkpoints']:13d} {m['full_trajectory_estimate']:18d} "
              f"{1e3 * t_adj:10.3f}")

    if not args.no_stiff:
        stiff_rows(args.repeat)


def stiff_rows(repeat):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import brusselator_pde
    import robertson
    print("\nstiff and PDE models: time(adjoint gradient) / time(forward solve), same method and tolerances")
    print(f"{'model':>24} {'method':>7} {'fwd ms':>9} {'adjoint ms':>10} {'adj/fwd':>8} {'methods run':>15}")
    rob = sg.compile(robertson.build(), sensitivities=True)
    y1, y2, y3 = rob.states
    cases = [("Robertson (3 states)", rob, Loss(point=y1 ** 2 + 1e4 * y2 + y3, integrand=1e3 * y2),
              np.array([1.0, 0.0, 0.0]), (0.0, 40.0), np.array([0.4, 4.0, 40.0]), None,
              dict(rtol=1e-8, atol=[1e-10, 1e-14, 1e-10]), ("radau5", "bdf", "auto"))]
    N = 16
    bru = sg.compile(brusselator_pde.build(N))
    u, _ = bru.fields
    d = sp.Symbol("d")
    t_obs = np.array([0.5, 1.0])
    data = np.random.default_rng(0).uniform(0.5, 2.0, (2, N, N, 1))
    cases.append((f"Brusselator PDE N={N}", bru, Loss(point=(u - d) ** 2, data=[d]),
                  bru.initial_vector(brusselator_pde.initial(N)), (0.0, 1.0), t_obs, data,
                  dict(rtol=1e-6, atol=1e-8), ("radau5", "bdf")))
    for name, model, loss, y0, span, t_obs, data, tol, methods in cases:
        for meth in methods:
            kw = dict(method=meth, **tol)
            r = adjoint_gradient(model, loss, y0, span, t_obs=t_obs, data=data, checkpoints=4, **kw)  # compile
            assert r.success, r.message
            t_fwd, sol = best_of(lambda: model.solve(y0, span, t_eval=t_obs, dense=False, **kw), repeat)
            assert sol.success, sol.message
            t_adj, r = best_of(lambda: adjoint_gradient(model, loss, y0, span, t_obs=t_obs, data=data,
                                                        checkpoints=4, **kw), repeat)
            print(f"{name:>24} {meth:>7} {1e3 * t_fwd:9.2f} {1e3 * t_adj:10.2f} {t_adj / t_fwd:8.2f} "
                  f"{r.stats['methods']:>15}", flush=True)


if __name__ == "__main__":
    main()
