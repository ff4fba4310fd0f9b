"""Kernel IR -> LLVM functions with bounded size (sharding), built with llvmlite.ir.

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

from llvmlite import ir
from sympy import Symbol
from sympy.logic.boolalg import Boolean

from symgen.errors import BackendError
from symgen.ir.kernels import KernelSet
from symgen.passes.schedule import emission_order

from .emitter import DOUBLE, I1, I8, I64, NAN, PTR, ZERO, FunctionBuilder, alloca, declare, define

__all__ = ["ShardOptions", "kernel_functions", "symbol_operands", "module_text", "declarations", "new_module",
           "function_name", "zero_fill", "STACK_SCRATCH_SLOTS"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: scratch arrays of at most this many doubles (32 KiB) live on the stack of the entry
#: function; malloc + free per call cost ~20 % of a 1,200-op kernel (2D Brusselator N=8)
STACK_SCRATCH_SLOTS = 4096
#: LLVM parameter type and attributes for each argument role
# ``noalias``: the drivers and the model always pass distinct arrays for y, yp, p and out
# (the kernel contract, see symgen.drivers.common); without it every store to out would
# force LLVM to reload the y and p values it has already read
_PARAM = {"t": (DOUBLE, ()), "y": (PTR, ("noalias", "readonly")), "yp": (PTR, ("noalias", "readonly")),
          "p": (PTR, ("noalias", "readonly")), "out": (PTR, ("noalias",)),
          "v": (PTR, ("noalias", "readonly"))}


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


def new_module() -> ir.Module:
    """An empty llvmlite module (target triple and data layout are set when compiling)."""
    mod = ir.Module()
    mod.triple = ""
    return mod


def symbol_operands(kset: KernelSet) -> dict:
    """``{symbol: (argument role, index or None)}`` for time, states, parameters and y'."""
    pb = kset.problem
    m = {pb.t: ("t", None)}
    m.update({s: ("y", i) for i, s in enumerate(pb.states)})
    m.update({s: ("p", i) for i, s in enumerate(pb.params)})
    m.update({s: ("yp", i) for i, s in enumerate(kset.yp_symbols)})
    m.update({s: ("v", i) for i, s in enumerate(kset.v_symbols)})
    return m


class _Shard:
    __slots__ = ("builder", "args", "outputs", "spills")

    def __init__(self, builder, args):
        self.builder = builder
        self.args = args       # role -> ir.Argument ("s": the scratch array)
        self.outputs = 0
        self.spills: list = []  # (operand, slot, boolean) stored before returning


def _params(kernel, scratch: bool) -> list:
    params = [_PARAM[a] + (a,) for a in kernel.args]
    return params + [(PTR, ("noalias",), "s")] if scratch else params


def kernel_functions(module: ir.Module, kernel, operands: dict, name: str,
                     opts: ShardOptions = ShardOptions()):
    """Define the LLVM functions of one kernel in ``module``.

    Parameters
    ----------
    module : llvmlite.ir.Module
    kernel : symgen.ir.kernels.Kernel
    operands : dict
        From :func:`symbol_operands`.
    name : str
        Exported symbol (:func:`function_name`).
    opts : ShardOptions

    Returns
    -------
    (list of llvmlite.ir.Function, int)
        The functions (exported entry first, then its shards) and the number of shards.
    """
    owner: dict = {}   # temporary -> (shard index, operand)
    slots: dict = {}   # temporary -> scratch slot
    booleans: set = set()  # temporaries holding an i1 (spilled as 0.0 / 1.0)
    shards: list[_Shard] = []
    roles = tuple(kernel.args)

    def resolve(builder, sym):
        if sym in operands:
            role, idx = operands[sym]
            if role not in roles:
                raise BackendError(f"kernel {kernel.name} has no argument {role}", symbol=str(sym))
            arg = shards[-1].args[role]
            return arg if idx is None else builder.load(arg, idx)
        if sym not in owner:
            raise BackendError(f"kernel {kernel.name} uses a symbol it does not define", symbol=str(sym))
        k, operand = owner[sym]
        if k == len(shards) - 1:
            return operand
        if sym not in slots:
            slots[sym] = len(slots)
            shards[k].spills.append((operand, slots[sym], sym in booleans))
        v = builder.load(shards[-1].args["s"], slots[sym])
        if sym in booleans:
            builder.size += 1
            return builder.ir.fcmp_unordered("!=", v, ZERO)
        return v

    # the sharded layout is known only at the end: shards are built as internal functions
    # first; a kernel that fits in one is then renamed into the exported entry
    def new_shard():
        fn = define(module, f"{name}_s{len(shards)}", _params(kernel, True), linkage="internal",
                    attrs=("noinline", "nounwind"))
        args = dict(zip(roles + ("s",), fn.args))
        shards.append(_Shard(FunctionBuilder(fn, resolve), args))
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
            b.store(v, cur.args["out"], index)
            cur.outputs += 1
        if (b.size >= opts.max_ops or cur.outputs >= opts.max_outputs) and n + 1 < len(items):
            cur = new_shard()

    if len(shards) == 1:
        fn = _single(module, kernel, name, shards[0])
        shards[0].builder.close()
        return [fn], 1
    for s in shards:
        b = s.builder
        for operand, slot, boolean in s.spills:
            b.store(b.ir.uitofp(operand, DOUBLE) if boolean else operand, s.args["s"], slot)
        b.ir.ret_void()
        b.close()
    entry = _entry(module, kernel, name, [s.builder.function for s in shards], len(slots))
    return [entry] + [s.builder.function for s in shards], len(shards)


