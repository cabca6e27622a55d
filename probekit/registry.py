"""One registry per kind of thing (datasets, backbones, probes, pooling).

A duplicate name raises; an unknown name raises with the closest matches. Prefix families such as
``timm:<name>`` or ``ckpt:<dir>`` are registered as prefixes and receive the rest of the name.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Map names (and ``prefix:`` families) to factories.

    Parameters
    ----------
    kind:
        What the registry holds, used in error messages ("backbone", "dataset", ...).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._prefixes: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, obj: T | None = None, *, help: str = ""):
        """Register ``obj`` under ``name``; usable as a decorator. ``name`` ending in ':' is a prefix."""

        def add(o: T) -> T:
            table = self._prefixes if name.endswith(":") else self._entries
            if name in table:
                raise ValueError(f"duplicate {self.kind} name {name!r}: it is already registered")
            table[name] = o
            self._help[name] = help or (o.__doc__ or "").strip().split("\n")[0]
            return o

        return add(obj) if obj is not None else add

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and plugins that re-register)."""
        self._entries.pop(name, None)
        self._prefixes.pop(name, None)
        self._help.pop(name, None)

    def resolve(self, name: str) -> tuple[T, str | None]:
        """Return ``(factory, argument)``; argument is the text after a registered prefix, else None."""
        if name in self._entries:
            return self._entries[name], None
        if ":" in name:
            prefix, rest = name.split(":", 1)
            if prefix + ":" in self._prefixes:
                return self._prefixes[prefix + ":"], rest
        raise unknown_name(self.kind, name, self.names())

    def get(self, name: str) -> T:
        return self.resolve(name)[0]

    def names(self) -> list[str]:
        """Registered names, prefix families shown as ``prefix:<...>``."""
        return sorted(self._entries) + sorted(p + "<...>" for p in self._prefixes)

    def describe(self) -> dict[str, str]:
        return {n: self._help.get(n, "") for n in sorted(self._entries)} | {
            p + "<...>": self._help.get(p, "") for p in sorted(self._prefixes)
        }

    def __contains__(self, name: str) -> bool:
        try:
            self.resolve(name)
            return True
        except KeyError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries) + len(self._prefixes)


Factory = Callable[..., T]
