"""Probing protocols, one registry: ``default``, ``paper-imagenetx``, ``paper-dislib``.

Importing this package registers the built-in protocols. A protocol is a function
``(X, targets, *, seeds, backend, probe=None, null_permutations=0, **options) -> list[dict]``
(see :mod:`probekit.probes.protocols.base`); its options live in a frozen dataclass exposed as the
function's ``config_class`` attribute.
"""
from __future__ import annotations

from . import base, default, paper_dislib, paper_imagenetx  # noqa: F401 - imported to register
from .base import PROTOCOLS, register_protocol


def get_protocol(name: str):
    """The protocol function registered as ``name`` (unknown names raise with the closest matches)."""
    return PROTOCOLS.get(name)


def list_protocols() -> dict[str, str]:
    """``{name: one-line description}`` of the registered protocols."""
    return PROTOCOLS.describe()


__all__ = ["PROTOCOLS", "get_protocol", "list_protocols", "register_protocol"]
