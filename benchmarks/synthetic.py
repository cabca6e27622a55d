"""Synthetic feature matrices for the probe benchmark (seeded, no downloads).

``imagenetx_like`` mimics the ImageNet-X probing problem of the paper (reference/paper.md, section 3):
46,110 images, 2048 post-ReLU units with correlated activations, one "top" factor per image with the
published positive counts, and 1000 classes. ``layer_sweep`` gives continuous factors read out of
layers of growing width.
"""
from __future__ import annotations

import numpy as np

from probekit.data.factors import Factor

# Positives per ImageNet-X factor among the 46,110 annotated validation images (reference/paper.md).
POSITIVES = {
    "pose": 15064, "background": 14751, "color": 6150, "pattern": 5972, "smaller": 1450, "shape": 679,
    "partial_view": 638, "subcategory": 585, "texture": 282, "larger": 150, "darker": 122,
    "object_blocking": 78, "person_blocking": 60, "brighter": 44, "style": 43, "multiple_objects": 40,
}
N_IMAGES = 46110


def _correlated(rng: np.random.Generator, n: int, d: int, *, rank: int = 256, decay: float = 0.7,
                noise: float = 0.5) -> np.ndarray:
    """(n, d) float32 Gaussian activations: a power-law spectrum over ``rank`` components + isotropic noise."""
    scales = (np.arange(1, rank + 1, dtype=np.float64) ** -decay).astype(np.float32)
    mix = rng.standard_normal((rank, d), dtype=np.float32) * scales[:, None] * np.sqrt(d / rank, dtype=np.float32)
    F = rng.standard_normal((n, rank), dtype=np.float32) @ mix              # (n, d)
    F += noise * rng.standard_normal((n, d), dtype=np.float32)
    return F


def imagenetx_like(*, n: int = N_IMAGES, d: int = 2048, seed: int = 0, strength: float = 1.0):
    """Features (n, d) float32 and 17 targets shaped like the paper's ImageNet-X problem.

    Every image carries one "top" factor (counts scaled to ``n`` from :data:`POSITIVES`) and a class in
    0..999. Each factor shifts the pre-activations along its own random direction, with a strength that
    grows as the factor gets rarer (so balanced accuracies span about 0.55 to 0.95); each class adds its
    own random direction; a ReLU with per-unit offsets follows, and 3 % of the units are dead.
    """
    rng = np.random.default_rng(seed)
    names = list(POSITIVES)
    counts = np.array([max(4, round(POSITIVES[k] * n / N_IMAGES)) for k in names])
    if counts.sum() > n:
        raise ValueError(f"n={n} is too small for {len(names)} factors with at least 4 positives each")
    assign = np.full(n, -1, dtype=np.int64)
    assign[: counts.sum()] = np.repeat(np.arange(len(names)), counts)
    assign = assign[rng.permutation(n)]
    classes = rng.integers(0, 1000, size=n)
    F = _correlated(rng, n, d)                                               # (n, d)
    # rarer factors get stronger signals: log-spaced from 0.03 (pose) to 0.9 (multiple_objects) per unit
    s = strength * np.geomspace(0.03, 0.9, len(names)).astype(np.float32)
    dirs = rng.standard_normal((len(names), d), dtype=np.float32)            # (16, d)
    has = assign >= 0
    F[has] += s[assign[has], None] * dirs[assign[has]]
    F += 0.8 * strength * rng.standard_normal((1000, d), dtype=np.float32)[classes]
    offset = rng.normal(0.3, 0.6, size=d).astype(np.float32)
    offset[rng.random(d) < 0.03] = -1e3                                      # dead units: always 0
    np.maximum(F + offset, 0.0, out=F)
    targets = {name: (Factor(name, "binary", class_names=("no", "yes")), (assign == i).astype(np.int64))
               for i, name in enumerate(names)}
    targets["class"] = (Factor("class", "categorical", values=tuple(float(v) for v in range(1000))), classes)
    return F, targets


def layer_sweep(*, n: int = 20_000, widths=(256, 384, 512, 768, 1024, 1280, 1536, 2048), n_factors: int = 6,
                seed: int = 0):
    """Continuous factors (n, n_factors) float64 and one (n, width) float32 feature matrix per layer.

    Every layer is a random correlated code of the factors plus noise; deeper (wider) layers carry the
    factors more linearly.
    """
    rng = np.random.default_rng(seed)
    Y = rng.uniform(-1, 1, size=(n, n_factors))                              # (n, F)
    layers = {}
    for i, w in enumerate(widths):
        feats = _correlated(rng, n, w, rank=min(128, w))
        lin = rng.standard_normal((n_factors, w)).astype(np.float32) * (0.3 + 0.1 * i)
        feats += (Y.astype(np.float32) @ lin) + 0.5 * np.sin(3 * Y[:, :1]).astype(np.float32) @ lin[:1]
        layers[f"layer{i + 1}"] = np.maximum(feats, 0.0)
    return layers, Y