def _single(module, kernel, name, shard):
    """The one shard of a small kernel as the exported function (no scratch argument)."""
    fn = shard.builder.function
    module.globals.pop(fn.name)
    fn.name = name
    module.add_global(fn)
    fn.linkage = ""
    fn.attributes = type(fn.attributes)(("nounwind",))
    fn.ftype = ir.FunctionType(fn.ftype.return_type, fn.ftype.args[:-1])
    fn.type = fn.ftype.as_pointer()
    fn.args = fn.args[:-1]
    b = shard.builder.ir
    entry = fn.blocks[0]
    if _zero_fill(kernel):
        b.position_at_start(entry)
        zero_fill(module, b, fn.args[list(kernel.args).index("out")], kernel.out_size)
        b.position_at_end(fn.blocks[-1])
    b.ret_void()
    return fn


def _zero_fill(kernel) -> bool:
    return bool(kernel.zero_fill and kernel.out_size)


def zero_fill(module, b, out, size: int) -> None:
    """``llvm.memset`` of ``size`` doubles at ``out`` (an 8-aligned pointer) through builder ``b``."""
    call = b.call(declare(module, "llvm.memset"),
                  [out, ir.Constant(I8, 0), ir.Constant(I64, 8 * size), ir.Constant(I1, 0)])
    call.arg_attributes[0] = type(out.attributes)(())
    call.arg_attributes[0].align = 8


def _entry(module, kernel, name, shard_fns, nslots):
    fn = define(module, name, _params(kernel, False))
    # the entry is defined after its shards but printed before them (see kernel_functions)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    out = fn.args[list(kernel.args).index("out")]
    if _zero_fill(kernel):
        zero_fill(module, b, out, kernel.out_size)

    def call_shards(scratch):
        for s in shard_fns:
            b.call(s, list(fn.args) + [scratch])

    if 0 < nslots <= STACK_SCRATCH_SLOTS:
        scratch = alloca(b, DOUBLE, nslots, name="s")
        call_shards(scratch)
        b.ret_void()
        return fn
    if not nslots:
        call_shards(ir.Constant(PTR, None))
        b.ret_void()
        return fn
    malloc = module.globals.get("malloc") or ir.Function(module, ir.FunctionType(PTR, [I64]), "malloc")
    free = module.globals.get("free") or ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), "free")
    malloc.return_value.attributes.add("noalias")
    scratch = b.call(malloc, [ir.Constant(I64, 8 * nslots)], name="s")
    nomem = b.icmp_unsigned("==", scratch, ir.Constant(PTR, None))
    run, fail = fn.append_basic_block("run"), fn.append_basic_block("fail")
    b.cbranch(nomem, fail, run)
    b.position_at_end(run)
    call_shards(scratch)
    b.call(free, [scratch])
    b.ret_void()
    b.position_at_end(fail)
    if kernel.out_size:   # NaN in every output: the drivers report non-finite values
        loop, done = fn.append_basic_block("nan"), fn.append_basic_block("exit")
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(I64)
        i.add_incoming(ir.Constant(I64, 0), fail)
        b.store(NAN, b.gep(out, [i], inbounds=True, source_etype=DOUBLE), align=8)
        i1 = b.add(i, ir.Constant(I64, 1))
        i.add_incoming(i1, loop)
        b.cbranch(b.icmp_unsigned("==", i1, ir.Constant(I64, kernel.out_size)), done, loop)
        b.position_at_end(done)
    b.ret_void()
    return fn


def declarations(module: ir.Module) -> dict:
    """``{name: text}`` of the functions ``module`` declares (intrinsics, libm, malloc)."""
    return {g.name: str(g).strip() for g in module.globals.values()
            if isinstance(g, ir.Function) and g.is_declaration}


def module_text(header: str, kernel_texts: list, decls) -> str:
    """Assemble the module text: header comment, declarations (a module, or
    :func:`declarations` of the modules the kernels were built in), the kernels'
    function texts (each serialized once by llvmlite)."""
    if isinstance(decls, ir.Module):
        decls = declarations(decls)
    return "\n\n".join([header.rstrip(), "\n".join(decls[n] for n in sorted(decls)), *kernel_texts]) + "\n"
