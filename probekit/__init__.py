"""probekit: how well can each factor of variation be read out of a vision model's features?

The public API is re-exported here and imported lazily, so ``import probekit`` (and ``probekit
--help``) do not pay for torch until something is used.

>>> import probekit
>>> sorted(probekit.__all__)[:3]
['Backbone', 'Factor', 'FactorDataset']
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "ProbekitError": "probekit.errors",
    "Factor": "probekit.data",
    "FactorDataset": "probekit.data",
    "create_dataset": "probekit.data",
    "list_datasets": "probekit.data",
    "register_dataset": "probekit.data",
    "Backbone": "probekit.backbones",
    "create_backbone": "probekit.backbones",
    "list_backbones": "probekit.backbones",
    "register_backbone": "probekit.backbones",
    "FeatureStore": "probekit.store",
    "extract_features": "probekit.extract",
    "probe_factors": "probekit.probes",
    "LinearProbe": "probekit.probes",
    "ProbeResults": "probekit.probes",
    "TrainConfig": "probekit.train",
    "load_split": "probekit.backbones.checkpoint",
    "join_results": "probekit.report",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'probekit' has no attribute {name!r}")


def __dir__():
    return __all__
