"""Tiny synthetic feature stores with planted signal for the probing tests.

Layer ``late`` (any layer but ``early``) carries the factors ``shape`` (3 classes), ``scale`` (continuous) and ``orientation``
(periodic) linearly; layer ``early`` is pure noise. ``noise_bin`` and ``noise_cont`` are random factors no
layer carries, and ``const`` never varies (it must come back as a skipped row).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from probekit.data.factors import Factor
from probekit.store import FeatureStore

FACTORS = (
    Factor("shape", "categorical", class_names=("square", "ellipse", "heart"), aliases=("category",)),
    Factor("scale", "continuous", values=tuple(np.linspace(0.5, 1.0, 6)), aliases=("size",)),
    Factor("orientation", "periodic", values=tuple(np.linspace(0, 2 * np.pi, 40, endpoint=False)),
           period=2 * np.pi, aliases=("rotation",)),
    Factor("noise_bin", "binary", class_names=("no", "yes")),
    Factor("noise_cont", "continuous", values=(0.0, 1.0)),
    Factor("const", "continuous", values=(1.0,)),
)


def synthetic_data(n: int = 600, *, seed: int = 0, dims=(("early", 8), ("late", 24)), signal: float = 1.5,
                   shift: float = 0.0):
    """(features {layer: (n, D) float32}, factor values {name: (n,)}) with planted linear signal."""
    rng = np.random.default_rng(seed)
    values = {
        "shape": rng.integers(0, 3, n),
        "scale": rng.choice(np.linspace(0.5, 1.0, 6), n),
        "orientation": rng.choice(np.linspace(0, 2 * np.pi, 40, endpoint=False), n),
        "noise_bin": rng.integers(0, 2, n),
        "noise_cont": rng.normal(size=n),
        "const": np.ones(n),
    }
    feats = {}
    for layer, d in dims:
        X = rng.normal(size=(n, d)) * 2.0 + 3.0 + shift  # non-zero mean/scale: standardisation matters
        if layer != "early":  # every layer but "early" carries the planted factors
            X[np.arange(n), values["shape"]] += 2 * signal           # units 0..2: one-hot shape
            X[:, 3] += signal * (values["scale"] - 0.75) / 0.17      # unit 3: scale
            X[:, 4] += signal * np.cos(values["orientation"])        # units 4, 5: the angle
            X[:, 5] += signal * np.sin(values["orientation"])
        feats[layer] = X.astype(np.float32)
    return feats, values


def make_store(path, *, n: int = 600, seed: int = 0, model: str = "synth-net", dataset: str = "synthetic",
               dims=(("early", 8), ("late", 24)), committed: int | None = None, complete: bool = True,
               features=None, values=None, factors=FACTORS, signal: float = 1.5) -> Path:
    """Write a store to ``path`` and return the path; ``committed < n`` leaves it incomplete."""
    path = Path(path)
    if features is None or values is None:
        features, values = synthetic_data(n, seed=seed, dims=dims, signal=signal)
    n = len(next(iter(features.values())))
    meta = {"backbone": model, "weights": "none", "layers": [l for l, _ in dims] if dims else list(features),
            "pooling": "avg", "preprocessing": {}, "dataset": {"name": dataset}, "subset": None, "seed": seed,
            "library_versions": {}}
    s = FeatureStore.create(path, layer_dims={k: v.shape[1] for k, v in features.items()}, factors=list(factors),
                            factor_values={f.name: values[f.name] for f in factors}, index=np.arange(n), meta=meta)
    try:
        s.write_rows(0, features)
        s.commit(n if committed is None else committed)
        if complete and committed is None:
            s.mark_complete()
    finally:
        s.close()
    return path
