"""``csv:<path>`` datasets: the user's own images with factor columns."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from probekit.data import create_dataset
from probekit.errors import DataError


def write_table(root, n=6, broken=None):
    rows = ["file,size,kind,flag"]
    for i in range(n):
        path = root / f"img_{i}.png"
        if i == broken:
            path.write_bytes(b"not a png")
        else:
            arr = np.full((20, 20, 3), (30 * i) % 256, dtype=np.uint8)
            Image.fromarray(arr).save(path)
        rows.append(f"img_{i}.png,{0.5 + 0.1 * i:.2f},{['cat', 'dog', 'cow'][i % 3]},{i % 2}")
    csv = root / "factors.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def test_csv_dataset_reads_images_and_infers_kinds(tmp_path):
    csv = write_table(tmp_path)
    ds = create_dataset(f"csv:{csv}", size=16)
    kinds = {f.name: f.kind for f in ds.factors}
    assert kinds == {"size": "continuous", "kind": "categorical", "flag": "binary"}
    _, imgs = ds[[0, 3]]
    assert imgs.shape == (2, 3, 16, 16) and int(imgs[1].float().mean()) == 90
    v = ds.factor_values(np.array([0, 1, 2]))
    names = ds.factor_specs["kind"].class_names
    np.testing.assert_array_equal(v["kind"], [names.index(k) for k in ("cat", "dog", "cow")])


def test_unreadable_image_names_file_and_index(tmp_path):
    csv = write_table(tmp_path, broken=4)
    ds = create_dataset(f"csv:{csv}", size=16)
    with pytest.raises(DataError, match=r"img_4\.png \(sample index 4\)"):
        ds.load_images(np.array([3, 4]))
