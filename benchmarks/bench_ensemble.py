"""CPU ensembles: 10^5 Lorenz trajectories, speed-up from 1 to 2 threads, and peers.

symgen's per-trajectory Tsit5 (the same code the CUDA kernels run) over trajectories
with Numba threads: fixed step (1000 steps of 0.001 to t = 1) and adaptive (rtol =
atol = 1e-6 to t = 1), with per-trajectory rho.  Peers in the same run, on the same
work: a loop of scipy.integrate.solve_ivp (RK45, same tolerances; measured on a subset
and scaled per trajectory), a loop of symgen's own single-trajectory driver
(``model.solve``, dopri5), and JAX ``vmap`` over diffrax's Tsit5 when jax and diffrax
are installed (jit-compiled, CPU; compile time excluded).  Accuracy of every adaptive
run is checked against a DOP853 reference at rtol 1e-12 on a few trajectories.

Each line also prints CPU time / wall time of the timed runs: about 1 and 2 on an idle
machine; lower values mean the threads waited for cores held by other processes.

Run: python benchmarks/bench_ensemble.py [--n 100000] [--repeat 3]
"""
import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import lorenz  # noqa: E402

import symgen as sg  # noqa: E402


def lorenz_py(r):
    return lambda t, u: [10.0 * (u[1] - u[0]), u[0] * (r - u[2]) - u[1], u[0] * u[1] - 8 / 3 * u[2]]


def best(fn, repeat):
    ts, cpu = [], []
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    best.cpu_per_wall = cpu[ts.index(min(ts))] / min(ts)   # threads actually busy
    return min(ts), out


def jax_peer(rho, y0, n, adaptive):
    try:
        import diffrax
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def f(t, u, r):
        return jnp.stack([10.0 * (u[1] - u[0]), u[0] * (r - u[2]) - u[1], u[0] * u[1] - 8 / 3 * u[2]])

    term = diffrax.ODETerm(f)
    ctrl = diffrax.PIDController(rtol=1e-6, atol=1e-6) if adaptive else diffrax.ConstantStepSize()

    def one(r):
        s = diffrax.diffeqsolve(term, diffrax.Tsit5(), 0.0, 1.0, 0.001 if not adaptive else None, y0, args=r,
                                stepsize_controller=ctrl, max_steps=4096,
                                saveat=diffrax.SaveAt(t1=True))
        return s.ys[-1]

    run = jax.jit(jax.vmap(one))
    r = jnp.asarray(rho[:n])
    run(r).block_until_ready()
    t = time.perf_counter()
    out = run(r).block_until_ready()
    return time.perf_counter() - t, np.asarray(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-n", type=int, default=300, help="trajectories the Python-loop peers run")
    ap.add_argument("--jax-n", type=int, default=20_000)
    a = ap.parse_args()
    model = sg.compile(lorenz.build())
    rng = np.random.default_rng(0)
    n = a.n
    rho = 20.0 + 10.0 * rng.random(n)
    y0 = np.array([1.0, 0.0, 0.0])
    params = {"rho": rho, "sigma": 10.0, "beta": 8 / 3}
    ncpu = numba.config.NUMBA_NUM_THREADS
    print(f"{n} Lorenz trajectories to t = 1, Numba threads available: {ncpu}")
    rows = []
    for label, kw in (("fixed 1000 steps", dict(adaptive=False, dt=0.001)),
                      ("adaptive 1e-6", dict(rtol=1e-6, atol=1e-6))):
        model.ensemble(params={"rho": rho[:64], "sigma": 10.0, "beta": 8 / 3}, y0=y0, t_span=(0, 1),
                       progress=False, **kw)   # compile
        times, busy = {}, {}
        for threads in (1, 2):
            if threads > ncpu:
                continue
            numba.set_num_threads(threads)
            times[threads], sol = best(lambda: model.ensemble(params=params, y0=y0, t_span=(0, 1),
                                                              progress=False, **kw), a.repeat)
            busy[threads] = best.cpu_per_wall
        numba.set_num_threads(ncpu)
        assert sol.success
        t1 = times[1]
        line = f"{label:18s} 1 thread {t1:7.3f} s ({n / t1:10.0f} traj/s)"
        if 2 in times:
            line += f" | 2 threads {times[2]:7.3f} s  speed-up {t1 / times[2]:.2f}x"
        # CPU time / wall time: ~1 and ~2 on an idle machine; less means the threads
        # waited for cores other processes held (the speed-up is then not meaningful)
        line += "  (cpu/wall " + ", ".join(f"{busy[k]:.2f}" for k in sorted(busy)) + ")"
        print(line)
        if label.startswith("adaptive"):
            err = max(np.abs(sol.u[i, -1] - solve_ivp(lorenz_py(rho[i]), (0, 1), y0, method="DOP853",
                                                      rtol=1e-12, atol=1e-12).y[:, -1]).max()
                      for i in range(5))
            print(f"{'':18s} max error vs DOP853 (5 trajectories): {err:.1e}")
        best_t = min(times.values())
        m = a.peer_n
        ts, _ = best(lambda: [solve_ivp(lorenz_py(rho[i]), (0, 1), y0, method="RK45", rtol=1e-6, atol=1e-6)
                              if label.startswith("adaptive") else
                              solve_ivp(lorenz_py(rho[i]), (0, 1), y0, method="RK45", first_step=0.001,
                                        max_step=0.001, rtol=1e3, atol=1e3)
                              for i in range(m)], 1)
        print(f"{'':18s} scipy solve_ivp loop: {ts / m * 1e6:9.1f} us/traj -> ratio {ts / m * n / best_t:8.1f}x")
        if label.startswith("adaptive"):
            x, y, z = model.states
            p = model.param_vector({"sigma": 10.0, "rho": 28.0, "beta": 8 / 3})
            tl, _ = best(lambda: [model.solve({x: 1.0, y: 0.0, z: 0.0}, (0, 1), p, method="dopri5",
                                              rtol=1e-6, atol=1e-6, dense=False) for _ in range(m)], 1)
            print(f"{'':18s} model.solve loop:    {tl / m * 1e6:9.1f} us/traj -> ratio {tl / m * n / best_t:8.1f}x")
        jp = jax_peer(rho, y0, min(a.jax_n, n), label.startswith("adaptive"))
        if jp is not None:
            tj, _ = jp
            nj = min(a.jax_n, n)
            print(f"{'':18s} JAX vmap+diffrax:    {tj / nj * 1e6:9.2f} us/traj -> ratio {tj / nj * n / best_t:8.1f}x "
                  f"({nj} trajectories)")
        rows.append((label, times))


if __name__ == "__main__":
    main()
