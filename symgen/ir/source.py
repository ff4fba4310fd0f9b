"""Source: generated text of a kernel module, as emitted by a backend."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Source", "SourceFile"]


@dataclass(frozen=True, slots=True)
class Source:
    """A backend's generated module.

    Attributes
    ----------
    backend : str
        Name of the backend that emitted it.
    key : str
        Content hash of (model IR, options, versions).
    text : str
        The whole module.
    kernels : tuple of (str, str)
        ``(kernel name, source of that kernel)`` for inspection.
    """

    backend: str
    key: str
    text: str
    kernels: tuple

    def kernel(self, name: str) -> str:
        for k, src in self.kernels:
            if k == name:
                return src
        raise KeyError(f"no kernel named {name!r}; have {[k for k, _ in self.kernels]}")


class SourceFile:
    """A :class:`Source` kept on disk and read on first use: a warm start loads the
    compiled kernels without the (possibly very large) generated text.

    ``spans`` maps kernel names to ``[start, end]`` in the text, or to the kernel's text.
    """

    def __init__(self, backend: str, key: str, path, spans: dict):
        self.backend, self.key, self.path, self.spans = backend, key, Path(path), dict(spans)

    @functools.cached_property
    def source(self) -> Source:
        text = self.path.read_text()
        kernels = tuple((name, text[v[0]:v[1]] if isinstance(v, list) else v) for name, v in self.spans.items())
        return Source(self.backend, self.key, text, kernels)

    @property
    def text(self) -> str:
        return self.source.text

    @property
    def kernels(self) -> tuple:
        return self.source.kernels

    def kernel(self, name: str) -> str:
        return self.source.kernel(name)
