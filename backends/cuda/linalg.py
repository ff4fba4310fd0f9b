"""Straight-line LU factorization and solve for small dense systems, generated per size.

The stiff ensemble solvers factor ``W = I/(h*gamma) - J`` once per step and solve with
it several times.  For a small system the factorization is emitted fully unrolled with
constant indices only, so that the compiler keeps the matrix in registers (an indexed
local array would live in local memory on a GPU).  Partial pivoting is expressed as a
sequence of compare-and-swap steps on whole rows: for column ``k`` each row ``i > k`` in
turn is swapped with row ``k`` when its entry is larger in magnitude, which leaves the
largest entry on the diagonal (the pivot partial pivoting would choose).  Each swap is
recorded as a 0/1 flag and replayed on the right-hand side at solve time, again with
constant indices only.

Each generator returns the body lines in device Python (``c=False``) or CUDA C.

Medium systems (``UNROLL_MAX < n <= LOOP_MAX``) get a looped factorization instead
(:func:`lu_lines`): the matrix lives in thread-local memory (on a GPU: local memory,
cached in L1/L2), partial pivoting picks the largest entry of the column and records
the pivot row in ``s[k]`` (``n`` entries, exact integers in float32 too), and rows
with a zero multiplier are skipped (stencil-like Jacobians are sparse).
"""
from __future__ import annotations

__all__ = ["lu_factor_lines", "lu_solve_lines", "lu_lines", "n_swap_flags", "has_lu", "UNROLL_MAX",
           "LOOP_MAX"]

#: largest system factored with fully unrolled code (lines grow as n^3 / 3)
UNROLL_MAX = 16
#: largest system the per-thread Rosenbrock solvers take (looped LU in local memory:
#: two n x n work matrices per thread, 64 KiB at n = 64 in float64)
LOOP_MAX = 64


def has_lu(n: int) -> bool:
    """Whether the device module of an ``n``-state model has ``lu_factor``/``lu_solve``."""
    return n <= LOOP_MAX


