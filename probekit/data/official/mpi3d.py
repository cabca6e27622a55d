"""MPI3D (toy, realistic, real) from the official ``mpi3d_<variant>.npz``.

The archive holds one array, ``images`` (N, 64, 64, 3) uint8; there are no label arrays. Labels come
from the row order: the C-order cartesian product of the factor sizes (6, 6, 2, 3, 3, 40, 40), the last
factor (vertical_axis) varying fastest, 1,036,800 rows. An older toy release has sizes
(4, 4, 2, 3, 3, 40, 40); N is checked against the sizes so that such a file fails instead of being
mislabelled (pass ``sizes=`` to read it or another C-order subset of the grid).

At about 12.7 GB the images are never loaded: the official archives store ``images`` uncompressed, so
it is memory-mapped and each batch reads only its rows. A compressed copy (``np.savez_compressed``)
cannot be read at random; the error says how to convert it once.
"""
from __future__ import annotations

import numpy as np
import torch

from ...errors import ConfigError, DataError
from ..base import FactorDataset
from ..factors import Factor, FactorGrid
from ..registry import register_dataset
from ._files import LazyFileMixin, file_identity, locate, to_tensor
from .npz_files import convert_hint, inspect_member, memmap_member

SOURCE = "github.com/rr-learning/disentanglement_dataset (mpi3d_{variant}.npz)"
VARIANTS = ("toy", "realistic", "real")
SIZES = (6, 6, 2, 3, 3, 40, 40)
OLD_TOY_SIZES = (4, 4, 2, 3, 3, 40, 40)
NAMES = ("object_color", "object_shape", "object_size", "camera_height", "background_color",
         "horizontal_axis", "vertical_axis")
CLASS_NAMES = {
    "object_color": ("white", "green", "red", "blue", "brown", "olive"),
    "object_shape": ("cone", "cube", "cylinder", "hexagonal", "pyramid", "sphere"),
    "object_size": ("small", "large"),
    "camera_height": ("top", "center", "bottom"),
    "background_color": ("purple", "sea_green", "salmon"),
}
ALIASES = {
    "object_color": ("color", "colour", "hue", "object_colour"),
    "object_shape": ("shape", "category", "label"),
    "object_size": ("scale", "size"),
    "camera_height": ("height", "camera", "elevation"),
    "background_color": ("background", "background_colour", "bg_color"),
    "horizontal_axis": ("posX", "x", "pos_x", "first_dof", "horizontal"),
    "vertical_axis": ("posY", "y", "pos_y", "second_dof", "vertical"),
}
DESCRIPTIONS = {
    "horizontal_axis": "robot arm rotation about the vertical axis, step 0..k-1 (moves the object across)",
    "vertical_axis": "robot arm rotation about the horizontal axis, step 0..k-1 (moves the object up/down)",
}


def mpi3d_factors(sizes: tuple[int, ...]) -> tuple[Factor, ...]:
    """Factors for a grid of ``sizes``; class names are the official ones where a size is official."""
    out = []
    for name, size, official in zip(NAMES, sizes, SIZES):
        if name in CLASS_NAMES:
            names = CLASS_NAMES[name] if size == official else tuple(f"{name}_{i}" for i in range(size))
            kind = "binary" if size == 2 else "categorical"
            out.append(Factor(name, kind, class_names=names, aliases=ALIASES[name], description=name.replace("_", " ")))
        else:
            out.append(Factor(name, "continuous", values=tuple(float(i) for i in range(size)),
                              aliases=ALIASES[name], description=DESCRIPTIONS[name]))
    return tuple(out)


class MPI3D(LazyFileMixin, FactorDataset):
    """One MPI3D variant, memory-mapped from its official ``.npz``.

    Parameters
    ----------
    variant: ``toy``, ``realistic`` or ``real``.
    root: the ``.npz`` or its folder (default: ``$PROBEKIT_DATA``).
    sizes: factor sizes of the file's C-order grid; default the official (6, 6, 2, 3, 3, 40, 40).
    """

    image_shape = (3, 64, 64)
    _transient = ("_images",)

    def __init__(self, variant: str, root=None, *, sizes=SIZES):
        if variant not in VARIANTS:
            raise ConfigError(f"unknown MPI3D variant {variant!r}; use one of {', '.join(VARIANTS)}")
        self.variant = variant
        self.name = f"mpi3d-{variant}"
        self.sizes = tuple(int(s) for s in sizes)
        if len(self.sizes) != len(NAMES) or min(self.sizes) < 1:
            raise ConfigError(f"{self.name}: sizes={sizes!r} must be {len(NAMES)} positive factor sizes "
                              f"({', '.join(NAMES)}); the official ones are {SIZES}")
        file = f"mpi3d_{variant}.npz"
        self.path = locate(root, [file], dataset=self.name, source=SOURCE.format(variant=variant))
        self.member = inspect_member(self.path, "images")
        shape = self.member.shape
        if len(shape) != 4 or shape[1:] != (64, 64, 3) or self.member.dtype != np.uint8:
            raise DataError(f"{self.path.name}: images are {shape} {self.member.dtype}; the official file has "
                            "(N, 64, 64, 3) uint8")
        self.grid = FactorGrid(self.sizes)
        self._check_n(shape[0])
        if self.member.compressed:
            raise DataError(f"{self.path.name}: 'images' is compressed, so it cannot be read at random without "
                            f"decompressing all {shape[0]:,} images; convert it once with {convert_hint(self.path)}")
        self.factors = mpi3d_factors(self.sizes)
        self._images = None  # memory map, opened on first use (and again in each worker process)

    def _check_n(self, n: int) -> None:
        if n == len(self.grid):
            return
        old = int(np.prod(OLD_TOY_SIZES))
        hint = (f"{n:,} images is the older toy release with sizes {OLD_TOY_SIZES}: pass sizes={OLD_TOY_SIZES} "
                f"or get the current release" if n == old else
                f"neither the official sizes {SIZES} ({int(np.prod(SIZES)):,} images) nor the older toy release's "
                f"{OLD_TOY_SIZES} ({old:,}) fit; is the file complete?")
        raise DataError(f"{self.path.name} holds {n:,} images but factor sizes {self.sizes} give "
                        f"{len(self.grid):,}; {hint}")

    def __len__(self) -> int:
        return len(self.grid)

    def config(self) -> dict:
        return {"name": self.name, **file_identity(self.path), "sizes": list(self.sizes)}

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        idx = np.arange(len(self)) if indices is None else self.check_indices(indices)
        codes = self.grid.codes(idx)  # (B, 7): labels are the row's position in the C-order grid
        return {f.name: (codes[:, j] if f.is_discrete else np.asarray(f.values, np.float64)[codes[:, j]])
                for j, f in enumerate(self.factors)}

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        idx = self.check_indices(indices)
        if self._images is None:
            self._images = memmap_member(self.member)    # (N, 64, 64, 3) uint8 on disk
        order = np.argsort(idx, kind="stable")           # touch the file in increasing offset order
        out = np.empty((len(idx), 64, 64, 3), dtype=np.uint8)
        out[order] = self._images[idx[order]]
        return to_tensor(out)                            # (B, 3, 64, 64)


def _register(variant: str) -> None:
    @register_dataset(f"mpi3d-{variant}", help=f"MPI3D-{variant} from the official mpi3d_{variant}.npz "
                                                "(root=<file or folder>; memory-mapped)")
    def _factory(root=None, **options) -> FactorDataset:
        return MPI3D(variant, root, **options)


for _variant in VARIANTS:
    _register(_variant)
