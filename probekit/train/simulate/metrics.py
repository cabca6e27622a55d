"""Identifiability metrics of the simulation: held-out R^2 of linear maps. Pure functions, no I/O.

The paper (and its published code) scores a representation by the R^2 of a least-squares linear
regression from the features onto the ground truth, fitted on the first half of the samples and
scored on the second half (the samples are iid draws, so a fixed split is an unbiased one):

- ``affine``: with an intercept (scikit-learn ``LinearRegression()``);
- ``orthogonal``: without an intercept (``LinearRegression(fit_intercept=False)``). The name is the
  paper's; the published code fits an unconstrained linear map without intercept, not an orthogonal
  one, and so does probekit.

R^2 is scikit-learn's ``r2_score`` averaged uniformly over the target dimensions.
"""
from __future__ import annotations

import numpy as np


def _as_float64(a) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination, averaged over the columns: 1 - SS_res / SS_tot per column.

    A column with zero variance scores 1.0 if predicted exactly and 0.0 otherwise (as scikit-learn).
    """
    y_true, y_pred = _as_float64(y_true), _as_float64(y_pred)  # (n, k)
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return float(r2.mean())


def linear_r2(features, targets, *, fit_intercept: bool = True, train_fraction: float = 0.5) -> float:
    """Held-out R^2 of the least-squares linear map ``features -> targets``.

    Parameters
    ----------
    features:
        (n, p) array or tensor, the representation.
    targets:
        (n, k) array or tensor, the ground truth.
    fit_intercept:
        Fit an intercept ("affine") or not ("orthogonal" in the paper's tables).
    train_fraction:
        The first ``int(n * train_fraction)`` rows fit the map, the rest score it.
    """
    x, y = _as_float64(features), _as_float64(targets)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"features and targets need the same number of rows; got {x.shape[0]} and {y.shape[0]}")
    n_train = int(x.shape[0] * train_fraction)
    if not 0 < n_train < x.shape[0]:
        raise ValueError(f"train_fraction {train_fraction} leaves an empty split of {x.shape[0]} rows")
    if fit_intercept:
        x = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    coef, *_ = np.linalg.lstsq(x[:n_train], y[:n_train], rcond=None)  # (p[+1], k)
    return r2_score(y[n_train:], x[n_train:] @ coef)


def identifiability_scores(features, latents) -> dict[str, float]:
    """R^2 of ``features`` (n, d) -> ``latents`` z (n, d): ``{"r2_affine", "r2_orthogonal"}``."""
    return {
        "r2_affine": linear_r2(features, latents, fit_intercept=True),
        "r2_orthogonal": linear_r2(features, latents, fit_intercept=False),
    }


def head_scores(head_weight, cluster_vectors) -> dict[str, float]:
    """R^2 of the head's rows (N, d) -> their cluster vectors ``v_{i mod |C|}`` (DIET only).

    ``cluster_vectors``: (|C|, d). Row i of the head is the prototype of instance i, which belongs to
    cluster i mod |C|; the regression is fitted on the first half of the rows and scored on the rest.
    Returns ``{"w_r2_affine", "w_r2_orthogonal"}``.
    """
    w, v = _as_float64(head_weight), _as_float64(cluster_vectors)
    target = v[np.arange(w.shape[0]) % v.shape[0]]  # (N, d)
    return {
        "w_r2_affine": linear_r2(w, target, fit_intercept=True),
        "w_r2_orthogonal": linear_r2(w, target, fit_intercept=False),
    }
