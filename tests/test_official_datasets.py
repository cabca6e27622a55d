"""Readers of the official dataset files, driven through create_dataset on small official-layout files.

See tests/official_fixtures.py for how each small file keeps the official layout.
"""
from __future__ import annotations

import math
import pickle
import zipfile

import numpy as np
import pytest
import torch

import official_fixtures as fx
from dataset_contract import check_dataset_contract
from probekit.data import DATASETS, create_dataset, list_datasets
from probekit.errors import ConfigError, DataError

OFFICIAL = [n for n in list_datasets() if DATASETS.get(n).__module__.startswith("probekit.data.official")]


def imagenet_files(n=6):
    """Annotated val file names (sorted) with classes on both sides of 498 and 500, and 498 or 499."""
    from probekit.data.official.imagenet_x import load_annotations

    table = load_annotations("top", "val", False)
    cls = table["class"].to_numpy()
    picks = [np.flatnonzero(cls < 300)[0], np.flatnonzero((cls >= 498) & (cls < 500))[0],
             np.flatnonzero(cls >= 700)[0], np.flatnonzero(cls == 497)[0]]
    picks += [i for i in range(len(table)) if i not in picks][: n - len(picks)]
    return table.iloc[sorted(picks)]


def build(name, tmp_path):
    """Write the small official-layout file(s) for ``name``; return the create_dataset options."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    if name == "dsprites-file":
        return {"root": fx.write_dsprites(tmp_path)[0]}
    if name == "shapes3d":
        return {"root": fx.write_shapes3d(tmp_path)[0]}
    if name.startswith("mpi3d-"):
        return {"root": fx.write_mpi3d(tmp_path, name.split("-")[1]), "sizes": fx.MPI3D_SMALL_SIZES}
    if name == "cars3d":
        return {"root": fx.write_cars3d(tmp_path), "size": 32}
    if name == "smallnorb":
        fx.write_smallnorb(tmp_path)
        return {"root": tmp_path, "split": "all"}
    if name == "imagenet-x":
        pytest.importorskip("imagenet_x")
        fx.write_imagenet_val(tmp_path / "val", imagenet_files()["file_name"].tolist())
        return {"root": tmp_path / "val", "missing": "skip", "size": 32}
    raise AssertionError(f"no official-layout fixture for registered dataset {name!r}: add one to build()")


def test_every_official_reader_is_registered():
    assert set(OFFICIAL) == {"dsprites-file", "shapes3d", "mpi3d-toy", "mpi3d-realistic", "mpi3d-real", "cars3d",
                             "smallnorb", "imagenet-x"}


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_dataset_contract(name, tmp_path):
    """The checks of tests/test_datasets.py::test_dataset_contract, on each reader's small file."""
    ds = create_dataset(name, **build(name, tmp_path))
    idx, images = check_dataset_contract(ds)
    all_values = ds.factor_values()
    assert all(len(v) == len(ds) for v in all_values.values())
    assert ds.dataset_id() == create_dataset(name, **build(name, tmp_path / "again")).dataset_id()
    restored = pickle.loads(pickle.dumps(ds))  # DataLoader workers get a copy without open handles
    assert torch.equal(restored.load_images(idx), images)


@pytest.mark.parametrize("name", OFFICIAL)
def test_missing_file_names_the_official_file_and_never_downloads(name, tmp_path, monkeypatch):
    monkeypatch.delenv("PROBEKIT_DATA", raising=False)
    for root in (None, tmp_path / "nowhere", tmp_path):
        with pytest.raises(DataError, match="never downloads"):
            create_dataset(name, root=root)


def test_shared_factor_vocabulary_resolves_on_every_dataset(tmp_path):
    expect = {"dsprites-file": {"color": "color", "scale": "scale", "category": "shape", "posX": "posX"},
              "shapes3d": {"color": "object_hue", "scale": "scale", "category": "shape", "azimuth": "orientation"},
              "mpi3d-toy": {"color": "object_color", "scale": "object_size", "category": "object_shape",
                            "posX": "horizontal_axis", "posY": "vertical_axis"},
              "cars3d": {"category": "object_type", "orientation": "azimuth"},
              "smallnorb": {"category": "category", "orientation": "azimuth"}}
    for name, pairs in expect.items():
        ds = create_dataset(name, **build(name, tmp_path / name))
        assert ds.resolve_factors(",".join(pairs)) == list(pairs.values()), name


