"""Shapes3D from the official ``3dshapes.h5``: ``images`` (N, 64, 64, 3) uint8, ``labels`` (N, 6) float64.

Labels are real values; they are discretised with ``np.unique(return_inverse=True)`` onto the official
grids (never by float division, which merges classes). The ``scale`` grid is ``linspace(0.75, 1.25, 8)``
(not [0, 1] as often documented) and ``orientation`` is ``linspace(-30, 30, 15)`` degrees. Images are
read lazily from the HDF5 file, a batch at a time; the labels (23 MB) are read once.

The three hues are periodic with period 1 (values 0.0 .. 0.9 on the colour wheel: 0.9 is next to 0.0).
``orientation`` spans only 60 degrees and never wraps, so it is continuous, not periodic.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ...errors import DataError
from ..base import FactorDataset
from ..factors import Factor
from ..registry import register_dataset
from ._files import LazyFileMixin, file_identity, locate, to_tensor
from ._grids import COLOR, ORIENTATION, SCALE, SHAPE, aliases, discretise

FILE = "3dshapes.h5"
SOURCE = "github.com/deepmind/3d-shapes (3dshapes.h5, Google Cloud Storage bucket 3d-shapes)"
HUES = tuple(float(v) for v in np.arange(10) / 10)                      # 0.0 .. 0.9
SCALES = tuple(float(v) for v in np.linspace(0.75, 1.25, 8))
SHAPES = ("cube", "cylinder", "sphere", "capsule")
ORIENTATIONS = tuple(float(v) for v in np.linspace(-30.0, 30.0, 15))  # degrees

FACTORS = (
    Factor("floor_hue", "periodic", values=HUES, period=1.0, aliases=("floor_color", "floor_colour", "floor"),
           description="floor hue on the colour wheel (period 1)"),
    Factor("wall_hue", "periodic", values=HUES, period=1.0, aliases=("wall_color", "wall_colour", "wall"),
           description="wall hue on the colour wheel (period 1)"),
    Factor("object_hue", "periodic", values=HUES, period=1.0, aliases=aliases("object_hue", COLOR),
           description="object hue on the colour wheel (period 1)"),
    Factor("scale", "continuous", values=SCALES, aliases=aliases("scale", SCALE), description="object size"),
    Factor("shape", "categorical", class_names=SHAPES, aliases=aliases("shape", SHAPE), description="object type"),
    Factor("orientation", "continuous", values=ORIENTATIONS, aliases=aliases("orientation", ORIENTATION, extra=("azimuth",)),
           description="object rotation in degrees, -30..30 (does not wrap)"),
)
CONTIGUOUS_READ = 4  # read one slice instead of a fancy selection when it is at most this many times longer


class Shapes3D(LazyFileMixin, FactorDataset):
    """Shapes3D read lazily from the official HDF5 file.

    Parameters
    ----------
    root: ``3dshapes.h5`` or its folder (default: ``$PROBEKIT_DATA``).
    """

    name = "shapes3d"
    factors = FACTORS
    image_shape = (3, 64, 64)
    _transient = ("_h5",)

    def __init__(self, root=None):
        import h5py

        self.path = locate(root, [FILE], dataset=self.name, source=SOURCE)
        try:
            with h5py.File(self.path, "r") as f:
                if "images" not in f or "labels" not in f:
                    raise DataError(f"{self.path.name} holds {sorted(f)}; the official file has 'images' and 'labels'")
                shape, dtype = f["images"].shape, f["images"].dtype
                labels = np.asarray(f["labels"][()], dtype=np.float64)  # (N, 6)
        except OSError as e:
            raise DataError(f"cannot read {self.path} as HDF5: {e}; re-download {FILE}") from e
        if len(shape) != 4 or shape[1:] != (64, 64, 3) or dtype != np.uint8:
            raise DataError(f"{self.path.name}: images are {shape} {dtype}; the official file has (N, 64, 64, 3) uint8")
        if labels.shape != (shape[0], 6):
            raise DataError(f"{self.path.name}: labels are {labels.shape}; expected ({shape[0]}, 6), one row per image")
        grids = [HUES, HUES, HUES, SCALES, tuple(range(len(SHAPES))), ORIENTATIONS]
        self._codes = np.stack([discretise(labels[:, j], g, name=f.name, source=self.path.name)
                                for j, (f, g) in enumerate(zip(FACTORS, grids))], axis=1)  # (N, 6) int64
        self._n = int(shape[0])
        self._h5 = None  # (pid, h5py.File), opened per process on first read

    def __len__(self) -> int:
        return self._n

    def config(self) -> dict:
        return {"name": self.name, **file_identity(self.path), "n": len(self)}

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self._codes if indices is None else self._codes[self.check_indices(indices)]
        return {f.name: (codes[:, j].copy() if f.is_discrete else np.asarray(f.values, np.float64)[codes[:, j]])
                for j, f in enumerate(self.factors)}

    def _images(self):
        import h5py

        if self._h5 is None or self._h5[0] != os.getpid():  # h5py handles do not survive fork
            self._h5 = (os.getpid(), h5py.File(self.path, "r"))
        return self._h5[1]["images"]

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        idx = self.check_indices(indices)
        if idx.size == 0:
            return torch.empty((0, *self.image_shape), dtype=torch.uint8)
        rows, inverse = np.unique(idx, return_inverse=True)  # h5py wants increasing, unique indices
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        images = self._images()
        try:
            if hi - lo <= CONTIGUOUS_READ * len(rows):
                data = images[lo:hi][rows - lo]              # (U, 64, 64, 3) one contiguous read
            else:
                data = images[rows]                         # (U, 64, 64, 3) fancy selection
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read images {rows[:4].tolist()}... of {self.path}: {e}") from e
        return to_tensor(data[inverse])                     # (B, 3, 64, 64)


@register_dataset("shapes3d", help=f"Shapes3D from the official {FILE} (root=<file or folder>)")
def _shapes3d(root=None, **options) -> FactorDataset:
    return Shapes3D(root, **options)
