"""Bring your own data: ``csv:<path>``, a CSV with one image file per row and one column per factor.

The ``file`` column holds image paths relative to the CSV's folder; every other column is a factor.
Kinds are inferred (2 distinct values: binary; text or few integer values: categorical; otherwise
continuous) unless a sidecar ``<csv>.factors.json`` declares them, e.g.
``{"angle": {"kind": "periodic", "period": 360}, "size": {"kind": "continuous", "aliases": ["scale"]}}``.
Images are decoded with Pillow to RGB and resized to ``size`` (default: the first image's size).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import FactorDataset
from .factors import Factor

MAX_CATEGORICAL_INTS = 50  # integer columns with at most this many values are treated as categorical


def _infer(name: str, column: list[str], declared: dict) -> tuple[Factor, np.ndarray]:
    spec = declared.get(name, {})
    try:
        numbers = np.array([float(v) for v in column])
        numeric = True
    except ValueError:
        numbers, numeric = None, False
    uniques = sorted(set(column), key=lambda v: float(v) if numeric else v)
    kind = spec.get("kind")
    if kind is None:
        if len(uniques) == 2:
            kind = "binary"
        elif not numeric or (np.all(numbers == np.round(numbers)) and len(uniques) <= MAX_CATEGORICAL_INTS):
            kind = "categorical"
        else:
            kind = "continuous"
    aliases = tuple(spec.get("aliases", ()))
    if kind in ("categorical", "binary"):
        codes = {v: i for i, v in enumerate(uniques)}
        return Factor(name, kind, class_names=tuple(uniques), aliases=aliases), np.array([codes[v] for v in column])
    if not numeric:
        raise DataError(f"factor column {name!r} is declared {kind} but holds text values; declare it categorical")
    grid = tuple(float(v) for v in np.unique(numbers)) if len(uniques) <= 1000 else ()
    return Factor(name, kind, values=grid, period=spec.get("period"), aliases=aliases), numbers


class ImageTable(FactorDataset):
    """Images listed in a CSV with factor columns (see the module docstring)."""

    def __init__(self, path: str | Path, *, size: int | None = None, file_column: str = "file"):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"no CSV file at {self.path}; pass csv:<path to a CSV with a '{file_column}' column>")
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or file_column not in rows[0]:
            raise DataError(f"{self.path} needs a header with a {file_column!r} column and at least one row")
        sidecar = self.path.with_name(self.path.name + ".factors.json")
        declared = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        self.files = [self.path.parent / r[file_column] for r in rows]
        names = [c for c in rows[0] if c != file_column]
        if not names:
            raise DataError(f"{self.path} has no factor columns besides {file_column!r}")
        specs, values = [], {}
        for name in names:
            factor, vals = _infer(name, [r[name] for r in rows], declared)
            specs.append(factor)
            values[name] = vals
        self.factors = tuple(specs)
        self._values = values
        self.name = f"csv:{self.path.stem}"
        side = size or self._decode(0).shape[-1]
        self.size = int(side)
        self.image_shape = (3, self.size, self.size)

    def __len__(self) -> int:
        return len(self.files)

    def config(self) -> dict:
        return {"name": self.name, "csv": str(self.path.resolve()), "size": self.size, "n": len(self)}

    def _decode(self, i: int) -> torch.Tensor:
        from PIL import Image

        try:
            with Image.open(self.files[i]) as im:
                im = im.convert("RGB")
                if getattr(self, "size", None) and im.size != (self.size, self.size):
                    im = im.resize((self.size, self.size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
        except Exception as e:
            raise DataError(f"cannot read image {self.files[i]} (sample index {i}): {str(e).splitlines()[0][:120]}") from e
        return torch.from_numpy(arr.copy()).permute(2, 0, 1)  # (3, H, W) uint8

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        return torch.stack([self._decode(int(i)) for i in self.check_indices(indices)])

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        idx = slice(None) if indices is None else np.asarray(indices, dtype=np.int64)
        return {f.name: (self._values[f.name][idx].astype(np.int64) if f.is_discrete
                         else self._values[f.name][idx].astype(np.float64)) for f in self.factors}
