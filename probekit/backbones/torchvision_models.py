"""torchvision classification models by their usual names (``resnet50``, ``vit_b_16``, ...)."""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import nn

from ..errors import WeightsError
from .base import Backbone, last_linear
from .preprocess import Preprocessing
from .weights import apply_state_dict, file_id, load_state_dict_file


def classification_models() -> list[str]:
    """Names of torchvision's classification models."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _weights_enum(name: str, choice: str):
    """The torchvision weights enum member for ``choice`` ("default" or a member name), or None."""
    try:
        enum = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        return None
    if choice in ("default", "DEFAULT"):
        return enum.DEFAULT
    try:
        return enum[choice]
    except KeyError:
        allowed = ", ".join(["default", "none", *enum.__members__, "<file>"])
        raise WeightsError(f"unknown weights {choice!r} for {name}; allowed: {allowed}") from None


def _preprocessing(weights) -> Preprocessing:
    if weights is None:
        return Preprocessing(source="imagenet defaults (no weights config)")
    t = weights.transforms()
    return Preprocessing(input_size=int(t.crop_size[0]), mean=tuple(t.mean), std=tuple(t.std),
                         interpolation=getattr(t.interpolation, "value", "bilinear"),
                         source=f"torchvision:{weights}")


def _curated_layers(model: nn.Module) -> list[str]:
    """Probe points shallow to deep for the usual torchvision families."""
    if all(hasattr(model, f"layer{i}") for i in range(1, 5)):          # resnet, resnext, wide_resnet
        return [f"layer{i}" for i in range(1, 5)]
    encoder = getattr(model, "encoder", None)
    if encoder is not None and hasattr(encoder, "layers"):              # vit
        return [f"encoder.layers.{n}" for n, _ in encoder.layers.named_children()]
    trunk = getattr(model, "trunk_output", None)
    if trunk is not None:                                               # regnet
        return [f"trunk_output.{n}" for n, _ in trunk.named_children()]
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):                             # convnext, efficientnet, mobilenet, vgg
        return [f"features.{n}" for n, _ in features.named_children()]
    head = last_linear(model)
    top = head.split(".")[0] if head else None
    return [n for n, _ in model.named_children() if n != top]


def cached_weights_path(weights) -> Path:
    """Where torch.hub keeps (or would keep) the file of a torchvision weights enum."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def build_torchvision(name: str, *, weights: str | os.PathLike | None = "default", seed: int = 0,
                      image_size: int | None = None, **_) -> Backbone:
    """Create a torchvision classifier as a Backbone.

    ``weights``: "default" (the recommended pretrained weights, from the torch.hub cache), a weights
    enum member name (``IMAGENET1K_V1``), "none" (seeded random init) or a weights file path.
    """
    choice = "none" if weights is None else str(weights)
    is_file = choice not in ("none", "default", "DEFAULT") and (os.sep in choice or Path(choice).suffix in (
        ".pth", ".pt", ".bin", ".safetensors", ".ckpt"))
    enum = _weights_enum(name, "default" if choice in ("none",) or is_file else choice)
    kwargs = {}
    if enum is not None:
        kwargs["num_classes"] = len(enum.meta["categories"])
        if name.startswith("vit_") and enum.transforms().crop_size[0] != 224:
            kwargs["image_size"] = int(enum.transforms().crop_size[0])
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.manual_seed(seed)
        model = torchvision.models.get_model(name, weights=None, **kwargs)
    if choice == "none":
        weights_id, label = f"random-init(seed={seed})", f"{name} (random init)"
    elif is_file:
        apply_state_dict(model, load_state_dict_file(choice), source=f"file {choice}", arch=name)
        weights_id, label = file_id(choice), f"{name} ({Path(choice).name})"
    else:
        if enum is None:
            raise WeightsError(f"torchvision has no pretrained weights for {name}; use --weights none or --weights FILE")
        path = cached_weights_path(enum)
        if not path.is_file():
            raise WeightsError(
                f"pretrained weights {enum} for {name} are not cached: expected the file {path} "
                f"(from {enum.url}); copy it there (or set TORCH_HOME), pass --weights FILE, or use --weights none")
        try:
            sd = torch.hub.load_state_dict_from_url(enum.url, progress=False, check_hash=False,
                                                    map_location="cpu", weights_only=True)
        except Exception as e:
            raise WeightsError(f"cannot read cached weights {path}: {str(e).splitlines()[0][:200]}; "
                               "delete the file and fetch it again") from e
        apply_state_dict(model, sd, source=f"file {path}", arch=name)
        weights_id, label = f"torchvision:{enum}", name
    pre = _preprocessing(enum)
    if image_size is not None:
        pre = Preprocessing(**{**pre.to_dict(), "input_size": int(image_size)})
    return Backbone(model, name=name, weights=weights_id, preprocessing=pre, layers=_curated_layers(model),
                    head=last_linear(model), num_prefix_tokens=1 if name.startswith("vit_") else 0, label=label,
                    info={"family": "torchvision", "torchvision_version": torchvision.__version__})
