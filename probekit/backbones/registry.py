"""Backbone registry and factory: ``create_backbone(name, ...)`` and ``list_backbones()``.

Names: torchvision classification models as typed (``resnet50``), ``timm:<name>``, ``random:<name>``
(the same architecture at a seeded random init), ``pixels``, ``random-projection`` and ``ckpt:<dir>``
(models trained by ``probekit train``).
"""
from __future__ import annotations

import functools

from ..registry import Registry
from .base import Backbone

BACKBONES: Registry = Registry("backbone")


def register_backbone(name: str, *, help: str = ""):
    """Decorator: register ``factory(arg_or_None, **options) -> Backbone``; a name ending in ':' is a prefix."""
    return BACKBONES.register(name, help=help)


def create_backbone(name: str, *, weights: str | None = "default", seed: int = 0, image_size: int | None = None,
                    device: str | None = None, **options) -> Backbone:
    """Build a registered backbone, frozen and in eval mode.

    Parameters
    ----------
    name: ``resnet50``, ``vit_b_16``, ``timm:convnext_tiny``, ``random:resnet50``, ``pixels``,
        ``random-projection``, ``ckpt:runs/NAME``, ...
    weights: "default" (pretrained, from the library's cache), "none" (seeded random init), a weights
        enum name, or a file path (read with ``weights_only=True`` or safetensors).
    seed: seed of a random init or random projection.
    image_size: override the model's input size (images are resized to it).
    device: move the backbone there ("cpu", "cuda"); None leaves it on the CPU.

    >>> bb = create_backbone("resnet18", weights="none", image_size=64)
    >>> bb.layer_names[-2:]
    ['layer4', 'penultimate']
    """
    factory, arg = BACKBONES.resolve(name)
    kwargs = dict(weights=weights, seed=seed, image_size=image_size, **options)
    backbone = factory(arg, **kwargs) if arg is not None else factory(**kwargs)
    return backbone.to(device) if device else backbone


def list_backbones(*, include_torchvision: bool = True) -> list[str]:
    """Registered backbone names (prefix families shown as ``prefix:<...>``)."""
    names = BACKBONES.names()
    return names if include_torchvision else [n for n in names if BACKBONES.describe().get(n, "") != _TV_HELP]


# -- built-in entries ------------------------------------------------------------------------------
_TV_HELP = "torchvision classification model"


def _register_torchvision() -> None:
    from .torchvision_models import build_torchvision, classification_models

    for tv_name in classification_models():
        BACKBONES.register(tv_name, functools.partial(build_torchvision, tv_name), help=_TV_HELP)


@register_backbone("timm:", help="any timm model, e.g. timm:vit_small_patch16_224")
def _timm(model_name: str, **kw) -> Backbone:
    from .timm_models import build_timm

    return build_timm(model_name, **kw)


@register_backbone("random:", help="the same architecture at a seeded random init, e.g. random:resnet50")
def _random(inner: str, *, weights=None, **kw) -> Backbone:
    return create_backbone(inner, weights="none", **kw)


@register_backbone("pixels", help="raw pixels, flattened (no learning)")
def _pixels(**kw) -> Backbone:
    from .controls import build_pixels

    return build_pixels(**kw)


@register_backbone("random-projection", help="fixed seeded Gaussian projection of the pixels (default 2048-d)")
def _random_projection(**kw) -> Backbone:
    from .controls import build_random_projection

    return build_random_projection(**kw)


_register_torchvision()
