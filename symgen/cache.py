"""Content-hash disk cache of compiled models.

The key hashes the declared model (its exact SymPy structure), the compile options,
the versions of symgen, SymPy, Numba and llvmlite, and the source of symgen's own
code generators, so any change that could change the generated code changes the key.
A cache entry is a directory holding the generated module, Numba's cache of its
machine code and ``manifest.json`` (names, shapes, sparsity, op counts, timings).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import sympy as sp

from .ir.problem import Problem

__all__ = ["cache_root", "model_key", "entry_dir", "read_manifest", "write_manifest"]


def cache_root() -> Path:
    """``$SYMGEN_CACHE_DIR`` or ``~/.cache/symgen``."""
    root = os.environ.get("SYMGEN_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "symgen"


#: symgen sub-packages and modules whose source shapes the generated kernels
_GENERATOR_DIRS = ("dsl", "ir", "rewrite", "passes")
_GENERATOR_FILES = ("cache.py", "pipeline.py", "errors.py")


@functools.lru_cache(maxsize=1)
def _generator_fingerprint() -> str:
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    from . import __version__

    def ver(dist):   # without importing numba / llvmlite (a warm start may never need them)
        try:
            return version(dist)
        except PackageNotFoundError:  # pragma: no cover
            return "?"
    h = hashlib.sha256()
    h.update(f"{__version__}|{sp.__version__}|{ver('numba')}|{ver('llvmlite')}".encode())
    pkg = Path(__file__).resolve().parent
    # only what shapes generated code: the drivers, the solver front end, importers and
    # the CLI can change without invalidating compiled kernels
    roots = [pkg / d for d in _GENERATOR_DIRS] + [pkg / f for f in _GENERATOR_FILES]
    for sub in ("backends", "templates"):   # located, not imported
        spec = find_spec(f"{__package__}.{sub}")
        if spec is not None and spec.submodule_search_locations:
            roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        for f in ([root] if root.is_file() else sorted(root.rglob("*"))):
            if f.suffix in (".py", ".j2") and "__pycache__" not in f.parts:
                h.update(f.name.encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def model_key(problem: Problem, options: dict) -> str:
    """Content hash of a problem and the options that shape its generated code."""
    h = hashlib.sha256()
    h.update(_generator_fingerprint().encode())
    h.update(json.dumps({k: repr(v) for k, v in sorted(options.items())}).encode())
    digest = _Merkle()
    for part in (problem.t, *problem.states, b"|", *problem.params, b"|", *problem.rhs, b"|"):
        h.update(part if isinstance(part, bytes) else digest(part))
    for name, e in problem.observed:
        h.update(name.encode() + b"=" + digest(e))
    return h.hexdigest()


class _Merkle:
    """Structural hash of SymPy expressions: a node's digest is the hash of its class and
    its children's digests, computed once per distinct node (linear in the size of the
    expression DAG; ``srepr`` of a 24k-reaction network took seconds).  Symbols hash
    their class, name and assumptions; Dummies also their order of first appearance, so
    that the key is the same in every process."""

    def __init__(self):
        self._memo: dict = {}
        self._dummies: dict = {}

    def __call__(self, root) -> bytes:
        memo = self._memo
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            args = node.args if isinstance(node, sp.Basic) else ()
            if args and not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in args if a not in memo)
                continue
            h = hashlib.blake2b(digest_size=16)
            h.update(type(node).__name__.encode())
            if isinstance(node, sp.Symbol):
                h.update(node.name.encode())
                h.update(repr(sorted(node.assumptions0.items())).encode())
                if isinstance(node, sp.Dummy):
                    h.update(str(self._dummies.setdefault(node, len(self._dummies))).encode())
            elif not args:
                h.update(repr(node).encode())
            for a in args:
                h.update(memo[a])
            memo[node] = h.digest()
        return memo[root]


def entry_dir(key: str) -> Path:
    return cache_root() / key[:2] / key


def read_manifest(key: str) -> dict | None:
    path = entry_dir(key) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_manifest(key: str, manifest: dict) -> None:
    d = entry_dir(key)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(d / "manifest.json")
