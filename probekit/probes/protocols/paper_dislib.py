"""The ``paper-dislib`` protocol: the DisLib decoding of Reizinger et al. (ICLR 2025, Sec. 4.2, Table 4).

Reproduces the published numbers, weaknesses included (see ``docs/probing.md``):

* every factor is z-scored over all rows and regressed as a number, categorical codes included (so the
  "category" score is a correlation with class codes, not an accuracy);
* ordinary least squares **without intercept** from the raw (unstandardised) features, fitted on the
  training part of a random 80/10/10 split (per seed) with ``numpy.linalg.lstsq``;
* Pearson r between prediction and factor on the 10 % held-out part (the paper's validation split).

Use the ``default`` protocol for honest numbers; this one exists to compare with the paper.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...data.factors import Factor
from ...errors import ConfigError
from .. import metrics as M
from ..splits import permuted, random_partition
from ..stats import chance_level, permutation_pvalue
from ._common import build_config, constant_reason, skipped_row
from .base import register_protocol

NOTE = "paper protocol: lstsq without intercept onto the z-scored factor (class codes as numbers)"


@dataclass(frozen=True)
class PaperDislibConfig:
    """Options of ``paper-dislib`` (the paper's values by default)."""

    train_fraction: float = 0.8   # fit on the first 80 % of a seeded permutation (the paper's train split)
    test_fraction: float = 0.1    # score on the next 10 % (the paper's validation split); the rest is unused
    rcond: float | None = None    # numpy.linalg.lstsq cut-off for small singular values (None: machine eps)

    def __post_init__(self):
        if not (0 < self.train_fraction < 1 and 0 < self.test_fraction < 1
                and self.train_fraction + self.test_fraction <= 1):
            raise ConfigError(f"train_fraction and test_fraction must be in (0, 1) with a sum <= 1, got "
                              f"{self.train_fraction} and {self.test_fraction}")


def zscore_targets(values: dict[str, np.ndarray]) -> np.ndarray:
    """(N, T) float64: each factor z-scored over all rows, as the paper did (class codes as numbers)."""
    Y = np.stack([np.asarray(v, dtype=np.float64) for v in values.values()], axis=1)
    return (Y - Y.mean(axis=0)) / Y.std(axis=0)


@register_protocol("paper-dislib", help="the paper's DisLib decoding: lstsq without intercept, Pearson r")
def paper_dislib_protocol(X: np.ndarray, targets: dict[str, tuple[Factor, np.ndarray]], *, seeds: Sequence[int],
                          backend=None, probe=None, null_permutations: int = 0, **options) -> list[dict]:
    """Least squares without intercept from ``X`` (N, D) to each z-scored factor; Pearson r held out.

    ``backend`` is accepted for the common signature and unused (numpy's lstsq is the reference).
    """
    cfg = build_config(PaperDislibConfig, options, protocol="paper-dislib")
    if probe is not None:
        raise ConfigError("protocol 'paper-dislib' fits the paper's least squares and takes no custom probe; "
                          "use protocol='default' with probe=...")
    n_perm = int(null_permutations or 0)
    rows, keep = [], {}
    for name, (spec, values) in targets.items():
        reason = constant_reason(spec, values)
        if reason:
            rows.append(skipped_row(name, spec, reason))
        else:
            keep[name] = (spec, values)
    if not keep:
        return rows
    Y = zscore_targets({n: v for n, (_, v) in keep.items()})       # (N, T)
    T = Y.shape[1]
    X = np.asarray(X)
    for seed in seeds:
        train, test = random_partition(len(X), fractions=(cfg.train_fraction, cfg.test_fraction), seed=int(seed))
        Xtr = X[train].astype(np.float64)                           # (n_train, D)
        perms = permuted(np.arange(len(train)), seed=[int(seed), 3], n=n_perm)  # (P, n_train)
        Ytr = np.concatenate([Y[train]] + [Y[train][p] for p in perms], axis=1)  # (n_train, T * (1 + P))
        W = np.linalg.lstsq(Xtr, Ytr, rcond=cfg.rcond)[0]           # (D, T * (1 + P))
        pred_te = X[test].astype(np.float64) @ W                    # (n_test, T * (1 + P))
        pred_tr = Xtr @ W[:, :T]
        for j, (name, (spec, _)) in enumerate(keep.items()):
            base = {"factor": name, "kind": spec.kind, "seed": int(seed), "decoder": "lstsq (no intercept)",
                    "n_train": int(len(train)), "n_test": int(len(test)), "n_units": int(X.shape[1]),
                    "note": NOTE}
            for split, rows_, pred in (("train", train, pred_tr[:, j]), ("test", test, pred_te[:, j])):
                value = float(M.pearson_r(Y[rows_, j], pred))
                row = {**base, "metric": "pearson_r", "split": split, "value": value,
                       "chance": chance_level("pearson_r")}
                if split == "test" and n_perm:
                    null = [float(M.pearson_r(Y[test, j], pred_te[:, (i + 1) * T + j])) for i in range(n_perm)]
                    row.update(null_mean=float(np.nanmean(null)), p_perm=permutation_pvalue(value, null), null=null)
                rows.append(row)
    return rows


paper_dislib_protocol.config_class = PaperDislibConfig
