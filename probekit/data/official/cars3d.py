"""Cars3D from the extracted ``nips2015-analogy-data.tar.gz``: ``data/cars/car_XXX_mesh.mat`` + ``list.txt``.

Each ``.mat`` holds ``im`` (128, 128, 3, 24, 4) uint8 = (H, W, C, azimuth, elevation) for one car.
Cars are ordered by ``list.txt``, never by a directory listing (listing order differs between
filesystems, which silently permutes identities). Rows are car-major, C order over
(object_type, elevation, azimuth), so a car's 96 images are contiguous; the factors are declared as
elevation (4), azimuth (24, periodic, 15 degree steps), object_type (one class per line of list.txt;
183 in the official list). Images are resized to ``size`` (default 64, as in DisLib) with Pillow's
antialiased LANCZOS; decoded cars are kept in memory (about 1.2 MB each at 64x64).
"""
from __future__ import annotations

import numpy as np
import torch

from ...errors import DataError
from ..base import FactorDataset
from ..factors import Factor, FactorGrid
from ..registry import register_dataset
from ._files import LazyFileMixin, check_size, digest, locate, resize_square, to_tensor
from ._grids import ORIENTATION, aliases

SOURCE = "scottreed.info (nips2015-analogy-data.tar.gz, extract it: data/cars/)"
N_ELEVATIONS, N_AZIMUTHS, N_OFFICIAL_CARS = 4, 24, 183
NATIVE = 128
AZIMUTHS = tuple(float(15 * i) for i in range(N_AZIMUTHS))  # degrees


def read_list(folder) -> list[str]:
    """Car file stems in ``list.txt`` order (a line may carry the ``.mat`` suffix or not)."""
    names = []
    for line in (folder / "list.txt").read_text().splitlines():
        line = line.strip()
        if line:
            names.append(line[:-4] if line.endswith(".mat") else line)
    if not names:
        raise DataError(f"{folder / 'list.txt'} lists no cars; it should name the {N_OFFICIAL_CARS} car_XXX_mesh files")
    return names


def cars3d_factors(cars: list[str]) -> tuple[Factor, ...]:
    return (
        Factor("elevation", "continuous", values=tuple(float(i) for i in range(N_ELEVATIONS)),
               aliases=("camera_elevation", "height"), description="camera elevation step 0..3 (degrees not published)"),
        Factor("azimuth", "periodic", values=AZIMUTHS, period=360.0, aliases=aliases("azimuth", ORIENTATION),
               description="camera azimuth in degrees, 15 degree steps"),
        Factor("object_type", "categorical", class_names=tuple(cars),
               aliases=("category", "identity", "car", "object", "label"), description="car identity (list.txt order)"),
    )


class Cars3D(LazyFileMixin, FactorDataset):
    """Cars3D read from the official ``.mat`` files, one car at a time, cached once decoded.

    Parameters
    ----------
    root: the folder the archive was extracted into, its ``data`` or its ``data/cars`` folder.
    size: image side after resizing (default 64; 128 keeps the native images).
    """

    name = "cars3d"
    _transient = ("_cache",)  # decoded cars stay in the process that decoded them

    def __init__(self, root=None, *, size: int = 64):
        self.folder = locate(root, ["data/cars", "cars", "."], dataset=self.name, source=SOURCE, want_dir=True,
                             marker="list.txt")
        self.size = check_size(size, dataset=self.name, native=NATIVE)
        self.cars = read_list(self.folder)
        missing = [c for c in self.cars if not (self.folder / f"{c}.mat").is_file()]
        if missing:
            raise DataError(f"cars3d: {len(missing)} car files named in list.txt are missing from {self.folder}, "
                            f"e.g. {missing[0]}.mat; extract the whole archive (from {SOURCE})")
        self.factors = cars3d_factors(self.cars)
        self.grid = FactorGrid((len(self.cars), N_ELEVATIONS, N_AZIMUTHS))  # row order: car-major
        self.image_shape = (3, self.size, self.size)
        self._cache: dict[int, np.ndarray] = {}  # car -> (4, 24, size, size, 3) uint8

    def __len__(self) -> int:
        return len(self.grid)

    def config(self) -> dict:
        return {"name": self.name, "cars": len(self.cars), "list_sha256": digest(self.cars), "size": self.size}

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        idx = np.arange(len(self)) if indices is None else self.check_indices(indices)
        car, elevation, azimuth = self.grid.codes(idx).T
        return {"elevation": elevation.astype(np.float64), "azimuth": np.asarray(AZIMUTHS)[azimuth],
                "object_type": car}

    def _car(self, c: int) -> np.ndarray:
        if self._cache is None:
            self._cache = {}
        if c not in self._cache:
            from scipy.io import loadmat

            path = self.folder / f"{self.cars[c]}.mat"
            try:
                im = loadmat(path, variable_names=["im"]).get("im")
            except Exception as e:
                raise DataError(f"cannot read {path} (car {c}, rows {c * 96}..{c * 96 + 95}): "
                                f"{str(e).splitlines()[0][:120]}") from e
            expected = (NATIVE, NATIVE, 3, N_AZIMUTHS, N_ELEVATIONS)
            if im is None or im.shape != expected or im.dtype != np.uint8:
                got = "no 'im'" if im is None else f"im {im.shape} {im.dtype}"
                raise DataError(f"{path}: {got}; the official files hold im {expected} uint8 (H, W, C, azimuth, elevation)")
            views = im.transpose(4, 3, 0, 1, 2).reshape(-1, NATIVE, NATIVE, 3)   # (96, H, W, C), elevation-major
            self._cache[c] = resize_square(views, self.size).reshape(N_ELEVATIONS, N_AZIMUTHS, self.size, self.size, 3)
        return self._cache[c]

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        codes = self.grid.codes(self.check_indices(indices))                   # (B, 3): car, elevation, azimuth
        out = np.empty((len(codes), self.size, self.size, 3), dtype=np.uint8)
        for c in np.unique(codes[:, 0]):
            rows = codes[:, 0] == c
            out[rows] = self._car(int(c))[codes[rows, 1], codes[rows, 2]]
        return to_tensor(out)                                                  # (B, 3, size, size)


@register_dataset("cars3d", help="Cars3D from the extracted nips2015-analogy-data (root=<folder>; size=64)")
def _cars3d(root=None, **options) -> FactorDataset:
    return Cars3D(root, **options)
