"""Stream a backbone over a factor dataset into an HDF5 feature store (resumable, bounded memory)."""
from __future__ import annotations

import importlib.metadata as md
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .backbones import Backbone, create_backbone
from .data import FactorDataset, create_dataset, parent_indices, random_subset
from .devices import resolve_device
from .errors import ConfigError, DataError, ProbekitError, StoreError
from .pooling import POOLING, pool
from .store import FeatureStore, differing_keys, fingerprint

DEFAULT_DATASET = "color-dsprites"
DEFAULT_LIMIT = 2000  # rows of the CLI's default seeded subset: minutes on a laptop CPU


@dataclass(frozen=True)
class ExtractConfig:
    """Options of one extraction (recorded in the store)."""

    layers: tuple[str, ...] = ("penultimate",)  # resolved layer names
    pool: str = "auto"          # pooling registry name: auto | avg | cls | mean | flatten
    batch_size: int = 64        # rows per forward pass and per commit
    num_workers: int = 0        # DataLoader workers rendering/decoding images
    device: str = "cpu"         # resolved device
    dtype: str = "float32"      # float32 | float16 on disk
    seed: int = 0               # subset selection and random inits


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def default_output(backbone: Backbone, dataset: FactorDataset) -> Path:
    """``features/<model>__<dataset>.h5`` (random inits get a ``-random`` suffix)."""
    model = _slug(backbone.name.replace("ckpt:", "ckpt-").replace("timm:", "timm-"))
    if backbone.weights.startswith("random-init"):
        model += "-random"
    return Path("features") / f"{model}__{_slug(dataset.name)}.h5"


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("probekit", "torch", "torchvision", "timm", "numpy", "h5py"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    out["torch"] = torch.__version__  # includes the build tag (+cpu, +cu130)
    return out


def _identity(batch):
    return batch


def _loader(dataset: FactorDataset, start: int, batch_size: int, num_workers: int):
    # A plain range sampler: rows [start, N) in order, so a resumed run sees the very same batches.
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=range(start, len(dataset)),
                                       num_workers=num_workers, collate_fn=_identity,
                                       persistent_workers=False)


def _worker_errors(batches):
    """Re-raise a probekit error from a DataLoader worker with its own one-line message.

    torch re-raises worker exceptions with the worker's traceback folded into the message; the CLI
    shows a single line, so keep the original one.
    """
    it = iter(batches)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except ProbekitError as e:
            text = str(e)
            if "DataLoader worker" in text:
                last = [l for l in text.strip().splitlines() if l.strip()][-1]
                raise type(e)(last.split(": ", 1)[1] if ": " in last else last) from e
            raise
        yield batch


def _features(backbone: Backbone, images: torch.Tensor, layers: Sequence[str], pool_method: str,
              device: str, dtype: np.dtype) -> dict[str, np.ndarray]:
    x = backbone.preprocessing(images.to(device, non_blocking=True))
    raw = backbone.forward_layers(x, layers)
    return {name: pool(t, pool_method, num_prefix_tokens=backbone.num_prefix_tokens).float().cpu().numpy().astype(dtype, copy=False)
            for name, t in raw.items()}


