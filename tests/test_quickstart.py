"""The README's main job, end to end at a tiny size: train -> extract (3 models) -> probe -> report."""
from __future__ import annotations

import json

from click.testing import CliRunner

from probekit.cli import cli
from probekit.store import FeatureStore


def test_quickstart_end_to_end_tiny(in_tmp):
    r = CliRunner().invoke(cli, ["quickstart", "--limit", "600", "--epochs", "1", "--seeds", "2", "--quiet",
                                 "--out", "qs"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = in_tmp / "qs"
    # every factor, for all three feature sets, side by side
    table = r.output[r.output.index("\nfactor  ") + 1:]
    header = table.splitlines()[0]
    for model in ("convnet-small trained on color-dsprites/shape", "convnet-small (random init)", "pixels"):
        assert model in header
    for factor in ("color", "shape", "scale", "orientation", "posX", "posY"):
        assert any(line.startswith(factor) for line in table.splitlines())
    # features come from the held-out test split the network never saw
    split = json.loads((out / "run" / "summary.json").read_text())["split_sizes"]
    with FeatureStore.open(out / "features" / "trained.h5") as s:
        assert s.complete and s.n_rows == split["test"]
    import numpy as np

    from probekit.backbones.checkpoint import load_split

    parts = load_split(out / "run")
    assert np.array_equal(np.sort(parts["test"]), FeatureStore.open(out / "features" / "pixels.h5").index)
    assert not set(parts["train"]) & set(parts["test"])
    blob = json.loads((out / "results" / "results.json").read_text())
    assert {m["model"] for m in blob["meta"]["stores"]} >= {"pixels"} and len(blob["meta"]["stores"]) == 3
    assert list((out / "results").glob("*.png"))
    # a second run resumes everything and does not retrain
    again = CliRunner().invoke(cli, ["quickstart", "--limit", "600", "--epochs", "1", "--seeds", "2", "--quiet",
                                     "--out", "qs"], catch_exceptions=False)
    assert again.exit_code == 0 and "time: train 0s" in again.output
