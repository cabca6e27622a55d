"""The contract of a probing protocol.

A protocol turns one feature matrix and a set of factor targets into result rows. ``probe_factors``
(probekit/probes/run.py) loads each (store, layer) once, calls the protocol with every requested
factor (so a protocol can batch across factors and seeds), and adds the model/layer/store columns.

Signature::

    def my_protocol(X: np.ndarray,                      # (N, D) float32 features of one layer
                    targets: dict[str, tuple[Factor, np.ndarray]],  # name -> (spec, (N,) values/codes)
                    *, seeds: Sequence[int], backend: ProbeBackend, probe=None,
                    null_permutations: int = 0, **options) -> list[dict]

Each returned row is a dict with at least ``factor``, ``metric``, ``split`` ("train"/"test"/...),
``seed`` and ``value``, plus what the protocol knows (``n_train``, ``n_test``, ``chance``,
``alpha``/``C`` chosen, ``note``). Skipped factors (constant, too few samples) come back as rows with
``metric="skipped"`` and the reason in ``note`` rather than disappearing.
"""
from __future__ import annotations

from ...registry import Registry

PROTOCOLS: Registry = Registry("protocol")


def register_protocol(name: str, *, help: str = ""):
    """Decorator registering a protocol function under ``name``."""
    return PROTOCOLS.register(name, help=help)
