"""The training configuration: one frozen dataclass, written into every run directory and checkpoint."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from ..errors import ConfigError

# Keys that may change when a run is resumed: where it runs and how fast, not what it computes.
RESUMABLE_KEYS = ("device", "num_workers", "out")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Cross-entropy training of one architecture on one factor of a factor dataset.

    The defaults are the paper's DisLib setup (Adam, lr 1e-3, batch 4096, up to 100 epochs, stop once
    validation accuracy > 0.999, random 80/10/10 split) except ``limit``: a seeded 50,000-image subset
    so that a CPU run takes minutes; ``limit=None`` trains on the whole dataset, as the paper does.
    """

    dataset: str = "dsprites"         # registered factor dataset (`probekit datasets`)
    target: str = "shape"             # factor to classify; must be categorical or binary
    arch: str = "convnet-small"       # resnet18 | mlp | linear | convnet-small (the paper: mlp, resnet18)
    epochs: int = 100                 # upper bound; early stopping usually ends the run sooner
    batch_size: int = 4096            # the paper's batch size
    lr: float = 1e-3                  # Adam learning rate (other Adam settings: torch defaults)
    val_fraction: float = 0.1         # share of the images held out for early stopping
    test_fraction: float = 0.1        # share held out for the final test accuracy (and later probing)
    seed: int = 0                     # seeds the subset, the split, the init and the data order
    device: str = "auto"              # auto (cuda if available) | cpu | cuda | cuda:N
    limit: int | None = 50_000        # seeded random subset of the dataset; None = every image (paper)
    target_val_acc: float = 0.999     # stop once validation accuracy exceeds this; 1.0 never stops early
    eval_every: int = 1               # validate every N epochs (and at the last epoch)
    checkpoint_every: int = 0         # also checkpoint every N steps inside an epoch; 0 = per epoch only
    precision: str = "fp32"           # fp32 | bf16 (autocast; faster on recent GPUs and some CPUs)
    num_workers: int = 0              # worker processes that render/decode the image cache once
    out: str | None = None            # run directory; None = runs/<dataset>-<target>-<arch>[-seed<seed>]

    def __post_init__(self):
        def bad(key, allowed):
            value = getattr(self, key)
            raise ConfigError(f"{key} must be {allowed}, got {value!r}; fix --{key.replace('_', '-')}")

        for key in ("epochs", "batch_size", "eval_every"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                bad(key, "a positive integer")
        for key in ("checkpoint_every", "num_workers", "seed"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 0:
                bad(key, "an integer >= 0")
        if not self.lr > 0:
            bad("lr", "a positive number")
        for key in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, key) < 1.0:
                bad(key, "in [0, 1)")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError(f"val_fraction + test_fraction must leave at least 10% for training, got "
                              f"{self.val_fraction} + {self.test_fraction}; lower --val-fraction/--test-fraction")
        if not 0.0 < self.target_val_acc <= 1.0:
            bad("target_val_acc", "in (0, 1]")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 10):
            bad("limit", "an integer >= 10 (or None for the full dataset)")
        if self.precision not in PRECISIONS:
            bad("precision", " or ".join(PRECISIONS))
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            bad("device", "auto, cpu, cuda or cuda:N")

    @property
    def run_dir(self) -> str:
        """Where the run is written: ``out`` or ``runs/<dataset>-<target>-<arch>`` (``-seed<N>`` unless 0)."""
        return self.out or f"runs/{self.dataset}-{self.target}-{self.arch}" + (f"-seed{self.seed}" if self.seed else "")

    def to_dict(self) -> dict:
        """Plain JSON-able values of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Rebuild a config; unknown keys raise (a checkpoint from another probekit version)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown training config keys {unknown}; allowed: {', '.join(sorted(names))}")
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def differences(self, other: TrainConfig, *, ignore=RESUMABLE_KEYS) -> list[str]:
        """Names of the fields whose values differ from ``other`` (``ignore``d keys excluded)."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k not in ignore and a[k] != b[k]]
