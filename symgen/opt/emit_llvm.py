"""LLVM rendering of the optimization kernels (llvmlite's IR builder).

The same backend-neutral jobs as :mod:`symgen.opt.emit` (one loop nest per family),
built as LLVM IR with the expression builder of the LLVM backend
(:class:`symgen.backends.llvm.emitter.FunctionBuilder`): loop counters and the
accumulator live in ``alloca`` slots that LLVM's ``mem2reg`` promotes; slot values are
loaded at the affine positions ``const + coef . i``.  Compiling a module of five small
loop kernels takes milliseconds (Numba needs about a quarter second per kernel), which
is what a new model's time to first solution is made of.

Kernel ABI: ``void kernel(const double *x, const double *p, const double *w, double *out)``
(see :mod:`symgen.opt.emit`).
"""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from .derive import OptSystem
from .drivers.common import OPT_KERNEL_SIG
from .emit import KERNEL_NAMES, SLOT_BASE, WEIGHT, kernel_jobs, lowered

__all__ = ["emit_llvm", "build_llvm", "write_pending_libraries"]

_IN = ("noalias", "nocapture", "readonly")
_PARAMS = [("x", _IN), ("p", _IN), ("w", _IN), ("out", ("noalias", "nocapture"))]


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_ +\-*/()\[\]<>=.,]", "?", text)[:100]


class _Kernel:
    """One LLVM function under construction (an expression builder plus loop plumbing)."""

    def __init__(self, module, symbol: str):
        from llvmlite import ir

        from ..backends.llvm import emitter as E
        self.ir, self.E = ir, E
        fn = E.define(module, symbol, [(E.PTR, attrs, name) for name, attrs in _PARAMS])
        self.fn = fn
        self.arg = {name: a for (name, _), a in zip(_PARAMS, fn.args)}
        self.slots: dict = {}
        self.b = E.FunctionBuilder(fn, self._resolve)
        self._allocas = ir.IRBuilder(fn.blocks[0])

    def alloca(self, typ):
        """A stack slot at the top of the entry block (promoted to a register by LLVM)."""
        self._allocas.position_at_start(self.fn.blocks[0])
        slot = self.E.alloca(self._allocas, typ)
        # the expression builder keeps its position as an index: re-anchor it at the end
        self.b.ir.position_at_end(self.b.ir.block)
        return slot

    def place(self, block) -> None:
        """Append ``block`` (made with :meth:`later`) to the function and continue there."""
        self.fn.blocks.append(block)
        self.b.ir.position_at_end(block)

    def later(self):
        """A block placed later by :meth:`place` (blocks appear in the order of the code)."""
        return self.ir.Block(parent=self.fn)

    def _resolve(self, b, sym):
        op = self.slots.get(sym)
        if op is None:
            from ..errors import BackendError
            raise BackendError("expression contains a symbol the kernel does not know", symbol=str(sym))
        return op() if callable(op) else op

    def i64(self, value: int):
        return self.ir.Constant(self.E.I64, int(value))

    def index(self, const: int, coef, ivs):
        """i64 value ``const + sum coef_k * iv_k``."""
        bi = self.b.ir
        acc = self.i64(const)
        for c, iv in zip(coef, ivs):
            if c:
                term = iv if c == 1 else bi.mul(iv, self.i64(c))
                acc = bi.add(acc, term)
        return acc

    def load(self, base: str, idx):
        return self.b.ir.load(self.b.element(self.arg[base], idx), typ=self.E.DOUBLE, align=8)

    def add_to(self, ptr, v) -> None:
        bi = self.b.ir
        old = bi.load(ptr, typ=self.E.DOUBLE, align=8)
        bi.store(bi.fadd(old, v), ptr, align=8)


