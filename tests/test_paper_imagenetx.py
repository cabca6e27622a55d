"""paper-imagenetx: the protocol equals a plain per-task scikit-learn run of the paper's steps."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle

from probekit.data.factors import Factor
from probekit.probes.backends import get_backend
from probekit.probes.protocols.base import PROTOCOLS
from probekit.probes.protocols.paper_imagenetx import (
    balanced_split,
    paper_imagenetx_protocol,
    preprocess,
    summarize_paper_imagenetx,
)

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def problem():
    """(X (500, 24) with 4 dead units, targets): two binary factors (one rare) and 10 classes."""
    rng = np.random.default_rng(0)
    n, d = 500, 24
    common = rng.integers(0, 2, n)
    rare = np.zeros(n, dtype=np.int64)
    rare[rng.choice(n, 25, replace=False)] = 1
    cls = rng.integers(0, 10, n)
    X = rng.normal(size=(n, d)) + 0.8 * np.outer(common, rng.normal(size=d)) \
        + 1.5 * np.outer(rare, rng.normal(size=d)) + 0.3 * np.outer(cls, rng.normal(size=d)) / 3
    X = np.maximum(X + 0.5, 0.0).astype(np.float32)
    X[:, :4] = 0.0                                                    # dead units: mean 0, dropped
    binary = ("no", "yes")
    targets = {"common": (Factor("common", "binary", class_names=binary), common),
               "rare": (Factor("rare", "binary", class_names=binary), rare),
               "class": (Factor("class", "categorical", values=tuple(map(float, range(10)))), cls),
               "constant": (Factor("constant", "binary", class_names=binary), np.zeros(n, dtype=np.int64))}
    return X, targets


def plain_sklearn(X, targets, seeds):
    """The paper's script, written out: one LogisticRegression per (target, seed)."""
    mu = X.mean(axis=0)
    Xk = X[:, mu > 0].astype(np.float64)
    Xz = (Xk - Xk.mean(axis=0)) / Xk.std(axis=0)
    out = {}
    for name, (spec, values) in targets.items():
        if len(np.unique(values)) < 2:
            continue
        y = values if spec.kind == "binary" else (values >= values.mean()).astype(int)
        for s in seeds:
            Xtr, Xte, ytr, yte = train_test_split(Xz, y, test_size=0.3, stratify=y, random_state=42 + s)
            parts = []
            for Xp, yp in ((Xtr, ytr), (Xte, yte)):
                n_min = np.bincount(yp).min()
                keep = np.concatenate([np.flatnonzero(yp == c)[:n_min] for c in (0, 1)])
                parts.append(shuffle(Xp[keep], yp[keep], random_state=42 + s))
            (Xb, yb), (Xt, yt) = parts
            clf = LogisticRegression(C=1.0, max_iter=10_000, tol=1e-8).fit(Xb, yb)
            out[name, 42 + s] = (clf.score(Xb, yb), clf.score(Xt, yt), len(yb), len(yt))
    return out


def test_protocol_equals_plain_sklearn(problem):
    X, targets = problem
    rows = paper_imagenetx_protocol(X, targets, seeds=SEEDS, backend=get_backend("torch", device="cpu"),
                                    tol=1e-6)
    ref = plain_sklearn(X, targets, SEEDS)
    got = {(r["factor"], r["seed"], r["split"]): r for r in rows if r["metric"] == "accuracy"}
    assert len(got) == 2 * len(ref)
    diffs = []
    for (name, seed), (acc_tr, acc_te, n_tr, n_te) in ref.items():
        test, train = got[name, seed, "test"], got[name, seed, "train"]
        assert (test["n_train"], test["n_test"]) == (n_tr, n_te)
        assert test["n_units"] == X.shape[1] - 4 and test["converged"]
        diffs += [abs(test["value"] - acc_te), abs(train["value"] - acc_tr)]
    assert np.mean(diffs) <= 0.005 and max(diffs) <= 2 / 20   # at most ~one sample on the smallest split
    skipped = [r for r in rows if r["metric"] == "skipped"]
    assert [r["factor"] for r in skipped] == ["constant"]


def test_balanced_split_rules(problem):
    _, targets = problem
    y = targets["rare"][1]
    train, test = balanced_split(y, seed=42, test_size=0.3)
    assert not set(train) & set(test)
    for part in (train, test):
        assert np.bincount(y[part]).tolist()[0] == np.bincount(y[part]).tolist()[1]
    # the kept rows are the first n_min of each class in train_test_split's order, then shuffled
    tr_all, te_all = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=42)
    for part, full in ((train, tr_all), (test, te_all)):
        n_min = np.bincount(y[full]).min()
        expect = np.concatenate([full[y[full] == c][:n_min] for c in (0, 1)])
        assert sorted(part) == sorted(expect) and list(part) != list(expect)


def test_preprocess_drops_nonpositive_means_and_zscores():
    X = np.array([[1.0, -1.0, 0.0, 2.0], [3.0, -2.0, 0.0, 2.0], [5.0, 1.0, 0.0, 2.0]], dtype=np.float32)
    Xz, keep = preprocess(X)
    assert keep.tolist() == [0, 3]                              # mean <= 0 dropped; constant 2.0 kept
    np.testing.assert_allclose(Xz[:, 0], (X[:, 0] - 3) / np.std(X[:, 0]), rtol=1e-6)
    np.testing.assert_array_equal(Xz[:, 1], 0.0)


def test_sklearn_backend_with_the_papers_iteration_cap(problem):
    X, targets = problem
    sub = {"common": targets["common"]}
    rows = paper_imagenetx_protocol(X, sub, seeds=[0], backend=get_backend("sklearn"), max_iter=100)
    assert {r["split"] for r in rows} == {"train", "test"} and all(r["n_iter"] <= 100 for r in rows)


def test_custom_probe_gives_the_same_rows(problem):
    X, targets = problem
    sub = {"common": targets["common"]}
    ours = paper_imagenetx_protocol(X, sub, seeds=[0], backend=get_backend("torch", device="cpu"), tol=1e-8)
    custom = paper_imagenetx_protocol(X, sub, seeds=[0], probe=LogisticRegression(tol=1e-10, max_iter=10_000))
    assert [r["value"] for r in ours] == pytest.approx([r["value"] for r in custom], abs=0.01)
    assert custom[0]["decoder"] == "LogisticRegression"


def test_null_permutations_and_registry(problem):
    X, targets = problem
    assert "paper-imagenetx" in PROTOCOLS
    rows = paper_imagenetx_protocol(X, {"common": targets["common"]}, seeds=[0], null_permutations=3,
                                    backend=get_backend("torch", device="cpu"))
    test = [r for r in rows if r["split"] == "test"][0]
    assert len(test["null"]) == 3 and 0 < test["p_perm"] <= 1


def test_summary_matches_scipy():
    rows = [{"factor": "f", "metric": "accuracy", "split": "test", "seed": s, "value": v}
            for s, v in enumerate([0.61, 0.58, 0.66, 0.6])]
    rows += [{"factor": "f", "metric": "accuracy", "split": "train", "seed": 0, "value": 0.9}]
    (summary,) = summarize_paper_imagenetx(rows)
    t, p = stats.ttest_1samp([0.61, 0.58, 0.66, 0.6], 0.5)
    assert summary["n"] == 4 and summary["mean"] == pytest.approx(0.6125)
    assert summary["t"] == pytest.approx(t) and summary["p"] == pytest.approx(p)
    assert summary["alpha"] == pytest.approx(0.05 / 85)
    assert summary["significant"] == (p < 0.05 / 85)