# -- dSprites ------------------------------------------------------------------------------------------
def test_dsprites_rows_follow_the_file_posy_fastest(tmp_path):
    path, codes, imgs = fx.write_dsprites(tmp_path)
    ds = create_dataset("dsprites-file", root=path)
    v = ds.factor_values()
    n_y = len(fx.DSPRITES_SUBGRID[5])
    assert np.all(np.diff(v["posY"][:n_y]) > 0) and np.all(v["posX"][:n_y] == v["posX"][0])
    assert v["posX"][n_y] > v["posX"][0] and v["posY"][n_y] == v["posY"][0]
    np.testing.assert_array_equal(v["shape"], codes[:, 1])
    np.testing.assert_array_equal(v["orientation"], fx.ORIENTATIONS[codes[:, 3]])
    assert v["orientation"].max() == pytest.approx(2 * math.pi)  # official grid: 0 and 2*pi both present
    assert ds.factor_specs["orientation"].kind == "periodic"
    rows = np.array([len(ds) - 1, 0, 7, 7])  # unsorted, repeated
    np.testing.assert_array_equal(ds.load_images(rows)[:, 0].numpy(), imgs[rows] * 255)
    assert set(np.unique(ds.load_images(np.arange(len(ds))).numpy())) == {0, 255}


def test_dsprites_stored_and_compressed_archives_read_the_same(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    packed = create_dataset("dsprites-file", root=fx.write_dsprites(tmp_path / "a", compressed=True)[0])
    mapped = create_dataset("dsprites-file", root=fx.write_dsprites(tmp_path / "b", compressed=False)[0])
    assert packed.member.compressed and not mapped.member.compressed
    idx = np.arange(len(packed))[::-1]
    assert torch.equal(packed.load_images(idx), mapped.load_images(idx))


def test_dsprites_metadata_is_a_py2_pickle_read_only_on_request(tmp_path):
    path, _, _ = fx.write_dsprites(tmp_path)
    with zipfile.ZipFile(path) as zf:
        raw = zf.read("metadata.npy")
    with np.load(path, allow_pickle=True) as z, pytest.raises(UnicodeError):  # the trap: default encoding
        z["metadata"]
    with np.load(path, allow_pickle=True, encoding="bytes") as z:
        assert b"latents_sizes" in z["metadata"][()]                                  # keys come back as bytes
    ds = create_dataset("dsprites-file", root=path)
    assert ds.metadata is None, "metadata must not be unpickled by default"
    ds = create_dataset("dsprites-file", root=path, read_metadata=True)
    assert list(ds.metadata["latents_sizes"]) == [1, 3, 6, 40, 32, 32] and "latents_names" in ds.metadata
    # a metadata pickle that runs code (here: creates a file) is never unpickled unless asked for
    marker = tmp_path / "pwned"
    payload = f"c__builtin__\nopen\n(S{str(marker)!r}\nS'w'\ntR.".encode()
    evil = tmp_path / "evil" / fx.DSPRITES_FILE
    evil.parent.mkdir()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(evil, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item) if item.filename != "metadata.npy" else raw[:raw.index(b"\x80\x02")] + payload
            zout.writestr(item, data)
    ds = create_dataset("dsprites-file", root=evil)
    ds.load_images(np.arange(3))
    assert len(ds) == len(fx.dsprites_rows()) and not marker.exists()
    with pytest.raises(DataError, match="metadata"):
        create_dataset("dsprites-file", root=evil, read_metadata=True)
    assert marker.exists(), "the payload is live: read_metadata=True is for trusted files only"


def test_dsprites_values_off_the_official_grid_fail(tmp_path):
    path, codes, _ = fx.write_dsprites(tmp_path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in ("imgs", "latents_values", "latents_classes")}
    arrays["latents_values"][3, 3] += 0.05
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="orientation .* does not match the official grid"):
        create_dataset("dsprites-file", root=path)


