"""Kernel IR -> LLVM functions with bounded size (sharding) -> one textual module.

A kernel whose code exceeds ``max_ops`` instructions or ``max_outputs`` stores is
split into internal ``noinline`` shard functions that the exported entry calls in
order, so every function LLVM optimizes has a bounded size and compile time grows
linearly with the kernel.  A temporary defined in one shard and used in a later one
travels through a scratch array that the entry allocates on the stack when it is small
(up to :data:`STACK_SCRATCH_SLOTS` values: no allocator call per kernel call) and with
``malloc`` otherwise (no large ``alloca``); if ``malloc`` fails the entry writes NaN to
every output, which the drivers report as non-finite values.

Exported kernels have the drivers' C signature::

    void name(double t, double *y, double *p, double *out)              (KERNEL_ARGS)
    void name(double t, double *y, double *yp, double *p, double *out)  (RESIDUAL_ARGS)
    void name(double t, double *y, double *p, double *v, double *out)   (VECTOR_ARGS)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sympy import Symbol
from sympy.logic.boolalg import Boolean

from symgen.errors import BackendError
from symgen.ir.kernels import KernelSet
from symgen.passes.schedule import emission_order

from .emitter import NAN, ZERO, FunctionBuilder, declaration

__all__ = ["ShardOptions", "kernel_functions", "symbol_operands", "module_text", "function_name"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: scratch arrays of at most this many doubles (32 KiB) live on the stack of the entry
#: function; malloc + free per call cost ~20 % of a 1,200-op kernel (2D Brusselator N=8)
STACK_SCRATCH_SLOTS = 4096
#: LLVM parameter list for each argument role
# ``noalias``: the drivers and the model always pass distinct arrays for y, yp, p and out
# (the kernel contract, see symgen.drivers.common); without it every store to out would
# force LLVM to reload the y and p values it has already read
_PARAM = {"t": "double %t", "y": "ptr noalias readonly %y", "yp": "ptr noalias readonly %yp",
          "p": "ptr noalias readonly %p", "out": "ptr noalias %out",
          "v": "ptr noalias readonly %v"}


@dataclass(frozen=True)
class ShardOptions:
    """Bounds on the size of one generated function.

    Attributes
    ----------
    max_ops : int
        Instructions per function before a new shard starts (a single expression is
        never split, so a shard may exceed it by that expression's size).
    max_outputs : int
        Output stores per function before a new shard starts.
    """

    max_ops: int = 1000
    max_outputs: int = 250


def function_name(key: str, kernel: str) -> str:
    """Exported symbol of a kernel: fixed text, the key and the kernel name only."""
    if not _IDENT.match(kernel):
        raise BackendError("kernel name is not an identifier", symbol=repr(kernel))
    return f"symgen_{key[:16]}_{kernel}"


def symbol_operands(kset: KernelSet) -> dict:
    """``{symbol: (argument, index or None)}`` for time, states, parameters and y'."""
    pb = kset.problem
    m = {pb.t: ("%t", None)}
    m.update({s: ("%y", i) for i, s in enumerate(pb.states)})
    m.update({s: ("%p", i) for i, s in enumerate(pb.params)})
    m.update({s: ("%yp", i) for i, s in enumerate(kset.yp_symbols)})
    m.update({s: ("%v", i) for i, s in enumerate(kset.v_symbols)})
    return m


class _Shard:
    __slots__ = ("builder", "outputs", "spills")

    def __init__(self, builder):
        self.builder = builder
        self.outputs = 0
        self.spills: list = []  # (operand, slot) stored before returning


def kernel_functions(kernel, operands: dict, name: str, opts: ShardOptions = ShardOptions()):
    """LLVM function definitions of one kernel.

    Parameters
    ----------
    kernel : symgen.ir.kernels.Kernel
    operands : dict
        From :func:`symbol_operands`.
    name : str
        Exported symbol (:func:`function_name`).
    opts : ShardOptions

    Returns
    -------
    (list of str, set of str, int)
        Function texts (entry first), names of called functions, number of shards.
    """
    owner: dict = {}   # temporary -> (shard index, operand)
    slots: dict = {}   # temporary -> scratch slot
    booleans: set = set()  # temporaries holding an i1 (spilled as 0.0 / 1.0)
    shards: list[_Shard] = []

    allowed = {"%" + a for a in kernel.args}

    def resolve(builder, sym):
        if sym in operands:
            arg, idx = operands[sym]
            if arg not in allowed:
                raise BackendError(f"kernel {kernel.name} has no argument {arg[1:]}", symbol=str(sym))
            return arg if idx is None else builder.load(arg, idx)
        if sym not in owner:
            raise BackendError(f"kernel {kernel.name} uses a symbol it does not define", symbol=str(sym))
        k, operand = owner[sym]
        if k == len(shards) - 1:
            return operand
        if sym not in slots:
            slots[sym] = len(slots)
            shards[k].spills.append((operand, slots[sym], sym in booleans))
        v = builder.load("%s", slots[sym])
        return builder.instr(f"fcmp une double {v}, {ZERO}") if sym in booleans else v

    def new_shard():
        shards.append(_Shard(FunctionBuilder(resolve)))
        return shards[-1]

    cur = new_shard()
    items = emission_order(kernel)   # each temporary right before its first use
    for n, (target, expr, index) in enumerate(items):
        b = cur.builder
        if (isinstance(expr, Boolean) and not isinstance(expr, Symbol)) or expr in booleans:
            if target is None:
                raise BackendError(f"kernel {kernel.name}: output {index} is a condition, not a number",
                                   symbol=str(expr))
            v = b.condition(expr)
            booleans.add(target)
        else:
            v = b.value(expr)
        if target is not None:
            owner[target] = (len(shards) - 1, v)
            b.bind(target, v)
        else:
            b.store(v, "%out", index)
            cur.outputs += 1
        if (b.size >= opts.max_ops or cur.outputs >= opts.max_outputs) and n + 1 < len(items):
            cur = new_shard()

    calls = set().union(*(s.builder.calls for s in shards))
    if _zero_fill(kernel):
        calls.add("memset")
    params = ", ".join(_PARAM[a] for a in kernel.args)
    if len(shards) == 1:
        lines = shards[0].builder.lines  # "entry:" first
        body = lines[:1] + _zero_fill(kernel) + lines[1:]
        return [_define(f"define void @{name}({params}) #1", body)], calls, 1
    texts = [_entry(kernel, name, params, len(shards), len(slots))]
    for k, s in enumerate(shards):
        b = s.builder
        for operand, slot, boolean in s.spills:
            b.store(b.instr(f"uitofp i1 {operand} to double") if boolean else operand, "%s", slot)
        texts.append(_define(f"define internal void @{name}_s{k}({params}, ptr noalias %s) #2", b.lines))
    heap = len(slots) > STACK_SCRATCH_SLOTS
    return texts, calls | ({"malloc", "free"} if heap else set()), len(shards)


def _define(header: str, lines: list) -> str:
    return "\n".join([header + " {", *lines, "  ret void", "}"])


def _zero_fill(kernel) -> list:
    if not kernel.zero_fill or kernel.out_size == 0:
        return []
    return [f"  call void @llvm.memset.p0.i64(ptr align 8 %out, i8 0, i64 {8 * kernel.out_size}, i1 false)"]


def _entry(kernel, name, params, nshards, nslots) -> str:
    args = ", ".join(_PARAM[a].split()[0] + " " + _PARAM[a].split()[-1] for a in kernel.args)
    lines = _zero_fill(kernel)
    if 0 < nslots <= STACK_SCRATCH_SLOTS:
        lines += [f"  %s = alloca double, i64 {nslots}, align 8"]
        lines += [f"  call void @{name}_s{k}({args}, ptr %s)" for k in range(nshards)]
        return _define(f"define void @{name}({params}) #1", lines)
    if nslots:
        lines += [f"  %s = call ptr @malloc(i64 {8 * nslots})",
                  "  %nomem = icmp eq ptr %s, null",
                  "  br i1 %nomem, label %fail, label %run", "run:"]
    scratch = "%s" if nslots else "null"
    lines += [f"  call void @{name}_s{k}({args}, ptr {scratch})" for k in range(nshards)]
    if not nslots:
        return _define(f"define void @{name}({params}) #1", lines)
    lines += ["  call void @free(ptr %s)", "  ret void", "fail:"]
    if kernel.out_size:
        lines += ["  br label %nan", "nan:",
                  "  %i = phi i64 [ 0, %fail ], [ %i1, %nan ]",
                  "  %q = getelementptr inbounds double, ptr %out, i64 %i",
                  f"  store double {NAN}, ptr %q, align 8",
                  "  %i1 = add i64 %i, 1",
                  f"  %done = icmp eq i64 %i1, {kernel.out_size}",
                  "  br i1 %done, label %exit, label %nan", "exit:"]
    return _define(f"define void @{name}({params}) #1", lines)


_RUNTIME = {
    "malloc": "declare noalias ptr @malloc(i64)",
    "free": "declare void @free(ptr)",
    "memset": "declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)",
}
_ATTRIBUTES = ("attributes #0 = { nounwind willreturn memory(none) }\n"
               "attributes #1 = { nounwind }\n"
               "attributes #2 = { noinline nounwind }")


def module_text(header: str, kernel_texts: list, calls: set) -> str:
    """Assemble the module: header comment, declarations, kernels, attribute groups."""
    decls = [_RUNTIME[c] if c in _RUNTIME else declaration(c) for c in sorted(calls)]
    return "\n\n".join([header.rstrip(), "\n".join(decls), *kernel_texts, _ATTRIBUTES]) + "\n"
