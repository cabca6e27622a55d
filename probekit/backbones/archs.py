"""The architectures ``probekit train`` can train, rebuilt from plain model args.

Each network is built by :func:`build_model` from JSON-able arguments (``arch``, ``in_channels``,
``image_size``, ``n_classes``), so a checkpoint can be turned back into a network without importing
the training code. Every network exposes ``head_name`` (the classifier whose *input* is the
penultimate representation) and ``layer_names`` (curated probe points, shallow to deep).

>>> m = build_model("convnet-small", in_channels=1, image_size=64, n_classes=3)
>>> m.head_name, m.layer_names, m.feature_dim
('head', ['block1', 'block2', 'block3', 'block4'], 128)
"""
from __future__ import annotations

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock

from ..errors import ConfigError, unknown_name

MLP_WIDTH = 512         # the paper's MLP: 3 hidden layers of 512 units, BatchNorm + ReLU
CONVNET_WIDTHS = (32, 64, 128, 128)


class LinearClassifier(nn.Module):
    """A linear map of the flattened pixels: the penultimate representation is the pixels themselves."""

    head_name = "head"
    layer_names: list[str] = []

    def __init__(self, in_channels: int, image_size: int, n_classes: int):
        super().__init__()
        self.feature_dim = in_channels * image_size * image_size
        self.flatten = nn.Flatten()
        self.head = nn.Linear(self.feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, n_classes)
        return self.head(self.flatten(x))


class MLP(nn.Module):
    """The paper's MLP: flatten -> 3 x (Linear 512, BatchNorm, ReLU) -> Linear head."""

    head_name = "head"
    layer_names = ["block1", "block2", "block3"]

    def __init__(self, in_channels: int, image_size: int, n_classes: int, width: int = MLP_WIDTH):
        super().__init__()
        self.feature_dim = width
        self.flatten = nn.Flatten()
        dims = [in_channels * image_size * image_size, width, width, width]
        for i in range(3):
            self.add_module(f"block{i + 1}", nn.Sequential(nn.Linear(dims[i], dims[i + 1]), nn.BatchNorm1d(dims[i + 1]),
                                                           nn.ReLU(inplace=True)))
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.flatten(x)                                   # (B, C*H*W)
        h = self.block3(self.block2(self.block1(h)))          # (B, 512)
        return self.head(h)


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class ConvNetSmall(nn.Module):
    """A small CNN that trains on 64x64 images on a CPU in minutes.

    block1 is a 4x4 stride-4 "patchify" convolution (64 -> 16 pixels), block2 a 3x3 stride-2
    convolution (-> 8 pixels), blocks 3-4 3x3 convolutions at 8x8, each with BatchNorm and ReLU; then
    global average pooling to a 128-d feature and a linear head. On colour-dSprites shape (batch 128,
    Adam 1e-3) this reached 0.77 validation accuracy in 400 steps; four stride-2 3x3 blocks from full
    resolution reached 0.76 at 1.5-2x the time per step, and letting blocks 3-4 downsample too (to 4x4
    and 2x2 pixels) was faster still but reached only 0.54.
    """

    head_name = "head"
    layer_names = ["block1", "block2", "block3", "block4"]

    def __init__(self, in_channels: int, image_size: int, n_classes: int, widths=CONVNET_WIDTHS):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.block1 = _conv_block(in_channels, w1, 4, 4, 0)   # (B, 32, S/4, S/4)
        self.block2 = _conv_block(w1, w2, 3, 2, 1)            # (B, 64, S/8, S/8)
        self.block3 = _conv_block(w2, w3, 3, 1, 1)            # (B, 128, S/8, S/8)
        self.block4 = _conv_block(w3, w4, 3, 1, 1)            # (B, 128, S/8, S/8)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.feature_dim = w4
        self.head = nn.Linear(w4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block4(self.block3(self.block2(self.block1(x))))
        return self.head(self.pool(h))                        # (B, 128) -> (B, n_classes)


class ResNet18(torchvision.models.ResNet):
    """torchvision's ResNet18 from scratch, first conv taking ``in_channels``; 512-d features.

    A subclass rather than a wrapper, so module names (``layer1`` ... ``fc``) match ``resnet18``.
    """

    head_name = "fc"
    layer_names = ["layer1", "layer2", "layer3", "layer4"]

    def __init__(self, in_channels: int, image_size: int, n_classes: int):
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=n_classes)
        # The paper's "1-channel or 3-channel first conv": torchvision's shape with another input depth.
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.feature_dim = 512


ARCHS = {"convnet-small": ConvNetSmall, "linear": LinearClassifier, "mlp": MLP, "resnet18": ResNet18}
CONV_ARCHS = ("convnet-small", "resnet18")  # trained and run in channels_last memory format


def check_arch(arch: str) -> str:
    """Return ``arch`` if it is a trainable architecture, else raise with the closest names."""
    if arch not in ARCHS:
        raise unknown_name("architecture", arch, ARCHS, hint="use --arch " + "|".join(sorted(ARCHS)))
    return arch


def build_model(arch: str, *, in_channels: int, image_size: int, n_classes: int) -> nn.Module:
    """Build a freshly initialised network from plain model args (uses the global torch RNG).

    Parameters
    ----------
    arch: one of ``resnet18``, ``mlp``, ``linear``, ``convnet-small``.
    in_channels: channels of the training images (1 for dSprites, 3 for colour datasets).
    image_size: side of the square training images in pixels.
    n_classes: number of classes of the target factor.
    """
    cls = ARCHS[check_arch(arch)]
    for key, value in (("in_channels", in_channels), ("image_size", image_size), ("n_classes", n_classes)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    if arch == "convnet-small" and image_size < 16:
        raise ConfigError(f"convnet-small needs images of at least 16x16 pixels, got {image_size}; use --arch mlp")
    return cls(in_channels, image_size, n_classes)


def model_args(arch: str, *, in_channels: int, image_size: int, n_classes: int) -> dict:
    """The JSON-able arguments :func:`build_model` takes (what a checkpoint records)."""
    return {"arch": check_arch(arch), "in_channels": int(in_channels), "image_size": int(image_size),
            "n_classes": int(n_classes)}
