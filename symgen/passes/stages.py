"""The pipeline's passes, one per arrow of the design table."""
from __future__ import annotations

from pathlib import Path

from ..ir.kernels import KernelSet
from ..ir.problem import Problem
from ..ir.source import Source
from ..ir.system import System
from .derive import derive
from .lower import lower
from .manager import PassContext, timed_pass
from .verify import verify_kernels, verify_problem, verify_source, verify_system

__all__ = ["declare_pass", "simplify_pass", "derive_pass", "lower_pass", "emit_pass", "build_pass"]


@timed_pass("declare", verifier=verify_problem)
def declare_pass(system, ctx: PassContext) -> Problem:
    from ..dsl.system import ODESystem, declare
    if isinstance(system, Problem):
        return system
    if isinstance(system, ODESystem):  # declared (and checked) when it was built
        return system.problem
    return declare(system)


@timed_pass("simplify", optional=True, verifier=verify_problem)
def simplify_pass(pb: Problem, ctx: PassContext) -> Problem:
    from ..rewrite import PHASES, apply_rules, op_counts
    phases = ctx.options.get("phases")
    exprs = list(pb.rhs) + [e for _, e in pb.observed]
    # one session for all expressions: subterms shared between equations are rewritten once
    out, fired = apply_rules(exprs, PHASES if phases is None else tuple(phases))
    rhs, obs = out[:len(pb.rhs)], out[len(pb.rhs):]
    ctx.notes["ops_declared"] = op_counts(list(pb.rhs))
    ctx.notes["ops_simplified"] = op_counts(rhs)
    ctx.notes["rules_fired"] = dict(fired)
    return pb.with_exprs(rhs, obs)


@timed_pass("derive", verifier=verify_system)
def derive_pass(pb: Problem, ctx: PassContext) -> System:
    return derive(pb)


@timed_pass("lower", verifier=verify_kernels)
def lower_pass(system: System, ctx: PassContext) -> KernelSet:
    from ..rewrite import op_counts
    ks = lower(system, vector=bool(ctx.options.get("sensitivities")))
    ctx.notes["ops_kernels"] = {k.name: op_counts(k.ops())["total"] for k in ks.kernels}
    return ks


@timed_pass("emit", verifier=verify_source)
def emit_pass(ks: KernelSet, ctx: PassContext) -> Source:
    from .. import __version__
    return ctx.options["backend_obj"].emit(ks, ctx.options["key"], __version__)


@timed_pass("build")
def build_pass(src: Source, ctx: PassContext):
    return ctx.options["backend_obj"].build(src, Path(ctx.options["directory"]))
