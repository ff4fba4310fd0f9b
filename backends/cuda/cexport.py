"""CUDA C export: the model's device functions and the per-thread ensemble solvers as
one ``.cu`` file (templates over float/double, ``extern "C"`` kernels for both), for use
outside Python (``nvcc -ptx``, ``nvcc -c``, NVRTC, CuPy's ``RawModule``)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from symgen.drivers import common
from symgen.ir.kernels import KernelSet

from .device import ENV, device_views
from .linalg import has_lu as _has_lu, n_swap_flags
from .printer import CudaCPrinter

__all__ = ["render_cuda_c", "export_cuda_c"]

_C_PARAMS = {
    ("t", "y", "p", "out"): "T t, const T* __restrict__ y, const T* __restrict__ p, T* __restrict__ out",
    ("t", "y", "p", "v", "out"): ("T t, const T* __restrict__ y, const T* __restrict__ p, "
                                  "const T* __restrict__ v, T* __restrict__ out"),
    ("a", "s"): "T* a, T* s",
    ("a", "s", "b"): "const T* a, const T* s, T* b",
}


def _lit(v: float) -> str:
    return f"T({float(v)!r})"


def _tsit5_view():
    from symgen.ensemble.tableaus import TSIT5
    a, c = TSIT5["a"], TSIT5["c"]
    stages = []
    for s in range(1, 7):   # stages 2..7 (stage 7 at the new solution: its row is b)
        combo = " + ".join(f"{_lit(w)} * k{j + 1}[i]" for j, w in enumerate(a[s]))
        stages.append(SimpleNamespace(k=s + 1, c=_lit(c[s]), combo=combo))
    err = " + ".join(f"{_lit(w)} * k{j + 1}[i]" for j, w in enumerate(TSIT5["btilde"]))
    return SimpleNamespace(stages=stages, err=err)


def _ros_view():
    from symgen.ensemble.tableaus import ROS3P as R
    return SimpleNamespace(
        gamma=_lit(R["gamma"]), a21=_lit(R["a"][1][0]), a31=_lit(R["a"][2][0]), a32=_lit(R["a"][2][1]),
        C21=_lit(R["C"][1][0]), C31=_lit(R["C"][2][0]), C32=_lit(R["C"][2][1]),
        c2=_lit(R["c"][1]), c3=_lit(R["c"][2]), d1=_lit(R["d"][0]), d2=_lit(R["d"][1]), d3=_lit(R["d"][2]),
        b1=_lit(R["b"][0]), b2=_lit(R["b"][1]), b3=_lit(R["b"][2]),
        e1=_lit(R["btilde"][0]), e2=_lit(R["btilde"][1]), e3=_lit(R["btilde"][2]))


def render_cuda_c(kset: KernelSet, key: str, version: str) -> str:
    """The ``.cu`` text of a model's kernels and ensemble solvers."""
    from symgen.ensemble.solvers import _MAX_NONFINITE
    n = kset.problem.n
    views = device_views(kset, CudaCPrinter, ";")
    for v in views:
        v.c_params = _C_PARAMS[tuple(v.params)]
    has_lu = _has_lu(n)
    return ENV.get_template("cuda_ensemble.cu.j2").render(
        kernels=views, key=key, version=version, n=n, n_params=len(kset.problem.params),
        n_params1=max(1, len(kset.problem.params)), n_flags=n_swap_flags(n), has_lu=has_lu,
        status=common, max_bad=_MAX_NONFINITE, tsit5=_tsit5_view(), ros=_ros_view(),
        solvers=("tsit5", "ros3p") if has_lu else ("tsit5",))


def export_cuda_c(model, path=None) -> str:
    """Write (when ``path`` is given) and return the CUDA C export of a compiled model."""
    from symgen import __version__
    from symgen.ensemble.device import _kernel_set
    text = render_cuda_c(_kernel_set(model), model.key, __version__)
    if path is not None:
        Path(path).write_text(text)
    return text
