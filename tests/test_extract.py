"""Extraction: store == direct forward pass, batch-size invariance, kill-and-resume, refusals."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
import torchvision

from probekit import extract_features
from probekit.data import create_dataset
from probekit.errors import ConfigError, StoreError
from probekit.store import FeatureStore

SMALL = dict(weights="none", image_size=32, progress=False)


def test_store_features_equal_a_direct_forward_pass(in_tmp):
    """Seeded random-init resnet18 built by hand with torchvision: same images, same preprocessing."""
    path = extract_features("resnet18", "color-dsprites", limit=24, seed=3, batch_size=8,
                            layers="layer3,penultimate", out="r18.h5", **SMALL)
    ds = create_dataset("color-dsprites", limit=24, seed=3)
    torch.manual_seed(3)
    model = torchvision.models.resnet18().eval()
    captured = {}
    model.layer3.register_forward_hook(lambda m, i, o: captured.__setitem__("layer3", o))
    _, images = ds[list(range(24))]
    x = images.float() / 255.0
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        trunk = torch.nn.Sequential(*list(model.children())[:-1])
        penultimate = trunk((x - mean) / std).flatten(1)
    with FeatureStore.open(path) as s:
        assert s.complete and s.layers == ["layer3", "penultimate"]
        np.testing.assert_allclose(s.read_features("penultimate"), penultimate.numpy(), atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(s.read_features("layer3"), captured["layer3"].mean(dim=(2, 3)).numpy(),
                                   atol=1e-5, rtol=1e-4)
        np.testing.assert_array_equal(s.index, ds.indices)
        np.testing.assert_array_equal(s.factor_values("color"), ds.factor_values()["color"])
        meta = s.meta
    assert meta["weights"] == "random-init(seed=3)" and meta["pooling"] == "auto"
    assert meta["preprocessing"]["resize"] == "64x64->32x32 bilinear"
    assert meta["subset"]["n"] == 24 and meta["library_versions"]["torch"] == torch.__version__


def test_batch_size_1_equals_batch_size_32(in_tmp):
    a = extract_features("resnet18", limit=40, batch_size=1, out="b1.h5", **SMALL)
    b = extract_features("resnet18", limit=40, batch_size=32, out="b32.h5", **SMALL)
    with FeatureStore.open(a) as sa, FeatureStore.open(b) as sb:
        np.testing.assert_allclose(sa.read_features("penultimate"), sb.read_features("penultimate"), atol=1e-5, rtol=1e-4)
        assert sa.fingerprint == sb.fingerprint  # batch size does not change what the store means


def test_controls_and_float16(in_tmp):
    p = extract_features("pixels", "dsprites", limit=10, out="px.h5", progress=False)
    with FeatureStore.open(p) as s:
        X = s.read_features("penultimate")
        imgs = create_dataset("dsprites", limit=10).load_images(np.arange(10)).reshape(10, -1).numpy() / 255.0
        np.testing.assert_allclose(X, imgs, atol=1e-6)
    p = extract_features("random-projection", limit=10, out="rp.h5", dtype="float16", progress=False)
    with FeatureStore.open(p) as s:
        assert s.read_features("penultimate").dtype == np.float16 and s.layer_dim("penultimate") == 2048


def test_existing_output_is_never_touched_without_a_flag(in_tmp):
    path = extract_features("resnet18", limit=8, out="x.h5", **SMALL)
    before = (path.stat().st_mtime_ns, path.read_bytes())
    with pytest.raises(StoreError, match="already exists; pass --resume"):
        extract_features("resnet18", limit=8, out="x.h5", **SMALL)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    extract_features("resnet18", limit=8, out="x.h5", resume=True, **SMALL)       # complete: a no-op
    assert path.read_bytes() == before[1]
    extract_features("resnet18", limit=8, out="x.h5", overwrite=True, seed=1, **SMALL)
    with FeatureStore.open(path) as s:
        assert s.meta["seed"] == 1


def test_resume_with_other_settings_names_the_differing_keys(in_tmp):
    extract_features("resnet18", limit=8, out="x.h5", **SMALL)
    with pytest.raises(StoreError, match=r"different .*layers"):
        extract_features("resnet18", limit=8, out="x.h5", resume=True, layers="layer4", **SMALL)
    with pytest.raises(StoreError, match=r"different .*weights"):
        extract_features("resnet18", limit=8, out="x.h5", resume=True, weights="none", seed=5, image_size=32,
                         progress=False)


@pytest.mark.parametrize("bad", [dict(limit=0), dict(limit=-3), dict(batch_size=0), dict(dtype="int8"),
                                 dict(resume=True, overwrite=True), dict(pool="max")])
def test_bad_options_are_refused(in_tmp, bad):
    kw = {**SMALL, "limit": 8, "out": "bad.h5", **bad}
    with pytest.raises((ConfigError, KeyError)):
        extract_features("resnet18", **kw)
    assert not os.path.exists("bad.h5")


def _cli(*args):
    return [sys.executable, "-m", "probekit", "extract", "resnet18", "--weights", "none", "--image-size", "32",
            "--dataset", "color-dsprites", *args]


def _kill_after(proc, rows, n_total):
    """Read tqdm's progress from stderr and SIGKILL the process once ``rows`` rows are past."""
    seen = []

    def reader():
        buf = ""
        fd = proc.stderr.fileno()
        while True:
            # whatever is available, not one character at a time: a reader that lags behind tqdm can
            # see the kill point only after the process has finished
            chunk = os.read(fd, 4096).decode(errors="replace")
            if not chunk:
                return
            buf = (buf + chunk)[-400:]
            m = re.findall(rf"(\d+)/{n_total}", buf)
            if m:
                seen.append(int(m[-1]))
                if int(m[-1]) >= rows:
                    os.kill(proc.pid, signal.SIGKILL)
                    return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    proc.wait(timeout=240)
    t.join(timeout=5)
    return max(seen, default=0)


