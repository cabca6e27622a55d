"""`probekit train`: config, split, data order, a tiny run, ckpt: features, extraction, CLI refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from probekit.backbones import create_backbone
from probekit.backbones.archs import ARCHS, build_model
from probekit.backbones.checkpoint import load_checkpoint
from probekit.cli import cli
from probekit.data import create_dataset
from probekit.errors import ConfigError
from probekit.train import TrainConfig, load_split, read_metrics, read_summary, train
from probekit.train.data import epoch_order, split_indices

# A run that takes about a second: 240 images, the paper's MLP, batches of 32.
TINY = dict(dataset="dsprites", target="shape", arch="mlp", limit=240, epochs=2, batch_size=32, seed=1)


def cli_run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    return train(TrainConfig(**TINY, out=str(out)), progress=False)


# -- pure parts ---------------------------------------------------------------------------------------
def test_config_defaults_are_the_papers_and_validated():
    c = TrainConfig()
    assert (c.epochs, c.batch_size, c.lr, c.val_fraction, c.test_fraction, c.target_val_acc) == (
        100, 4096, 1e-3, 0.1, 0.1, 0.999)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert c.differences(c.replace(lr=0.1, device="cpu")) == ["lr"]  # device may change on resume
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="unknown training config keys"):
        TrainConfig.from_dict({**c.to_dict(), "momentum": 0.9})


def test_split_is_seeded_disjoint_and_covers_every_row():
    s = split_indices(1000, val_fraction=0.1, test_fraction=0.1, seed=3)
    assert [len(s[k]) for k in ("train", "val", "test")] == [800, 100, 100]
    allrows = np.concatenate(list(s.values()))
    assert len(np.unique(allrows)) == 1000 and allrows.min() == 0 and allrows.max() == 999
    again = split_indices(1000, val_fraction=0.1, test_fraction=0.1, seed=3)
    assert all(np.array_equal(s[k], again[k]) for k in s)
    other = split_indices(1000, val_fraction=0.1, test_fraction=0.1, seed=4)
    assert not np.array_equal(s["test"], other["test"])


def test_epoch_order_depends_only_on_seed_and_epoch():
    a = epoch_order(50, seed=0, epoch=3)
    assert np.array_equal(a, epoch_order(50, seed=0, epoch=3)) and sorted(a) == list(range(50))
    assert not np.array_equal(a, epoch_order(50, seed=0, epoch=4))


def test_batches_are_exactly_what_ckpt_extraction_feeds():
    from probekit.backbones.checkpoint import train_preprocessing
    from probekit.train.data import TrainData, make_batch

    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    data = TrainData(dataset=None, target="t", class_names=("a", "b"), images=images,
                     labels=torch.arange(6) % 2, rows={}, index=np.arange(6))
    pre = train_preprocessing({"image_size": 8, "in_channels": 3})
    x, y = make_batch(data, np.array([4, 1]), preprocessing=pre, device=torch.device("cpu"), channels_last=True)
    assert torch.equal(x, pre(images[[4, 1]])) and x.is_contiguous(memory_format=torch.channels_last)
    assert y.tolist() == [0, 1]


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_archs_expose_head_and_layers(arch):
    m = build_model(arch, in_channels=3, image_size=64, n_classes=5)
    modules = dict(m.named_modules())
    assert m.head_name in modules and all(l in modules for l in m.layer_names)
    assert modules[m.head_name].in_features == m.feature_dim
    assert m(torch.rand(2, 3, 64, 64)).shape == (2, 5)


# -- a tiny run ---------------------------------------------------------------------------------------
def test_run_directory_split_and_metrics(tiny_run):
    s = read_summary(tiny_run)
    assert s["split_sizes"] == {"train": 192, "val": 24, "test": 24} and s["epochs_run"] == 2
    assert 0.0 <= s["test_acc"] <= 1.0 and s["extract_command"].startswith(f"probekit extract ckpt:{tiny_run}")
    split = load_split(tiny_run)
    ds = create_dataset("dsprites", limit=240, seed=1)
    allidx = np.concatenate([split[k] for k in ("train", "val", "test")])
    assert len(np.unique(allidx)) == 240 and set(allidx) == set(ds.indices)  # disjoint, covers the subset
    blob = load_checkpoint(tiny_run)
    assert all(np.array_equal(blob["split"][k].numpy(), split[k]) for k in split)
    assert blob["config"] == TrainConfig(**TINY, out=str(tiny_run)).to_dict()
    assert blob["progress"]["complete"] and blob["progress"]["step"] == 12
    assert [r["epoch"] for r in read_metrics(tiny_run)] == [1, 2]
    assert json.loads((tiny_run / "run.json").read_text())["model_args"]["arch"] == "mlp"


def test_ckpt_backbone_features_equal_the_trained_penultimate_layer(tiny_run):
    bb = create_backbone(f"ckpt:{tiny_run}")
    assert bb.layer_names == ["block1", "block2", "block3", "penultimate"]
    assert bb.weights.startswith("ckpt:") and "sha256=" in bb.weights
    assert bb.preprocessing.input_size == 64 and bb.preprocessing.channels == 1
    ds = create_dataset("dsprites", limit=240, seed=1)
    _, images = ds[list(range(16))]
    with torch.no_grad():
        feats = bb.forward_layers(bb.preprocessing(images), ["penultimate"])["penultimate"]
        blob = load_checkpoint(tiny_run)
        model = build_model(**blob["model_args"])
        model.load_state_dict(blob["model"])
        model.eval()
        x = images.float() / 255.0                      # what training fed the model
        direct = model.block3(model.block2(model.block1(model.flatten(x))))
    assert torch.equal(feats, direct)
    untrained = create_backbone(f"ckpt:{tiny_run}", weights="none", seed=0)
    assert untrained.weights == "random-init(seed=0)"


def test_extract_ckpt_end_to_end(tiny_run, in_tmp):
    from probekit.store import FeatureStore

    r = cli_run("extract", f"ckpt:{tiny_run}", "--dataset", "dsprites", "--limit", "240", "--seed", "1",
                "--out", "ckpt.h5", "--quiet", "--batch-size", "64")
    assert r.exit_code == 0, r.output
    bb = create_backbone(f"ckpt:{tiny_run}")
    ds = create_dataset("dsprites", limit=240, seed=1)
    with FeatureStore.open(in_tmp / "ckpt.h5") as s, torch.no_grad():
        assert s.complete and s.n_rows == 240
        _, images = ds[list(range(240))]
        direct = bb.forward_layers(bb.preprocessing(images), ["penultimate"])["penultimate"].numpy()
        np.testing.assert_allclose(s.read_features("penultimate"), direct, rtol=1e-6, atol=1e-6)
        test = np.isin(s.index, load_split(tiny_run)["test"])  # rows of the held-out split
        assert test.sum() == 24


def test_conv_arch_in_bf16_trains_and_loads(in_tmp):
    cfg = TrainConfig(dataset="color-dsprites", target="color", arch="convnet-small", limit=40, epochs=1,
                      batch_size=16, precision="bf16", out="bf16")
    run_dir = train(cfg, progress=False)
    assert read_summary(run_dir)["class_names"] == ["white", "red", "green", "blue", "yellow", "magenta"]
    bb = create_backbone(f"ckpt:{run_dir}")
    assert bb.preprocessing.channels == 3 and bb.layer_names[-1] == "penultimate"
    _, images = create_dataset("color-dsprites", limit=40, seed=0)[[0, 1]]
    with torch.no_grad():
        assert bb.forward_layers(bb.preprocessing(images), ["penultimate"])["penultimate"].shape == (2, 128)


# -- the CLI ------------------------------------------------------------------------------------------
def _one_line_error(r, *fragments):
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("probekit: error:"), r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["--target", "shap"], ["--target 'shap' is not a factor of dsprites", "'shape'", "classifiable factors"]),
    (["--target", "scale"], ["is continuous", "cross-entropy", "shape"]),
    (["--target", "orientation"], ["is periodic", "shape"]),
    (["--target", "color"], ["has a single value", "shape"]),
    (["--dataset", "dsprite"], ["unknown dataset 'dsprite'"]),
    (["--batch-size", "0"], ["batch_size must be a positive integer, got 0"]),
    (["--limit", "100", "--full"], ["--full and --limit exclude each other"]),
])
def test_bad_input_is_one_line_with_exit_2(in_tmp, args, fragments):
    limit = [] if "--limit" in args else ["--limit", "100"]
    _one_line_error(cli_run("train", "--quiet", *limit, *args), *fragments)


def test_cli_trains_refuses_to_overwrite_and_checks_resume(in_tmp):
    args = ["train", "--arch", "linear", "--limit", "60", "--epochs", "1", "--batch-size", "16", "--out", "runs/a"]
    r = cli_run(*args, "--quiet")
    assert r.exit_code == 0, r.output + r.stderr
    assert "next: probekit extract ckpt:runs/a --dataset dsprites --limit 60 --seed 0" in r.output
    assert "test acc" in r.output and "checkpoint: runs/a/checkpoint.pt" in r.output
    _one_line_error(cli_run(*args), "runs/a already holds a training run", "--resume")
    _one_line_error(cli_run("train", "--out", "runs/a", "--resume", "--lr", "0.1", "--epochs", "2"),
                    "different config", "epochs: run has 1, got 2", "lr: run has 0.001, got 0.1")
    (in_tmp / "runs/a/summary.json").unlink()  # as if killed between the last checkpoint and the summary
    r = cli_run("train", "--out", "runs/a", "--resume", "--quiet")  # finished run: summary again
    assert r.exit_code == 0 and "trained linear on dsprites/shape" in r.output
    _one_line_error(cli_run("train", "--out", "runs/none", "--resume"), "nothing to resume in runs/none")
    (in_tmp / "runs/a/checkpoint.pt").write_bytes(b"not a checkpoint")
    _one_line_error(cli_run("train", "--out", "runs/a", "--resume"), "cannot read checkpoint", "corrupt")
    _one_line_error(cli_run("extract", "ckpt:runs/a", "--quiet"), "cannot read checkpoint")
