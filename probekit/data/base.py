"""The factor-dataset contract: images plus a table of factor values, fetched in batches."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .factors import Factor, resolve_factor_names


class FactorDataset(torch.utils.data.Dataset):
    """Images with factor annotations.

    Subclasses set ``name``, ``factors`` and ``image_shape`` and implement :meth:`load_images` and
    :meth:`factor_values`. Indexing with an int returns ``(index, image)``; indexing with a sequence of
    ints returns the batch ``(indices (B,) int64, images (B, C, H, W) uint8)``, which is what the
    extraction and training loaders use so that rendering and decoding run vectorised per batch.
    """

    name: str = ""
    factors: tuple[Factor, ...] = ()
    image_shape: tuple[int, int, int] = (0, 0, 0)  # (C, H, W) of the uint8 images

    # -- to implement -------------------------------------------------------------------------
    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        """(B,) dataset indices -> (B, C, H, W) uint8 images."""
        raise NotImplementedError  # pragma: no cover

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Factor values of ``indices`` (all rows when None): int64 codes or float64 values."""
        raise NotImplementedError  # pragma: no cover

    def config(self) -> dict:
        """Everything that determines the images and labels (goes into store fingerprints)."""
        return {"name": self.name}

    # -- shared behaviour -----------------------------------------------------------------------
    @property
    def factor_specs(self) -> dict[str, Factor]:
        return {f.name: f for f in self.factors}

    def resolve_factors(self, names) -> list[str]:
        """Canonical names for ``names`` (aliases allowed; unknown names raise)."""
        return resolve_factor_names(self.factors, names)

    def dataset_id(self) -> str:
        """Stable short id of :meth:`config` (used in fingerprints and file names)."""
        blob = json.dumps(self.config(), sort_keys=True, default=str).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:12]}"

    def check_indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise DataError(f"sample index {int(bad)} is out of range for dataset {self.name!r} of {n} samples")
        return idx

    def __getitem__(self, item):
        if isinstance(item, (int, np.integer)):
            idx = self.check_indices([item])
            return int(idx[0]), self.load_images(idx)[0]
        idx = self.check_indices(item)
        return torch.from_numpy(idx), self.load_images(idx)

    def __getitems__(self, items: Sequence[int]):
        # DataLoader's batched fetch: one vectorised call per batch instead of one per sample
        return self[list(items)]


class SubsetDataset(FactorDataset):
    """A fixed selection of rows of a parent dataset; ``indices`` maps row -> parent index."""

    def __init__(self, parent: FactorDataset, indices: np.ndarray, *, description: dict | None = None):
        self.parent = parent
        self.indices = np.asarray(indices, dtype=np.int64)
        parent.check_indices(self.indices)
        self.name = parent.name
        self.factors = parent.factors
        self.image_shape = parent.image_shape
        self.description = description or {"kind": "explicit", "n": int(len(self.indices))}

    def __len__(self) -> int:
        return len(self.indices)

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        return self.parent.load_images(self.indices[np.asarray(indices, dtype=np.int64)])

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        rows = self.indices if indices is None else self.indices[np.asarray(indices, dtype=np.int64)]
        return self.parent.factor_values(rows)

    def config(self) -> dict:
        digest = hashlib.sha256(self.indices.tobytes()).hexdigest()[:16]
        return {**self.parent.config(), "subset": {**self.description, "indices_sha256": digest}}


def random_subset(dataset: FactorDataset, n: int | None, *, seed: int = 0) -> FactorDataset:
    """A seeded random subset of ``n`` rows in increasing index order (``None`` or ``n >= len``: all rows)."""
    if n is None:
        return dataset
    if int(n) <= 0:
        raise ConfigError(f"subset size must be a positive number of samples, got {n}; use e.g. --limit 1000 or --full")
    total = len(dataset)
    if n >= total:
        return dataset
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(total, size=int(n), replace=False))
    return SubsetDataset(dataset, idx, description={"kind": "random", "n": int(n), "seed": int(seed)})


def parent_indices(dataset: FactorDataset) -> np.ndarray:
    """Dataset index of every row (the store's ``/index``)."""
    if isinstance(dataset, SubsetDataset):
        return dataset.indices.copy()
    return np.arange(len(dataset), dtype=np.int64)
