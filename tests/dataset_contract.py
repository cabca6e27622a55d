"""The contract every registered dataset must meet (used by test_datasets and test_official_datasets)."""
from __future__ import annotations

import numpy as np
import torch

from probekit.data import KINDS, FactorDataset


def check_dataset_contract(ds: FactorDataset) -> tuple[np.ndarray, torch.Tensor]:
    """Batch/single indexing, uint8 images of the declared shape, determinism, factor kinds and aliases.

    Returns the probed indices and their images for dataset-specific checks.
    """
    assert isinstance(ds, FactorDataset) and len(ds) > 0
    idx = np.array([0, 1, len(ds) // 2, len(ds) - 1])
    positions, images = ds[list(idx)]
    assert images.dtype == torch.uint8 and tuple(images.shape) == (4, *ds.image_shape)
    assert torch.equal(positions, torch.from_numpy(idx))
    assert torch.equal(ds.load_images(idx), images), "reading must be deterministic"
    single_pos, single = ds[int(idx[2])]
    assert single_pos == idx[2] and torch.equal(single, images[2])
    values = ds.factor_values(idx)
    assert list(values) == [f.name for f in ds.factors]
    for f in ds.factors:
        assert f.kind in KINDS
        v = values[f.name]
        assert v.shape == (4,)
        if f.is_discrete:
            assert v.dtype == np.int64 and v.min() >= 0 and v.max() < len(f.class_names)
        else:
            assert v.dtype == np.float64 and np.isin(v, np.asarray(f.values)).all()
    for f in ds.factors:  # every alias resolves to its factor
        for alias in (f.name, *f.aliases):
            assert ds.resolve_factors(alias) == [f.name]
    return idx, images
