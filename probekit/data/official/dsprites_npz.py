"""dSprites from the official file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``.

The archive holds ``imgs`` (N, 64, 64) uint8 in {0, 1}, ``latents_values`` (N, 6) float64,
``latents_classes`` (N, 6) int64 and ``metadata``, a pickled Python 2 dict. Labels are taken from
``latents_classes`` row by row (the official rows follow the C order of color, shape, scale,
orientation, posX, posY, with posY fastest, but nothing here relies on it, so subsets of the file work).

Safety: reading ``metadata`` means unpickling (``allow_pickle=True, encoding='latin1'``), and unpickling
a file can execute arbitrary code. The numeric arrays are read with ``allow_pickle=False`` and the factor
declarations come from the known official grid, so ``metadata`` is never read unless you ask for it with
``read_metadata=True`` (then only for a file you trust; it is checked against the grid).

Orientation is declared periodic (period 2*pi): the official grid is ``linspace(0, 2*pi, 40)``, so its
first and last values are the same angle, and the square (90 degrees) and the ellipse (180 degrees) are
rotationally symmetric, so their orientation label is ambiguous from the image alone.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from ...errors import DataError
from ..base import FactorDataset
from ..dsprites import dsprites_factors
from ..registry import register_dataset
from ._files import LazyFileMixin, file_identity, locate
from .npz_files import inspect_member, iter_rows, memmap_member

FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SOURCE = "github.com/deepmind/dsprites-dataset (dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz)"
NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")  # official latents_names, column order
SIZES = (1, 3, 6, 40, 32, 32)                                       # official latents_sizes
# The official orientation grid includes 2*pi (step 2*pi/39), unlike an arange over [0, 2*pi).
ORIENTATIONS = tuple(float(v) for v in np.linspace(0.0, 2 * math.pi, 40))
VALUE_TOLERANCE = 1e-5   # latents_values must match the grid at latents_classes within this
CHUNK_ROWS = 16384       # rows per chunk when streaming a compressed imgs member


def official_factors():
    """The procedural dSprites factors (same names and aliases), with the official orientation grid."""
    factors = list(dsprites_factors(("white",)))
    factors[3] = replace(factors[3], values=ORIENTATIONS,
                         description="rotation in radians, periodic; 0 and 2*pi are both in the grid; "
                                     "ambiguous for the symmetric square and ellipse")
    return tuple(factors)


def read_metadata(path) -> dict:
    """Unpickle the ``metadata`` dict (Python 2 pickle: needs ``encoding='latin1'``). Trusted files only."""
    try:
        with np.load(path, allow_pickle=True, encoding="latin1") as z:
            meta = z["metadata"][()]
    except Exception as e:
        raise DataError(f"cannot read 'metadata' of {path}: {str(e).splitlines()[0][:160]}; "
                        "pass read_metadata=False (the factors come from the official grid)") from e
    if not isinstance(meta, dict):
        raise DataError(f"'metadata' of {path} is a {type(meta).__name__}, expected the official dict")
    return meta


class DSpritesFile(LazyFileMixin, FactorDataset):
    """dSprites read from the official ``.npz`` (images as uint8 {0, 255}, 1 channel).

    Parameters
    ----------
    root: the ``.npz`` file or its folder (default: ``$PROBEKIT_DATA``).
    read_metadata: also unpickle ``metadata`` and check it against the grid (trusted files only).
    """

    name = "dsprites-file"
    image_shape = (1, 64, 64)
    _transient = ("_images",)

    def __init__(self, root=None, *, read_metadata: bool = False):
        self.path = locate(root, [FILE], dataset=self.name, source=SOURCE)
        self.factors = official_factors()
        self.member = inspect_member(self.path, "imgs")
        n = self.member.shape[0]
        if self.member.shape[1:] != (64, 64) or self.member.dtype != np.uint8:
            raise DataError(f"{self.path.name}: imgs has shape {self.member.shape} and dtype {self.member.dtype}; "
                            "the official file has (N, 64, 64) uint8")
        with np.load(self.path, allow_pickle=False) as z:  # numeric arrays only: nothing is unpickled
            classes = np.asarray(z["latents_classes"])     # (N, 6) int64
            values = np.asarray(z["latents_values"])       # (N, 6) float64
        if classes.shape != (n, 6) or values.shape != (n, 6):
            raise DataError(f"{self.path.name}: latents_classes {classes.shape} and latents_values {values.shape} "
                            f"must both be ({n}, 6), one row per image")
        self._codes = self._check_codes(classes.astype(np.int64), values)
        self.metadata = self._load_metadata() if read_metadata else None
        self._images = None  # memory map (stored member) or packed bits (compressed member), on first use

    def _check_codes(self, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        for j, (name, size) in enumerate(zip(NAMES, SIZES)):
            bad = np.flatnonzero((codes[:, j] < 0) | (codes[:, j] >= size))
            if bad.size:
                raise DataError(f"{self.path.name}: latents_classes[{bad[0]}, {j}] ({name}) = {codes[bad[0], j]} "
                                f"is outside 0..{size - 1}; is this the official file?")
        for j, f in enumerate(self.factors):
            if f.is_discrete:
                continue
            err = np.abs(values[:, j] - np.asarray(f.values)[codes[:, j]])
            if err.size and err.max() > VALUE_TOLERANCE:
                row = int(err.argmax())
                raise DataError(f"{self.path.name}: latents_values[{row}] {f.name} = {values[row, j]:.6g} does not "
                                f"match the official grid value {f.values[codes[row, j]]:.6g} of its class "
                                f"{codes[row, j]}; is this the official file?")
        return codes

    def _load_metadata(self) -> dict:
        meta = read_metadata(self.path)
        sizes = tuple(int(s) for s in np.asarray(meta.get("latents_sizes", ())).reshape(-1))
        names = tuple(meta.get("latents_names", ()))
        if sizes != SIZES or names != NAMES:
            raise DataError(f"{self.path.name}: metadata declares latents {names} with sizes {sizes}; "
                            f"the official file has {NAMES} with sizes {SIZES}")
        return meta

    def __len__(self) -> int:
        return self.member.shape[0]

    def config(self) -> dict:
        return {"name": self.name, **file_identity(self.path), "n": len(self)}

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self._codes if indices is None else self._codes[self.check_indices(indices)]
        return {f.name: (codes[:, j].copy() if f.is_discrete else np.asarray(f.values, np.float64)[codes[:, j]])
                for j, f in enumerate(self.factors)}

    def _open_images(self):
        if not self.member.compressed:
            return memmap_member(self.member)  # (N, 64, 64) uint8, read on demand
        # The official archive is deflated: stream it once and keep 1 bit per pixel (N * 512 bytes).
        packed = np.empty((len(self), 64, 8), dtype=np.uint8)
        for start, rows in iter_rows(self.member, CHUNK_ROWS):
            self._check_binary(rows, np.arange(start, start + len(rows)))
            packed[start:start + len(rows)] = np.packbits(rows, axis=-1)
        return packed

    def _check_binary(self, rows: np.ndarray, row_ids: np.ndarray) -> None:
        """(B, 64, 64) images of dataset rows ``row_ids`` must be binary."""
        if rows.size and rows.max() > 1:
            bad = int(row_ids[np.argwhere(rows > 1)[0, 0]])
            raise DataError(f"{self.path.name}: imgs[{bad}] holds values above 1; the official images are "
                            "binary {0, 1}")

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        idx = self.check_indices(indices)
        if self._images is None:
            self._images = self._open_images()
        if self.member.compressed:
            rows = np.unpackbits(self._images[idx], axis=-1)             # (B, 64, 64) in {0, 1}
        else:
            order = np.argsort(idx, kind="stable")                      # read the map in file order
            rows = np.empty((len(idx), 64, 64), dtype=np.uint8)
            rows[order] = self._images[idx[order]]
            self._check_binary(rows, idx)
        return torch.from_numpy(np.ascontiguousarray(rows[:, None] * np.uint8(255)))  # (B, 1, 64, 64)


@register_dataset("dsprites-file", help=f"dSprites from the official {FILE} (root=<file or folder>)")
def _dsprites_file(root=None, **options) -> FactorDataset:
    return DSpritesFile(root, **options)
