"""Checkpoints: plain-value format, refusal of foreign/corrupt/pickled files, SIGKILL + resume == uninterrupted."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from probekit.backbones import create_backbone
from probekit.backbones.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from probekit.errors import CheckpointError
from probekit.train import TrainConfig, read_metrics, read_summary, train

# 300 images, batches of 16: 15 steps an epoch, 4 epochs, a checkpoint every 7 steps (mid-epoch too).
RUN = dict(dataset="dsprites", target="shape", arch="mlp", limit=300, epochs=4, batch_size=16, seed=2,
           checkpoint_every=7, target_val_acc=1.0)
CLI_ARGS = ["--dataset", "dsprites", "--target", "shape", "--arch", "mlp", "--limit", "300", "--epochs", "4",
            "--batch-size", "16", "--seed", "2", "--checkpoint-every", "7", "--target-val-acc", "1.0", "--quiet"]


def _cli(*args):
    return [sys.executable, "-m", "probekit", "train", *args]


def _env():
    # One thread everywhere: the same reduction order in every process, and no OpenMP spin-waiting
    # when the test shares two cores with other work (that made this test 10x slower).
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def test_checkpoint_holds_plain_values_only(in_tmp):
    run_dir = train(TrainConfig(**{**RUN, "epochs": 1, "limit": 60}, out="r"), progress=False)
    blob = torch.load(run_dir / CHECKPOINT_FILE, weights_only=True)  # no arbitrary unpickling needed

    def plain(v):
        if isinstance(v, dict):
            return all(isinstance(k, (str, int)) and plain(x) for k, x in v.items())
        if isinstance(v, (list, tuple)):
            return all(plain(x) for x in v)
        return v is None or isinstance(v, (torch.Tensor, bool, int, float, str))

    assert plain(blob) and blob["format"] == "probekit-checkpoint" and blob["version"] == 1
    assert set(blob["rng"]) == {"torch", "cuda", "numpy", "python"} and isinstance(blob["config"], str)
    assert blob["optimizer"]["state"] and blob["progress"]["step"] == 3
    assert not list(Path(run_dir).glob(".*tmp*"))  # the atomic write left no temporary file


class _Bomb:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("content, message", [
    ("bomb", "cannot read checkpoint"),
    ("foreign", "is not a probekit checkpoint"),
    ("garbage", "cannot read checkpoint"),
    ("truncated", "cannot read checkpoint"),
])
def test_foreign_corrupt_and_pickled_files_are_refused(in_tmp, content, message):
    path = in_tmp / "run" / CHECKPOINT_FILE
    path.parent.mkdir()
    if content == "bomb":
        torch.save({"format": "probekit-checkpoint", "payload": _Bomb()}, path)
    elif content == "foreign":
        torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    elif content == "garbage":
        path.write_bytes(os.urandom(512))
    else:
        save_checkpoint(path.parent, model_args={"arch": "linear", "in_channels": 1, "image_size": 8, "n_classes": 2},
                        model_state={"head.weight": torch.zeros(2, 64)}, progress={}, config={}, dataset={},
                        split={"train": [0], "val": [], "test": []})
        path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path.parent)
    with pytest.raises(CheckpointError, match=message):
        create_backbone(f"ckpt:{path.parent}")
    assert not (in_tmp / "pwned").exists()  # the pickled call never ran


def test_missing_checkpoint_is_a_clear_error(in_tmp):
    with pytest.raises(CheckpointError, match="no checkpoint at nowhere/checkpoint.pt"):
        create_backbone("ckpt:nowhere")


def test_sigkill_then_resume_equals_uninterrupted(in_tmp):
    """A real SIGKILL of `python -m probekit train` after its first (mid-epoch) checkpoint, then --resume."""
    proc = subprocess.Popen(_cli(*CLI_ARGS, "--out", "killed"), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    ckpt = in_tmp / "killed" / CHECKPOINT_FILE
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the run ended before the kill: {proc.stderr.read().decode()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (in_tmp / "killed" / "summary.json").exists()
    killed_at = load_checkpoint("killed")["progress"]
    assert not killed_at["complete"] and killed_at["step"] < 60

    r = subprocess.run(_cli("--out", "killed", "--resume", "--quiet"), env=_env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        straight = train(TrainConfig(**RUN, out="straight"), progress=False)
    finally:
        torch.set_num_threads(threads)

    a, b = load_checkpoint("killed"), load_checkpoint(straight)
    assert a["progress"]["step"] == b["progress"]["step"] == 60
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k      # bit-identical weights and BN statistics
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(pa[k], pb[k]) for k in pa)
    drop = ("elapsed_s", "samples_per_s")
    ma = [{k: v for k, v in r.items() if k not in drop} for r in read_metrics("killed")]
    mb = [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(straight)]
    assert ma == mb and len(ma) == 4                               # no duplicated or missing epochs
    assert read_summary("killed")["test_acc"] == read_summary(straight)["test_acc"]
