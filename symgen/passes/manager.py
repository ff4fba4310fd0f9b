"""Pass manager: every pass is timed, can be disabled by name, dumped and verified.

Environment
-----------
SYMGEN_DUMP
    Comma separated stage names (or ``all``) whose output IR is printed to stderr, or
    written to ``$SYMGEN_DUMP_DIR/<stage>.txt`` when that is set.
SYMGEN_VERIFY
    ``1`` runs the verifier of every IR after the pass that produced it.
SYMGEN_DISABLE
    Comma separated names of optional passes to skip (e.g. ``simplify``).
"""
from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PassContext", "timed_pass"]


@dataclass
class PassContext:
    """State shared by the passes of one pipeline run."""

    options: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    dump: frozenset = frozenset()
    verify: bool = False
    disabled: frozenset = frozenset()
    progress: object = None   # a symgen.progress.Progress (stage lines), or None

    @classmethod
    def from_env(cls, options: dict | None = None) -> "PassContext":
        def names(var):
            return frozenset(s.strip() for s in os.environ.get(var, "").split(",") if s.strip())
        return cls(options=dict(options or {}), dump=names("SYMGEN_DUMP"),
                   verify=os.environ.get("SYMGEN_VERIFY", "") not in ("", "0"),
                   disabled=names("SYMGEN_DISABLE") | frozenset((options or {}).get("disable", ())))


def _dump(stage: str, ir) -> None:
    text = f"==== symgen stage: {stage} ====\n{ir!s}\n" if not hasattr(ir, "text") else ir.text
    out = os.environ.get("SYMGEN_DUMP_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"{stage}.txt").write_text(text)
    else:
        sys.stderr.write(text + "\n")


def timed_pass(name: str, *, optional: bool = False, verifier=None):
    """Decorate ``fn(ir, ctx) -> ir`` as a pipeline pass.

    Parameters
    ----------
    name : str
        Stage name (used by SYMGEN_DUMP / SYMGEN_DISABLE and in ``timings``).
    optional : bool
        Whether the pass may be disabled (it then returns its input unchanged).
    verifier : callable, optional
        ``verifier(ir)`` raising on a malformed IR; run when ``ctx.verify``.
    """
    def deco(fn):
        @functools.wraps(fn)
        def run(ir, ctx: PassContext):
            if optional and name in ctx.disabled:
                ctx.timings[name] = 0.0
                return ir
            t0 = time.perf_counter()
            if ctx.progress is not None:
                ctx.progress.start(name)
            out = fn(ir, ctx)
            ctx.timings[name] = time.perf_counter() - t0
            if ctx.progress is not None:
                ctx.progress.stage(name, ctx.timings[name])
            if ctx.verify and verifier is not None:
                verifier(out)
            if name in ctx.dump or "all" in ctx.dump:
                _dump(name, out)
            return out
        run.pass_name = name
        return run
    return deco
