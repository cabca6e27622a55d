"""probekit.probes.metrics agrees with sklearn.metrics / scipy on well-posed inputs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn import metrics as skm

from probekit.probes import metrics as M


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_accuracy_and_balanced_accuracy(rng):
    y = rng.integers(0, 4, size=300)
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, size=300))
    assert M.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert M.balanced_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    labels = np.array(["a", "b", "c"])[y % 3]
    guess = np.array(["a", "b", "c"])[pred % 3]
    assert M.balanced_accuracy(labels, guess) == pytest.approx(skm.balanced_accuracy_score(labels, guess))
    assert isinstance(M.accuracy(y, pred), float)


@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_matches_sklearn(rng, ties):
    y = rng.integers(0, 2, size=500)
    score = y * 0.7 + rng.normal(size=500)
    if ties:
        score = np.round(score, 1)  # many tied scores across classes
    assert M.roc_auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    # labels other than 0/1: the larger one is positive; (n, 2) probabilities use the second column
    assert M.roc_auc(np.where(y == 1, 7, 3), score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    proba = np.stack([1 - score, score], axis=1)
    assert M.roc_auc(y, proba) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_roc_auc_undefined_is_nan():
    assert np.isnan(M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert M.roc_auc([0, 1], [0.5, 0.5]) == 0.5  # one tie counts one half


def test_r2_and_pearson_per_target(rng):
    Y = rng.normal(size=(200, 3))
    P = Y + rng.normal(scale=0.5, size=(200, 3))
    np.testing.assert_allclose(M.r2(Y, P), skm.r2_score(Y, P, multioutput="raw_values"), rtol=1e-12)
    assert M.r2(Y[:, 0], P[:, 0]) == pytest.approx(skm.r2_score(Y[:, 0], P[:, 0]))
    np.testing.assert_allclose(M.pearson_r(Y, P), [pearsonr(Y[:, j], P[:, j])[0] for j in range(3)], rtol=1e-12)
    assert isinstance(M.pearson_r(Y[:, 1], P[:, 1]), float)
    assert np.isnan(M.r2(np.ones(5), np.arange(5.0)))
    assert np.isnan(M.pearson_r(np.arange(5.0), np.ones(5)))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="rows"):
        M.accuracy([0, 1], [0, 1, 1])
