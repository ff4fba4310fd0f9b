"""Command line: ``symgen compile|solve|show|export MODEL`` where MODEL is ``file.py:name``.

``name`` is an ``ODESystem`` object or a function returning one, defined in the file.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

from .errors import SymgenError

__all__ = ["main", "load_model_object"]


def load_model_object(spec: str):
    """Load ``file.py:name`` (the file is executed as a module, as ``python file.py`` would)."""
    path, _, attr = spec.partition(":")
    if not attr:
        raise SymgenError(f"model must be given as FILE.py:NAME, got {spec!r}")
    p = Path(path)
    if not p.is_file():
        raise SymgenError(f"no such model file: {path}")
    mspec = importlib.util.spec_from_file_location(f"_symgen_user_{abs(hash(p.resolve()))}", p)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    obj = getattr(mod, attr, None)
    if obj is None:
        raise SymgenError(f"{path} defines no {attr!r}")
    return obj() if callable(obj) and not hasattr(obj, "problem") else obj


def _parse_values(items):
    out = {}
    for it in items or []:
        k, _, v = it.partition("=")
        out[k.strip()] = float(v)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="symgen", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("compile", "show", "solve"):
        s = sub.add_parser(name)
        s.add_argument("model", help="FILE.py:NAME")
        s.add_argument("--backend", default="numba")
        s.add_argument("--no-cache", action="store_true")
        if name == "solve":
            s.add_argument("--y0", nargs="*", metavar="NAME=VALUE")
            s.add_argument("--params", nargs="*", metavar="NAME=VALUE")
            s.add_argument("--t-span", nargs=2, type=float, required=True)
            s.add_argument("--method", default="auto")
            s.add_argument("--rtol", type=float, default=1e-6)
            s.add_argument("--atol", type=float, default=1e-9)
            s.add_argument("--json", action="store_true", help="print the final state as JSON")
    ex = sub.add_parser("export", help="standalone artifact: python package or C library + header")
    ex.add_argument("model", help="FILE.py:NAME")
    ex.add_argument("--target", choices=("python", "c"), required=True)
    ex.add_argument("--out", required=True, help="output directory")
    ex.add_argument("--name", default=None, help="library/package name (a C identifier)")
    ex.add_argument("--cpu", choices=("host", "generic"), default="host",
                    help="kernels for this CPU (default) or the architecture's baseline (portable)")
    ex.add_argument("--flavour", choices=("native", "numba"), default="native",
                    help="python target: native library (NumPy only) or Numba source (NumPy + Numba)")
    ex.add_argument("--no-cache", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "export":
        return _export(args)
    from .pipeline import compile as sg_compile
    from .show import report
    try:
        system = load_model_object(args.model)
        t0 = time.perf_counter()
        model = sg_compile(system, backend=args.backend, cache=not args.no_cache)
        dt = time.perf_counter() - t0
        if args.cmd == "compile":
            print(f"compiled {model.name!r} in {dt:.3f} s ({'cache hit' if model.cached else 'built'}); "
                  f"key {model.key}")
        elif args.cmd == "show":
            print(report(model))
        else:
            sol = model.solve(_parse_values(args.y0), tuple(args.t_span), _parse_values(args.params),
                              method=args.method, rtol=args.rtol, atol=args.atol)
            final = {str(s): float(sol.y[i, -1]) for i, s in enumerate(model.states)}
            if args.json:
                print(json.dumps({"status": sol.status, "message": sol.message, "t": float(sol.t[-1]),
                                  "y": final, "stats": sol.stats}))
            else:
                print(sol.message)
                print(f"t = {sol.t[-1]:.17g}: " + ", ".join(f"{k} = {v:.10g}" for k, v in final.items()))
                print("stats: " + ", ".join(f"{k}={v}" for k, v in sol.stats.items()))
            return 0 if sol.success else 1
    except SymgenError as exc:
        print(f"symgen: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _export(args) -> int:
    from .aot import export
    command = f"symgen export {args.model} --target {args.target} --out {args.out}"
    if args.name:
        command += f" --name {args.name}"
    if args.cpu != "host":
        command += f" --cpu {args.cpu}"
    if args.flavour != "native":
        command += f" --flavour {args.flavour}"
    try:
        system = load_model_object(args.model)
        res = export(system, target=args.target, out=args.out, name=args.name, command=command,
                     cache=not args.no_cache, cpu=args.cpu, flavour=args.flavour)
    except SymgenError as exc:
        print(f"symgen: error: {exc}", file=sys.stderr)
        return 2
    t = res.timings
    what = res.library.name if res.library is not None else "Numba source"
    print(f"exported {res.manifest['name']!r} ({args.target}, {args.flavour}) to {res.directory}: {what}; "
          + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
