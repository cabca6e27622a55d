"""Training data: the target labels, the recorded random split, and a uint8 image cache.

Images are rendered/decoded once into one (N, C, H, W) uint8 tensor and stay uint8 until a batch is
built (:func:`make_batch`): a float64 copy of dSprites, as the paper's script held it, needs 24 GB,
the uint8 cache 3 GB. The data order of an epoch depends only on ``(seed, epoch)``
(:func:`epoch_order`), which is what makes a resumed run identical to an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..backbones.checkpoint import SPLITS, load_split
from ..backbones.preprocess import Preprocessing
from ..data import FactorDataset, create_dataset, parent_indices
from ..errors import ConfigError, closest_matches

__all__ = ["TrainData", "epoch_order", "load_split", "load_train_data", "make_batch", "split_indices"]


@dataclass
class TrainData:
    """Everything the loop reads: cached images, labels, split and the dataset they came from."""

    dataset: FactorDataset          # the (subset of the) dataset; row i = images[i]
    target: str                     # canonical name of the target factor
    class_names: tuple[str, ...]
    images: torch.Tensor            # (N, C, H, W) uint8, on the CPU or the training device
    labels: torch.Tensor            # (N,) int64 class codes, same device as images
    rows: dict[str, np.ndarray]     # split -> sorted row numbers into images/labels
    index: np.ndarray               # (N,) dataset index of each row

    @property
    def split(self) -> dict[str, np.ndarray]:
        """split -> dataset indices (what ``split.npz`` records)."""
        return {k: self.index[v] for k, v in self.rows.items()}

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def split_indices(n: int, *, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """A seeded random train/val/test split of ``n`` rows: ``{split: sorted (n_split,) int64 rows}``.

    Pure: the same arguments give the same split on every machine.

    >>> s = split_indices(10, val_fraction=0.1, test_fraction=0.2, seed=0)
    >>> [len(s[k]) for k in ("train", "val", "test")]
    [7, 1, 2]
    """
    n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if n - n_test - n_val < 2:
        raise ConfigError(f"{n} images leave {n - n_test - n_val} for training after the val/test split; "
                          "use a larger --limit or smaller --val-fraction/--test-fraction")
    perm = np.random.default_rng([seed, 1]).permutation(n)  # stream 1: the split (stream 2: the data order)
    parts = {"test": perm[:n_test], "val": perm[n_test:n_test + n_val], "train": perm[n_test + n_val:]}
    return {k: np.sort(parts[k]).astype(np.int64) for k in SPLITS}


def epoch_order(n_train: int, *, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits the ``n_train`` training rows: a function of (seed, epoch)."""
    return np.random.default_rng([seed, 2, epoch]).permutation(n_train).astype(np.int64)


def resolve_target(dataset: FactorDataset, target: str) -> str:
    """The canonical name of a classifiable factor, or a one-line error listing the allowed ones."""
    classes = [f.name for f in dataset.factors if f.is_discrete and len(f.values) >= 2]
    names = [f.name for f in dataset.factors]
    try:
        name = dataset.resolve_factors([target])[0]
    except KeyError:
        close = closest_matches(target, names + [a for f in dataset.factors for a in f.aliases])
        raise ConfigError(f"--target {target!r} is not a factor of {dataset.name}"
                          + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
                          + f" (classifiable factors: {', '.join(classes) or 'none'})") from None
    spec = dataset.factor_specs[name]
    if name not in classes:
        why = (f"is {spec.kind}" if not spec.is_discrete else f"has a single value ({spec.class_names})")
        raise ConfigError(f"--target {target!r} {why}: cross-entropy training needs classes; choose one of the "
                          f"categorical/binary factors of {dataset.name}: {', '.join(classes) or 'none'}")
    return name


def build_image_cache(dataset: FactorDataset, *, chunk: int = 2048, num_workers: int = 0,
                      progress: bool = False) -> torch.Tensor:
    """Render/decode every row of ``dataset`` once: (N, C, H, W) uint8 on the CPU."""
    n = len(dataset)
    out = torch.empty((n, *dataset.image_shape), dtype=torch.uint8)
    batches = [np.arange(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, sampler=batches, num_workers=num_workers,
                                         collate_fn=_as_is)  # dataset[rows] -> (rows, uint8 images)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"caching {dataset.name} images", unit="img", leave=False)
    for rows, images in loader:
        out[rows] = images
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return out


def _as_is(batch):
    return batch


def load_train_data(config, *, device: torch.device | str = "cpu", progress: bool = False) -> TrainData:
    """Build the dataset (subset) of ``config``, resolve the target, split it and cache its images.

    On CUDA the cache is moved to the GPU when it takes less than half of the free memory, so batches
    are gathered on the device.
    """
    dataset = create_dataset(config.dataset, limit=config.limit, seed=config.seed)
    target = resolve_target(dataset, config.target)
    labels = torch.from_numpy(np.asarray(dataset.factor_values()[target], dtype=np.int64))   # (N,)
    rows = split_indices(len(dataset), val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                         seed=config.seed)
    images = build_image_cache(dataset, num_workers=config.num_workers, progress=progress)
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if images.numel() < free // 2:
            images, labels = images.to(device), labels.to(device)
    return TrainData(dataset=dataset, target=target, class_names=tuple(dataset.factor_specs[target].class_names),
                     images=images, labels=labels, rows=rows, index=parent_indices(dataset))


def _is_plain_scaling(pre: Preprocessing, shape) -> bool:
    return (set(pre.mean) == {0.0} and set(pre.std) == {1.0} and pre.channels in (None, shape[1])
            and pre.input_size in (None, shape[-1]) and shape[-1] == shape[-2])


def make_batch(data: TrainData, rows: np.ndarray | torch.Tensor, *, preprocessing: Preprocessing,
               device: torch.device, channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather ``rows`` of the uint8 cache and turn them into model input on ``device``.

    Returns ``x`` (B, C, H, W) float32 in [0, 1] (exactly what ``ckpt:`` extraction feeds the model) and
    ``y`` (B,) int64.
    """
    idx = torch.as_tensor(rows, dtype=torch.int64).to(data.images.device)
    images = data.images.index_select(0, idx)                          # (B, C, H, W) uint8
    y = data.labels.index_select(0, idx)
    if images.device != device:
        images, y = images.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if _is_plain_scaling(preprocessing, images.shape):
        # bit-identical to preprocessing(images): (x - 0) / 1 == x in IEEE arithmetic; two passes fewer
        x = images.to(torch.float32).div_(255.0)                      # (B, C, H, W) float32
    else:
        x = preprocessing(images)                                     # (B, C, H, W) float32
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y