# -- Shapes3D ------------------------------------------------------------------------------------------
def test_shapes3d_discretises_with_unique_not_float_division(tmp_path):
    path, codes, labels = fx.write_shapes3d(tmp_path)
    # the fixture bites: float-division binning merges distinct orientation and scale values
    for j in (3, 5):
        grid = fx.SHAPES3D_GRIDS[j]
        naive = np.floor((labels[:, j] - grid[0]) / ((grid[-1] - grid[0]) / (len(grid) - 1))).astype(int)
        assert len(np.unique(naive)) < len(np.unique(labels[:, j])), "fixture must break float division"
    ds = create_dataset("shapes3d", root=path)
    v = ds.factor_values()
    assert len(np.unique(v["orientation"])) == 15 and len(np.unique(v["scale"])) == 8
    np.testing.assert_array_equal(v["orientation"], np.linspace(-30, 30, 15)[codes[:, 5]])
    np.testing.assert_array_equal(v["scale"], np.linspace(0.75, 1.25, 8)[codes[:, 3]])
    np.testing.assert_array_equal(v["shape"], codes[:, 4])
    np.testing.assert_allclose(v["floor_hue"], codes[:, 0] / 10)
    assert ds.factor_specs["object_hue"].kind == "periodic" and ds.factor_specs["object_hue"].period == 1.0


def test_shapes3d_reads_lazily_in_any_index_order(tmp_path):
    path, _, _ = fx.write_shapes3d(tmp_path)
    ds = create_dataset("shapes3d", root=path)
    for idx in (np.array([200, 3, 3, 150, 0]), np.arange(10, 20)[::-1], np.array([len(ds) - 1])):
        img = ds.load_images(idx).numpy()
        np.testing.assert_array_equal(img[:, 0, 0, 0].astype(int) + 256 * img[:, 1, 0, 0].astype(int), idx)


def test_shapes3d_merging_labels_refuse(tmp_path):
    import h5py

    path, _, labels = fx.write_shapes3d(tmp_path)
    with h5py.File(path, "r+") as f:
        bad = f["labels"][()]
        bad[0, 3] = bad[0, 3] + 1e-4  # a second distinct value at the same scale
        f["labels"][...] = bad
    with pytest.raises(DataError, match="refusing to merge"):
        create_dataset("shapes3d", root=path)


