"""Parameter sweep of the Lorenz system as one ensemble (CPU threads, or a CUDA GPU).

Sweeps rho over [0, 40] and reports where trajectories have settled at a fixed point
by t = 40 (for 1 < rho < 13.9 they settle at z = rho - 1) and where they stay chaotic
(the spread of z over the save times in [40, 50]).

Run: python examples/lorenz_ensemble.py [n] [cpu|cuda|dask]
"""
import sys

import numpy as np

import symgen as sg
from lorenz import build


def main(n=2000, backend="cpu", quiet=False):
    model = sg.compile(build())
    rho = np.linspace(0.0, 40.0, n)
    saveat = np.linspace(40.0, 50.0, 101)
    ens = model.ensemble(params={"rho": rho, "sigma": 10.0, "beta": 8.0 / 3.0}, y0=[1.0, 1.0, 1.0],
                         t_span=(0.0, 50.0), saveat=saveat, method="tsit5", backend=backend,
                         rtol=1e-8, atol=1e-8)
    z = ens["z"]                                   # (n, 101)
    spread = z.max(axis=1) - z.min(axis=1)
    if not quiet:
        print(f"{n} trajectories on {backend}: {ens.seconds:.3f} s, all succeeded: {ens.success}")
        settled = spread < 1e-3
        print(f"settled by t = 40: {settled.sum()} of {n}; chaotic (z spread > 10): "
              f"{(spread > 10).sum()}, for rho >= {rho[spread > 10].min():.2f}")
        print(f"mean steps per trajectory: {ens.stat('accepted').mean():.0f}")
    return model, ens, rho, spread


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, sys.argv[2] if len(sys.argv) > 2 else "cpu")
