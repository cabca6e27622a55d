"""The ``default`` protocol: held-out test splits, train-only preprocessing, regularisation search, nulls.

What is fitted on which rows (per seed)
---------------------------------------
* **test split**: held out once per (seed, factor): stratified by class for categorical/binary factors,
  random (shared by all continuous/periodic factors) otherwise. It depends on the seed and the factor
  values only, so every layer and model of a dataset is scored on the same rows.
* **standardisation and unit filtering**: z-score statistics and the list of units that are constant
  (max == min) come from the training rows only and are then applied to the test rows.
* **continuous factors**: ridge regression, alpha chosen per target by generalised cross-validation
  (efficient leave-one-out) over ``alphas`` on the training rows; metrics R^2 and Pearson r.
* **periodic factors**: ridge onto ``(sin, cos)`` of the angle; the metric is the R^2 of that 2-d
  embedding (pooled over both coordinates), noted in the row.
* **categorical/binary factors**: L2 logistic regression (multinomial for > 2 classes). ``C`` is chosen
  on a validation split carved (stratified) out of the training rows, with standardisation refitted on
  the remaining rows; the chosen C is then refitted on all training rows. Metrics accuracy, balanced
  accuracy and (binary) ROC-AUC.
* **null** (``null_permutations=N``): the decoder is refitted on N shuffles of the training labels with
  the same regularisation and scored on the test rows; rows then carry ``null_mean`` and ``p_perm``.

A custom scikit-learn estimator passed as ``probe`` replaces ridge/logistic regression (cloned per fit,
on the same standardised features); no regularisation search is done for it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...data.factors import Factor
from ...errors import ConfigError
from ..splits import TooFewSamplesError, check_class_counts, random_split
from . import _continuous, _discrete
from ._common import build_config, constant_reason, custom_probe_for, skipped_row
from .base import register_protocol

SELECT_BY = ("log_loss", "accuracy", "balanced_accuracy")


@dataclass(frozen=True)
class DefaultConfig:
    """Options of the ``default`` protocol (written into every result file)."""

    test_fraction: float = 0.3     # share of rows held out for testing (per class for discrete factors)
    val_fraction: float = 0.2      # share of the training rows used to choose C for logistic regression
    # ridge regularisation grid (features are standardised, so alpha is on the scale of n_train)
    alphas: tuple[float, ...] = field(default_factory=lambda: tuple(float(a) for a in np.logspace(-2, 6, 17)))
    ridge_cv: str | int = "gcv"    # alpha selection on the training rows: "gcv" (leave-one-out) or k folds
    # logistic-regression grid of C (inverse L2 strength, scikit-learn's convention)
    Cs: tuple[float, ...] = field(default_factory=lambda: tuple(float(c) for c in np.logspace(-4, 2, 7)))
    select_by: str = "log_loss"    # validation criterion for C: log_loss | accuracy | balanced_accuracy
    max_iter: int | None = None    # logistic iterations; None runs to convergence (tol below)
    tol: float = 1e-4              # logistic convergence: max |gradient of the mean loss| (scikit-learn's default)
    standardize: bool = True       # z-score every unit with training statistics (else only drop constants)
    min_class_count: int = 3       # smallest class accepted: one sample each in fit, validation and test
    small_classes: str = "error"   # a class below min_class_count: "error" raises, "skip" reports a row

    def __post_init__(self):
        for name in ("test_fraction", "val_fraction"):
            v = getattr(self, name)
            if not 0.0 < float(v) < 1.0:
                raise ConfigError(f"{name} must lie strictly between 0 and 1, got {v}")
        if not self.alphas or min(self.alphas) < 0:
            raise ConfigError(f"alphas must be a non-empty list of values >= 0, got {self.alphas}")
        if not self.Cs or min(self.Cs) <= 0:
            raise ConfigError(f"Cs must be a non-empty list of values > 0, got {self.Cs}")
        if self.select_by not in SELECT_BY:
            raise ConfigError(f"select_by must be one of {', '.join(SELECT_BY)}, got {self.select_by!r}")
        if int(self.min_class_count) < 3:
            raise ConfigError(f"min_class_count must be >= 3 (fit, validation and test each need one sample "
                              f"of every class), got {self.min_class_count}")
        if self.small_classes not in ("error", "skip"):
            raise ConfigError(f"small_classes must be 'error' or 'skip', got {self.small_classes!r}")


@register_protocol("default", help="held-out test split, train-only preprocessing, regularisation search")
def default_protocol(X: np.ndarray, targets: dict[str, tuple[Factor, np.ndarray]], *, seeds: Sequence[int],
                     backend, probe=None, null_permutations: int = 0, **options) -> list[dict]:
    """Run the default protocol on one feature matrix ``X`` (N, D) for every target and seed.

    Returns tidy rows (see :mod:`probekit.probes.protocols.base`); factors that cannot be probed come
    back as ``metric="skipped"`` rows with the reason in ``note``.
    """
    cfg = build_config(DefaultConfig, options, protocol="default")
    n_perm = int(null_permutations or 0)
    X = np.asarray(X)
    rows: list[dict] = []
    discrete, continuous = {}, {}
    for name, (spec, values) in targets.items():
        reason = constant_reason(spec, values)
        est, mismatch = custom_probe_for(probe, spec)
        if reason is None and mismatch:
            reason = mismatch
        if reason is None and spec.is_discrete:
            reason = _small_class_reason(name, spec, values, cfg)
        if reason is not None:
            rows.append(skipped_row(name, spec, reason))
        elif spec.is_discrete:
            discrete[name] = (spec, values, est)
        else:
            continuous[name] = (spec, values, est)
    for seed in seeds:
        for name, (spec, values, est) in discrete.items():
            rows += _discrete.probe_one(X, name, spec, values, seed=int(seed), cfg=cfg, backend=backend,
                                        probe=est, n_perm=n_perm)
        if continuous:
            train, test = random_split(len(X), test_fraction=cfg.test_fraction, seed=int(seed))
            rows += _continuous.probe_seed(X, continuous, train, test, seed=int(seed), cfg=cfg,
                                           backend=backend, n_perm=n_perm)
    order = {name: i for i, name in enumerate(targets)}
    return sorted(rows, key=lambda r: order[r["factor"]])  # stable: request order, then seed


def _small_class_reason(name: str, spec: Factor, values: np.ndarray, cfg: DefaultConfig) -> str | None:
    """None when every class is large enough; the reason (small_classes='skip') or raise (='error')."""
    try:
        check_class_counts(values, needed=int(cfg.min_class_count), what=f"factor {name!r}",
                           class_names=spec.class_names or None)
    except TooFewSamplesError as e:
        if cfg.small_classes == "error":
            raise
        return str(e)
    return None


default_protocol.config_class = DefaultConfig
