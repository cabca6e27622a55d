"""Protocols called directly on arrays: splits, planted signal, no test leakage, paper-dislib == lstsq."""
from __future__ import annotations

import numpy as np
import pytest
from probe_fixtures import FACTORS, synthetic_data
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from probekit.errors import ConfigError, ProbekitError
from probekit.probes import get_backend, get_protocol
from probekit.probes.splits import stratified_split, validation_split

SPECS = {f.name: f for f in FACTORS}


def targets_of(values, names):
    return {n: (SPECS[n], values[n]) for n in names}


@pytest.fixture(scope="module")
def backend():
    return get_backend("torch", device="cpu")


# -- splits ---------------------------------------------------------------------------------------
def test_stratified_split_keeps_class_shares_and_is_seeded():
    codes = np.repeat([0, 1, 2], [100, 40, 10])
    tr, te = stratified_split(codes, test_fraction=0.3, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == len(codes)
    assert np.bincount(codes[te]).tolist() == [30, 12, 3]
    tr2, te2 = stratified_split(codes, test_fraction=0.3, seed=0)
    assert np.array_equal(te, te2)
    assert not np.array_equal(te, stratified_split(codes, test_fraction=0.3, seed=1)[1])
    fit, val = validation_split(tr, codes=codes, val_fraction=0.2, seed=[0, 1])
    assert set(fit) | set(val) == set(tr) and not set(fit) & set(val)
    assert set(np.unique(codes[val])) == {0, 1, 2}


def test_too_few_samples_per_class_says_how_many_are_needed(backend):
    feats, values = synthetic_data(200)
    values = dict(values, shape=np.where(np.arange(200) < 2, 2, values["shape"] % 2))  # class 2: 2 rows
    with pytest.raises(ProbekitError, match=r"'heart' has 2 sample\(s\) but the split needs at least 3"):
        get_protocol("default")(feats["late"], targets_of(values, ["shape"]), seeds=[0], backend=backend)
    rows = get_protocol("default")(feats["late"], targets_of(values, ["shape"]), seeds=[0], backend=backend,
                                   small_classes="skip")
    assert [r["metric"] for r in rows] == ["skipped"] and "at least 3" in rows[0]["note"]


def test_unknown_or_bad_option_is_a_config_error(backend):
    feats, values = synthetic_data(100)
    with pytest.raises(ConfigError, match="allowed: test_fraction"):
        get_protocol("default")(feats["late"], targets_of(values, ["scale"]), seeds=[0], backend=backend, tset=0.2)
    with pytest.raises(ConfigError, match="test_fraction"):
        get_protocol("default")(feats["late"], targets_of(values, ["scale"]), seeds=[0], backend=backend,
                                test_fraction=1.5)


# -- default protocol -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_rows(backend):
    feats, values = synthetic_data(400, signal=3.0)
    names = ["shape", "scale", "orientation", "noise_bin", "noise_cont", "const"]
    return get_protocol("default")(feats["late"], targets_of(values, names), seeds=[0, 1], backend=backend,
                                   null_permutations=19)


def _test_value(rows, factor, metric):
    vals = [r["value"] for r in rows if r["factor"] == factor and r["metric"] == metric and r["split"] == "test"]
    assert len(vals) == 2, (factor, metric)
    return float(np.mean(vals))


def test_default_planted_signal_decodes_and_noise_is_at_chance(default_rows):
    rows = default_rows
    assert _test_value(rows, "shape", "accuracy") > 0.8
    assert _test_value(rows, "shape", "balanced_accuracy") > 0.8
    assert _test_value(rows, "scale", "r2") > 0.6 and _test_value(rows, "scale", "pearson_r") > 0.8
    assert _test_value(rows, "orientation", "r2") > 0.35  # population value about 0.5
    assert abs(_test_value(rows, "noise_bin", "roc_auc") - 0.5) < 0.1
    assert abs(_test_value(rows, "noise_cont", "r2")) < 0.05
    for r in rows:
        if r["split"] == "test" and r["factor"] in ("shape", "scale", "orientation"):
            assert r["p_perm"] == pytest.approx(1 / 20)  # beats every one of the 19 shuffles
            assert r["value"] > max(r["null"])
        if r["split"] == "test" and r["factor"] in ("noise_bin", "noise_cont"):
            assert len(r["null"]) == 19 and abs(r["null_mean"] - r["chance"]) < 0.1


def test_default_rows_carry_regularisation_chance_and_notes(default_rows):
    shape = [r for r in default_rows if r["factor"] == "shape"]
    cfg = get_protocol("default").config_class()
    assert all(r["C"] in cfg.Cs and r["decoder"] == "logistic" for r in shape)
    assert {r["metric"] for r in shape} == {"accuracy", "balanced_accuracy"}  # no ROC-AUC for 3 classes
    assert all(r["chance"] == pytest.approx(1 / 3) for r in shape if r["metric"] == "balanced_accuracy")
    assert {r["metric"] for r in default_rows if r["factor"] == "noise_bin"} == {"accuracy", "balanced_accuracy",
                                                                                 "roc_auc"}
    scale = [r for r in default_rows if r["factor"] == "scale"]
    assert all(r["alpha"] in cfg.alphas for r in scale)
    orient = [r for r in default_rows if r["factor"] == "orientation"]
    assert {r["metric"] for r in orient} == {"r2"} and "sin, cos" in orient[0]["note"]
    skipped = [r for r in default_rows if r["factor"] == "const"]
    assert len(skipped) == 1 and skipped[0]["metric"] == "skipped" and "constant" in skipped[0]["note"]
    assert {(r["split"], r["seed"]) for r in scale} == {("train", 0), ("test", 0), ("train", 1), ("test", 1)}


def test_regularisation_at_the_end_of_its_grid_is_flagged(backend):
    """A choice at an end of the search grid may be a truncated search: the rows say so, and how to widen."""
    from probekit.probes.protocols._common import grid_edge_note

    feats, values = synthetic_data(300, signal=3.0)
    rows = get_protocol("default")(feats["late"], targets_of(values, ["shape", "scale", "orientation"]), seeds=[0],
                                   backend=backend, Cs=[1e-7, 1e-6], alphas=[1e5, 1e6])
    shape = [r for r in rows if r["factor"] == "shape"]
    assert all(r["C"] == 1e-6 and "C was chosen at the largest value of its grid (1e-06)" in r["note"]
               and "-o 'Cs=[...]'" in r["note"] for r in shape)
    scale = [r for r in rows if r["factor"] == "scale"]
    assert all(r["alpha"] == 1e5 and "alpha was chosen at the smallest value of its grid" in r["note"] for r in scale)
    orient = [r for r in rows if r["factor"] == "orientation"]
    assert all("sin, cos" in r["note"] and "alpha was chosen" in r["note"] for r in orient)  # both notes kept
    assert grid_edge_note("C", 1.0, [0.1, 1.0, 10.0]) is None                               # interior: no note
    assert grid_edge_note("alpha", [1.0, 10.0], [1.0, 10.0, 100.0]) is not None             # any target at an end
    assert grid_edge_note("alpha", 5.0, [5.0]) is None                                     # no search: no note


def test_one_class_factor_is_skipped(backend):
    feats, values = synthetic_data(100)
    rows = get_protocol("default")(feats["late"], {"noise_bin": (SPECS["noise_bin"], np.zeros(100, int))},
                                   seeds=[0], backend=backend)
    assert rows == [{"factor": "noise_bin", "kind": "binary", "metric": "skipped", "split": "-", "seed": None,
                     "value": rows[0]["value"], "note": "one class only: every row has class 'no'"}]


# -- no leakage: standardisation and unit filtering see training rows only --------------------------
def _leaky_data(n=300, seed=0):
    """Features whose test rows are shifted by +50 and whose unit 0 is constant on the training rows."""
    feats, values = synthetic_data(n, seed=seed)
    X = feats["late"].astype(np.float64)
    train, test = stratified_split(values["shape"], test_fraction=0.3, seed=seed)
    X[test] += 50.0
    X[train, 0] = 7.0
    return X.astype(np.float32), values, train, test


class _Recorder(BaseEstimator):
    calls: list = []

    def fit(self, X, y):
        _Recorder.calls.append(("fit", np.array(X)))
        self.classes_ = np.unique(y)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        _Recorder.calls.append(("predict", np.array(X)))
        return np.full(len(X), self.classes_[0]) if hasattr(self.classes_, "__len__") else np.zeros(len(X))


class RecClassifier(ClassifierMixin, _Recorder):
    pass


class RecRegressor(RegressorMixin, _Recorder):
    def predict(self, X):
        _Recorder.calls.append(("predict", np.array(X)))
        return np.full(len(X), self.mean_)


@pytest.mark.parametrize("probe,factor", [(RecClassifier(), "shape"), (RecRegressor(), "scale")])
def test_custom_probe_sees_train_only_standardisation(backend, probe, factor):
    X, values, train, test = _leaky_data()
    if factor == "scale":  # continuous factors share a random split: rebuild the leak for it
        from probekit.probes.splits import random_split

        X = synthetic_data(300)[0]["late"].astype(np.float64)
        train, test = random_split(300, test_fraction=0.3, seed=0)
        X[test] += 50.0
        X[train, 0] = 7.0
    _Recorder.calls.clear()
    get_protocol("default")(X.astype(np.float32), targets_of(values, [factor]), seeds=[0], backend=backend,
                            probe=probe)
    fit_X = _Recorder.calls[0][1]
    assert fit_X.shape == (len(train), X.shape[1] - 1)  # unit 0 (constant on train) dropped
    assert np.allclose(fit_X.mean(axis=0), 0, atol=1e-4) and np.allclose(fit_X.std(axis=0), 1, atol=1e-3)
    test_X = [x for kind, x in _Recorder.calls if kind == "predict" and len(x) == len(test)][0]
    mu, sd = X[train][:, 1:].mean(axis=0), X[train][:, 1:].std(axis=0)
    assert np.allclose(test_X, (X[test][:, 1:] - mu) / sd, atol=1e-3)  # test rows: train statistics
    assert test_X.mean() > 10  # the +50 shift survives: the test rows were not used to standardise


class _SpyBackend:
    """Wraps a backend and keeps the feature matrices of the training rows it is given."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []
        self.name = inner.name

    def ridge(self, X, Y, **kw):
        self.seen.append(np.asarray(X))
        return self.inner.ridge(X, Y, **kw)

    def logistic_many(self, X, tasks, **kw):
        self.seen.append(np.asarray(X)[tasks[0].rows])
        return self.inner.logistic_many(X, tasks, **kw)


def test_builtin_decoders_see_train_only_standardisation(backend):
    X, values, train, test = _leaky_data()
    spy = _SpyBackend(backend)
    rows = get_protocol("default")(X, targets_of(values, ["shape", "scale"]), seeds=[0], backend=spy)
    # C search (fit rows), refit (train rows) of shape; ridge (its own random train rows) of scale
    assert len(spy.seen) == 3
    for Xfit in spy.seen:
        assert np.allclose(Xfit.mean(axis=0), 0, atol=1e-4) and np.allclose(Xfit.std(axis=0), 1, atol=1e-3)
    assert spy.seen[0].shape[1] == spy.seen[1].shape[1] == X.shape[1] - 1  # unit 0: constant on train
    assert spy.seen[1].shape[0] == len(train)
    assert all(r["n_units"] == X.shape[1] - 1 for r in rows if r["factor"] == "shape")


# -- paper-dislib ---------------------------------------------------------------------------------
def test_paper_dislib_equals_numpy_lstsq_without_intercept():
    feats, values = synthetic_data(500, signal=3.0)
    X = feats["late"]
    names = ["shape", "scale", "noise_cont"]
    rows = get_protocol("paper-dislib")(X, targets_of(values, names), seeds=[3], backend=None)
    perm = np.random.default_rng(3).permutation(500)
    train, test = np.sort(perm[:400]), np.sort(perm[400:450])  # 80/10/10, scored on the 10 % after train
    for name in names:
        y = values[name].astype(np.float64)
        y = (y - y.mean()) / y.std()  # z-scored over all rows, class codes as numbers
        w = np.linalg.lstsq(X[train].astype(np.float64), y[train], rcond=None)[0]
        r = np.corrcoef(y[test], X[test].astype(np.float64) @ w)[0, 1]
        got = [row for row in rows if row["factor"] == name and row["split"] == "test"]
        assert len(got) == 1 and got[0]["metric"] == "pearson_r"
        assert got[0]["value"] == pytest.approx(r, abs=1e-8)
        assert got[0]["n_train"] == 400 and got[0]["n_test"] == 50
    assert [r["value"] for r in rows if r["factor"] == "scale" and r["split"] == "test"][0] > 0.8


def test_paper_dislib_refuses_custom_probe_and_skips_constants():
    feats, values = synthetic_data(100)
    with pytest.raises(ConfigError, match="no custom probe"):
        get_protocol("paper-dislib")(feats["late"], targets_of(values, ["scale"]), seeds=[0], probe=RecRegressor())
    rows = get_protocol("paper-dislib")(feats["late"], targets_of(values, ["const", "scale"]), seeds=[0])
    assert rows[0]["metric"] == "skipped" and {r["factor"] for r in rows[1:]} == {"scale"}


def test_default_matches_a_plain_sklearn_pipeline(backend):
    """Same split, train-only StandardScaler, RidgeCV / LogisticRegression(C chosen): same test scores."""
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.preprocessing import StandardScaler

    from probekit.probes.splits import random_split

    feats, values = synthetic_data(300, signal=2.0)
    X = feats["late"]
    rows = get_protocol("default")(X, targets_of(values, ["shape", "scale"]), seeds=[5], backend=backend)
    cfg = get_protocol("default").config_class()
    test_row = {(r["factor"], r["metric"]): r for r in rows if r["split"] == "test"}

    train, test = random_split(300, test_fraction=0.3, seed=5)
    sc = StandardScaler().fit(X[train])
    ridge = RidgeCV(alphas=cfg.alphas).fit(sc.transform(X[train]), values["scale"][train])
    assert test_row[("scale", "r2")]["alpha"] == pytest.approx(ridge.alpha_)
    ref = r2_score(values["scale"][test], ridge.predict(sc.transform(X[test])))
    assert test_row[("scale", "r2")]["value"] == pytest.approx(ref, abs=1e-4)

    train, test = stratified_split(values["shape"], test_fraction=0.3, seed=5)
    sc = StandardScaler().fit(X[train])
    C = test_row[("shape", "accuracy")]["C"]
    clf = LogisticRegression(C=C, tol=1e-8, max_iter=10_000).fit(sc.transform(X[train]), values["shape"][train])
    ref = accuracy_score(values["shape"][test], clf.predict(sc.transform(X[test])))
    assert test_row[("shape", "accuracy")]["value"] == pytest.approx(ref, abs=1.5 / len(test))
