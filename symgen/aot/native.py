"""Native artifact: LLVM kernels as object code + the C runtime -> one shared library.

The kernels are the LLVM backend's module (the same IR, optimization level and target
machine as an in-process ``backend="llvm"`` build, so the machine code is the same);
llvmlite emits it as a position-independent object file.  The steppers are the C
runtime in ``symgen/aot/runtime`` (line-by-line ports of the Numba drivers).  A
generated C file adds the model's public names (``<name>_rhs``, ``<name>_dopri5``, ...),
sizes and Jacobian pattern; the system C compiler links everything with flags that keep
IEEE semantics (no fast-math, no contraction into FMA).

Every generated text is a function of the model's IR and symgen's sources only (no
times, paths or hash-ordered iteration), so the same model and options give
byte-identical sources.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExportError

__all__ = ["RUNTIME_DIR", "RUNTIME_SOURCES", "CFLAGS", "KernelInfo", "c_identifier", "comment_text", "c_string",
           "kernel_table", "radau_constants_header", "model_c", "model_header", "plan_c", "build_script",
           "compile_library", "compiler_version"]

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
#: the runtime's C sources and headers, copied verbatim into every artifact
RUNTIME_SOURCES = ("symgen_rt.h", "rt_internal.h", "rt_common.c", "dopri5.c", "radau5.c")
#: flags of every C compilation: IEEE semantics kept (no -ffast-math, no FMA contraction)
CFLAGS = ("-O2", "-fPIC", "-std=c99", "-ffp-contract=off", "-fno-fast-math")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}\Z")
_C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double",
               "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
               "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
               "switch", "typedef", "union", "unsigned", "void", "volatile", "while"}


def c_identifier(name: str, fallback: str = "model") -> str:
    """A C identifier for the artifact built from a model name.

    Only ASCII letters, digits and ``_`` are kept (other characters become ``_``); a name
    that does not start with a letter, is a C keyword or longer than 48 characters is
    replaced by ``fallback``.  The result is what the library, header and functions are
    called; it is checked against a strict pattern, never trusted.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    if not _IDENT.match(cleaned) or cleaned in _C_KEYWORDS or cleaned.startswith("sg_"):
        cleaned = fallback
    return cleaned


def comment_text(text: str) -> str:
    """``text`` made safe for a C comment or string (printable ASCII, no ``*/``, quotes or backslashes)."""
    out = "".join(c if (32 <= ord(c) < 127 and c not in "\\\"") else "?" for c in str(text))
    return out.replace("*/", "*?").replace("/*", "?*")


_SAFE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ .,:;[]()+-=<>")


def c_string(text: str) -> str:
    """A C string literal holding ``text`` (UTF-8): every byte outside a small safe set is
    written as an octal escape, so no model name can end the literal or form a trigraph."""
    body = "".join(chr(b) if chr(b) in _SAFE_CHARS else "\\%03o" % b for b in str(text).encode("utf-8"))
    return '"' + body + '"'


def _c_names(name: str, names) -> str:
    items = [c_string(x) for x in names] or ["0"]
    return f"const char *const {name}[{len(items)}] = {{\n    " + ",\n    ".join(items) + "\n};"


@dataclass(frozen=True)
class KernelInfo:
    """One exported kernel: its name, its symbol in the LLVM module and its output size."""

    name: str
    symbol: str
    out_size: int
    doc: str


def kernel_table(model, source) -> tuple:
    """The kernels of ``source`` (an LLVM-backend ``Source``) with their output sizes."""
    from ..backends.llvm.module import function_name
    n, m = len(model.states), len(model.params)
    sizes = {
        "rhs": (n, "out[n] = f(t, y, p)"),
        "jac_values": (model.jac_sparsity.nnz, "out[nnz] = df/dy on the CSR pattern"),
        "pjac": (n * m, "out[n*m] = df/dp, dense row-major"),
        "dfdt": (n, "out[n] = df/dt"),
        "observed": (len(model.observed), "out[n_observed] = observables"),
    }
    texts = dict(source.kernels)
    out = []
    for name, (size, doc) in sizes.items():  # a fixed order, whatever order the source lists
        text = texts.get(name)
        if text is None or "signature residual" in text.split("\n", 1)[0]:
            continue  # only the ODE kernels with the drivers' signature are exported
        out.append(KernelInfo(name, function_name(source.key, name), size, doc))
    if not out or out[0].name != "rhs":
        raise ExportError("the LLVM module has no rhs kernel")
    return tuple(out)


def _hex(x: float) -> str:
    return float(x).hex()


