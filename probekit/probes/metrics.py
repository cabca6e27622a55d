"""Probe metrics: pure functions, numpy in, float (or one float per target) out, no I/O.

They agree with ``sklearn.metrics`` on well-posed inputs; undefined cases (a constant target, a single
class for ROC-AUC) give NaN instead of a warning and an arbitrary number.

>>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
0.75
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""
from __future__ import annotations

import numpy as np


def _pair(y_true, y_pred, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true), np.asarray(y_pred)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{what}: y_true has {a.shape[0]} rows but the predictions have {b.shape[0]}")
    return a, b


def accuracy(y_true, y_pred) -> float:
    """Share of exact matches between ``y_true`` (n,) and ``y_pred`` (n,) (NaN when n == 0)."""
    a, b = _pair(y_true, y_pred, what="accuracy")
    return float(np.mean(a == b)) if a.size else float("nan")


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean over the classes present in ``y_true`` of the recall ``P(pred = c | true = c)``."""
    a, b = _pair(y_true, y_pred, what="balanced_accuracy")
    if a.size == 0:
        return float("nan")
    return float(np.mean([np.mean(b[a == c] == c) for c in np.unique(a)]))


def roc_auc(y_true, score) -> float:
    """Binary ROC-AUC from ranks (Mann-Whitney U; tied scores count one half).

    The positive class is the larger label of ``y_true`` (1 for 0/1 codes). NaN unless ``y_true``
    holds exactly two classes.
    """
    from scipy.stats import rankdata

    a, s = _pair(y_true, score, what="roc_auc")
    s = np.asarray(s, dtype=np.float64).reshape(len(a), -1)
    if s.shape[1] == 2:                     # (n, 2) probabilities: the positive column
        s = s[:, 1:]
    classes = np.unique(a)
    if len(classes) != 2 or s.shape[1] != 1:
        return float("nan")
    pos = a == classes[1]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    ranks = rankdata(s[:, 0])               # average ranks handle ties
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _columns(y_true, y_pred, what: str) -> tuple[np.ndarray, np.ndarray, bool]:
    a, b = _pair(y_true, y_pred, what=what)
    one = a.ndim == 1
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape != b.shape:
        raise ValueError(f"{what}: y_true {a.shape} and y_pred {b.shape} must have the same shape")
    return a, b, one


def r2(y_true, y_pred):
    """Coefficient of determination ``1 - SSE / SST`` per target.

    ``(n,)`` inputs give a float, ``(n, T)`` inputs a (T,) array; a constant target gives NaN.
    """
    a, b, one = _columns(y_true, y_pred, "r2")
    sst = ((a - a.mean(axis=0)) ** 2).sum(axis=0)
    sse = ((a - b) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)
    return float(out[0]) if one else out


def pearson_r(y_true, y_pred):
    """Pearson correlation per target (float for (n,) inputs, (T,) array for (n, T)); NaN if constant."""
    a, b, one = _columns(y_true, y_pred, "pearson_r")
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, (a * b).sum(axis=0) / np.where(den > 0, den, 1.0), np.nan)
    out = np.clip(out, -1.0, 1.0)
    return float(out[0]) if one else out
