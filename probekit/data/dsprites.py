"""Procedural dSprites: the official factor grid, rendered on demand from the sample index.

The official file (``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``) cannot be downloaded here, so
this renderer reproduces its factor grid and row order (C order over color, shape, scale, orientation,
posX, posY: posY varies fastest) and draws the three sprites procedurally. One deliberate difference:
the 40 orientations are ``k * 2pi / 40`` in [0, 2pi), whereas the official file uses
``linspace(0, 2pi, 40)``, whose first and last values are the same angle. Images are binary; they are
returned as uint8 {0, 255}. ``color-dsprites`` adds a discrete object colour factor.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .base import FactorDataset
from .factors import Factor, FactorGrid

SIZE = 64  # image side in pixels
SHAPES = ("square", "ellipse", "heart")
SCALES = tuple(np.linspace(0.5, 1.0, 6))
ORIENTATIONS = tuple(np.arange(40) * (2 * math.pi / 40))  # [0, 2pi); the heart is the only asymmetric sprite
POSITIONS = tuple(np.linspace(0.0, 1.0, 32))
# Geometry (pixels): sprite centres span [MARGIN, SIZE - MARGIN]; half-extent at scale 1 is RADIUS.
MARGIN = 10.0
RADIUS = 9.5

# A handful of clearly distinct object colours for color-dsprites (RGB in [0, 1]).
COLORS = {
    "white": (1.0, 1.0, 1.0),
    "red": (1.0, 0.15, 0.15),
    "green": (0.15, 0.9, 0.15),
    "blue": (0.2, 0.35, 1.0),
    "yellow": (1.0, 0.9, 0.1),
    "magenta": (0.95, 0.2, 0.9),
}

_POS_ALIASES_X = ("x", "pos_x", "position_x", "horizontal", "posx")
_POS_ALIASES_Y = ("y", "pos_y", "position_y", "vertical", "posy")


def dsprites_factors(color_names: tuple[str, ...]) -> tuple[Factor, ...]:
    color_kind = "binary" if len(color_names) == 2 else "categorical"
    return (
        Factor("color", color_kind, class_names=color_names, aliases=("colour", "object_color", "hue"),
               description="object colour" + (" (constant in dSprites)" if len(color_names) == 1 else "")),
        Factor("shape", "categorical", class_names=SHAPES, aliases=("category", "object_shape", "label"),
               description="sprite shape"),
        Factor("scale", "continuous", values=SCALES, aliases=("size", "object_size"), description="sprite scale"),
        Factor("orientation", "periodic", values=ORIENTATIONS, period=2 * math.pi,
               aliases=("rotation", "angle", "pose"),
               description="rotation in radians (ambiguous for the symmetric square and ellipse)"),
        Factor("posX", "continuous", values=POSITIONS, aliases=_POS_ALIASES_X, description="horizontal position"),
        Factor("posY", "continuous", values=POSITIONS, aliases=_POS_ALIASES_Y, description="vertical position"),
    )


def _inside(shape: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of sprite-frame points (u, v) (x right, y up; unit = RADIUS * scale) per shape code."""
    out = np.empty(u.shape, dtype=bool)
    for code in np.unique(shape):  # evaluate each shape only on its own rows
        rows = shape == code
        uu, vv = u[rows], v[rows]
        if code == 0:    # square
            out[rows] = (np.abs(uu) <= 0.8) & (np.abs(vv) <= 0.8)
        elif code == 1:  # ellipse, aspect 2:1
            out[rows] = uu**2 + (vv / 0.5) ** 2 <= 1.0
        else:            # implicit heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, shrunk to fit the unit disc
            hx, hy = uu * 1.15, vv * 1.15 + 0.1
            out[rows] = (hx**2 + hy**2 - 1.0) ** 3 - hx**2 * hy**3 <= 0.0
    return out


