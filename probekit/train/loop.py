"""The training loop: cross-entropy on one factor, Adam, early stopping, exact resume.

One explicit loop (no trainer framework). What makes a resumed run reach the same weights as an
uninterrupted one: the data order of an epoch is a function of (seed, epoch) only, the checkpoint
holds model, optimizer, RNG states and the position inside the epoch, and it is written atomically.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..backbones.archs import CONV_ARCHS, build_model, check_arch, model_args
from ..backbones.checkpoint import CHECKPOINT_FILE, save_checkpoint, train_preprocessing
from ..devices import resolve_device
from ..errors import CheckpointError
from .config import TrainConfig
from .data import TrainData, epoch_order, load_train_data, make_batch
from .rng import rng_state, seed_everything, set_rng_state
from .rundir import SUMMARY_FILE, append_metrics, open_run, truncate_metrics, write_run_files


def epoch_batches(n_train: int, *, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Positions into the training rows, one array per step; a last batch of one sample is dropped
    (BatchNorm cannot normalise a single sample)."""
    order = epoch_order(n_train, seed=seed, epoch=epoch)
    batches = [order[i:i + batch_size] for i in range(0, n_train, batch_size)]
    return [b for b in batches if len(b) > 1]


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(model, optimizer, x: torch.Tensor, y: torch.Tensor, *, precision: str = "fp32"):
    """One Adam step of cross-entropy on (x, y); returns (loss, number correct) as 0-d tensors."""
    with _autocast(x.device, precision):
        logits = model(x)                                            # (B, n_classes)
    loss = F.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), (logits.detach().argmax(1) == y).sum()


@torch.no_grad()
def evaluate(model, data: TrainData, rows: np.ndarray, *, batch_size: int, device: torch.device,
             channels_last: bool, precision: str = "fp32") -> float | None:
    """Accuracy on ``rows`` in eval mode (BatchNorm running statistics); None for no rows."""
    if len(rows) == 0:
        return None
    was_training = model.training
    model.eval()
    pre = train_preprocessing({"image_size": data.images.shape[-1], "in_channels": data.images.shape[1]})
    correct = 0
    for i in range(0, len(rows), batch_size):
        x, y = make_batch(data, rows[i:i + batch_size], preprocessing=pre, device=device, channels_last=channels_last)
        with _autocast(device, precision):
            correct += int((model(x).argmax(1) == y).sum())
    model.train(was_training)
    return correct / len(rows)


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path:
    """Train ``config.arch`` with cross-entropy on ``config.target``; return the run directory.

    The run directory receives ``run.json``, ``split.npz``, ``metrics.jsonl``, ``checkpoint.pt`` (after
    every epoch, every ``checkpoint_every`` steps, and at the end) and ``summary.json``. Load the result
    with ``create_backbone("ckpt:<run dir>")``.

    Parameters
    ----------
    config: what to train (see :class:`TrainConfig`).
    resume: continue the run in ``config.run_dir`` from its last checkpoint; the stored config must
        match (``device``, ``num_workers`` and ``out`` may differ). A finished run is returned as is.
    progress: show tqdm bars (image caching, training).
    """
    check_arch(config.arch)
    run_dir = Path(config.run_dir)
    ckpt = open_run(config, resume=resume)
    if ckpt is not None and ckpt["progress"].get("complete"):
        if not (run_dir / SUMMARY_FILE).is_file():  # killed between the last checkpoint and the summary
            _write_summary(run_dir, config, ckpt["dataset"], {k: len(v) for k, v in ckpt["split"].items()},
                           ckpt["progress"])
        return run_dir
    device = resolve_device(config.device)
    data = load_train_data(config, device=device, progress=progress)
    c, h, w = data.dataset.image_shape
    args = model_args(config.arch, in_channels=c, image_size=h, n_classes=data.n_classes)
    dataset_meta = {"id": data.dataset.dataset_id(), "config": data.dataset.config(), "n_images": len(data.dataset),
                    "target": data.target, "class_names": list(data.class_names)}
    split = data.split
    if ckpt is None:  # fresh start (or a resume killed before the first checkpoint)
        write_run_files(run_dir, config=config, model_args=args, dataset=dataset_meta, split=split,
                        extra={"torch_version": torch.__version__})
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
        seed_everything(config.seed)
        model = build_model(**args).to(device)
        progress_state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "complete": False, "best_val_acc": None,
                          "best_epoch": None, "val_acc": None, "elapsed_s": 0.0, "epoch_stats": [0.0, 0, 0]}
    else:
        _check_same_data(ckpt, args, dataset_meta, split, run_dir)
        model = build_model(**args)
        model.load_state_dict(ckpt["model"])
        model = model.to(device)
        progress_state = dict(ckpt["progress"])
        truncate_metrics(run_dir, step=progress_state["step"])
    channels_last = config.arch in CONV_ARCHS
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
    _loop(model, optimizer, data, config, args, dataset_meta, split, progress_state, device=device,
          channels_last=channels_last, progress=progress)
    return run_dir


