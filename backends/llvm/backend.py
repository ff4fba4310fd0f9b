"""LLVM backend: KernelSet -> LLVM IR (llvmlite.ir) -> shared library cached on disk.

``emit`` builds one LLVM module with llvmlite's IR builder (no Numba involved) and
keeps its text (the source that is hashed, cached and exported); ``build`` optimizes it with
llvmlite, emits a position-independent object file for the host CPU, links it with
the system C compiler into ``kernels-<hash>.so`` next to the model's manifest and
loads it with :mod:`ctypes`.  A later process finds that library (the file name holds
a hash of the IR text, the toolchain and the host CPU) and only loads it.

Each kernel is returned as an :class:`LLVMKernel`, which implements Numba's
wrapper-address protocol with the drivers' signature
(:data:`symgen.drivers.common.KERNEL_SIG`), so the compiled ``@njit(cache=True)``
drivers take it exactly like the Numba backend's ``cfunc`` kernels, with the same
Numba type: drivers compiled for one backend are reused by the other.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import llvmlite

from symgen.errors import BackendError
from symgen.ir.kernels import RESIDUAL_ARGS, VECTOR_ARGS, KernelSet
from symgen.ir.source import Source

from .module import (ShardOptions, declarations, function_name, kernel_functions, module_text, new_module,
                     symbol_operands)

__all__ = ["LLVMBackend", "LLVMKernel", "LLVMKernels", "RESIDUAL_SIG", "LOADED", "host", "target_machine",
           "fingerprint", "compile_module", "jit", "link"]

LOADED: dict = {}  # library path (or "jit:" + hash) -> LLVMKernels: loaded once per process


class _Lazy:
    """``llvm`` (llvmlite.binding) imported on first use: loading a cached library needs
    neither it nor Numba, which a warm start then never imports."""

    def __getattr__(self, name):
        import llvmlite.binding as binding
        globals()["llvm"] = binding
        return getattr(binding, name)


llvm = _Lazy()


@functools.lru_cache(maxsize=1)
def _kernel_signatures() -> dict:
    """Numba signatures by kind: ``kernel`` (the drivers' KERNEL_SIG), ``residual``
    ``void(t, y*, yp*, p*, out*)`` and ``vector`` ``void(t, y*, p*, v*, out*)`` (the same
    C type as the residual's).  Imports Numba."""
    from symgen.drivers.common import KERNEL_SIG
    f64p = KERNEL_SIG.args[1]
    five = KERNEL_SIG.return_type(KERNEL_SIG.args[0], f64p, f64p, f64p, f64p)
    return {"kernel": KERNEL_SIG, "residual": five, "vector": five}


@functools.lru_cache(maxsize=1)
def _kernel_class():
    """:class:`LLVMKernel`, created on first use because its base class is Numba's."""
    import numba.experimental.function_type  # noqa: F401  (registers typeof for the protocol)
    from numba.core.types.function_type import WrapperAddressProtocol

    class LLVMKernel(WrapperAddressProtocol):
        """One compiled kernel: a C function pointer Numba can call as a first-class
        function (``name``, ``address`` of the exported C function)."""

        def __init__(self, name: str, address: int, kind: str, owner):
            self.name = name
            self.address = int(address)
            self.kind = kind
            self._owner = owner  # keeps the library (or JIT engine) alive

        def __wrapper_address__(self) -> int:
            return self.address

        def signature(self):
            return _kernel_signatures()[self.kind]

        def __call__(self, t, *arrays):
            """Call from Python with float64 C-contiguous NumPy arrays (ctypes)."""
            self._owner.call_arrays(self.name, t, *arrays)

        def __repr__(self) -> str:
            return f"<LLVMKernel {self.name} at {self.address:#x}>"

    LLVMKernel.__module__ = __name__
    return LLVMKernel


def __getattr__(name):   # module attributes that need Numba, made on first access
    if name == "LLVMKernel":
        return _kernel_class()
    if name == "RESIDUAL_SIG":
        return _kernel_signatures()["residual"]
    raise AttributeError(name)


class LLVMKernels:
    """The kernels of one model (one attribute per kernel name, an :class:`LLVMKernel`
    made on first access).

    Attributes
    ----------
    path : pathlib.Path or None
        The shared library (``None`` when JIT-compiled in process).
    compiled : bool
        Whether this ``build`` call compiled the IR (``False``: loaded from disk).
    timings : dict
        Seconds spent in parse, optimize, codegen, link, load.
    """

    def __init__(self, names, handle, path, compiled, timings, addresses):
        self.path = path
        self.compiled = compiled
        self.timings = timings
        self._handle = handle
        self._names = tuple(names)
        self._addresses = dict(addresses)   # name -> (address, kind)
        self._cfuncs: dict = {}

    def __getattr__(self, name):
        addresses = self.__dict__.get("_addresses", {})
        if name not in addresses:
            raise AttributeError(name)
        addr, kind = addresses[name]
        kernel = _kernel_class()(name, addr, kind, self)
        setattr(self, name, kernel)
        return kernel

    def call_arrays(self, name, t, *arrays):
        """Call kernel ``name`` from Python with float64 C-contiguous NumPy arrays through
        ctypes (no Numba: a warm start evaluates kernels without initializing it)."""
        f = self._cfuncs.get(name)
        if f is None:
            addr, kind = self._addresses[name]
            nptr = 4 if kind in ("residual", "vector") else 3
            f = self._cfuncs[name] = ctypes.CFUNCTYPE(None, ctypes.c_double, *[ctypes.c_void_p] * nptr)(addr)
        f(float(t), *[a.ctypes.data for a in arrays])

    def __repr__(self) -> str:
        where = self.path if self.path is not None else "in-process JIT"
        return f"<LLVMKernels {list(self._names)} from {where}>"

    def library_info(self):
        """What :meth:`LLVMBackend.load` needs to load this library again without the IR
        (kept in the model's manifest), or ``None`` for in-process JIT code."""
        return getattr(self, "_info", None)


class LLVMBackend:
    """Emit kernels as LLVM IR and compile them ahead of time with llvmlite.

    Parameters
    ----------
    max_ops, max_outputs : int
        Size bounds of one generated function (see :class:`ShardOptions`).
    opt_level : int
        LLVM optimization level (0-3).  Default 1: on straight-line kernels O2 adds
        nothing measurable at run time and costs a third more build time (BCR: build
        18.3 s at O1 vs 25.0 s at O2, rhs 27 vs 45 us, jac_values 17.4 vs 17.2 us;
        2D Brusselator N=32: build 2.1-2.7 s vs 3.2-3.5 s, same kernel speed).
    linker : str
        C compiler driver used to link the shared library.  When it is not found the
        kernels are JIT-compiled in process with MCJIT: they work the same but are
        not reused across processes (every new process compiles again).
    jit : bool
        Always JIT-compile in process with MCJIT (no shared library, no C compiler);
        registered as the backend ``"llvm-jit"``.
    """

    name = "llvm"
    extension = ".ll"

    def __init__(self, max_ops: int = ShardOptions.max_ops, max_outputs: int = ShardOptions.max_outputs,
                 opt_level: int = 1, linker: str = "cc", jit: bool = False):
        self.shards = ShardOptions(int(max_ops), int(max_outputs))
        self.opt_level = int(opt_level)
        self.linker = linker
        self.jit = bool(jit)

    # -- emit --------------------------------------------------------------------------
    def emit(self, kset: KernelSet, key: str, version: str) -> Source:
        """One LLVM module holding every kernel of ``kset``, built with llvmlite's IR builder
        (``Source.text`` is its IR text, each function serialized once).

        Python's cyclic garbage collector is paused while the module is built: llvmlite
        makes several objects per instruction (all in reference cycles with their block),
        and the collector's repeated full passes over them cost more than half the time
        on the largest kernels (BCR jac_values, 38,690 ops: 6.3 s with it, 3.0 s without).
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._emit(kset, key, version)
        finally:
            if enabled:
                gc.enable()

    def _emit(self, kset: KernelSet, key: str, version: str) -> Source:
        operands = symbol_operands(kset)
        texts, views, decls = [], [], {}
        for k in kset.kernels:
            # one llvmlite module per kernel, serialized and dropped before the next: the
            # IR objects of only one kernel are alive at a time
            module = new_module()
            fname = function_name(key, k.name)
            funcs, nshards = kernel_functions(module, k, operands, fname, self.shards)
            head = (f"; kernel {k.name}: {len(k.outputs)} outputs, {len(k.body)} temporaries, "
                    f"{nshards} shard(s), signature {_SIG_WORD.get(k.args, 'kernel')}")
            text = head + "\n" + "\n".join(str(f) for f in funcs).rstrip()
            texts.append(text)
            views.append((k.name, text))
            decls.update(declarations(module))
            _release(funcs)
            del module, funcs
        header = (f"; Generated by symgen {version} (llvm backend, llvmlite.ir). Do not edit.\n"
                  f"; content hash: {key}\n"
                  f"; shard bounds: {self.shards.max_ops} ops, {self.shards.max_outputs} outputs\n"
                  "; Every instruction below was built by symgen's LLVM emitter with llvmlite's IR\n"
                  "; builder; this module holds no text taken from model names.")
        return Source(self.name, key, module_text(header, texts, decls), tuple(views))

    # -- build -------------------------------------------------------------------------
    def build(self, source: Source, directory: Path) -> LLVMKernels:
        """Load ``directory/kernels-<hash>.so`` if it was built from this IR, else compile it.

        The IR is also written to ``directory/kernels.ll`` (for inspection and for the
        pipeline's warm path).  Without a C compiler the module is JIT-compiled in
        process with MCJIT (no shared library is written: every new process compiles
        again).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _write_if_changed(directory / ("kernels" + self.extension), source.text)
        names = [name for name, _ in source.kernels]
        sigs = {n: _signature(text) for n, text in source.kernels}   # kinds
        symbols = {n: function_name(source.key, n) for n in names}
        tm = target_machine(self.opt_level)
        digest = hashlib.sha256(source.text.encode() + b"\0" + fingerprint(tm, self.opt_level).encode()).hexdigest()
        lib = directory / f"kernels-{digest[:20]}.so"
        if str(lib) in LOADED:
            return LOADED[str(lib)]
        timings: dict = {}
        cc = None if self.jit else shutil.which(self.linker)
        if cc is None:
            if "jit:" + digest in LOADED:
                return LOADED["jit:" + digest]
            mod = compile_module(source.text, tm, self.opt_level, timings)
            engine, addrs = jit(mod, self.opt_level, symbols.values(), timings)
            out = LLVMKernels(names, engine, None, True, timings, {n: (addrs[symbols[n]], sigs[n]) for n in names})
            LOADED["jit:" + digest] = out
            return out
        compiled = not lib.exists()
        if compiled:
            mod = compile_module(source.text, tm, self.opt_level, timings)
            t0 = time.perf_counter()
            obj = tm.emit_object(mod)
            timings["codegen"] = time.perf_counter() - t0
            link(cc, obj, lib, timings)
            for old in directory.glob("kernels-*.so"):
                if old != lib:
                    old.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            handle = ctypes.CDLL(str(lib))
        except OSError as exc:
            raise BackendError(f"cannot load the compiled kernels {lib}: {exc}") from exc
        addrs = {n: (ctypes.cast(getattr(handle, symbols[n]), ctypes.c_void_p).value, sigs[n]) for n in names}
        timings["load"] = time.perf_counter() - t0
        out = LLVMKernels(names, handle, lib, compiled, timings, addrs)
        out._info = {"file": lib.name, "symbols": symbols, "host": list(host()), "signatures": sigs}
        LOADED[str(lib)] = out
        return out

    def load(self, directory: Path, info: dict):
        """The library described by ``info`` (:meth:`LLVMKernels.library_info`) from
        ``directory`` without reading or hashing the IR (warm start), or ``None`` when it
        is missing or was built for another host CPU."""
        try:
            lib = Path(directory) / info["file"]
            if list(info["host"]) != list(host()) or not lib.exists():
                return None
            if str(lib) in LOADED:
                return LOADED[str(lib)]
            names, symbols = list(info["symbols"]), info["symbols"]
            sigs = {n: info["signatures"][n] for n in names}
            t0 = time.perf_counter()
            handle = ctypes.CDLL(str(lib))
            addrs = {n: (ctypes.cast(getattr(handle, symbols[n]), ctypes.c_void_p).value, sigs[n]) for n in names}
        except (KeyError, TypeError, OSError, AttributeError):
            return None
        out = LLVMKernels(names, handle, lib, False, {"load": time.perf_counter() - t0}, addrs)
        out._info = dict(info)
        LOADED[str(lib)] = out
        return out


def _release(functions) -> None:
    """Break the reference cycles (instruction -> block -> instruction list) of serialized
    functions, so that reference counting frees their IR objects at once while the cyclic
    collector is paused."""
    for fn in functions:
        for block in fn.blocks:
            block.instructions = []
        fn.blocks = []


#: the word the kernel's header comment uses for its signature (read back by ``_signature``)
_SIG_WORD = {RESIDUAL_ARGS: "residual", VECTOR_ARGS: "vector"}


def _signature(kernel_text: str) -> str:
    head = kernel_text.split("\n", 1)[0]
    for word in ("residual", "vector"):
        if f"signature {word}" in head:
            return word
    return "kernel"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)


def link(cc: str, obj: bytes, lib: Path, timings: dict) -> None:
    """``cc -shared`` the object into ``lib`` atomically (temp name, then rename)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=lib.parent, prefix=".link-") as tmp:
        o, so = Path(tmp) / "kernels.o", Path(tmp) / "kernels.so"
        o.write_bytes(obj)
        res = subprocess.run([cc, "-shared", "-o", str(so), str(o), "-lm"], capture_output=True, text=True)
        if res.returncode != 0:
            raise BackendError(f"linking the kernels failed ({cc}): {res.stderr.strip()[:2000]}")
        so.replace(lib)
    timings["link"] = time.perf_counter() - t0


# -- llvmlite plumbing: host target, parse + verify + optimize, MCJIT -------------------
@functools.lru_cache(maxsize=1)
def host() -> tuple:
    """``(triple, cpu name, cpu features)`` of this machine."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # pragma: no cover - platforms without feature detection
        features = ""
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), features


def target_machine(opt_level: int, *, jit: bool = False):
    """A target machine for the host CPU (position-independent code unless ``jit``)."""
    triple, cpu, features = host()
    target = llvm.Target.from_triple(triple)
    if jit:
        return target.create_target_machine(cpu=cpu, features=features, opt=opt_level,
                                            codemodel="jitdefault")
    return target.create_target_machine(cpu=cpu, features=features, opt=opt_level, reloc="pic",
                                        codemodel="default")


def fingerprint(tm, opt_level: int | None = None) -> str:
    """Everything besides the IR text that shapes the machine code."""
    triple, cpu, features = host()
    return f"llvmlite {llvmlite.__version__}|{triple}|{cpu}|{features}|{tm.target_data}|O{opt_level}"


def _optimize(mod, tm, opt_level: int) -> None:
    if hasattr(llvm, "create_pass_builder"):
        pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
        return
    pmb = llvm.PassManagerBuilder()  # pragma: no cover - llvmlite < 0.44
    pmb.opt_level = opt_level
    pm = llvm.ModulePassManager()
    pmb.populate(pm)
    pm.run(mod)


def compile_module(text: str, tm, opt_level: int, timings: dict):
    """Parse, verify and optimize the module text for ``tm``; returns the ModuleRef."""
    t0 = time.perf_counter()
    try:
        mod = llvm.parse_assembly(text)
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        mod.verify()
    except RuntimeError as exc:  # a bug of the emitter, never of the model
        raise BackendError(f"generated LLVM IR is invalid: {exc}") from exc
    timings["parse"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _optimize(mod, tm, opt_level)
    timings["optimize"] = time.perf_counter() - t0
    return mod


def jit(mod, opt_level: int, names, timings: dict):
    """MCJIT-compile ``mod`` in this process; returns ``(owner, {name: address})``.

    The machine code lives only as long as ``owner`` and is never written to disk.
    """
    libm = ctypes.util.find_library("m")
    if libm:
        llvm.load_library_permanently(libm)
    t0 = time.perf_counter()
    tm = target_machine(opt_level, jit=True)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    addrs = {n: engine.get_function_address(n) for n in names}
    timings["codegen"] = time.perf_counter() - t0
    if not all(addrs.values()):
        raise BackendError("MCJIT did not export every kernel")
    return (engine, tm, mod), addrs


# the names these helpers had before they became public (kept for other branches)
_LOADED, _host, _target_machine, _fingerprint = LOADED, host, target_machine, fingerprint
_compile_module, _jit, _link = compile_module, jit, link
