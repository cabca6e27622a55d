"""The HDF5 feature store: schema, plain-h5py readability, and refusal of foreign/corrupt/locked files."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from probekit.data import create_dataset, parent_indices
from probekit.errors import StoreError
from probekit.store import FeatureStore, differing_keys, fingerprint


def make_store(path, n=40, dims=None, meta=None):
    ds = create_dataset("color-dsprites", limit=n, seed=0)
    dims = dims or {"layer4": 8, "penultimate": 16}
    s = FeatureStore.create(path, layer_dims=dims, factors=ds.factors, factor_values=ds.factor_values(),
                            index=parent_indices(ds), meta=meta or {"backbone": "toy", "layers": list(dims)},
                            chunk_rows=16)
    rng = np.random.default_rng(0)
    feats = {k: rng.normal(size=(n, d)).astype(np.float32) for k, d in dims.items()}
    for start in range(0, n, 16):
        s.write_rows(start, {k: v[start:start + 16] for k, v in feats.items()})
        s.commit(min(n, start + 16))
    s.mark_complete()
    s.close()
    return ds, feats


def test_roundtrip_and_plain_h5py(tmp_path):
    path = tmp_path / "s.h5"
    ds, feats = make_store(path)
    with FeatureStore.open(path) as s:
        assert s.complete and s.n_written == s.n_rows == 40
        assert s.layers == ["layer4", "penultimate"]
        np.testing.assert_array_equal(s.read_features("penultimate"), feats["penultimate"])
        np.testing.assert_array_equal(s.read_features("layer4", slice(5, 9)), feats["layer4"][5:9])
        t = s.read_features("layer4", np.array([1, 3]), as_torch=True)
        assert tuple(t.shape) == (2, 8)
        np.testing.assert_array_equal(s.index, ds.indices)
        assert s.factor_specs["shape"].class_names == ("square", "ellipse", "heart")
        assert s.factor_specs["orientation"].period == pytest.approx(2 * np.pi)
        assert s.factor_specs["scale"].aliases == ("size", "object_size")
        for name, v in ds.factor_values().items():
            np.testing.assert_array_equal(s.factor_values(name), v)
        assert s.meta["backbone"] == "toy" and s.fingerprint == fingerprint(s.meta)
    with h5py.File(path, "r") as f:  # a plain h5py session, no probekit
        assert f["features/penultimate"].shape == (40, 16)
        assert f["features/penultimate"].chunks[0] == 16
        assert f["factors/shape"].attrs["kind"] == "categorical"
        assert int(f.attrs["n_written"]) == 40 and int(f.attrs["complete"]) == 1


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="hdf5-tools (h5ls/h5dump) not installed")
def test_h5ls_and_h5dump_read_the_store(tmp_path):
    path = tmp_path / "s.h5"
    make_store(path)
    ls = subprocess.run(["h5ls", "-r", str(path)], capture_output=True, text=True, check=True).stdout
    assert "/features/penultimate" in ls and "Dataset {40, 16}" in ls and "/factors/scale" in ls
    dump = subprocess.run(["h5dump", "-A", str(path)], capture_output=True, text=True, check=True).stdout
    assert 'ATTRIBUTE "n_written"' in dump and 'ATTRIBUTE "meta.backbone"' in dump


def test_refuses_files_that_are_not_stores(tmp_path):
    with pytest.raises(StoreError, match="no feature store"):
        FeatureStore.open(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(StoreError, match="not a readable HDF5 file"):
        FeatureStore.open(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(StoreError, match="not a probekit feature store"):
        FeatureStore.open(tmp_path / "other.h5")


def test_refuses_truncated_and_newer_schema(tmp_path):
    path = tmp_path / "s.h5"
    make_store(path)
    data = path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="truncated|not a readable|corrupt"):
        with FeatureStore.open(tmp_path / "cut.h5") as s:
            s.read_features("penultimate")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(StoreError, match="schema version 99"):
        FeatureStore.open(path)


def test_a_store_held_by_a_writer_is_reported_as_locked(tmp_path):
    path = tmp_path / "s.h5"
    make_store(path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import h5py, sys, time
        f = h5py.File({str(path)!r}, "r+")
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="locked by another process"):
            FeatureStore.open(path, "r+")
    finally:
        holder.kill()
        holder.wait()


def test_unknown_layer_and_factor_list_the_available_ones(tmp_path):
    path = tmp_path / "s.h5"
    make_store(path)
    with FeatureStore.open(path) as s:
        with pytest.raises(KeyError, match="did you mean 'layer4'"):
            s.read_features("layer5")
        with pytest.raises(KeyError, match="factor 'colour'"):
            s.factor_values("colour")


def test_fingerprint_diff_names_keys():
    a = {"backbone": "resnet18", "layers": ["penultimate"], "seed": 0}
    b = {"backbone": "resnet50", "layers": ("penultimate",), "seed": 0}
    assert differing_keys(a, b) == ["backbone"]
    assert fingerprint(a) != fingerprint(b)