def _job(k: _Kernel, job, acc):
    fam = job.family
    b, bi, E = k.b, k.b.ir, k.E
    counted = any(o.mode == "coo" for o in job.outputs)
    rc = None
    if counted:
        rc = k.alloca(E.I64)
        bi.store(k.i64(0), rc, align=8)
    ivp = [k.alloca(E.I64) for _ in fam.indices]
    exits = []
    start = k.later()
    bi.branch(start)
    k.place(start)
    b.begin(start)                    # values of this job never leak into the next
    for (lo, hi), p in zip(fam.limits, ivp):
        head, body, done = k.later(), k.later(), k.later()
        bi.store(k.i64(lo), p, align=8)
        bi.branch(head)
        k.place(head)
        iv = bi.load(p, typ=E.I64, align=8)
        bi.cbranch(bi.icmp_signed("<=", iv, k.i64(hi)), body, done)
        k.place(body)
        b.begin(body)
        exits.append((p, head, done))
    ivs = [bi.load(p, typ=E.I64, align=8) for p in ivp]
    temps, outs = lowered(job)
    k.slots = {}
    for s in fam.slots:
        base = SLOT_BASE[s.kind]

        def load(s=s, base=base):
            return k.load(base, k.index(s.const, s.coef, ivs))
        k.slots[s.symbol] = load
    for ix, iv in zip(fam.indices, ivs):
        k.slots[ix] = (lambda iv=iv: bi.sitofp(iv, E.DOUBLE))
    row = None
    if fam.row_loops or job.weight == "lambda" or any(o.mode == "row" for o in job.outputs):
        row = k.i64(fam.row0)
        stride = 1
        for j in range(fam.row_loops - 1, -1, -1):
            lo, hi = fam.limits[j]
            d = bi.sub(ivs[j], k.i64(lo))
            d = bi.mul(d, k.i64(stride)) if stride != 1 else d
            row = bi.add(row, d)
            stride *= hi - lo + 1
    if job.weight == "sigma":
        k.slots[WEIGHT] = lambda: k.load("w", k.i64(0))
    elif job.weight == "lambda":
        k.slots[WEIGHT] = lambda: k.load("w", bi.add(row, k.i64(1)))
    for s, e in temps:
        b.bind(s, b.value(e))
    r = bi.load(rc, typ=E.I64, align=8) if counted else None
    for o, e in zip(job.outputs, outs):
        v = b.value(e)
        if o.mode == "acc":
            k.add_to(acc, v)
            continue
        if o.mode == "slot":
            s = fam.slots[o.target]
            ptr = b.element(k.arg["out"], k.index(s.const, s.coef, ivs))
        elif o.mode == "row":
            ptr = b.element(k.arg["out"], row)
        else:
            off, kk, e_ = o.target
            t = bi.add(bi.mul(r, k.i64(kk)), k.i64(off + e_))
            bi.store(v, b.element(k.arg["out"], t), align=8)
            continue
        k.add_to(ptr, v)
    if counted:
        bi.store(bi.add(r, k.i64(1)), rc, align=8)
    for p, head, done in reversed(exits):
        iv = bi.load(p, typ=E.I64, align=8)
        bi.store(bi.add(iv, k.i64(1)), p, align=8)
        b.end(head)
        k.place(done)
    after = k.later()
    b.end(after)
    k.place(after)


def _function(module, system: OptSystem, name: str, symbol: str):
    jobs, nout, zero = kernel_jobs(system, name)
    k = _Kernel(module, symbol)
    E, bi = k.E, k.b.ir
    if zero:
        from ..backends.llvm.module import zero_fill
        zero_fill(module, bi, k.arg["out"], nout)
    acc = None
    if name == "obj":
        acc = k.alloca(E.DOUBLE)
        bi.store(E.ZERO, acc, align=8)
    for job in jobs:
        _job(k, job, acc)
    if acc is not None:
        bi.store(bi.load(acc, typ=E.DOUBLE, align=8), k.arg["out"], align=8)
    bi.ret_void()
    return k.fn, nout


def function_symbol(key: str, name: str) -> str:
    return f"symgen_{key.replace('-', '_')[:24]}_{name}"


