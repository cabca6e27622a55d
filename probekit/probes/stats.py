"""Statistics of probe scores (pure functions, no I/O): summaries, tests, corrections, chance levels.

Scores of one (model, layer, factor, metric) over seeds are summarised by their mean and standard error.
Significance is tested against one of two references:

* a label-permutation null (the protocol refits on shuffled training labels and scores on the test
  split): ``p = (1 + #{null >= observed}) / (1 + n_perm)``, exact and honest even when test sets are
  small or seeds overlap;
* otherwise a one-sample t-test of the per-seed scores against the analytic chance level, by default
  with the Nadeau & Bengio correction for the overlap of repeated random splits.

p-values of a family of tests are corrected with Bonferroni or Holm (both control the family-wise
error rate; Holm is uniformly more powerful).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

CORRECTIONS = ("holm", "bonferroni", "none")


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return v[np.isfinite(v)]


def mean(values) -> float:
    """Mean of the finite values (NaN when there are none)."""
    v = _finite(values)
    return float(v.mean()) if v.size else float("nan")


def sem(values) -> float:
    """Standard error of the mean, ``std(ddof=1) / sqrt(n)``, of the finite values (NaN for n < 2)."""
    v = _finite(values)
    return float(v.std(ddof=1) / np.sqrt(v.size)) if v.size >= 2 else float("nan")


def ttest_1samp(values, popmean: float, *, alternative: str = "greater",
                test_train_ratio: float = 0.0) -> tuple[float, float]:
    """One-sample t-test of ``values`` against ``popmean``. Returns ``(t, p)``.

    ``alternative="greater"`` (default) tests "the score is above chance". ``test_train_ratio`` > 0
    applies the Nadeau & Bengio (2003) correction for scores of repeated random splits of one data
    set, whose overlap makes the plain test anti-conservative: the variance of the mean is taken as
    ``s^2 (1/n + n_test/n_train)`` instead of ``s^2 / n``. With 0 this is scipy's ``ttest_1samp``.
    Zero spread (every seed scored the same) gives ``t = +-inf`` and ``p`` 0 or 1 instead of NaN;
    fewer than two values give NaN.
    """
    from scipy import stats as st

    if alternative not in ("greater", "less", "two-sided"):
        raise ConfigError(f"alternative must be 'greater', 'less' or 'two-sided', got {alternative!r}")
    v = _finite(values)
    if v.size < 2:
        return float("nan"), float("nan")
    diff = float(v.mean() - popmean)
    sd = float(v.std(ddof=1))
    if sd == 0:
        if diff == 0:
            return 0.0, 1.0
        t = float(np.sign(diff) * np.inf)
        hit = {"greater": diff > 0, "less": diff < 0, "two-sided": True}[alternative]
        return t, 0.0 if hit else 1.0
    t = diff / (sd * np.sqrt(1.0 / v.size + max(0.0, float(test_train_ratio))))
    dist = st.t(df=v.size - 1)
    p = {"greater": dist.sf(t), "less": dist.cdf(t), "two-sided": 2 * dist.sf(abs(t))}[alternative]
    return float(t), float(p)


def permutation_pvalue(observed: float, null) -> float:
    """``(1 + #{null >= observed}) / (1 + n_perm)``: the p-value of a score against its permutation null.

    >>> permutation_pvalue(0.9, [0.5, 0.4, 0.6])
    0.25
    """
    null = np.asarray(null, dtype=np.float64).reshape(-1)
    if null.size == 0 or not np.isfinite(observed):
        return float("nan")
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def pooled_permutation_pvalue(observed: Sequence[float], nulls: Sequence[Sequence[float]]) -> float:
    """Permutation p-value of the mean over seeds.

    ``observed`` (S,) holds one score per seed and ``nulls`` (S, P) the scores of P independent label
    shuffles per seed. The k-th shuffles of every seed together are one draw of the mean's null, so the
    mean over seeds is compared with the (P,) means of the null columns.
    """
    obs = np.asarray(observed, dtype=np.float64)
    null = np.asarray(nulls, dtype=np.float64)
    if null.ndim != 2 or null.shape[0] != obs.shape[0] or null.shape[1] == 0:
        return float("nan")
    return permutation_pvalue(float(obs.mean()), null.mean(axis=0))


def bonferroni(pvalues) -> np.ndarray:
    """Bonferroni-adjusted p-values ``min(1, m p)`` (NaNs are kept and not counted in m)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = np.count_nonzero(np.isfinite(p))
    return np.where(np.isfinite(p), np.minimum(1.0, p * m), np.nan)


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (NaNs are kept and not counted).

    The i-th smallest p (0-based) is multiplied by ``m - i``; a running maximum keeps the order.

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    adj = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(1.0, adj)
    return out


def correct(pvalues, method: str = "holm") -> np.ndarray:
    """Adjust a family of p-values by ``method`` in :data:`CORRECTIONS`."""
    if method == "holm":
        return holm(pvalues)
    if method == "bonferroni":
        return bonferroni(pvalues)
    if method == "none":
        return np.asarray(pvalues, dtype=np.float64)
    raise ConfigError(f"unknown correction {method!r}; use one of {', '.join(CORRECTIONS)}")


def chance_level(metric: str, *, y_true=None, n_classes: int | None = None) -> float:
    """What a decoder that ignores the features scores on ``metric``.

    accuracy: the majority-class rate of ``y_true`` (the test labels); balanced_accuracy: ``1 / K``
    (``n_classes``, else the classes present in ``y_true``); roc_auc: 0.5; r2 and pearson_r: 0.
    Unknown metrics give NaN.
    """
    if metric == "accuracy":
        if y_true is None or len(y_true) == 0:
            return float("nan")
        _, counts = np.unique(np.asarray(y_true), return_counts=True)
        return float(counts.max() / counts.sum())
    if metric == "balanced_accuracy":
        k = n_classes if n_classes else (len(np.unique(np.asarray(y_true))) if y_true is not None else 0)
        return 1.0 / k if k else float("nan")
    if metric == "roc_auc":
        return 0.5
    if metric in ("r2", "pearson_r"):
        return 0.0
    return float("nan")
