"""Backbones: pretrained or trained models that turn images into per-layer features."""
import importlib.util as _util

from .base import PENULTIMATE, Backbone
from .preprocess import Preprocessing
from .registry import BACKBONES, create_backbone, list_backbones, register_backbone

if _util.find_spec(f"{__name__}.checkpoint") is not None:  # ckpt:<dir>, written by probekit train
    from . import checkpoint  # noqa: F401  (registers "ckpt:")

__all__ = ["BACKBONES", "PENULTIMATE", "Backbone", "Preprocessing", "create_backbone", "list_backbones",
           "register_backbone"]