def radau_constants_header() -> str:
    """``radau5_constants.h``: the Radau IIA constants the Numba driver uses, exactly."""
    from ..drivers import radau5 as R
    names = ["C1", "C2", "GAMMA", "ALPHA", "BETA"]
    names += [f"{m}{i}{j}" for m in ("T", "TI", "P") for i in (1, 2, 3) for j in (1, 2, 3)]
    names += ["DD1", "DD2", "DD3"]
    lines = ["/* Radau IIA(5) constants of symgen.drivers.radau5 (derived there from the",
             " * collocation conditions), as exact hexadecimal literals.  Generated by symgen. */",
             "#ifndef SYMGEN_RADAU5_CONSTANTS_H", "#define SYMGEN_RADAU5_CONSTANTS_H"]
    lines += [f"#define RADAU_{nm} ({_hex(getattr(R, nm))})" for nm in names]
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def _c_array(ctype: str, name: str, values) -> str:
    vals = [str(int(v)) for v in values] or ["0"]
    rows = [", ".join(vals[i:i + 16]) for i in range(0, len(vals), 16)]
    return f"const {ctype} {name}[{len(vals)}] = {{\n    " + ",\n    ".join(rows) + "\n};"


def model_header(prefix: str, model, kernels, version: str, auto_sparse: bool) -> str:
    """``<prefix>.h``: sizes, names (as comments), pattern, kernel and stepper prototypes."""
    P = prefix.upper()
    n, m = len(model.states), len(model.params)
    sp = model.jac_sparsity
    lines = [f"/* {prefix}.h -- model exported by symgen {version}.  Do not edit.",
             f" * model hash: {model.key}",
             " * states (order of y):"]
    lines += [f" *   y[{i}] = {comment_text(s)}" for i, s in enumerate(model.states)]
    lines.append(" * parameters (order of p):")
    lines += [f" *   p[{i}] = {comment_text(s)}" for i, s in enumerate(model.params)]
    if model.observed:
        lines.append(" * observables (order of the observed kernel's output):")
        lines += [f" *   [{i}] = {comment_text(s)}" for i, s in enumerate(model.observed)]
    lines += [" */", f"#ifndef {P}_H", f"#define {P}_H", "", "#include <stdint.h>",
              '#include "symgen_rt.h"', "", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
              f"#define {P}_N_STATES {n}", f"#define {P}_N_PARAMS {max(m, 0)}",
              f"#define {P}_N_OBSERVED {len(model.observed)}", f"#define {P}_JAC_NNZ {sp.nnz}", "",
              "/* Jacobian df/dy: static CSR pattern (row i holds columns",
              f" * {prefix}_jac_indices[{prefix}_jac_indptr[i] .. {prefix}_jac_indptr[i+1]-1]) */",
              f"extern const int64_t {prefix}_jac_indptr[{n + 1}];",
              f"extern const int64_t {prefix}_jac_indices[{max(sp.nnz, 1)}];",
              f'extern const char {prefix}_model_hash[];',
              "/* names (UTF-8) in the order of y, p and the observed kernel's output */",
              f"extern const char *const {prefix}_state_names[{max(n, 1)}];",
              f"extern const char *const {prefix}_param_names[{max(m, 1)}];",
              f"extern const char *const {prefix}_observed_names[{max(len(model.observed), 1)}];", "",
              "/* kernels: void k(double t, const double *y, const double *p, double *out) */"]
    for k in kernels:
        lines.append(f"void {prefix}_{k.name}(double t, const double *y, const double *p, double *out);"
                     f"  /* {k.doc} */")
    lines += ["",
              "/* Dormand-Prince 5(4) (non-stiff; detect_stiff: stop with SG_STIFF_DETECTED).",
              " * atol[n]; t_eval[k_eval] sorted in the direction of integration (NULL if 0);",
              " * h0 = 0: automatic first step; hmax = 0: no limit.  Free res with sg_result_free. */",
              f"int64_t {prefix}_dopri5(double t0, double tf, const double *y0, const double *p, double rtol,",
              "                      const double *atol, double h0, double hmax, int64_t max_steps,",
              "                      const double *t_eval, int64_t k_eval, int dense, int detect_stiff,",
              "                      sg_result *res);",
              "/* Radau IIA order 5 (stiff), Jacobian from the jac_values kernel.  linear_solver:",
              " * 0 dense LU with partial pivoting, 1 static-pattern sparse LU (fill-reducing order",
              f" * computed at export), -1 auto (sparse when {P}_AUTO_SPARSE, symgen's own choice). */",
              f"#define {P}_AUTO_SPARSE {int(bool(auto_sparse))}",
              f"int64_t {prefix}_radau5(double t0, double tf, const double *y0, const double *p, double rtol,",
              "                      const double *atol, double h0, double hmax, int64_t max_steps,",
              "                      const double *t_eval, int64_t k_eval, int dense, int linear_solver,",
              "                      sg_result *res);",
              "", "#ifdef __cplusplus", "}", "#endif", "#endif", ""]
    return "\n".join(lines)