def n_swap_flags(n: int) -> int:
    """Length of the pivot record ``s`` of an ``n x n`` factorization: swap flags when
    unrolled, pivot rows when looped (at least 1: no empty arrays)."""
    return max(1, n * (n - 1) // 2) if n <= UNROLL_MAX else n


def lu_lines(n: int, c: bool = False) -> tuple:
    """``(factor lines, solve lines)``: unrolled up to :data:`UNROLL_MAX`, looped above."""
    if n <= UNROLL_MAX:
        return lu_factor_lines(n, c), lu_solve_lines(n, c)
    return lu_factor_loop_lines(n, c), lu_solve_loop_lines(n, c)


def lu_factor_loop_lines(n: int, c: bool = False) -> list:
    """Looped ``lu_factor(a, s) -> ok`` (same contract as :func:`lu_factor_lines`, the
    pivot row of column ``k`` in ``s[k]``)."""
    if c:
        return [
            f"for (int k = 0; k < {n}; ++k) {{",
            f"    int piv = k; T big = fabs(a[k * {n} + k]);",
            f"    for (int i = k + 1; i < {n}; ++i) {{ T w = fabs(a[i * {n} + k]); "
            "if (w > big) { big = w; piv = i; } }",
            "    s[k] = T(piv);",
            f"    if (piv != k) for (int j = 0; j < {n}; ++j) "
            f"{{ T w = a[k * {n} + j]; a[k * {n} + j] = a[piv * {n} + j]; a[piv * {n} + j] = w; }}",
            f"    if (a[k * {n} + k] == T(0.0)) return 1;",
            f"    const T r = T(1.0) / a[k * {n} + k];",
            f"    for (int i = k + 1; i < {n}; ++i) {{",
            f"        const T l = a[i * {n} + k] * r;",
            f"        a[i * {n} + k] = l;",
            f"        if (l != T(0.0)) for (int j = k + 1; j < {n}; ++j) a[i * {n} + j] -= l * a[k * {n} + j];",
            "    }",
            "}",
            "return 0;"]
    return [
        f"for k in range({n}):",
        "    piv = k",
        f"    big = abs(a[k * {n} + k])",
        f"    for i in range(k + 1, {n}):",
        f"        w = abs(a[i * {n} + k])",
        "        if w > big:",
        "            big = w",
        "            piv = i",
        "    s[k] = F(piv)",
        "    if piv != k:",
        f"        for j in range({n}):",
        f"            a[k * {n} + j], a[piv * {n} + j] = a[piv * {n} + j], a[k * {n} + j]",
        f"    if a[k * {n} + k] == F(0.0):",
        "        return 1",
        f"    r = F(1.0) / a[k * {n} + k]",
        f"    for i in range(k + 1, {n}):",
        f"        l = a[i * {n} + k] * r",
        f"        a[i * {n} + k] = l",
        "        if l != F(0.0):",
        f"            for j in range(k + 1, {n}):",
        f"                a[i * {n} + j] -= l * a[k * {n} + j]",
        "return 0"]


def lu_solve_loop_lines(n: int, c: bool = False) -> list:
    """Looped ``lu_solve(a, s, b)`` for the factors of :func:`lu_factor_loop_lines`."""
    if c:
        return [
            f"for (int k = 0; k < {n}; ++k) {{ const int piv = (int)s[k]; "
            "if (piv != k) { T w = b[k]; b[k] = b[piv]; b[piv] = w; } }",
            f"for (int i = 1; i < {n}; ++i) {{ T acc = b[i]; "
            f"for (int j = 0; j < i; ++j) acc -= a[i * {n} + j] * b[j]; b[i] = acc; }}",
            f"for (int i = {n - 1}; i >= 0; --i) {{ T acc = b[i]; "
            f"for (int j = i + 1; j < {n}; ++j) acc -= a[i * {n} + j] * b[j]; b[i] = acc / a[i * {n} + i]; }}"]
    return [
        f"for k in range({n}):",
        "    piv = int(s[k])",
        "    if piv != k:",
        "        b[k], b[piv] = b[piv], b[k]",
        f"for i in range(1, {n}):",
        "    acc = b[i]",
        "    for j in range(i):",
        f"        acc -= a[i * {n} + j] * b[j]",
        "    b[i] = acc",
        f"for i in range({n - 1}, -1, -1):",
        "    acc = b[i]",
        f"    for j in range(i + 1, {n}):",
        f"        acc -= a[i * {n} + j] * b[j]",
        f"    b[i] = acc / a[i * {n} + i]"]


def _flag_index(n: int, k: int, i: int) -> int:
    # flags of column k for rows k+1..n-1, columns in order
    return k * n - k * (k + 1) // 2 + (i - k - 1)


def lu_factor_lines(n: int, c: bool = False) -> list:
    """Body of ``lu_factor(a, s) -> ok``: ``a`` row-major ``n*n`` is overwritten by its LU
    factors (unit lower L below the diagonal), ``s`` receives the swap flags.  Returns
    0 on success, 1 when a pivot is exactly zero (singular)."""
    lit = (lambda v: f"T({v})") if c else (lambda v: f"F({v})")
    lines = []
    for k in range(n):
        kk = k * n + k
        for i in range(k + 1, n):
            f = _flag_index(n, k, i)
            if c:
                lines.append(f"if (fabs(a[{i * n + k}]) > fabs(a[{kk}])) {{")
            else:
                lines.append(f"if abs(a[{i * n + k}]) > abs(a[{kk}]):")
            for j in range(n):
                x, y = k * n + j, i * n + j
                if c:
                    lines.append(f"    {{ T w = a[{x}]; a[{x}] = a[{y}]; a[{y}] = w; }}")
                else:
                    lines.append(f"    a[{x}], a[{y}] = a[{y}], a[{x}]")
            lines.append(f"    s[{f}] = {lit(1.0)};" if c else f"    s[{f}] = {lit(1.0)}")
            if c:
                lines.append(f"}} else {{ s[{f}] = {lit(0.0)}; }}")
            else:
                lines.append("else:")
                lines.append(f"    s[{f}] = {lit(0.0)}")
        if c:
            lines.append(f"if (a[{kk}] == {lit(0.0)}) return 1;")
        else:
            lines.append(f"if a[{kk}] == {lit(0.0)}:")
            lines.append("    return 1")
        if k + 1 < n:
            lines.append(("const T " if c else "") + f"r{k} = {lit(1.0)} / a[{kk}]" + (";" if c else ""))
        for i in range(k + 1, n):
            ik = i * n + k
            lines.append(f"a[{ik}] = a[{ik}] * r{k}" + (";" if c else ""))
            for j in range(k + 1, n):
                lines.append(f"a[{i * n + j}] = a[{i * n + j}] - a[{ik}] * a[{k * n + j}]" + (";" if c else ""))
    lines.append("return 0" + (";" if c else ""))
    return lines


def lu_solve_lines(n: int, c: bool = False) -> list:
    """Body of ``lu_solve(a, s, b)``: overwrite ``b`` with the solution of ``A x = b``
    from the factors and flags of :func:`lu_factor_lines`."""
    end = ";" if c else ""
    lines = []
    for k in range(n):
        for i in range(k + 1, n):
            f = _flag_index(n, k, i)
            if c:
                lines.append(f"if (s[{f}] != T(0.0)) {{ T w = b[{k}]; b[{k}] = b[{i}]; b[{i}] = w; }}")
            else:
                lines.append(f"if s[{f}] != F(0.0):")
                lines.append(f"    b[{k}], b[{i}] = b[{i}], b[{k}]")
    for i in range(1, n):
        terms = " - ".join(f"a[{i * n + j}] * b[{j}]" for j in range(i))
        lines.append(f"b[{i}] = b[{i}] - {terms}{end}")
    for i in range(n - 1, -1, -1):
        terms = "".join(f" - a[{i * n + j}] * b[{j}]" for j in range(i + 1, n))
        lines.append(f"b[{i}] = (b[{i}]{terms}) / a[{i * n + i}]{end}")
    return lines
