"""The checkpoint format of ``probekit train`` and the ``ckpt:<dir>`` backbone that loads it.

A run directory holds:

- ``checkpoint.pt``: one ``torch.save`` dict of plain values only (tensors, numbers, strings, lists,
  dicts), readable with ``torch.load(..., weights_only=True)``: format tag and version, model args,
  model weights, optimizer state, progress (step, epoch, batch in epoch, best accuracy, ...), RNG
  states, the training config and dataset fingerprint as JSON strings, and the split indices.
  It is written to a temporary file and moved into place with ``os.replace``, so a run killed at any
  moment leaves either the previous checkpoint or the new one, never half of one.
- ``run.json``: the config, model args and dataset fingerprint, written when the run starts.
- ``split.npz``: dataset indices of the ``train``, ``val`` and ``test`` images (:func:`load_split`).
- ``metrics.jsonl``: one JSON line per evaluation; ``summary.json`` once the run has ended.

This module belongs to the backbone side so that extraction can rebuild a trained network without
importing :mod:`probekit.train` (the arrow runs train -> backbones, never back).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from .archs import CONV_ARCHS, build_model
from .base import Backbone
from .preprocess import Preprocessing
from .registry import register_backbone

FORMAT = "probekit-checkpoint"
VERSION = 1
CHECKPOINT_FILE = "checkpoint.pt"
RUN_FILE = "run.json"
SPLIT_FILE = "split.npz"
SPLITS = ("train", "val", "test")
_REQUIRED = ("format", "version", "model_args", "model", "progress", "config", "dataset", "split")


def train_preprocessing(model_args: dict) -> Preprocessing:
    """What training feeds the network, and so what ``ckpt:`` extraction must feed it too.

    uint8 pixels scaled to [0, 1], no normalisation, at the training images' size and channel count.
    """
    return Preprocessing(input_size=int(model_args["image_size"]), mean=(0.0,), std=(1.0,),
                         channels=int(model_args["in_channels"]), source="probekit train: pixels scaled to [0, 1]")


# -- writing ----------------------------------------------------------------------------------------
def atomic_write_bytes(path: str | os.PathLike, write) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, then ``os.replace`` it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - directories cannot be fsynced on some filesystems
        pass
    return path


def atomic_write_json(path: str | os.PathLike, value) -> Path:
    """Write ``value`` as indented JSON, atomically."""
    blob = (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode()
    return atomic_write_bytes(path, lambda f: f.write(blob))


def save_checkpoint(run_dir: str | os.PathLike, *, model_args: dict, model_state: dict, progress: dict,
                    config: dict, dataset: dict, split: dict, optimizer_state: dict | None = None,
                    rng: dict | None = None) -> Path:
    """Write ``run_dir/checkpoint.pt`` atomically.

    Parameters
    ----------
    model_args: :func:`~probekit.backbones.archs.build_model` arguments.
    model_state: the model's ``state_dict()`` (stored contiguous, on the CPU).
    progress: plain values: ``step``, ``epoch``, ``batch_in_epoch``, ``complete``, accuracies, ...
    config, dataset: JSON-able dicts (training config; dataset config and id), stored as JSON text.
    split: ``{"train"|"val"|"test": (n,) int64}`` dataset indices.
    optimizer_state: the optimizer's ``state_dict()``; rng: RNG states as tensors and ints.
    """
    blob = {
        "format": FORMAT, "version": VERSION, "model_args": dict(model_args),
        "model": {k: v.detach().to("cpu").contiguous().clone() for k, v in model_state.items()},
        "optimizer": _to_cpu(optimizer_state) if optimizer_state is not None else {},
        "progress": dict(progress), "rng": rng or {},
        "config": json.dumps(config, sort_keys=True), "dataset": json.dumps(dataset, sort_keys=True, default=str),
        "split": {k: torch.as_tensor(np.asarray(split[k], dtype=np.int64)) for k in SPLITS},
    }
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(Path(run_dir) / CHECKPOINT_FILE, lambda f: torch.save(blob, f))


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu")
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


# -- reading ----------------------------------------------------------------------------------------
def checkpoint_path(path: str | os.PathLike) -> Path:
    """``path/checkpoint.pt`` for a run directory, ``path`` itself for a file."""
    path = Path(path).expanduser()
    return path / CHECKPOINT_FILE if path.is_dir() or not path.suffix else path


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint (a run directory or its ``checkpoint.pt``) without unpickling code.

    Returns the stored dict with ``config`` and ``dataset`` parsed from JSON. Raises
    :class:`~probekit.errors.CheckpointError` for a missing, corrupt or foreign file.
    """
    file = checkpoint_path(path)
    if not file.is_file():
        hint = (" (the run has a run.json but no checkpoint yet: resume it with `probekit train --out "
                f"{file.parent} --resume`)" if (file.parent / RUN_FILE).is_file() else
                "; pass the directory of a run written by `probekit train`")
        raise CheckpointError(f"no checkpoint at {file}{hint}")
    try:
        blob = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, not a torch file, or holds objects that weights_only refuses
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"cannot read checkpoint {file}: {first[:160]} (it is corrupt or was not written "
                              "by probekit train; retrain, or resume from an intact copy)") from e
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a probekit checkpoint (no format tag {FORMAT!r}); pass the run "
                              "directory of `probekit train`, or load other weights with --weights FILE")
    if blob.get("version") != VERSION:
        raise CheckpointError(f"{file} has checkpoint format version {blob.get('version')!r}; this probekit reads "
                              f"version {VERSION}; use the probekit version that wrote it")
    missing = [k for k in _REQUIRED if k not in blob]
    if missing:
        raise CheckpointError(f"checkpoint {file} lacks {', '.join(missing)}; it is corrupt, retrain")
    try:
        blob["config"], blob["dataset"] = json.loads(blob["config"]), json.loads(blob["dataset"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {file} holds an unreadable config: {e}; it is corrupt, retrain") from e
    return blob


def load_split(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Dataset indices of the ``train``, ``val`` and ``test`` images of a run: ``{name: (n,) int64}``.

    The indices refer to the full dataset (as a feature store's ``/index`` does), so probes can be fitted
    and scored on images the network never saw in training.
    """
    run_dir = Path(run_dir)
    file = run_dir / SPLIT_FILE
    if file.is_file():
        try:
            with np.load(file, allow_pickle=False) as z:
                return {k: z[k].astype(np.int64) for k in SPLITS}
        except Exception as e:
            raise CheckpointError(f"cannot read split file {file}: {e}; it is corrupt, resume or retrain") from e
    blob = load_checkpoint(run_dir)
    return {k: blob["split"][k].numpy().astype(np.int64) for k in SPLITS}


def weights_hash(state_dict: dict) -> str:
    """First 16 hex digits of the SHA-256 of the weights (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().to("cpu").contiguous().reshape(-1)  # 0-d tensors cannot be viewed as bytes
        h.update(f"{key}:{t.dtype}:{tuple(state_dict[key].shape)};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def build_trained_model(blob: dict) -> torch.nn.Module:
    """The network of a loaded checkpoint with its weights, in eval mode."""
    args = blob["model_args"]
    try:
        model = build_model(args["arch"], in_channels=args["in_channels"], image_size=args["image_size"],
                            n_classes=args["n_classes"])
        model.load_state_dict(blob["model"], strict=True)
    except (KeyError, RuntimeError, TypeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"checkpoint weights do not fit model args {args}: {first[:200]}; it is corrupt") from e
    return model.eval()


# -- the ckpt:<dir> backbone --------------------------------------------------------------------------
@register_backbone("ckpt:", help="a network trained by `probekit train`, e.g. ckpt:runs/NAME")
def build_checkpoint_backbone(path: str, *, weights: str | None = "default", seed: int = 0,
                              image_size: int | None = None, **_) -> Backbone:
    """A trained run as a :class:`Backbone`: same network, same preprocessing as in training.

    ``weights``: "default" (the checkpoint's weights) or "none" (the same architecture at a seeded
    random init: the untrained control). ``image_size`` resizes inputs (conv architectures only).
    """
    blob = load_checkpoint(path)
    args, progress = blob["model_args"], blob["progress"]
    if weights in (None, "none"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(**args).eval()
        weights_id = f"random-init(seed={seed})"
    elif weights in ("default", "DEFAULT", "final"):
        model = build_trained_model(blob)
        weights_id = (f"ckpt:{checkpoint_path(path).resolve()}#step={progress.get('step', 0)},"
                      f"sha256={weights_hash(blob['model'])}")
    else:
        raise CheckpointError(f"weights {weights!r} are not available for ckpt:{path}; allowed: default (the "
                              "trained weights) or none (seeded random init of the same architecture)")
    pre = train_preprocessing(args)
    if image_size is not None and int(image_size) != args["image_size"]:
        if args["arch"] not in CONV_ARCHS:
            raise CheckpointError(f"--image-size {image_size} does not fit ckpt:{path}: {args['arch']} takes "
                                  f"{args['image_size']}x{args['image_size']} inputs only; drop --image-size")
        pre = Preprocessing(**{**pre.to_dict(), "input_size": int(image_size)})
    cfg, ds = blob["config"], blob["dataset"]
    info = {"family": "probekit-train", "arch": args["arch"], "trained_on": ds.get("id", ""),
            "target": cfg.get("target", ""), "step": int(progress.get("step", 0)),
            "epoch": int(progress.get("epoch", 0)), "complete": bool(progress.get("complete", False)),
            "val_acc": progress.get("val_acc"), "test_acc": progress.get("test_acc"),
            "train_config": cfg}
    label = f"{args['arch']} trained on {cfg.get('dataset', '?')}/{cfg.get('target', '?')}"
    if weights in (None, "none"):
        label = f"{args['arch']} (random init)"
    return Backbone(model, name=f"ckpt:{path}", weights=weights_id, preprocessing=pre, layers=model.layer_names,
                    head=model.head_name, label=label, info=info)