def model_c(prefix: str, model, kernels, version: str) -> str:
    """``<prefix>_model.c``: public kernel names, pattern arrays and stepper wrappers."""
    indptr, indices = model.jac_sparsity.arrays()
    lines = [f"/* Model glue generated by symgen {version}.  Do not edit.",
             f" * model hash: {model.key} */", f'#include "{prefix}.h"', "",
             _c_array("int64_t", f"{prefix}_jac_indptr", indptr),
             _c_array("int64_t", f"{prefix}_jac_indices", indices),
             f'const char {prefix}_model_hash[] = "{model.key}";',
             _c_names(f"{prefix}_state_names", [str(s) for s in model.states]),
             _c_names(f"{prefix}_param_names", [str(s) for s in model.params]),
             _c_names(f"{prefix}_observed_names", list(model.observed)), ""]
    for k in kernels:
        lines.append(f"extern void {k.symbol}(double, const double *, const double *, double *);")
    lines.append("")
    for k in kernels:
        lines.append(f"void {prefix}_{k.name}(double t, const double *y, const double *p, double *out) "
                     f"{{ {k.symbol}(t, y, p, out); }}")
    rhs = kernels[0].symbol
    jv = next((k.symbol for k in kernels if k.name == "jac_values"), None)
    if jv is None:
        raise ExportError("the LLVM module has no jac_values kernel")
    n = len(model.states)
    lines += ["",
              f"int64_t {prefix}_dopri5(double t0, double tf, const double *y0, const double *p, double rtol,",
              "                      const double *atol, double h0, double hmax, int64_t max_steps,",
              "                      const double *t_eval, int64_t k_eval, int dense, int detect_stiff,",
              "                      sg_result *res) {",
              f"    return sg_dopri5({rhs}, {n}, t0, tf, y0, p, rtol, atol, h0, hmax, max_steps, t_eval,",
              "                     k_eval, dense, detect_stiff, res);", "}", "",
              f"extern const sg_sparse_plan {prefix}_sparse_plan;", "",
              f"int64_t {prefix}_radau5(double t0, double tf, const double *y0, const double *p, double rtol,",
              "                      const double *atol, double h0, double hmax, int64_t max_steps,",
              "                      const double *t_eval, int64_t k_eval, int dense, int linear_solver,",
              "                      sg_result *res) {",
              f"    int sparse = linear_solver < 0 ? {prefix.upper()}_AUTO_SPARSE : linear_solver != 0;",
              f"    return sg_radau5({rhs}, 0, {jv}, {model.jac_sparsity.nnz}, {prefix}_jac_indptr,",
              f"                     {prefix}_jac_indices, sparse && {n} > 0 ? &{prefix}_sparse_plan : 0,",
              f"                     {n}, t0, tf, y0, p, rtol, atol, h0, hmax, max_steps, t_eval, k_eval,",
              "                     dense, res);", "}", ""]
    return "\n".join(lines)


def plan_c(prefix: str, plan) -> str:
    """``<prefix>_plan.c``: the sparse LU plan of the Jacobian pattern (symgen.drivers.sparse_lu)."""
    perm, indptr, indices, diag, amap = plan.arrays()
    lines = [f"/* Sparse LU plan ({plan.ordering} ordering, nnz(L+U) = {plan.nnz_lu}) generated by symgen. */",
             f'#include "{prefix}.h"', ""]
    for nm, arr in (("perm", perm), ("indptr", indptr), ("indices", indices), ("diag", diag), ("amap", amap)):
        lines.append("static " + _c_array("uint32_t", f"plan_{nm}", arr))
    lines += ["", f"const sg_sparse_plan {prefix}_sparse_plan = {{{plan.n}, {int(indices.size)}, {int(amap.size)},",
              "    plan_perm, plan_indptr, plan_indices, plan_diag, plan_amap};", ""]
    return "\n".join(lines)


def _c_sources(prefix: str) -> list:
    return ["rt_common.c", "dopri5.c", "radau5.c", f"{prefix}_model.c", f"{prefix}_plan.c"]


def build_script(prefix: str) -> str:
    """``build.sh``: relink the library from the shipped sources and kernel object (no symgen)."""
    flags = " ".join(CFLAGS)
    srcs = " ".join(_c_sources(prefix))
    return ("#!/bin/sh\n# Rebuild lib{p}.so from these sources without symgen (needs a C compiler).\n"
            "set -e\ncd \"$(dirname \"$0\")\"\nCC=${{CC:-cc}}\n"
            "$CC {f} -shared -o ../lib{p}.so {s} kernels.o -lm\n").format(p=prefix, f=flags, s=srcs)


def compiler_version(cc: str) -> str:
    try:
        res = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return res.stdout.splitlines()[0].strip() if res.returncode == 0 and res.stdout else "unknown"


def compile_library(src_dir: Path, lib: Path, prefix: str, cc: str = "cc") -> list:
    """Compile the C sources in ``src_dir`` with ``kernels.o`` into ``lib``; returns the command."""
    exe = shutil.which(cc)
    if exe is None:
        raise ExportError(f"no C compiler {cc!r} found on PATH (needed to link the exported library)")
    cmd = [exe, *CFLAGS, "-shared", "-o", str(lib), *[str(src_dir / s) for s in _c_sources(prefix)],
           str(src_dir / "kernels.o"), "-lm"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise ExportError(f"the C compiler did not finish within 600 s building {lib.name}") from None
    if res.returncode != 0:
        raise ExportError(f"compiling the exported library failed ({cc}): {res.stderr.strip()[:3000]}")
    return cmd
