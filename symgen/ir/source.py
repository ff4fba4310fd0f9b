"""Source: generated text of a kernel module, as emitted by a backend."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Source"]


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