@pytest.mark.parametrize("kill_at_rows", [24, 64])
def test_sigkill_then_resume_equals_uninterrupted(in_tmp, kill_at_rows):
    # tqdm redraws every 0.1 s, i.e. every 20-30 rows at this size, and the reader may be scheduled late:
    # the kill must land hundreds of rows before the end, or the run can finish its last batch first
    n = 480
    args = ["--limit", str(n), "--batch-size", "8", "--seed", "2"]
    proc = subprocess.Popen(_cli(*args, "--out", "killed.h5"), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    reached = _kill_after(proc, kill_at_rows, n)
    assert proc.returncode == -signal.SIGKILL, f"process ended before the kill ({reached} rows)"
    with FeatureStore.open("killed.h5") as s:       # a killed store is well-formed, incomplete, and says so
        assert not s.complete and 0 < s.n_written < n
    resumed = subprocess.run(_cli(*args, "--out", "killed.h5", "--resume", "--quiet"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    full = subprocess.run(_cli(*args, "--out", "full.h5", "--quiet"), capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    with FeatureStore.open("killed.h5") as a, FeatureStore.open("full.h5") as b:
        assert a.complete and a.n_written == n
        np.testing.assert_array_equal(a.read_features("penultimate"), b.read_features("penultimate"))
        np.testing.assert_array_equal(a.index, b.index)


def test_sigkill_at_a_random_early_moment_then_resume(in_tmp):
    """Killed possibly before the store even exists: --resume must still finish it."""
    args = ["--limit", "48", "--batch-size", "8"]
    proc = subprocess.Popen(_cli(*args, "--out", "early.h5", "--quiet"))
    time.sleep(np.random.default_rng().uniform(1.0, 4.0))
    proc.kill()
    proc.wait()
    done = subprocess.run(_cli(*args, "--out", "early.h5", "--resume", "--quiet"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with FeatureStore.open("early.h5") as s:
        assert s.complete and s.n_written == 48


def test_a_second_extraction_into_a_held_output_is_refused(in_tmp):
    extract_features("resnet18", limit=8, out="held.h5", **SMALL)
    holder = subprocess.Popen([sys.executable, "-c",
                               "import h5py,time; f=h5py.File('held.h5','r+'); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for flag in ("resume", "overwrite"):
            with pytest.raises(StoreError, match="locked"):
                extract_features("resnet18", limit=8, out="held.h5", **{flag: True}, **SMALL)
        assert os.path.exists("held.h5")
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("workers", [0, 1])
def test_an_unreadable_image_names_file_and_index_and_leaves_the_store_incomplete(in_tmp, workers):
    from test_image_table import write_table

    csv = write_table(in_tmp, n=12, broken=9)
    with pytest.raises(Exception) as info:
        extract_features("resnet18", create_dataset(f"csv:{csv}", size=16), weights="none", image_size=32,
                         batch_size=4, num_workers=workers, out="bad.h5", progress=False)
    message = str(info.value)
    assert "img_9.png (sample index 9)" in message and "\n" not in message and "Traceback" not in message
    with FeatureStore.open("bad.h5") as s:
        assert not s.complete and s.n_written == 8
