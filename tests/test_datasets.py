"""Contract tests for every registered dataset, and the geometry of procedural dSprites."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dataset_contract import check_dataset_contract

from probekit.data import DATASETS, create_dataset, list_datasets, random_subset
from probekit.data.dsprites import ORIENTATIONS, POSITIONS, SCALES, DSprites, color_dsprites
from probekit.errors import ConfigError, DataError, UnknownNameError

def _needs_files(name: str) -> bool:
    """File-backed readers need official files; tests/test_official_datasets.py drives them on fixtures."""
    try:
        create_dataset(name)
        return False
    except DataError:
        return True


BUILTIN = [n for n in list_datasets() if not n.endswith("<...>") and not _needs_files(n)]


@pytest.mark.parametrize("name", BUILTIN)
def test_dataset_contract(name):
    check_dataset_contract(create_dataset(name))


def test_unknown_dataset_and_factor_names_suggest_matches():
    with pytest.raises(UnknownNameError, match="did you mean 'dsprites'"):
        create_dataset("dsprite")
    ds = create_dataset("color-dsprites")
    with pytest.raises(UnknownNameError, match="factor 'scal'"):
        ds.resolve_factors("scal")
    assert ds.resolve_factors("colour,size") == ["color", "scale"]


def official_index(color, shape, scale, orientation, pos_x, pos_y, n_colors=1):
    """Row of the official file for latents_classes, written out as the nested loops of its C order."""
    return ((((color * 3 + shape) * 6 + scale) * 40 + orientation) * 32 + pos_x) * 32 + pos_y


def test_row_order_matches_official_grid():
    ds = DSprites()
    assert len(ds) == 737_280
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = [0, *rng.integers([3, 6, 40, 32, 32])]
        i = official_index(*c)
        np.testing.assert_array_equal(ds.factor_codes([i])[0], c)
        v = ds.factor_values([i])
        assert v["shape"][0] == c[1] and v["scale"][0] == SCALES[c[2]]
        assert v["orientation"][0] == ORIENTATIONS[c[3]]
        assert v["posX"][0] == POSITIONS[c[4]] and v["posY"][0] == POSITIONS[c[5]]
    # posY varies fastest: consecutive rows differ only in posY
    v = ds.factor_values(np.arange(33))
    assert np.all(np.diff(v["posY"][:32]) > 0) and v["posX"][31] == v["posX"][0] and v["posX"][32] > v["posX"][0]
    assert ORIENTATIONS[0] == 0.0 and ORIENTATIONS[-1] < 2 * math.pi


def _img(ds, **codes):
    order = ["color", "shape", "scale", "orientation", "posX", "posY"]
    c = np.array([[codes.get(k, 0) for k in order]])
    return ds.load_images(ds.grid.index(c))[0, 0].numpy() > 0


def test_area_grows_with_scale_for_every_shape():
    ds = DSprites()
    for shape in range(3):
        areas = [_img(ds, shape=shape, scale=s, posX=16, posY=16).sum() for s in range(6)]
        assert all(b > a for a, b in zip(areas, areas[1:])), areas


def test_centroid_follows_position():
    ds = DSprites()
    cols, rows = [], []
    for p in range(0, 32, 4):
        m = _img(ds, shape=2, scale=3, posX=p, posY=16)
        cols.append(np.argwhere(m)[:, 1].mean())
        m = _img(ds, shape=2, scale=3, posX=16, posY=p)
        rows.append(np.argwhere(m)[:, 0].mean())
    assert np.all(np.diff(cols) > 0), "x centroid must move right with posX"
    assert np.all(np.diff(rows) > 0), "y centroid must move down the image rows with posY"
    assert cols[0] < 16 and cols[-1] > 48


def test_rotation_symmetries():
    ds = DSprites()
    quarter, half = 10, 20  # orientation codes of 90 and 180 degrees
    assert ORIENTATIONS[quarter] == pytest.approx(math.pi / 2)
    square = [_img(ds, shape=0, scale=5, orientation=o, posX=16, posY=16) for o in (0, quarter)]
    np.testing.assert_array_equal(square[0], square[1])
    ellipse = [_img(ds, shape=1, scale=5, orientation=o, posX=16, posY=16) for o in (0, quarter, half)]
    np.testing.assert_array_equal(ellipse[0], ellipse[2])
    assert (ellipse[0] != ellipse[1]).sum() > 20
    heart = [_img(ds, shape=2, scale=5, orientation=o, posX=16, posY=16) for o in (0, quarter, half)]
    assert (heart[0] != heart[1]).sum() > 20 and (heart[0] != heart[2]).sum() > 20


def test_color_dsprites_paints_the_declared_colour():
    ds = color_dsprites()
    assert ds.image_shape == (3, 64, 64) and len(ds) == 6 * 737_280
    names = ds.factor_specs["color"].class_names
    for c, name in enumerate(names):
        i = ds.grid.index(np.array([[c, 2, 5, 0, 16, 16]]))
        img = ds.load_images(i)[0].numpy()           # (3, H, W)
        on = img.max(axis=0) > 0
        rgb = img[:, on].T                           # (n_on, 3)
        assert len(np.unique(rgb, axis=0)) == 1, "one colour per sprite"
        expected = np.round(np.array(ds.rgb[c]) * 255)
        np.testing.assert_array_equal(rgb[0], expected)
        assert ds.factor_values(i)["color"][0] == c
    assert ds.resolve_factors("colour") == ["color"]


def test_random_subset_is_seeded_sorted_and_maps_to_parent():
    ds = DSprites()
    a, b, c = random_subset(ds, 100, seed=1), random_subset(ds, 100, seed=1), random_subset(ds, 100, seed=2)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)
    assert np.all(np.diff(a.indices) > 0) and len(a) == 100
    _, imgs = a[[3, 7]]
    assert torch.equal(imgs, ds.load_images(a.indices[[3, 7]]))
    for k, v in a.factor_values([3, 7]).items():
        np.testing.assert_array_equal(v, ds.factor_values(a.indices[[3, 7]])[k])
    assert a.config()["subset"]["seed"] == 1
    with pytest.raises(ConfigError, match="positive"):
        random_subset(ds, 0)
    with pytest.raises(DataError, match="out of range"):
        ds.load_images(np.array([len(ds)]))


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="duplicate"):
        DATASETS.register("dsprites", lambda **kw: None)
