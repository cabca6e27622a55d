"""Input preprocessing of a backbone and the adaptation of a dataset's images to it."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How uint8 images become model input.

    Images are scaled to [0, 1], adapted to ``channels`` (grey -> RGB by repetition, RGB -> grey by
    the mean), resized to ``input_size`` (None keeps the dataset's size), then normalised with
    ``mean``/``std``. The whole image is resized, never cropped: cropping would cut off objects near
    the border, and factor datasets put objects everywhere.
    """

    input_size: int | None = 224            # square side in pixels; None: keep the dataset's size
    mean: tuple[float, ...] = IMAGENET_MEAN  # per channel, on [0, 1] pixel values
    std: tuple[float, ...] = IMAGENET_STD
    channels: int | None = 3                 # channels the model expects; None: keep the dataset's
    interpolation: str = "bilinear"          # bilinear | bicubic | nearest
    source: str = "imagenet defaults"        # where these values came from (weights config, ...)

    def to_dict(self) -> dict:
        return asdict(self)

    def adaptation(self, image_shape: tuple[int, int, int]) -> dict:
        """What :meth:`__call__` does to images of ``image_shape`` (C, H, W): recorded in the store."""
        c, h, w = image_shape
        size = self.input_size
        return {
            **self.to_dict(),
            "channels_in": c,
            "channel_adaptation": "none" if self.channels in (None, c) else (
                f"{c}->{self.channels} (repeat)" if c == 1 else f"{c}->{self.channels} (mean)"),
            "resize": "none" if size is None or (h, w) == (size, size) else f"{h}x{w}->{size}x{size} {self.interpolation}",
        }

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) uint8 -> (B, channels, S, S) float32 normalised model input."""
        x = images.to(torch.float32).div_(255.0)
        c = x.shape[1]
        if self.channels is not None and c != self.channels:
            if c == 1:
                x = x.expand(-1, self.channels, -1, -1)
            elif self.channels == 1:
                x = x.mean(dim=1, keepdim=True)
            else:
                raise ValueError(f"cannot adapt {c}-channel images to a {self.channels}-channel model")
        if self.input_size is not None and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            mode = self.interpolation if self.interpolation in ("bilinear", "bicubic", "nearest") else "bilinear"
            kw = {} if mode == "nearest" else {"align_corners": False, "antialias": True}
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode=mode, **kw)
        # mean/std of length 1 broadcast over every channel
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std
