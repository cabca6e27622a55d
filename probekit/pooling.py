"""Pooling: turn one layer's output into a (B, D) feature matrix. Pure functions, one registry."""
from __future__ import annotations

import torch

from .errors import ConfigError
from .registry import Registry

POOLING: Registry = Registry("pooling")


@POOLING.register("avg", help="global average over space for (B, C, H, W) maps; mean over tokens for (B, T, D)")
def avg_pool(x: torch.Tensor, *, num_prefix_tokens: int = 0) -> torch.Tensor:
    if x.ndim == 4:
        return x.mean(dim=(2, 3))
    if x.ndim == 3:
        return x[:, num_prefix_tokens:].mean(dim=1)
    return x.flatten(1)


@POOLING.register("cls", help="the first (class) token of (B, T, D) token outputs")
def cls_pool(x: torch.Tensor, *, num_prefix_tokens: int = 0) -> torch.Tensor:
    if x.ndim != 3:
        raise ConfigError(f"pooling 'cls' needs token outputs (B, T, D), got shape {tuple(x.shape)}; use --pool avg or flatten")
    return x[:, 0]


@POOLING.register("mean", help="mean over the patch tokens of (B, T, D), prefix tokens excluded")
def mean_pool(x: torch.Tensor, *, num_prefix_tokens: int = 0) -> torch.Tensor:
    if x.ndim != 3:
        return avg_pool(x, num_prefix_tokens=num_prefix_tokens)
    return x[:, num_prefix_tokens:].mean(dim=1)


@POOLING.register("flatten", help="all values of the layer output, flattened")
def flatten_pool(x: torch.Tensor, *, num_prefix_tokens: int = 0) -> torch.Tensor:
    return x.flatten(1)


@POOLING.register("auto", help="avg for conv maps, cls for tokens with a class token (else mean), vectors as they are")
def auto_pool(x: torch.Tensor, *, num_prefix_tokens: int = 0) -> torch.Tensor:
    if x.ndim == 4:
        return avg_pool(x)
    if x.ndim == 3:
        return cls_pool(x) if num_prefix_tokens > 0 else mean_pool(x)
    return x.flatten(1)


def pool(x: torch.Tensor, method: str = "auto", *, num_prefix_tokens: int = 0) -> torch.Tensor:
    """Pool a layer output ``x`` to (B, D) with the registered ``method``."""
    return POOLING.get(method)(x, num_prefix_tokens=num_prefix_tokens)