def extract_features(backbone: str | Backbone, dataset: str | FactorDataset = DEFAULT_DATASET, *,
                     out: str | Path | None = None, layers: str | Sequence[str] | None = None,
                     pool: str = "auto", batch_size: int = 64, num_workers: int = 0, device: str = "auto",
                     dtype: str = "float32", limit: int | None = None, seed: int = 0,
                     weights: str | None = "default", image_size: int | None = None,
                     resume: bool = False, overwrite: bool = False, progress: bool = True,
                     on_commit: Callable[[int, int], None] | None = None) -> Path:
    """Extract pooled features of ``layers`` for every row of ``dataset`` into an HDF5 store.

    Parameters
    ----------
    backbone: a :class:`Backbone` or a registered name (``resnet50``, ``timm:...``, ``ckpt:runs/x``).
    dataset: a :class:`FactorDataset` or a registered name.
    out: output path; default ``features/<model>__<dataset>.h5``.
    layers: names or indices (``"layer3,layer4"``, ``"-2,-1"``); default the penultimate representation.
    limit: extract a seeded random subset of this many rows (``None``: all rows).
    resume: continue an interrupted store (its fingerprint must match); overwrite: replace an existing file.
    on_commit: called as ``on_commit(n_written, n_rows)`` after each committed batch.

    Returns
    -------
    Path of the complete store.
    """
    if batch_size <= 0:
        raise ConfigError(f"--batch-size must be a positive integer, got {batch_size}")
    if num_workers < 0:
        raise ConfigError(f"--num-workers must be 0 or more, got {num_workers}")
    if dtype not in ("float32", "float16"):
        raise ConfigError(f"--dtype must be float32 or float16, got {dtype!r}")
    if limit is not None and limit <= 0:
        raise ConfigError(f"--limit must be a positive number of samples, got {limit}; omit it (or use --full) for all rows")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other; pick one")
    POOLING.get(pool)  # unknown pooling -> closest matches
    device = str(resolve_device(device))
    if isinstance(dataset, str):
        dataset = create_dataset(dataset, limit=limit, seed=seed)
    else:
        dataset = random_subset(dataset, limit, seed=seed)
    if isinstance(backbone, str):
        backbone = create_backbone(backbone, weights=weights, seed=seed, image_size=image_size)
    backbone = backbone.to(device).eval()
    layer_names = backbone.resolve_layers(layers)
    cfg = ExtractConfig(layers=tuple(layer_names), pool=pool, batch_size=batch_size, num_workers=num_workers,
                        device=device, dtype=dtype, seed=seed)
    out = Path(out) if out is not None else default_output(backbone, dataset)

    config = dataset.config()
    meta = {
        **backbone.describe(),
        "layers": list(layer_names),
        "pooling": pool,
        "preprocessing": backbone.preprocessing.adaptation(dataset.image_shape),
        "dataset": {k: v for k, v in config.items() if k != "subset"},
        "subset": config.get("subset"),
        "seed": seed,
        "dtype": dtype,
        "library_versions": library_versions(),
        "extract_config": asdict(cfg),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store = _open_or_create(out, backbone, dataset, cfg, meta, resume=resume, overwrite=overwrite)
    try:
        if not store.complete:
            _run(store, backbone, dataset, cfg, progress=progress, on_commit=on_commit)
            store.mark_complete()
    finally:
        store.close()
    return out


def _open_or_create(out: Path, backbone: Backbone, dataset: FactorDataset, cfg: ExtractConfig, meta: dict, *,
                    resume: bool, overwrite: bool) -> FeatureStore:
    if out.exists():
        if not (resume or overwrite):
            raise StoreError(f"{out} already exists; pass --resume to continue it, --overwrite to replace it, "
                             "or choose another --out")
        if overwrite:
            try:  # refuse to delete a file that a running extraction holds
                FeatureStore.open(out, "r+").close()
            except StoreError as e:
                if "locked" in str(e):
                    raise
            out.unlink()
        else:
            store = FeatureStore.open(out, "r+")
            expected = {**meta, "schema_version": store.meta.get("schema_version"), "dtype": cfg.dtype}
            if store.fingerprint != fingerprint(expected):
                keys = differing_keys(store.meta, expected)
                store.close()
                raise StoreError(f"cannot resume {out}: it was extracted with different {', '.join(keys) or 'settings'}; "
                                 "rerun with the store's settings, or use --overwrite")
            return store
    # dims of every layer from one sample: cheap, and the store is allocated in full up front
    with torch.inference_mode():
        _, probe_images = dataset[[0]]
        dims = {k: v.shape[1] for k, v in _features(backbone, probe_images, cfg.layers, cfg.pool, cfg.device,
                                                      np.float32).items()}
    factor_values = dataset.factor_values(np.arange(len(dataset)) if len(dataset) else None)
    return FeatureStore.create(out, layer_dims=dims, factors=dataset.factors, factor_values=factor_values,
                               index=parent_indices(dataset), meta=meta, dtype=cfg.dtype,
                               chunk_rows=cfg.batch_size)


def _run(store: FeatureStore, backbone: Backbone, dataset: FactorDataset, cfg: ExtractConfig, *, progress: bool,
         on_commit) -> None:
    from tqdm.auto import tqdm

    n, start = store.n_rows, store.n_written
    np_dtype = np.dtype(cfg.dtype)
    bar = tqdm(total=n, initial=start, unit="img", desc=f"extract {backbone.label}", disable=not progress,
               dynamic_ncols=True, smoothing=0.1)
    batches = iter(_loader(dataset, start, cfg.batch_size, cfg.num_workers))
    try:
        with torch.inference_mode():
            for batch in _worker_errors(batches):
                positions, images = batch
                first = int(positions[0])
                if first != start:
                    raise AssertionError(f"loader out of order: expected row {start}, got {first}")
                try:
                    feats = _features(backbone, images, cfg.layers, cfg.pool, cfg.device, np_dtype)
                except ProbekitError:
                    raise
                except Exception as e:
                    raise DataError(f"forward pass failed on rows {first}..{first + len(positions) - 1}: "
                                    f"{str(e).splitlines()[0][:200]}") from e
                bad = [k for k, v in feats.items() if not np.isfinite(v).all()]
                if bad and cfg.dtype == "float16":
                    raise DataError(f"layer {bad[0]} overflows float16 on rows {first}..{first + len(positions) - 1}; "
                                    "extract with --dtype float32")
                store.write_rows(first, feats)
                start = first + len(positions)
                store.commit(start)  # the commit marker: every layer of this batch is on disk
                bar.update(len(positions))
                if on_commit is not None:
                    on_commit(start, n)
    finally:
        # Forked workers share the store's file descriptor and with it HDF5's lock: end them now, not
        # whenever the iterator is garbage collected, so the store is free once this function returns.
        shutdown = getattr(batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        bar.close()
