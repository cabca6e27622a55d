"""Shared factor vocabulary and label discretisation for the official-file readers.

Canonical factor names are each dataset's own official names; the shared vocabulary below is added
as aliases where the meaning matches, so ``--factors color,scale`` (or ``category``, ``posX``,
``orientation``) resolves on every dataset that has such a factor. The aliases mirror the procedural
dSprites in ``probekit/data/dsprites.py``.
"""
from __future__ import annotations

import numpy as np

from ...errors import DataError

COLOR = ("color", "colour", "hue", "object_color")
SHAPE = ("shape", "category", "object_shape", "label")
SCALE = ("scale", "size", "object_size")
ORIENTATION = ("orientation", "rotation", "angle", "pose")
POS_X = ("posX", "x", "pos_x", "position_x", "horizontal", "posx")
POS_Y = ("posY", "y", "pos_y", "position_y", "vertical", "posy")


def aliases(name: str, *groups: tuple[str, ...], extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The aliases of factor ``name``: its vocabulary groups and ``extra``, minus the name itself."""
    out: list[str] = []
    for a in (*[a for g in groups for a in g], *extra):
        if a.lower() != name.lower() and a not in out:
            out.append(a)
    return tuple(out)


def discretise(column: np.ndarray, grid, *, name: str, source: str) -> np.ndarray:
    """Real-valued labels -> int64 codes on the official ``grid``, without float-division binning.

    ``np.unique(return_inverse=True)`` finds the distinct values; each is matched to its nearest grid
    value. Distinct values therefore stay distinct classes (two values that would land on the same
    grid value raise instead of merging silently), and a file holding only part of the grid keeps the
    official codes. Binning as ``floor((v - min) / step)`` is what merges classes when a value sits a
    rounding error below its bin edge.

    Parameters
    ----------
    column: (N,) float labels of one factor.
    grid: the official values of that factor, increasing.
    name, source: factor and file, for messages.
    """
    grid = np.asarray(grid, dtype=np.float64)
    uniques, inverse = np.unique(np.asarray(column, dtype=np.float64), return_inverse=True)
    nearest = np.abs(uniques[:, None] - grid[None, :]).argmin(axis=1)       # (U,) grid position
    spacing = np.diff(grid).min() if len(grid) > 1 else 1.0
    off = np.abs(uniques - grid[nearest])
    if off.size and off.max() > spacing / 4:
        bad = uniques[off.argmax()]
        raise DataError(f"{source}: label {name} = {bad!r} is not on the official grid "
                        f"{np.round(grid, 6).tolist()}; is this the official file?")
    if len(np.unique(nearest)) != len(nearest):
        dup = nearest[np.flatnonzero(np.diff(nearest) == 0)[0]]
        both = uniques[nearest == dup]
        raise DataError(f"{source}: labels {name} = {both.tolist()} are distinct values that both sit at the "
                        f"grid value {grid[dup]!r}; refusing to merge classes")
    return nearest[inverse].astype(np.int64)
