"""Shared fixtures: every test runs offline with private torch/HF caches and a scratch working dir."""
from __future__ import annotations

import os

import pytest
import torch

# Two cores: keep torch from oversubscribing when tests run next to other work.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _offline_caches(tmp_path_factory, monkeypatch):
    """Point TORCH_HOME and the Hugging Face cache at empty private folders for every test."""
    root = tmp_path_factory.mktemp("caches")
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("HF_HOME", str(root / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root / "hf" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test inside an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
