"""SmallNORB from the official ``smallnorb-*-{dat,cat,info}.mat`` files (not MATLAB files).

The files use LeCun's binary matrix format: an int32 magic number giving the element type
(0x1E3D4C55 uint8, 0x1E3D4C54 int32, 0x1E3D4C51 float32, 0x1E3D4C53 float64, 0x1E3D4C56 int16), an
int32 ``ndim``, then ``max(ndim, 3)`` int32 dimensions (at least 3 are stored, the unused ones are 1),
then the data, little-endian. ``dat`` is (N, 2, 96, 96) uint8 stereo pairs (the first camera is used
unless ``camera=1``) and is memory-mapped; ``cat`` is (N,) int32 category; ``info`` is (N, 4) int32:
instance (0..9), elevation (0..8: 30..70 degrees), azimuth (0, 2, .., 34: divided by 2, 20 degree
steps), lighting (0..5). Images are resized to ``size`` (default 64, as in DisLib).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from ..base import FactorDataset
from ..factors import Factor
from ..registry import register_dataset
from ._files import LazyFileMixin, check_choice, check_size, file_identity, locate, resize_square, to_tensor
from ._grids import ORIENTATION, SHAPE, aliases

SOURCE = "cs.nyu.edu/~ylclab/data/norb-v1.0-small (gunzip the .mat.gz files)"
PREFIX = {"train": "smallnorb-5x46789x9x18x6x2x96x96-training",
          "test": "smallnorb-5x01235x9x18x6x2x96x96-testing"}
SPLITS = ("train", "test", "all")
MAGIC = {0x1E3D4C51: np.float32, 0x1E3D4C53: np.float64, 0x1E3D4C54: np.int32, 0x1E3D4C55: np.uint8,
         0x1E3D4C56: np.int16}
NATIVE = 96
CATEGORIES = ("animal", "human", "airplane", "truck", "car")
ELEVATIONS = tuple(float(30 + 5 * i) for i in range(9))   # degrees
AZIMUTHS = tuple(float(20 * i) for i in range(18))        # degrees
FACTORS = (
    Factor("category", "categorical", class_names=CATEGORIES, aliases=aliases("category", SHAPE), description="object category"),
    Factor("instance", "categorical", class_names=tuple(str(i) for i in range(10)), aliases=("identity", "object", "toy"),
           description="object instance (train holds 4, 6, 7, 8, 9; test 0, 1, 2, 3, 5)"),
    Factor("elevation", "continuous", values=ELEVATIONS, aliases=("camera_elevation", "height"),
           description="camera elevation in degrees"),
    Factor("azimuth", "periodic", values=AZIMUTHS, period=360.0, aliases=aliases("azimuth", ORIENTATION),
           description="camera azimuth in degrees (file value / 2 * 20)"),
    Factor("lighting", "categorical", class_names=tuple(str(i) for i in range(6)), aliases=("light", "illumination"),
           description="lighting condition"),
)


def read_header(path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """``(dtype, shape, data offset)`` of a binary matrix file; checks the size against the header."""
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:2] == b"\x1f\x8b":
            raise DataError(f"{path} is gzip-compressed; gunzip it first (gunzip {path.name})")
        if len(head) < 8:
            raise DataError(f"{path} is too short to be a SmallNORB matrix file")
        magic, ndim = (int(v) for v in np.frombuffer(head, dtype="<i4"))
        if magic not in MAGIC:
            raise DataError(f"{path}: magic number {magic:#x} is not a SmallNORB matrix type "
                            f"({', '.join(f'{m:#x}' for m in MAGIC)}); is this the official file?")
        if not 1 <= ndim <= 16:
            raise DataError(f"{path}: ndim {ndim} is not a valid matrix rank")
        stored = max(ndim, 3)
        dims = np.frombuffer(f.read(4 * stored), dtype="<i4")
    dtype = np.dtype(MAGIC[magic]).newbyteorder("<")
    shape = tuple(int(d) for d in dims[:ndim])
    offset = 8 + 4 * stored
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.stat().st_size != expected:
        raise DataError(f"{path}: {path.stat().st_size} bytes, but its header {shape} {dtype} needs {expected}; "
                        "the file is truncated or not the official one")
    return dtype, shape, offset


def read_matrix(path: Path, *, mmap: bool = False) -> np.ndarray:
    """The whole matrix (or a read-only memory map) of a binary matrix file."""
    dtype, shape, offset = read_header(path)
    if mmap:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    return np.fromfile(path, dtype=dtype, offset=offset).reshape(shape)


class SmallNORB(LazyFileMixin, FactorDataset):
    """SmallNORB, one split or both (``all``: train rows then test rows).

    Parameters
    ----------
    root: the folder holding the six ``smallnorb-*.mat`` files (default: ``$PROBEKIT_DATA``).
    split: ``train`` (default), ``test`` or ``all``.
    camera: which image of the stereo pair, 0 (default) or 1.
    size: image side after resizing (default 64; 96 keeps the native images).
    """

    name = "smallnorb"
    factors = FACTORS
    _transient = ("_dat",)

    def __init__(self, root=None, *, split: str = "train", camera: int = 0, size: int = 64):
        self.split = check_choice("split", split, SPLITS, dataset=self.name)
        self.camera = check_choice("camera", camera, (0, 1), dataset=self.name)
        self.size = check_size(size, dataset=self.name, native=NATIVE)
        self.image_shape = (1, self.size, self.size)
        parts = ("train", "test") if split == "all" else (split,)
        if root is not None and Path(root).is_file():  # one of the six files given: use its folder
            root = Path(root).parent
        self.files = {p: {k: locate(root, [f"{PREFIX[p]}-{k}.mat"], dataset=self.name, source=SOURCE)
                          for k in ("dat", "cat", "info")} for p in parts}
        codes, self._rows = [], []  # per part: (n, 5) codes; (part, first row)
        start = 0
        for p in parts:
            c = self._read_labels(p)
            dtype, shape, _ = read_header(self.files[p]["dat"])
            if dtype != np.uint8 or shape[1:] != (2, NATIVE, NATIVE) or shape[0] != len(c):
                raise DataError(f"{self.files[p]['dat'].name}: images are {shape} {dtype}; expected "
                                f"({len(c)}, 2, 96, 96) uint8, one stereo pair per label row")
            codes.append(c)
            self._rows.append((p, start))
            start += len(c)
        self._codes = np.concatenate(codes)  # (N, 5) int64: category, instance, elevation, azimuth, lighting
        self._dat = None                     # {part: memory map}, opened on first use

    def _read_labels(self, part: str) -> np.ndarray:
        cat = read_matrix(self.files[part]["cat"]).reshape(-1).astype(np.int64)   # (N,)
        info = read_matrix(self.files[part]["info"]).astype(np.int64)              # (N, 4)
        name = self.files[part]["info"].name
        if info.ndim != 2 or info.shape != (len(cat), 4):
            raise DataError(f"{name}: info is {info.shape}; expected ({len(cat)}, 4) like the category file")
        if info.size and (info[:, 2] % 2).any():
            row = int(np.flatnonzero(info[:, 2] % 2)[0])
            raise DataError(f"{name}: azimuth {info[row, 2]} at row {row} is odd; the official values are 0, 2, .., 34")
        codes = np.column_stack([cat, info[:, 0], info[:, 1], info[:, 2] // 2, info[:, 3]])
        for j, f in enumerate(FACTORS):
            bad = np.flatnonzero((codes[:, j] < 0) | (codes[:, j] >= f.n_values))
            if bad.size:
                raise DataError(f"{name}: {f.name} code {codes[bad[0], j]} at row {bad[0]} is outside 0..{f.n_values - 1}")
        return codes

    def __len__(self) -> int:
        return len(self._codes)

    def config(self) -> dict:
        files = {p: file_identity(f["dat"]) for p, f in self.files.items()}
        return {"name": self.name, "split": self.split, "camera": self.camera, "size": self.size, "files": files}

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        codes = self._codes if indices is None else self._codes[self.check_indices(indices)]
        return {f.name: (codes[:, j].copy() if f.is_discrete else np.asarray(f.values, np.float64)[codes[:, j]])
                for j, f in enumerate(FACTORS)}

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        idx = self.check_indices(indices)
        if self._dat is None:
            self._dat = {p: read_matrix(f["dat"], mmap=True) for p, f in self.files.items()}
        out = np.empty((len(idx), NATIVE, NATIVE), dtype=np.uint8)
        for k, (part, start) in enumerate(self._rows):
            end = self._rows[k + 1][1] if k + 1 < len(self._rows) else len(self)
            sel = np.flatnonzero((idx >= start) & (idx < end))
            order = sel[np.argsort(idx[sel], kind="stable")]  # read the map in file order
            out[order] = self._dat[part][idx[order] - start, self.camera]
        return to_tensor(resize_square(out, self.size))       # (B, 1, size, size)


@register_dataset("smallnorb", help="SmallNORB from the official smallnorb-*.mat files (root=<folder>; split=train|test|all)")
def _smallnorb(root=None, **options) -> FactorDataset:
    return SmallNORB(root, **options)