def emit_llvm(system: OptSystem, key: str, version: str):
    """LLVM module text holding the five kernels, and ``{name: out_size}``."""
    from ..backends.llvm.module import module_text, new_module
    module = new_module()
    texts, sizes = [], {}
    for name in KERNEL_NAMES:
        fn, nout = _function(module, system, name, function_symbol(key, name))
        texts.append(f"; kernel {name}\n" + str(fn).rstrip())
        sizes[name] = nout
    header = (f"; Generated by symgen {version} (llvm backend, llvmlite.ir, optimization kernels). Do not edit.\n"
              f"; model: {_sanitize(system.ir.name)}\n; content hash: {key}\n"
              "; symbols are generated; model names appear in comments only, sanitized.")
    return module_text(header, texts, module), sizes


def _kernel_class():
    """Numba's wrapper-address protocol around an exported C function of the
    optimization ABI (created on first use: its base class is Numba's)."""
    global _OptKernel
    if _OptKernel is None:
        import numba.experimental.function_type  # noqa: F401  (registers typeof for the protocol)
        from numba.core.types.function_type import WrapperAddressProtocol

        class OptKernel(WrapperAddressProtocol):
            """One compiled optimization kernel (``name``, ``address``)."""

            def __init__(self, name: str, address: int, owner):
                self.name = name
                self.address = int(address)
                self._owner = owner       # keeps the library (or JIT engine) alive

            def __wrapper_address__(self) -> int:
                return self.address

            def signature(self):
                return OPT_KERNEL_SIG

            def __repr__(self) -> str:
                return f"<OptKernel {self.name} at {self.address:#x}>"

        _OptKernel = OptKernel
    return _OptKernel


_OptKernel = None


_PENDING: dict = {}     # library path -> (module text, opt level, cc): written at exit


def _defer_library(lib: Path, text: str, opt_level: int, cc: str) -> None:
    if not _PENDING:
        import atexit
        atexit.register(write_pending_libraries)
    _PENDING[lib] = (text, opt_level, cc)


def write_pending_libraries() -> None:
    """Compile and link the shared libraries of the kernels this process JIT-compiled
    (the disk cache a later process loads); runs at exit, or earlier when called."""
    from ..backends.llvm import backend as lb
    while _PENDING:
        lib, (text, opt_level, cc) = _PENDING.popitem()
        if lib.exists():
            continue
        try:
            tm = lb.target_machine(opt_level)
            lb.link(cc, tm.emit_object(lb.compile_module(text, tm, opt_level, {})), lib, {})
        except Exception:  # noqa: BLE001  (a cache that is not written is compiled again later)
            pass


def build_llvm(text: str, key: str, directory: Path | None, opt_level: int = 1) -> dict:
    """Compile (or load the cached shared library of) ``text``; ``{name: kernel}`` where
    each kernel has Numba's wrapper-address protocol with the optimization ABI."""
    import ctypes

    from ..backends.llvm import backend as lb
    tm = lb.target_machine(opt_level)
    digest = hashlib.sha256(text.encode() + b"\0" + lb.fingerprint(tm, opt_level).encode()).hexdigest()
    symbols = {n: function_symbol(key, n) for n in KERNEL_NAMES}
    timings: dict = {}
    tag = f"opt:{digest}"
    if tag in lb.LOADED:
        return lb.LOADED[tag]
    cc = shutil.which("cc")
    if directory is None or cc is None:
        mod = lb.compile_module(text, tm, opt_level, timings)
        owner, addrs = lb.jit(mod, opt_level, symbols.values(), timings)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        lib = directory / f"opt-kernels-{digest[:20]}.so"
        if lib.exists():
            owner = ctypes.CDLL(str(lib))
            addrs = {s: ctypes.cast(getattr(owner, s), ctypes.c_void_p).value for s in symbols.values()}
        else:
            # a new model: JIT in this process now (no object file, no linker run on the
            # way to the first solve); the cached library is written when the process exits
            mod = lb.compile_module(text, tm, opt_level, timings)
            owner, addrs = lb.jit(mod, opt_level, symbols.values(), timings)
            _defer_library(lib, text, opt_level, cc)
    cls = _kernel_class()
    out = {n: cls(n, addrs[symbols[n]], owner) for n in KERNEL_NAMES}
    lb.LOADED[tag] = out
    return out
