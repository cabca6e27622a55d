"""Training on factor data, beside the extract/probe pipeline (never imported by it).

Subpackages are imported explicitly (e.g. ``probekit.train.simulate``); this module stays light.

Cross-entropy training (``probekit train``)::

    from probekit.train import TrainConfig, train
    run_dir = train(TrainConfig(dataset="dsprites", target="shape", arch="mlp", limit=20_000))
    # then: create_backbone(f"ckpt:{run_dir}"), load_split(run_dir)["test"]
"""
from .config import TrainConfig

__all__ = ["TrainConfig", "load_split", "read_metrics", "read_summary", "train"]


def __getattr__(name):  # torch-heavy parts load on first use
    if name == "train":
        from .loop import train

        return train
    if name == "load_split":
        from ..backbones.checkpoint import load_split

        return load_split
    if name in ("read_metrics", "read_summary"):
        from . import rundir

        return getattr(rundir, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
