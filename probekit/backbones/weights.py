"""Safe loading of weight files: ``torch.load(weights_only=True)`` or safetensors, never pickle code."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError


def file_id(path: str | os.PathLike) -> str:
    """``file:<path>#sha256=<first 16 hex>`` identifying a weights file by content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"file:{Path(path).resolve()}#sha256={h.hexdigest()[:16]}"


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file, without executing any pickled code."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist; pass the path of a .pth/.pt/.bin/.safetensors file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unreadable, truncated, or holds objects that weights_only refuses
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"cannot read weights file {path}: {first[:200]} (only plain tensor state dicts in "
                           "torch or safetensors format are accepted)") from e
    # common wrappers: {"state_dict": ...}, {"model": ...}
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"weights file {path} does not hold a state dict of tensors")
    return sd


def apply_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], *, source: str, arch: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error when the weights are for another architecture."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [k for k in own if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} shape mismatches (e.g. {k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)})")
        raise WeightsError(f"weights {source} do not fit architecture {arch}: {'; '.join(parts)}; "
                           "pass weights saved from the same architecture")
    model.load_state_dict(state_dict, strict=True)