def _check_same_data(ckpt: dict, args: dict, dataset_meta: dict, split: dict, run_dir: Path) -> None:
    if ckpt["model_args"] != args:
        raise CheckpointError(f"checkpoint in {run_dir} is for model {ckpt['model_args']}, this run builds {args}; "
                              "start a new --out")
    if ckpt["dataset"].get("id") != dataset_meta["id"]:
        raise CheckpointError(f"the dataset changed since {run_dir} was written (id {ckpt['dataset'].get('id')} -> "
                              f"{dataset_meta['id']}); a resumed run would not be exact, start a new --out")
    if any(not np.array_equal(ckpt["split"][k].numpy(), split[k]) for k in split):
        raise CheckpointError(f"the train/val/test split of {run_dir} differs from the recomputed one; "
                              "start a new --out")


def _loop(model, optimizer, data: TrainData, config: TrainConfig, args: dict, dataset_meta: dict, split: dict,
          state: dict, *, device: torch.device, channels_last: bool, progress: bool) -> None:
    run_dir = Path(config.run_dir)
    pre = train_preprocessing(args)
    train_rows = data.rows["train"]
    n_train = len(train_rows)
    steps_per_epoch = len(epoch_batches(n_train, batch_size=config.batch_size, seed=config.seed, epoch=0))

    def save(**changes):
        state.update(changes)
        save_checkpoint(run_dir, model_args=args, model_state=model.state_dict(), progress=state,
                        config=config.to_dict(), dataset=dataset_meta, split=split,
                        optimizer_state=optimizer.state_dict(), rng=rng_state())

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.epochs * steps_per_epoch, initial=state["step"], unit="step",
                   desc=f"train {config.arch} on {config.dataset}/{data.target}", dynamic_ncols=True)
    model.train()
    while state["epoch"] < config.epochs:
        epoch = state["epoch"]
        loss_sum, correct, seen = state["epoch_stats"]
        batches = epoch_batches(n_train, batch_size=config.batch_size, seed=config.seed, epoch=epoch)
        elapsed_before, t_now, n_now = state["elapsed_s"], 0.0, 0  # training time/samples in this process
        for b in range(state["batch_in_epoch"], len(batches)):
            t = time.perf_counter()
            x, y = make_batch(data, train_rows[batches[b]], preprocessing=pre, device=device,
                              channels_last=channels_last)
            loss, hits = train_step(model, optimizer, x, y, precision=config.precision)
            loss_sum, correct, seen = loss_sum + float(loss) * len(y), correct + int(hits), seen + len(y)
            t_now, n_now = t_now + time.perf_counter() - t, n_now + len(y)
            state["step"] += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}",
                                val=_fmt(state["val_acc"]), samples_s=f"{n_now / t_now:.0f}")
            if config.checkpoint_every and state["step"] % config.checkpoint_every == 0 and b + 1 < len(batches):
                save(batch_in_epoch=b + 1, epoch_stats=[loss_sum, correct, seen], elapsed_s=elapsed_before + t_now)
        state.update(batch_in_epoch=0, epoch_stats=[0.0, 0, 0], epoch=epoch + 1, elapsed_s=elapsed_before + t_now)
        last = state["epoch"] == config.epochs
        kw = dict(batch_size=config.batch_size, device=device, channels_last=channels_last, precision=config.precision)
        if state["epoch"] % config.eval_every == 0 or last:
            state["val_acc"] = evaluate(model, data, data.rows["val"], **kw)
            val, best = state["val_acc"], state["best_val_acc"]
            if val is not None and (best is None or val > best):
                state.update(best_val_acc=state["val_acc"], best_epoch=state["epoch"])
        stop = state["val_acc"] is not None and state["val_acc"] > config.target_val_acc
        record = {"epoch": state["epoch"], "step": state["step"], "train_loss": loss_sum / max(seen, 1),
                  "train_acc": correct / max(seen, 1), "val_acc": state["val_acc"],
                  "samples_per_s": round(n_now / max(t_now, 1e-9), 1), "elapsed_s": round(state["elapsed_s"], 3)}
        if stop or last:
            state.update(test_acc=evaluate(model, data, data.rows["test"], **kw), complete=True,
                         stop_reason=(f"val acc {state['val_acc']:.4f} > {config.target_val_acc}" if stop
                                      else f"reached {config.epochs} epochs"))
            record["test_acc"] = state["test_acc"]
        append_metrics(run_dir, record)
        save()
        if stop or last:
            break
    if bar is not None:
        bar.close()
    _write_summary(run_dir, config, dataset_meta, {k: len(v) for k, v in data.rows.items()}, state)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _write_summary(run_dir: Path, config: TrainConfig, dataset_meta: dict, split_sizes: dict, state: dict) -> None:
    from ..backbones.checkpoint import atomic_write_json

    subset = "--full" if config.limit is None else f"--limit {config.limit}"
    atomic_write_json(run_dir / SUMMARY_FILE, {
        "run_dir": str(run_dir), "checkpoint": str(run_dir / CHECKPOINT_FILE), "arch": config.arch,
        "dataset": config.dataset, "target": dataset_meta["target"], "class_names": dataset_meta["class_names"],
        "split_sizes": split_sizes, "epochs_run": state["epoch"], "steps": state["step"],
        "best_val_acc": state["best_val_acc"], "best_epoch": state["best_epoch"], "val_acc": state["val_acc"],
        "test_acc": state.get("test_acc"), "stop_reason": state.get("stop_reason", ""),
        "train_time_s": round(state["elapsed_s"], 2),
        "extract_command": f"probekit extract ckpt:{run_dir} --dataset {config.dataset} {subset} --seed {config.seed}",
    })