def render(shape: np.ndarray, scale: np.ndarray, orientation: np.ndarray, pos_x: np.ndarray,
           pos_y: np.ndarray) -> np.ndarray:
    """Render a batch of sprites: (B,) factor values -> (B, 64, 64) bool masks (row 0 = top)."""
    centre = np.arange(SIZE, dtype=np.float64) + 0.5  # pixel centres
    cx = MARGIN + np.asarray(pos_x, np.float64) * (SIZE - 2 * MARGIN)
    cy = MARGIN + np.asarray(pos_y, np.float64) * (SIZE - 2 * MARGIN)
    dx = centre[None, None, :] - cx[:, None, None]            # (B, 1, W)
    dy = -(centre[None, :, None] - cy[:, None, None])         # (B, H, 1), y up
    # Rounded so that quarter turns are exact permutations (a square turned by 90 degrees is identical).
    c = np.round(np.cos(orientation), 12)[:, None, None]
    s = np.round(np.sin(orientation), 12)[:, None, None]
    r = (RADIUS * np.asarray(scale, np.float64))[:, None, None]
    u = (c * dx + s * dy) / r                                # rotate the pixel grid by -orientation
    v = (-s * dx + c * dy) / r
    return _inside(np.asarray(shape), u, v)


class DSprites(FactorDataset):
    """Procedural dSprites: 737,280 binary 64x64 sprites on the official factor grid and row order.

    Parameters
    ----------
    colors: object colour names (keys of ``COLORS``); one colour gives the 1-channel official dataset.
    """

    def __init__(self, colors: tuple[str, ...] = ("white",)):
        unknown = [c for c in colors if c not in COLORS]
        if unknown or not colors:
            raise ConfigError(f"unknown dSprites colour(s) {unknown}; allowed: {', '.join(COLORS)}")
        self.colors = tuple(colors)
        self.rgb = np.array([COLORS[c] for c in self.colors], dtype=np.float64)  # (K, 3)
        self.factors = dsprites_factors(self.colors)
        self.grid = FactorGrid((len(self.colors), len(SHAPES), len(SCALES), len(ORIENTATIONS),
                                len(POSITIONS), len(POSITIONS)))
        self.image_shape = (1 if len(self.colors) == 1 else 3, SIZE, SIZE)
        self.name = "dsprites" if self.colors == ("white",) else "color-dsprites"

    def __len__(self) -> int:
        return len(self.grid)

    def config(self) -> dict:
        return {"name": self.name, "renderer": "probekit-procedural-v1", "colors": list(self.colors)}

    def factor_codes(self, indices: np.ndarray) -> np.ndarray:
        """(B,) indices -> (B, 6) int64 class indices, like the official ``latents_classes``."""
        return self.grid.codes(indices)

    def factor_values(self, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        codes = self.grid.codes(idx)
        out = {}
        for j, f in enumerate(self.factors):
            out[f.name] = codes[:, j] if f.is_discrete else np.asarray(f.values)[codes[:, j]]
        return out

    def load_images(self, indices: np.ndarray) -> torch.Tensor:
        codes = self.grid.codes(self.check_indices(indices))
        mask = render(codes[:, 1], np.asarray(SCALES)[codes[:, 2]], np.asarray(ORIENTATIONS)[codes[:, 3]],
                      np.asarray(POSITIONS)[codes[:, 4]], np.asarray(POSITIONS)[codes[:, 5]])
        if self.image_shape[0] == 1:
            img = mask[:, None].astype(np.uint8) * 255                       # (B, 1, H, W)
        else:
            rgb = np.round(self.rgb[codes[:, 0]] * 255).astype(np.uint8)     # (B, 3)
            img = mask[:, None] * rgb[:, :, None, None]                      # (B, 3, H, W)
        return torch.from_numpy(np.ascontiguousarray(img, dtype=np.uint8))


def color_dsprites(n_colors: int = 6) -> DSprites:
    """dSprites with ``n_colors`` object colours as an extra ``color`` factor (slowest in row order)."""
    if not 2 <= n_colors <= len(COLORS):
        raise ConfigError(f"color-dsprites takes 2 to {len(COLORS)} colours, got {n_colors}")
    return DSprites(colors=tuple(list(COLORS)[:n_colors]))
