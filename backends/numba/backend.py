"""Numba backend: KernelSet -> module of ``@cfunc`` kernels -> compiled function pointers."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import jinja2

from symgen.ir.kernels import RESIDUAL_ARGS, VECTOR_ARGS, KernelSet
from symgen.ir.source import Source

from .printer import NumbaPrinter

__all__ = ["NumbaBackend"]

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("symgen.templates", "."),
                          keep_trailing_newline=True, autoescape=False,
                          undefined=jinja2.StrictUndefined)


def _symbol_map(kset: KernelSet, kernel) -> dict:
    pb = kset.problem
    m = {pb.t: "t"}
    m.update({s: f"y[{i}]" for i, s in enumerate(pb.states)})
    m.update({s: f"p[{i}]" for i, s in enumerate(pb.params)})
    m.update({s: f"yp[{i}]" for i, s in enumerate(kset.yp_symbols)})
    m.update({s: f"v[{i}]" for i, s in enumerate(kset.v_symbols)})
    m.update({a.target: f"c{i}" for i, a in enumerate(kernel.body)})
    return m


#: scratch arrays of at most this many doubles (32 KiB) live on the stack of the exported
#: ``cfunc`` (larger ones: ``np.empty`` per call), as in the LLVM backend
STACK_SCRATCH_SLOTS = 4096


class _ShardMap(dict):
    """Symbol map of a sharded kernel: a temporary defined in an earlier shard is read
    from the scratch array ``s`` once per shard, into a local of the same name (its
    defining shard stores it there before returning)."""

    def __init__(self, base: dict, owner: dict, shards: list):
        super().__init__(base)
        self.owner = owner      # temporary -> (shard index, identifier)
        self.shards = shards    # per shard: {"lines": [...], "spills": [...]}
        self.slots: dict = {}
        self.loaded: list = []  # temporaries read into locals by the current shard

    def __missing__(self, sym):
        k, ident = self.owner[sym]          # KeyError: a symbol the kernel does not know
        if k == len(self.shards) - 1:
            return ident
        slot = self.slots.get(sym)
        if slot is None:
            slot = self.slots[sym] = len(self.slots)
            self.shards[k]["spills"].append(f"s[{slot}] = {ident}")
        self.shards[-1]["lines"].append(f"{ident} = s[{slot}]")  # before the statement using it
        self[sym] = ident
        self.loaded.append(sym)
        return ident

    def new_shard(self) -> None:
        for sym in self.loaded:
            del self[sym]
        self.loaded = []
        self.shards.append({"lines": [], "spills": [], "chars": 0})


class NumbaBackend:
    """Emit Numba ``cfunc`` kernels with the drivers' C signature and compile them.

    Parameters
    ----------
    max_lines, max_chars : int
        Bounds on one generated function.  A kernel with more statements (or more
        source characters) is split into ``@njit`` shard functions that the exported
        ``cfunc`` calls in order; temporaries used by a later shard travel through a
        scratch array.  Numba's compile time grows far faster than linearly with the
        size of one function (design note: 1,800 ops 7.8 s, 3,600 ops 68 s), so
        bounded shards make its compile time grow linearly with the kernel.  Shards take
        raw pointers (``y``, ``p``, ``out``, scratch); a scratch array of up to
        :data:`STACK_SCRATCH_SLOTS` doubles is on the stack (no allocation per call).
    """

    name = "numba"
    extension = ".py"

    def __init__(self, max_lines: int = 200, max_chars: int = 12000):
        self.max_lines = int(max_lines)
        self.max_chars = int(max_chars)

    def emit(self, kset: KernelSet, key: str, version: str) -> Source:
        views = []
        for k in kset.kernels:
            lines, shards, nslots = self._kernel_lines(kset, k)
            views.append(SimpleNamespace(
                name=k.name, args=k.args, lines=lines, shards=shards, n_slots=max(nslots, 1),
                stack_scratch=nslots <= STACK_SCRATCH_SLOTS,
                zero_fill=k.zero_fill, out_size=k.out_size,
                n_outputs=len(k.outputs), n_temps=len(k.body),
                signature="SIG_RESIDUAL" if k.args in (RESIDUAL_ARGS, VECTOR_ARGS) else "SIG"))
        text = _ENV.get_template("numba_module.py.j2").render(kernels=views, key=key, version=version)
        parts = text.split("\n\n\n# kernel ")
        per_kernel = tuple((v.name, "# kernel " + part) for v, part in zip(views, parts[1:]))
        return Source(self.name, key, text, per_kernel)

    def _kernel_lines(self, kset: KernelSet, k):
        """``(lines, shards, slots)``: the body of a single-function kernel (``shards``
        empty), or no lines and the statement lists of its shard functions."""
        items = [(f"c{i}", a.expr) for i, a in enumerate(k.body)] + [(f"out[{i}]", e) for i, e in k.outputs]
        names = _symbol_map(kset, k)
        if len(items) <= self.max_lines:
            pr = NumbaPrinter(names)
            lines = [f"{target} = {pr.doprint(expr)}" for target, expr in items]
            if sum(map(len, lines)) <= self.max_chars:
                return lines, [], 0
        temps = {a.target for a in k.body}
        base = {s: v for s, v in names.items() if s not in temps}
        owner: dict = {}
        shards = [{"lines": [], "spills": [], "chars": 0}]
        smap = _ShardMap(base, owner, shards)
        pr = NumbaPrinter(smap)
        targets = [a.target for a in k.body] + [None] * len(k.outputs)
        for n, ((target, expr), sym) in enumerate(zip(items, targets)):
            cur = shards[-1]
            line = f"{target} = {pr.doprint(expr)}"
            cur["lines"].append(line)
            cur["chars"] += len(line)
            if sym is not None:
                owner[sym] = (len(shards) - 1, target)
            if (len(cur["lines"]) >= self.max_lines or cur["chars"] >= self.max_chars) and n + 1 < len(items):
                smap.new_shard()
        return [], [sh["lines"] + sh["spills"] for sh in shards], len(smap.slots)

    def build(self, source: Source, directory: Path):
        """Write the module into ``directory`` (once) and import it; Numba's own cache
        next to the file makes a second process load machine code instead of compiling."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "kernels.py"
        if not path.exists() or path.read_text() != source.text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(source.text)
            tmp.replace(path)
        modname = f"_symgen_kernels_{source.key[:24]}"
        if modname in sys.modules:
            return sys.modules[modname]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
        return mod
