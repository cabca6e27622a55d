"""Probe backends: ``torch`` (default, CPU or CUDA), ``sklearn`` (the reference), ``cuml`` (optional).

>>> get_backend("torch", device="cpu").name
'torch'
"""
from __future__ import annotations

from ...registry import Registry
from .base import LogisticFit, LogisticTask, ProbeBackend, RidgeFit

BACKENDS: Registry = Registry("probe backend")


@BACKENDS.register("torch", help="closed-form ridge and batched L-BFGS logistic regression (CPU or CUDA)")
def _torch(*, device: str = "auto", dtype: str = "float32") -> ProbeBackend:
    from .torch_backend import TorchBackend

    return TorchBackend(device=device, dtype=dtype)


@BACKENDS.register("sklearn", help="scikit-learn RidgeCV/LogisticRegression, one fit per task (reference)")
def _sklearn(*, device: str = "auto", dtype: str = "float32") -> ProbeBackend:
    from .sklearn_backend import SklearnBackend

    return SklearnBackend(device=device, dtype=dtype)


@BACKENDS.register("cuml", help="RAPIDS cuML on a CUDA GPU (pip install probekit[gpu])")
def _cuml(*, device: str = "auto", dtype: str = "float32") -> ProbeBackend:
    from .cuml_backend import CumlBackend

    return CumlBackend(device=device, dtype=dtype)


def get_backend(name: str | ProbeBackend = "torch", *, device: str = "auto", dtype: str = "float32") -> ProbeBackend:
    """The backend called ``name`` (a ProbeBackend instance is returned as is).

    Unknown names raise with the closest matches; ``cuml`` without RAPIDS or without a GPU raises a
    one-line error that says how to install it.
    """
    if isinstance(name, ProbeBackend):
        return name
    return BACKENDS.get(str(name).lower())(device=device, dtype=dtype)


__all__ = ["BACKENDS", "LogisticFit", "LogisticTask", "ProbeBackend", "RidgeFit", "get_backend"]
