"""LinearProbe: a scikit-learn estimator (check_estimator) that picks ridge or logistic regression."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from probekit.probes.linear_probe import LinearProbe, ProbeInputError, infer_task

# Small grids keep the ~50 checks per estimator fast; every check passes (none is marked xfail).
FAST = dict(alphas=(0.01, 1.0, 100.0), Cs=(0.1, 10.0), device="cpu", dtype="float64")


@parametrize_with_checks([LinearProbe(**FAST), LinearProbe("classification", **FAST),
                          LinearProbe("regression", **FAST)])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def test_tags_follow_the_task():
    assert is_classifier(LinearProbe("classification")) and not is_regressor(LinearProbe("classification"))
    assert is_regressor(LinearProbe("regression"))
    assert not is_classifier(LinearProbe()) and not is_regressor(LinearProbe())


@pytest.mark.parametrize("y, task", [
    (np.array([0, 1, 2, 1]), "classification"),
    (np.array(["a", "b", "a", "b"]), "classification"),
    (np.array([0.0, 1.0, 1.0, 0.0]), "classification"),
    (np.linspace(0, 1, 50), "regression"),
    (np.arange(30, dtype=float), "regression"),        # many integral float values: a continuous factor
    (np.random.default_rng(0).normal(size=(10, 2)), "regression"),
])
def test_infer_task(y, task):
    assert infer_task(y) == task


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    return X, X @ rng.normal(size=8)


def test_regression_matches_sklearn_ridge(blobs):
    X, s = blobs
    y = s + np.random.default_rng(1).normal(size=len(s))
    probe = LinearProbe(alpha=3.0, device="cpu").fit(X, y)
    ref = Ridge(alpha=3.0).fit(X, y)
    assert probe.task_ == "regression" and probe.alpha_ == 3.0 and probe.n_iter_ == 1
    np.testing.assert_allclose(probe.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(probe.predict(X), ref.predict(X), atol=1e-4)
    assert not hasattr(probe, "predict_proba") and not hasattr(probe, "decision_function")
    searched = LinearProbe(device="cpu").fit(X, np.stack([y, -y], axis=1))
    assert searched.coef_.shape == (2, 8) and searched.alpha_.shape == (2,)


def test_classification_matches_sklearn_logistic(blobs):
    X, s = blobs
    labels = np.array(["low", "mid", "high"])[np.digitize(s, [-1.0, 1.0])]
    probe = LinearProbe(C=0.5, device="cpu", dtype="float64", tol=1e-8).fit(X, labels)
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, labels)
    assert list(probe.classes_) == ["high", "low", "mid"] and probe.coef_.shape == (3, 8)
    np.testing.assert_allclose(probe.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert (probe.predict(X) == ref.predict(X)).mean() > 0.99
    assert probe.score(X, labels) == pytest.approx(ref.score(X, labels), abs=0.01)


def test_C_search_prefers_weak_regularisation_on_separable_data(blobs):
    X, s = blobs
    y = (s > 0).astype(int)
    probe = LinearProbe(Cs=(1e-4, 1.0, 100.0), device="cpu").fit(X, y)
    assert probe.C_ in (1.0, 100.0) and probe.coef_.shape == (1, 8)
    np.testing.assert_array_equal(probe.decision_function(X) > 0, probe.predict(X) == 1)


def test_sklearn_backend_and_clone(blobs):
    X, s = blobs
    y = (s > 0).astype(int)
    a = LinearProbe(C=1.0, backend="sklearn").fit(X, y)
    b = clone(a).set_params(backend="torch", device="cpu", dtype="float64", tol=1e-8).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-3)


def test_bad_input_is_a_value_error(blobs):
    X, s = blobs
    with pytest.raises(ProbeInputError, match="task must be"):
        LinearProbe("ordinal").fit(X, s)
    with pytest.raises(ValueError, match="one class"):
        LinearProbe("classification").fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="Unknown label type"):
        LinearProbe("classification").fit(X, s)
