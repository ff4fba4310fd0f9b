"""LLVM rendering of the optimization kernels (textual LLVM IR through llvmlite).

The same backend-neutral jobs as :mod:`symgen.opt.emit` (one loop nest per family),
written as LLVM IR with the expression builder of the LLVM backend
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

_PARAMS = "ptr noalias nocapture readonly %x, ptr noalias nocapture readonly %p, " \
          "ptr noalias nocapture readonly %w, ptr noalias nocapture %out"


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_ +\-*/()\[\]<>=.,]", "?", text)[:100]


class _Kernel:
    """Lines of one LLVM function under construction."""

    def __init__(self, name: str):
        from ..backends.llvm.emitter import FunctionBuilder
        self.name = name
        self.slots: dict = {}
        self.b = FunctionBuilder(self._resolve)
        self.allocas: list = []
        self._label = 0

    def label(self, text):
        self._label += 1
        return f"{text}{self._label}"

    def alloca(self, kind: str) -> str:
        name = f"%a{len(self.allocas)}"
        self.allocas.append(f"  {name} = alloca {kind}, align 8")
        return name

    def _resolve(self, b, sym):
        op = self.slots.get(sym)
        if op is None:
            from ..errors import BackendError
            raise BackendError("expression contains a symbol the kernel does not know", symbol=str(sym))
        return op() if callable(op) else op

    def index(self, const: int, coef, ivs) -> str:
        """i64 operand ``const + sum coef_k * iv_k``."""
        acc = str(int(const))
        for c, iv in zip(coef, ivs):
            if c:
                term = iv if c == 1 else self.b.instr(f"mul i64 {iv}, {int(c)}")
                acc = self.b.instr(f"add i64 {acc}, {term}")
        return acc

    def gep(self, base: str, idx: str) -> str:
        return self.b.instr(f"getelementptr inbounds double, ptr {base}, i64 {idx}")


def _job(k: _Kernel, job, acc: str | None):
    fam = job.family
    b = k.b
    counted = any(o.mode == "coo" for o in job.outputs)
    rc = None
    if counted:
        rc = k.alloca("i64")
        b.stmt(f"store i64 0, ptr {rc}, align 8")
    ivp = [k.alloca("i64") for _ in fam.indices]
    exits = []
    b.stmt(f"; family: {_sanitize(str(fam.label))}")
    start = k.label("job")
    b.stmt(f"br label %{start}")
    b._begin(start)                   # values of this job never leak into the next
    for (lo, hi), p in zip(fam.limits, ivp):
        head, body, done = k.label("head"), k.label("body"), k.label("done")
        b.stmt(f"store i64 {lo}, ptr {p}, align 8")
        b.stmt(f"br label %{head}")
        b.lines.append(f"{head}:")
        iv = b.instr(f"load i64, ptr {p}, align 8")
        cond = b.instr(f"icmp sle i64 {iv}, {hi}")
        b.stmt(f"br i1 {cond}, label %{body}, label %{done}")
        b._begin(body)
        exits.append((p, head, done))
    ivs = [b.instr(f"load i64, ptr {p}, align 8") for p in ivp]
    temps, outs = lowered(job)
    k.slots = {}
    for s in fam.slots:
        base = "%" + SLOT_BASE[s.kind]

        def load(s=s, base=base):
            return b.instr(f"load double, ptr {k.gep(base, k.index(s.const, s.coef, ivs))}, align 8")
        k.slots[s.symbol] = load
    for ix, iv in zip(fam.indices, ivs):
        k.slots[ix] = (lambda iv=iv: b.instr(f"sitofp i64 {iv} to double"))
    row = None
    if fam.row_loops or job.weight == "lambda" or any(o.mode == "row" for o in job.outputs):
        row = str(fam.row0)
        stride = 1
        for j in range(fam.row_loops - 1, -1, -1):
            lo, hi = fam.limits[j]
            d = b.instr(f"sub i64 {ivs[j]}, {lo}")
            d = b.instr(f"mul i64 {d}, {stride}") if stride != 1 else d
            row = b.instr(f"add i64 {row}, {d}")
            stride *= hi - lo + 1
    if job.weight == "sigma":
        k.slots[WEIGHT] = lambda: b.instr(f"load double, ptr {k.gep('%w', '0')}, align 8")
    elif job.weight == "lambda":
        k.slots[WEIGHT] = lambda: b.instr(f"load double, ptr {k.gep('%w', b.instr(f'add i64 {row}, 1'))}, align 8")
    for s, e in temps:
        b.bind(s, b.value(e))
    r = b.instr(f"load i64, ptr {rc}, align 8") if counted else None
    for o, e in zip(job.outputs, outs):
        v = b.value(e)
        if o.mode == "acc":
            old = b.instr(f"load double, ptr {acc}, align 8")
            b.stmt(f"store double {b.instr(f'fadd double {old}, {v}')}, ptr {acc}, align 8")
            continue
        if o.mode == "slot":
            s = fam.slots[o.target]
            ptr = k.gep("%out", k.index(s.const, s.coef, ivs))
        elif o.mode == "row":
            ptr = k.gep("%out", row)
        else:
            off, kk, e_ = o.target
            t = b.instr(f"mul i64 {r}, {kk}")
            t = b.instr(f"add i64 {t}, {off + e_}")
            b.stmt(f"store double {v}, ptr {k.gep('%out', t)}, align 8")
            continue
        old = b.instr(f"load double, ptr {ptr}, align 8")
        b.stmt(f"store double {b.instr(f'fadd double {old}, {v}')}, ptr {ptr}, align 8")
    if counted:
        b.stmt(f"store i64 {b.instr(f'add i64 {r}, 1')}, ptr {rc}, align 8")
    for p, head, done in reversed(exits):
        iv = b.instr(f"load i64, ptr {p}, align 8")
        b.stmt(f"store i64 {b.instr(f'add i64 {iv}, 1')}, ptr {p}, align 8")
        b._end(head)
        b.lines.append(f"{done}:")
    after = k.label("next")
    b._end(after)
    b.lines.append(f"{after}:")


def _function(system: OptSystem, name: str, symbol: str):
    jobs, nout, zero = kernel_jobs(system, name)
    k = _Kernel(name)
    b = k.b
    if zero:
        b.calls.add("memset")
        b.stmt(f"call void @llvm.memset.p0.i64(ptr align 8 %out, i8 0, i64 {8 * nout}, i1 false)")
    acc = None
    if name == "obj":
        acc = k.alloca("double")
        b.stmt(f"store double 0.0, ptr {acc}, align 8")
    for job in jobs:
        _job(k, job, acc)
    if acc is not None:
        b.stmt(f"store double {b.instr(f'load double, ptr {acc}, align 8')}, ptr %out, align 8")
    body = b.lines[:1] + k.allocas + b.lines[1:]
    text = "\n".join([f"define void @{symbol}({_PARAMS}) #1 {{", *body, "  ret void", "}"])
    return text, nout, b.calls


def function_symbol(key: str, name: str) -> str:
    return f"symgen_{key.replace('-', '_')[:24]}_{name}"


def emit_llvm(system: OptSystem, key: str, version: str):
    """LLVM module text holding the five kernels, and ``{name: out_size}``."""
    from ..backends.llvm.module import module_text
    texts, sizes, calls = [], {}, set()
    for name in KERNEL_NAMES:
        text, nout, c = _function(system, name, function_symbol(key, name))
        texts.append(f"; kernel {name}\n" + text)
        sizes[name] = nout
        calls |= c
    header = (f"; Generated by symgen {version} (llvm backend, optimization kernels). Do not edit.\n"
              f"; model: {_sanitize(system.ir.name)}\n; content hash: {key}\n"
              "; symbols are generated; model names appear in comments only, sanitized.")
    return module_text(header, texts, calls), sizes


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
            tm = lb._target_machine(opt_level)
            lb._link(cc, tm.emit_object(lb._compile_module(text, tm, opt_level, {})), lib, {})
        except Exception:  # noqa: BLE001  (a cache that is not written is compiled again later)
            pass


def build_llvm(text: str, key: str, directory: Path | None, opt_level: int = 1) -> dict:
    """Compile (or load the cached shared library of) ``text``; ``{name: kernel}`` where
    each kernel has Numba's wrapper-address protocol with the optimization ABI."""
    import ctypes

    from ..backends.llvm import backend as lb
    tm = lb._target_machine(opt_level)
    digest = hashlib.sha256(text.encode() + b"\0" + lb._fingerprint(tm, opt_level).encode()).hexdigest()
    symbols = {n: function_symbol(key, n) for n in KERNEL_NAMES}
    timings: dict = {}
    tag = f"opt:{digest}"
    if tag in lb._LOADED:
        return lb._LOADED[tag]
    cc = shutil.which("cc")
    if directory is None or cc is None:
        mod = lb._compile_module(text, tm, opt_level, timings)
        owner, addrs = lb._jit(mod, opt_level, symbols.values(), timings)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        lib = directory / f"opt-kernels-{digest[:20]}.so"
        if lib.exists():
            owner = ctypes.CDLL(str(lib))
            addrs = {s: ctypes.cast(getattr(owner, s), ctypes.c_void_p).value for s in symbols.values()}
        else:
            # a new model: JIT in this process now (no object file, no linker run on the
            # way to the first solve); the cached library is written when the process exits
            mod = lb._compile_module(text, tm, opt_level, timings)
            owner, addrs = lb._jit(mod, opt_level, symbols.values(), timings)
            _defer_library(lib, text, opt_level, cc)
    cls = _kernel_class()
    out = {n: cls(n, addrs[symbols[n]], owner) for n in KERNEL_NAMES}
    lb._LOADED[tag] = out
    return out
