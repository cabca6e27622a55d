"""Any timm model as ``timm:<name>``; pretrained weights come from the Hugging Face cache only."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from ..errors import UnknownNameError, WeightsError, unknown_name
from .base import Backbone
from .preprocess import Preprocessing
from .weights import apply_state_dict, file_id, load_state_dict_file


@contextlib.contextmanager
def _hf_offline():
    """Force huggingface_hub offline (it reads HF_HUB_OFFLINE at import, so patch the constant too)."""
    from huggingface_hub import constants

    old_env, old_const = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"], constants.HF_HUB_OFFLINE = "1", True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = old_const
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env


def _cached_hf_file(hf_hub_id: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors"):
        hit = try_to_load_from_cache(hf_hub_id, filename)
        if isinstance(hit, str):
            return hit
    return None


def build_timm(name: str, *, weights: str | os.PathLike | None = "default", seed: int = 0,
               image_size: int | None = None, **_) -> Backbone:
    """Create ``timm:<name>`` as a Backbone; ``weights`` is "default", "none" or a file path."""
    import timm
    from timm.data import resolve_data_config

    if not timm.is_model(name) and not timm.list_models(name):
        raise unknown_name("timm model", name, timm.list_models(), hint="see timm.list_models()")
    choice = "none" if weights is None else str(weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = timm.create_model(name, pretrained=False)
    cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
    if choice == "none":
        weights_id, label = f"random-init(seed={seed})", f"timm:{name} (random init)"
    elif choice == "default":
        hub_id = cfg.get("hf_hub_id")
        if not hub_id:
            raise WeightsError(f"timm:{name} has no Hugging Face weights id; pass --weights FILE or --weights none")
        if _cached_hf_file(hub_id) is None:
            from huggingface_hub.constants import HF_HUB_CACHE

            raise WeightsError(
                f"pretrained weights for timm:{name} are not in the Hugging Face cache: expected "
                f"{Path(HF_HUB_CACHE) / ('models--' + hub_id.replace('/', '--'))}/snapshots/<rev>/model.safetensors; "
                "download it there on a machine with internet (huggingface-cli download "
                f"{hub_id}), pass --weights FILE, or use --weights none")
        try:
            with _hf_offline(), torch.random.fork_rng(devices=[]):  # the cache has it: never touch the network
                torch.manual_seed(seed)
                model = timm.create_model(name, pretrained=True)
        except Exception as e:
            raise WeightsError(f"cannot load cached weights of timm:{name} ({hub_id}): {str(e).splitlines()[0][:200]}") from e
        weights_id, label = f"timm:{hub_id}", f"timm:{name}"
    else:
        apply_state_dict(model, load_state_dict_file(choice), source=f"file {choice}", arch=f"timm:{name}")
        weights_id, label = file_id(choice), f"timm:{name} ({Path(choice).name})"
    data_cfg = resolve_data_config({}, model=model)
    pre = Preprocessing(input_size=int(image_size or data_cfg["input_size"][-1]), mean=tuple(data_cfg["mean"]),
                        std=tuple(data_cfg["std"]), channels=int(data_cfg["input_size"][0]),
                        interpolation=str(data_cfg.get("interpolation", "bilinear")),
                        source=f"timm pretrained_cfg of {name}")
    head_module = model.get_classifier() if hasattr(model, "get_classifier") else None
    head = next((n for n, m in model.named_modules() if m is head_module and n), None)
    info = getattr(model, "feature_info", None)
    if info:
        layers = [str(f["module"]) for f in info]
    else:
        layers = [n for n, _ in model.named_children() if head is None or n != head.split(".")[0]]
    return Backbone(model, name=f"timm:{name}", weights=weights_id, preprocessing=pre, layers=layers, head=head,
                    num_prefix_tokens=int(getattr(model, "num_prefix_tokens", 0) or 0), label=label,
                    info={"family": "timm", "timm_version": timm.__version__})


__all__ = ["build_timm", "UnknownNameError"]
