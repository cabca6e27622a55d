"""Linear probes: decode factors of variation from stored features.

>>> from probekit.probes import probe_factors                          # doctest: +SKIP
>>> res = probe_factors("features/resnet18__color-dsprites.h5", factors="color,scale", seeds=5)
>>> print(res.format_table())
"""
from __future__ import annotations

from . import metrics, stats
from .backends import get_backend
from .backends.base import LogisticFit, LogisticTask, ProbeBackend, RidgeFit
from .protocols import PROTOCOLS, get_protocol, list_protocols, register_protocol
from .results import ProbeResults
from .run import probe_factors


def __getattr__(name: str):
    # LinearProbe (the scikit-learn estimator) is imported on first use: probe_factors does not need it
    if name == "LinearProbe":
        from .linear_probe import LinearProbe

        globals()["LinearProbe"] = LinearProbe
        return LinearProbe
    raise AttributeError(f"module 'probekit.probes' has no attribute {name!r}")


__all__ = [
    "PROTOCOLS", "LinearProbe", "LogisticFit", "LogisticTask", "ProbeBackend", "ProbeResults", "RidgeFit",
    "get_backend", "get_protocol", "list_protocols", "metrics", "probe_factors", "register_protocol", "stats",
]