# -- MPI3D ---------------------------------------------------------------------------------------------
def test_mpi3d_labels_follow_c_order_rows(tmp_path):
    ds = create_dataset("mpi3d-real", root=fx.write_mpi3d(tmp_path, "real"), sizes=fx.MPI3D_SMALL_SIZES)
    v = ds.factor_values()
    assert list(v["vertical_axis"][:4]) == [0, 1, 2, 0] and list(v["horizontal_axis"][:4]) == [0, 0, 0, 1]
    assert v["object_color"][len(ds) // 2] == 1 and v["object_color"][len(ds) // 2 - 1] == 0
    idx = np.array([5, 2, 2, 23])
    np.testing.assert_array_equal(ds.load_images(idx)[:, 0, 0, 0].numpy(), idx)


def test_mpi3d_row_count_must_match_sizes_naming_the_old_toy_release(tmp_path):
    path = fx.write_mpi3d(tmp_path, "toy", n=5)
    with pytest.raises(DataError, match=r"holds 5 images .*\(6, 6, 2, 3, 3, 40, 40\).*\(4, 4, 2, 3, 3, 40, 40\)"):
        create_dataset("mpi3d-toy", root=path)
    with pytest.raises(ConfigError, match="sizes"):
        create_dataset("mpi3d-toy", root=path, sizes=(5,))


def test_mpi3d_compressed_archive_explains_the_conversion(tmp_path):
    from probekit.data.official import uncompress_npz

    path = fx.write_mpi3d(tmp_path, "toy", compressed=True)
    with pytest.raises(DataError, match="compressed.*uncompress_npz"):
        create_dataset("mpi3d-toy", root=path, sizes=fx.MPI3D_SMALL_SIZES)
    (tmp_path / "stored").mkdir()
    stored = uncompress_npz(path, tmp_path / "stored" / "mpi3d_toy.npz")
    ds = create_dataset("mpi3d-toy", root=stored, sizes=fx.MPI3D_SMALL_SIZES)
    np.testing.assert_array_equal(ds.load_images(np.arange(24))[:, 0, 0, 0].numpy(), np.arange(24))


# -- Cars3D --------------------------------------------------------------------------------------------
def test_cars3d_orders_cars_by_list_txt(tmp_path):
    ds = create_dataset("cars3d", root=fx.write_cars3d(tmp_path), size=16)
    assert ds.factor_specs["object_type"].class_names == fx.CARS_LIST
    assert len(ds) == 3 * 96 and ds.image_shape == (3, 16, 16)
    idx = np.array([0, 95, 96, 2 * 96 + 24 + 5])
    img = ds.load_images(idx).numpy()[:, :, 8, 8]                         # (B, 3) centre pixel
    cars = [int(fx.CARS_LIST[i].split("_")[1]) for i in ds.factor_values(idx)["object_type"]]
    assert cars == [3, 3, 1, 2], "rows follow list.txt, not sorted names"
    np.testing.assert_array_equal(img[:, 0], [fx.car_value(c) for c in cars])
    v = ds.factor_values(idx)
    np.testing.assert_array_equal(img[:, 1], v["azimuth"] / 15 * 10)      # green = azimuth step * 10
    np.testing.assert_array_equal(img[:, 2], v["elevation"] * 60)         # blue = elevation step * 60
    assert ds.factor_specs["azimuth"].kind == "periodic" and v["azimuth"][-1] == 75.0


def test_cars3d_missing_car_file_is_named(tmp_path):
    root = fx.write_cars3d(tmp_path)
    (root / "data" / "cars" / "car_002_mesh.mat").unlink()
    with pytest.raises(DataError, match="car_002_mesh.mat"):
        create_dataset("cars3d", root=root)


# -- SmallNORB -----------------------------------------------------------------------------------------
def test_smallnorb_parses_magic_dims_and_halves_azimuth(tmp_path):
    rows = fx.write_smallnorb(tmp_path)
    cat_file = tmp_path / f"{fx.NORB_PREFIX['train']}-cat.mat"
    head = np.frombuffer(cat_file.read_bytes()[:20], dtype="<i4")
    assert list(head) == [0x1E3D4C54, 1, 10, 1, 1], "a 1-d matrix stores 3 dims"
    ds = create_dataset("smallnorb", root=tmp_path, size=96)
    cat, info = rows["train"]
    v = ds.factor_values()
    np.testing.assert_array_equal(v["category"], cat)
    np.testing.assert_array_equal(v["instance"], info[:, 0])
    np.testing.assert_array_equal(v["azimuth"], info[:, 2] / 2 * 20)
    assert v["azimuth"][1] == 340.0 and ds.factor_specs["azimuth"].period == 360.0
    np.testing.assert_array_equal(v["elevation"], 30 + 5 * info[:, 1])
    np.testing.assert_array_equal(v["lighting"], info[:, 3])
    np.testing.assert_array_equal(ds.load_images(np.array([3, 0]))[:, 0, 0, 0].numpy(), [4, 1])
    other = create_dataset("smallnorb", root=tmp_path, size=96, camera=1)
    assert other.load_images(np.array([3]))[0, 0, 0, 0] == 197
    both = create_dataset("smallnorb", root=tmp_path / f"{fx.NORB_PREFIX['test']}-dat.mat", split="all", size=96)
    assert len(both) == 16 and both.load_images(np.array([10]))[0, 0, 0, 0] == 1
    np.testing.assert_array_equal(both.factor_values(np.arange(10, 16))["category"], rows["test"][0])


def test_smallnorb_rejects_bad_magic_gzip_and_odd_azimuth(tmp_path):
    fx.write_smallnorb(tmp_path)
    info = tmp_path / f"{fx.NORB_PREFIX['train']}-info.mat"
    good = info.read_bytes()
    info.write_bytes(b"\x00\x00\x00\x00" + good[4:])
    with pytest.raises(DataError, match="magic number 0x0"):
        create_dataset("smallnorb", root=tmp_path)
    info.write_bytes(b"\x1f\x8b" + good[2:])
    with pytest.raises(DataError, match="gunzip"):
        create_dataset("smallnorb", root=tmp_path)
    arr = np.frombuffer(good[20:], dtype="<i4").reshape(-1, 4).copy()
    arr[2, 2] = 3
    fx.write_norb_matrix(info, arr)
    with pytest.raises(DataError, match="azimuth 3 at row 2 is odd"):
        create_dataset("smallnorb", root=tmp_path)
    with pytest.raises(ConfigError, match="split"):
        create_dataset("smallnorb", root=tmp_path, split="validation")


# -- ImageNet-X ----------------------------------------------------------------------------------------
def test_imagenet_x_annotations_come_from_the_package(tmp_path):
    pytest.importorskip("imagenet_x")
    from probekit.data.official.imagenet_x import load_annotations

    table = load_annotations("top", "val", False)
    assert len(table) == 46_110 and 899 not in set(table["class"])
    paper = {"pose": 15_064, "background": 14_751, "color": 6_150, "multiple_objects": 40, "style": 43}
    assert {k: int(table[k].sum()) for k in paper} == paper
    assert len(load_annotations("multi", "val", False)) == 46_110
    assert (load_annotations("multi", "val", False)[["pose", "color"]].sum(axis=1) > 1).any()
    assert len(load_annotations("top", "train", False)) == 11_233


def test_imagenet_x_class_split_at_the_mean_or_at_500(tmp_path):
    pytest.importorskip("imagenet_x")
    picked = imagenet_files()
    fx.write_imagenet_val(tmp_path, picked["file_name"].tolist())
    ds = create_dataset("imagenet-x", root=tmp_path, missing="skip", size=32)
    assert ds.names == picked["file_name"].tolist() and len(ds.factors) == 17
    assert ds.threshold == pytest.approx(497.687, abs=1e-3)          # the mean over the 46,110 rows
    cls = picked["class"].to_numpy()
    np.testing.assert_array_equal(ds.factor_values()["class"], (cls >= 498).astype(int))
    at_500 = create_dataset("imagenet-x", root=tmp_path, missing="skip", size=32, class_threshold=500)
    np.testing.assert_array_equal(at_500.factor_values()["class"], (cls >= 500).astype(int))
    assert not np.array_equal(ds.factor_values()["class"], at_500.factor_values()["class"])
    assert ds.dataset_id() != at_500.dataset_id()
    full = create_dataset("imagenet-x", root=tmp_path, missing="skip", size=32, class_threshold=None)
    np.testing.assert_array_equal(full.factor_values()["class"], cls)
    for f in picked.columns[2:18]:
        np.testing.assert_array_equal(ds.factor_values()[f], picked[f].to_numpy())
    img = ds.load_images(np.array([0]))
    assert img.shape == (1, 3, 32, 32) and abs(int(img[0, 1].float().mean()) - 100) <= 2


def test_imagenet_x_missing_folder_and_images(tmp_path, monkeypatch):
    pytest.importorskip("imagenet_x")
    monkeypatch.delenv("PROBEKIT_DATA", raising=False)
    with pytest.raises(DataError, match="no image folder at .*ILSVRC2012_val_00000001.JPEG.*never downloads"):
        create_dataset("imagenet-x", root=tmp_path / "val")
    with pytest.raises(DataError, match=r"46,110 of the 46,110 annotated images are not in .*never downloads"):
        create_dataset("imagenet-x", root=tmp_path, missing="skip")
    names = imagenet_files(4)["file_name"].tolist()
    fx.write_imagenet_val(tmp_path / "val", names)
    with pytest.raises(DataError, match=r"46,106 of the 46,110 annotated images are not in .*missing='skip'"):
        create_dataset("imagenet-x", root=tmp_path / "val")
    # the same images in class sub-folders (the layout of many ImageNet copies) are found too
    from probekit.data.official.imagenet_x import wordnet_ids

    for name, cls in zip(names, imagenet_files(4)["class"]):
        fx.write_imagenet_val(tmp_path / "nested" / wordnet_ids()[cls][0], [name])
    assert create_dataset("imagenet-x", root=tmp_path / "nested", missing="skip").names == names
    with pytest.raises(ConfigError, match="labels"):
        create_dataset("imagenet-x", root=tmp_path / "val", labels="best")


def test_imagenet_x_unreadable_image_names_file_and_index(tmp_path):
    pytest.importorskip("imagenet_x")
    names = imagenet_files(4)["file_name"].tolist()
    fx.write_imagenet_val(tmp_path, names, broken={names[2]})
    ds = create_dataset("imagenet-x", root=tmp_path, missing="skip")
    assert ds.load_images(np.array([0, 1])).shape == (2, 3, 224, 224)
    with pytest.raises(DataError, match=rf"{names[2]} \(sample index 2\)"):
        ds.load_images(np.array([1, 2]))
