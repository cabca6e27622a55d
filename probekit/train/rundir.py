"""The run directory of ``probekit train``: refuse to overwrite, check a resume, write the side files."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np

from ..backbones.checkpoint import (CHECKPOINT_FILE, RUN_FILE, SPLIT_FILE, atomic_write_bytes, atomic_write_json,
                                    load_checkpoint)
from ..errors import CheckpointError
from .config import TrainConfig

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


def stored_config(run_dir: str | Path) -> TrainConfig:
    """The config a run was started with (from its checkpoint, else its ``run.json``)."""
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT_FILE).is_file():
        values = load_checkpoint(run_dir)["config"]
    elif (run_dir / RUN_FILE).is_file():
        try:
            values = json.loads((run_dir / RUN_FILE).read_text())["config"]
        except (OSError, ValueError, KeyError) as e:
            raise CheckpointError(f"cannot read {run_dir / RUN_FILE}: {e}; it is corrupt, start a new --out") from e
    else:
        raise CheckpointError(f"nothing to resume in {run_dir}: it holds no {RUN_FILE} or {CHECKPOINT_FILE} of "
                              "`probekit train`; drop --resume to start a new run there")
    try:
        return TrainConfig.from_dict(values)
    except Exception as e:
        raise CheckpointError(f"the config stored in {run_dir} is not valid here: {e}; start a new --out") from e


def open_run(config: TrainConfig, *, resume: bool) -> dict | None:
    """Check the run directory and return the checkpoint to resume from (None: start from scratch).

    Without ``resume`` an existing run is never touched; with it, the stored config must equal
    ``config`` except for :data:`~probekit.train.config.RESUMABLE_KEYS`.
    """
    run_dir = Path(config.run_dir)
    exists = (run_dir / RUN_FILE).is_file() or (run_dir / CHECKPOINT_FILE).is_file()
    if not resume:
        if exists:
            raise CheckpointError(f"{run_dir} already holds a training run; pass --resume to continue it, or choose "
                                  "a new --out")
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise CheckpointError(f"--out {run_dir} exists and is not an empty directory; choose a new --out")
        return None
    old = stored_config(run_dir)
    for stale in run_dir.glob(".*.tmp-*"):  # a write cut short by a kill: never read, safe to drop
        stale.unlink(missing_ok=True)
    diff = config.differences(old)
    if diff:
        parts = ", ".join(f"{k}: run has {getattr(old, k)!r}, got {getattr(config, k)!r}" for k in diff)
        raise CheckpointError(f"cannot resume {run_dir} with a different config ({parts}); repeat the original "
                              "options, or start a new run with another --out")
    return load_checkpoint(run_dir) if (run_dir / CHECKPOINT_FILE).is_file() else None


def write_run_files(run_dir: Path, *, config: TrainConfig, model_args: dict, dataset: dict, split: dict,
                    extra: dict) -> None:
    """``run.json`` (what was asked for) and ``split.npz`` (which images went where), atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)

    def savez(f):
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v, dtype=np.int64) for k, v in split.items()})
        f.write(buf.getvalue())

    atomic_write_bytes(run_dir / SPLIT_FILE, savez)
    atomic_write_json(run_dir / RUN_FILE, {"config": config.to_dict(), "model_args": model_args, "dataset": dataset,
                                           "split_sizes": {k: len(v) for k, v in split.items()},
                                           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra})


def append_metrics(run_dir: Path, record: dict) -> None:
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The records of ``metrics.jsonl`` (one per evaluated epoch), oldest first."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut by a kill
            continue
    return out


def truncate_metrics(run_dir: Path, *, step: int) -> None:
    """Drop records written after the checkpoint at ``step`` (the resumed run writes them again)."""
    keep = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    blob = "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep).encode()
    atomic_write_bytes(run_dir / METRICS_FILE, lambda f: f.write(blob))


def read_summary(run_dir: str | Path) -> dict:
    """The ``summary.json`` of a finished run."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist: the run has not finished; resume it with --resume")
    return json.loads(path.read_text())
