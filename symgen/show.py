"""Human-readable report of a compiled model: op counts, sparsity, stage timings."""
from __future__ import annotations

__all__ = ["show", "report"]


def report(model) -> str:
    """The text :func:`show` prints."""
    m = model.manifest
    notes = m.get("notes", {})
    lines = [f"model {model.name!r}: {len(model.states)} states, {len(model.params)} parameters, "
             f"{len(model.observed)} observed; backend {m['backend']}; cache key {model.key[:16]}"
             f"{' (loaded from cache)' if model.cached else ''}"]
    before, after = notes.get("ops_declared"), notes.get("ops_simplified")
    if before and after:
        lines.append("op counts of the right-hand side (before -> after rewriting):")
        for kind in sorted(set(before) | set(after)):
            if kind == "total":
                continue
            b, a = before.get(kind, 0), after.get(kind, 0)
            if b or a:
                lines.append(f"  {kind:>8}: {b:6d} -> {a:6d}")
        lines.append(f"  {'total':>8}: {before.get('total', 0):6d} -> {after.get('total', 0):6d}")
    fired = notes.get("rules_fired")
    if fired:
        lines.append("rules fired: " + ", ".join(f"{k} x{v}" for k, v in sorted(fired.items())))
    kops = notes.get("ops_kernels")
    if kops:
        lines.append("ops per kernel after CSE: " + ", ".join(f"{k}={v}" for k, v in kops.items()))
    jac = model.jac_sparsity
    lines.append(f"Jacobian: {jac.nrows}x{jac.ncols}, {jac.nnz} structural nonzeros "
                 f"({100.0 * jac.nnz / max(1, jac.nrows * jac.ncols):.1f}% dense)")
    lines.append("stage timings [s]: " + ", ".join(f"{k}={v:.3f}" for k, v in m["timings"].items()))
    return "\n".join(lines)


def show(model) -> None:
    """Print op counts before/after simplification, sparsity and per-stage timings."""
    print(report(model))
