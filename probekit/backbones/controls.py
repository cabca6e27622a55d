"""The paper's control representations: raw pixels and a fixed seeded random projection of them."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from .base import Backbone
from .preprocess import Preprocessing


class Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class RandomProjection(nn.Module):
    """x (B, ...) -> x.flatten(1) @ P with P (D_in, width) ~ N(0, 1/D_in), fixed by ``seed``.

    P is drawn on first use, when D_in is known, from a CPU generator seeded with ``seed``: the same
    seed and input size give the same projection on every machine and for every batch size.
    """

    def __init__(self, width: int = 2048, seed: int = 0):
        super().__init__()
        self.width, self.seed = int(width), int(seed)
        self.register_buffer("matrix", torch.empty(0), persistent=False)

    def _matrix(self, d_in: int, device, dtype) -> torch.Tensor:
        if self.matrix.shape != (d_in, self.width):
            g = torch.Generator().manual_seed(self.seed)
            self.matrix = torch.randn(d_in, self.width, generator=g).div_(math.sqrt(d_in))
        return self.matrix.to(device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)                                   # (B, D_in)
        return flat @ self._matrix(flat.shape[1], flat.device, flat.dtype)  # (B, width)


def _pixel_preprocessing(image_size: int | None, channels: int | None) -> Preprocessing:
    # Pixels stay on [0, 1] (no normalisation) at the dataset's own size unless asked otherwise.
    return Preprocessing(input_size=image_size, mean=(0.0,), std=(1.0,), channels=channels,
                         source="raw pixels scaled to [0, 1]")


def build_pixels(*, image_size: int | None = None, channels: int | None = None, **_) -> Backbone:
    """Raw pixels, flattened: the no-learning baseline."""
    return Backbone(Flatten(), name="pixels", weights="none", preprocessing=_pixel_preprocessing(image_size, channels),
                    layers=[], head=None, label="pixels", info={"family": "control"})


def build_random_projection(*, width: int = 2048, seed: int = 0, image_size: int | None = None,
                            channels: int | None = None, **_) -> Backbone:
    """A fixed random linear projection of the pixels to ``width`` dimensions (the paper's "input")."""
    if int(width) <= 0:
        raise ConfigError(f"random-projection width must be a positive integer, got {width}")
    return Backbone(RandomProjection(width, seed), name="random-projection",
                    weights=f"gaussian(seed={seed}, width={width})",
                    preprocessing=_pixel_preprocessing(image_size, channels), layers=[], head=None,
                    label=f"random projection ({width}-d)", info={"family": "control", "width": int(width)})
