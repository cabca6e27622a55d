"""Probe backends: torch == scikit-learn on the same splits, GCV == brute-force LOO, batch == loop."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from probekit.errors import ConfigError, DataError, ProbekitError, UnknownNameError
from probekit.probes import metrics as M
from probekit.probes.backends import BACKENDS, LogisticTask, get_backend
from probekit.probes.backends.torch_logistic import plan_blocks
from probekit.probes.backends.torch_precond import SharedPreconditioner
from probekit.probes.backends.torch_ridge import decompose, loo_mse


def correlated(n: int, d: int, seed: int = 0) -> np.ndarray:
    """(n, d) float32 z-scored features with a decaying spectrum (an ill-conditioned design)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.exp(-np.arange(d) / (d / 5))[:, None]
    X = rng.normal(size=(n, d)) @ mix + 0.1 * rng.normal(size=(n, d))
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = correlated(600, 40)
    score = X @ rng.normal(size=40) / np.sqrt(40) + 0.7 * rng.normal(size=600)
    perm = rng.permutation(600)
    return X, score, perm[:420], perm[420:]


@pytest.fixture(scope="module")
def torch_be():
    return get_backend("torch", device="cpu", dtype="float64")


@pytest.fixture(scope="module")
def sk_be():
    return get_backend("sklearn")


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("C", [0.05, 1.0])
def test_logistic_torch_matches_sklearn(data, torch_be, sk_be, n_classes, C):
    X, score, tr, te = data
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    fits = [be.logistic(X[tr], y[tr], n_classes=n_classes, C=C, tol=1e-8) for be in (torch_be, sk_be)]
    accs = [M.accuracy(y[te], f.predict(X[te])) for f in fits]
    assert abs(accs[0] - accs[1]) <= 0.005
    assert fits[0].converged
    np.testing.assert_allclose(fits[0].predict_proba(X[te]), fits[1].predict_proba(X[te]), atol=2e-4)
    assert fits[0].coef.shape == (40, 1 if n_classes == 2 else n_classes)


def test_logistic_float32_reaches_sklearn_optimum(data, sk_be):
    X, score, tr, te = data
    y = (score > 0).astype(int)
    f32 = get_backend("torch", device="cpu", dtype="float32").logistic(X[tr], y[tr], n_classes=2, tol=1e-6)
    ref = sk_be.logistic(X[tr].astype(np.float64), y[tr], n_classes=2, tol=1e-8)
    assert f32.converged
    np.testing.assert_allclose(f32.decision_function(X[te]), ref.decision_function(X[te]), atol=1e-3)


def test_logistic_more_features_than_rows(torch_be, sk_be):
    """Fewer rows than features (the preconditioner's Gram-matrix sketch): separable, rank-deficient."""
    X = correlated(60, 700, seed=8)
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    fits = [be.logistic(X, y, n_classes=2, tol=1e-7) for be in (torch_be, sk_be)]
    assert fits[0].converged
    np.testing.assert_allclose(fits[0].decision_function(X), fits[1].decision_function(X), atol=1e-3)


def test_preconditioner_sketch_from_the_gram_matrix_is_exact():
    """Fewer sampled rows than features: the eigenpairs come from the (m, m) Gram matrix, never (D, D).

    (The backend's row-space reduction runs first for very wide X, so this branch is driven directly.)
    """
    import torch

    X = torch.as_tensor(correlated(60, 400, seed=12), dtype=torch.float64)  # all 60 rows sampled, < D = 400
    pre = SharedPreconditioner(X, n_rows=100, rank=16, dtype=torch.float64)
    Xc = X - X.mean(dim=0)
    sigma = Xc.T @ Xc / 59                                          # the sample covariance, rank 59
    lam, _ = torch.linalg.eigh(sigma)
    torch.testing.assert_close(pre.lam, lam[-16:], rtol=1e-9, atol=1e-9)
    assert pre.tail == pytest.approx(float(lam[:-16].clamp_min(0).sum()) / (400 - 16), rel=1e-9)
    U = pre.U                                                       # (I + c Sigma_sketch)^-1 g, exactly
    sketch = U @ torch.diag(pre.lam) @ U.T + pre.tail * (torch.eye(400, dtype=torch.float64) - U @ U.T)
    G, c = torch.randn(400, 3, dtype=torch.float64), torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    want = torch.stack([torch.linalg.solve(torch.eye(400, dtype=torch.float64) + c[t] * sketch, G[:, t])
                        for t in range(3)], dim=1)
    torch.testing.assert_close(pre.apply(G, c), want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_wide_features_solved_in_row_space(torch_be, sk_be, n_classes):
    """D >> rows (raw pixels): the torch backend solves in the span of the training rows; same optimum."""
    rng = np.random.default_rng(9)
    X = correlated(150, 900, seed=10) + 0.5                    # uncentred: the intercept is not absorbed
    score = X[:, :5].sum(axis=1) + rng.normal(size=150)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    rows = np.arange(0, 150, 2)                                # the task sees half the rows
    task = LogisticTask(rows=rows, y=y[rows], n_classes=n_classes, C=0.01)
    ours = torch_be.logistic_many(X, [task], tol=1e-9)[0]
    ref = sk_be.logistic(X[rows], y[rows], n_classes=n_classes, C=0.01, tol=1e-10)
    assert ours.converged and ours.extra["row_space_rank"] <= len(rows)
    assert ours.coef.shape == ref.coef.shape == (900, 1 if n_classes == 2 else n_classes)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-4)  # unseen rows too
    np.testing.assert_allclose(ours.coef, ref.coef, atol=1e-5)


@pytest.mark.parametrize("n", [300, 30])       # primal (n > D) and dual (n < D) decompositions
@pytest.mark.parametrize("cv", ["gcv", 5])
def test_ridge_torch_matches_sklearn(torch_be, sk_be, n, cv):
    rng = np.random.default_rng(2)
    X = correlated(n + 200, 40, seed=3)
    Y = X[:, :5] @ rng.normal(size=(5, 3)) + rng.normal(size=(n + 200, 3)) * [0.1, 1.0, 3.0]
    alphas = np.logspace(-3, 4, 8)
    fits = [be.ridge(X[:n], Y[:n], alphas=alphas, cv=cv) for be in (torch_be, sk_be)]
    np.testing.assert_array_equal(fits[0].alpha, fits[1].alpha)
    np.testing.assert_allclose(fits[0].cv_score, fits[1].cv_score, rtol=1e-5)
    r2 = [M.r2(Y[n:], f.predict(X[n:])) for f in fits]
    np.testing.assert_allclose(r2[0], r2[1], atol=0.005)
    np.testing.assert_allclose(fits[0].predict(X[n:]), fits[1].predict(X[n:]), atol=1e-4)


def test_ridge_float32_and_no_intercept(sk_be):
    rng = np.random.default_rng(4)
    X = correlated(400, 30, seed=5) + 3.0                      # far from centred: tests the centring
    Y = X[:, :3] @ rng.normal(size=(3, 2)) + rng.normal(size=(400, 2))
    be32 = get_backend("torch", device="cpu", dtype="float32")
    for intercept in (True, False):
        a, b = (be.ridge(X, Y, alphas=[0.1, 10.0, 1000.0], fit_intercept=intercept) for be in (be32, sk_be))
        np.testing.assert_array_equal(a.alpha, b.alpha)
        np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-3)


@pytest.mark.parametrize("n,d", [(40, 10), (25, 60)])
def test_gcv_equals_brute_force_loo(torch_be, n, d):
    import torch

    rng = np.random.default_rng(6)
    X = rng.normal(size=(n, d))
    Y = X[:, :2] @ rng.normal(size=(2, 2)) + rng.normal(size=(n, 2))
    alphas = np.logspace(-2, 3, 6)
    brute = np.zeros((len(alphas), 2))
    for i, alpha in enumerate(alphas):
        for j in range(n):
            keep = np.arange(n) != j
            pred = Ridge(alpha=alpha).fit(X[keep], Y[keep]).predict(X[j:j + 1])
            brute[i] += (Y[j] - pred[0]) ** 2 / n
    fast = loo_mse(decompose(torch.as_tensor(X)), torch.as_tensor(Y), torch.as_tensor(alphas)).numpy()
    np.testing.assert_allclose(fast, brute, rtol=1e-8)
    fit = torch_be.ridge(X, Y, alphas=alphas)
    np.testing.assert_array_equal(fit.alpha, alphas[brute.argmin(axis=0)])


def test_logistic_many_equals_separate_fits(data, torch_be):
    X, score, _, _ = data
    rng = np.random.default_rng(7)
    y2 = (score > 0).astype(int)
    y3 = np.digitize(score, [-0.5, 0.5])
    tasks = []
    for size, C in [(500, 1.0), (450, 0.1), (60, 1.0), (40, 10.0)]:
        rows = rng.choice(600, size=size, replace=False)
        tasks.append(LogisticTask(rows=rows, y=y2[rows], n_classes=2, C=C))
        tasks.append(LogisticTask(rows=rows, y=y3[rows], n_classes=3, C=C))
    batch = torch_be.logistic_many(X, tasks, tol=1e-9)
    for t, f in zip(tasks, batch):
        one = torch_be.logistic(X[t.rows], t.y, n_classes=t.n_classes, C=t.C, tol=1e-9)
        assert f.converged and one.converged
        np.testing.assert_allclose(f.decision_function(X), one.decision_function(X), atol=1e-5)


def test_logistic_max_iter_is_respected(data, torch_be):
    X, score, _, _ = data
    fit = torch_be.logistic(X, (score > 0).astype(int), n_classes=2, C=100.0, max_iter=2, tol=1e-12)
    assert fit.n_iter == 2 and not fit.converged


def test_plan_blocks_groups_overlapping_rows():
    rows = [np.arange(0, 3000), np.arange(0, 3000), np.arange(5000, 8000), np.arange(5000, 7900)]
    plan = plan_blocks(rows, 20_000)
    assert sorted(sorted(t) for _, t in plan) == [[0, 1], [2, 3]]
    assert all(r is not None for r, _ in plan)
    tiny = plan_blocks([np.arange(0, 3000), np.arange(5000, 5030)], 20_000)
    assert len(tiny) == 1                                             # a tiny task rides along
    assert plan_blocks([np.arange(18_000)], 20_000)[0][0] is None    # most of X: read in place


def test_registry_and_errors(data):
    X, score, _, _ = data
    assert {"torch", "sklearn", "cuml"} <= set(BACKENDS.names())
    with pytest.raises(UnknownNameError, match="torch"):
        get_backend("troch")
    try:
        import cuml  # noqa: F401
    except ImportError:
        with pytest.raises(ProbekitError, match=r"pip install probekit\[gpu\]"):
            get_backend("cuml")
    be = get_backend("torch", device="cpu")
    with pytest.raises(DataError, match="classes occur"):
        be.logistic(X[:10], np.zeros(10, dtype=int), n_classes=2)
    with pytest.raises(ConfigError, match="alphas"):
        be.ridge(X, score, alphas=[-1.0])
    with pytest.raises(ConfigError, match="cv"):
        be.ridge(X, score, alphas=[1.0, 2.0], cv="loo")
    with pytest.raises(ConfigError, match="dtype"):
        get_backend("torch", dtype="float16")


def test_small_blocks_side_by_side_equal_one_after_another(torch_be):
    """Small blocks run in a pool of one-thread workers: the fits are bit-equal to a sequential run."""
    import torch

    X = correlated(12000, 20, seed=12)
    y = (X[:, :4].sum(axis=1) + np.random.default_rng(11).normal(size=12000) > 0).astype(int)
    tasks = [LogisticTask(rows=np.arange(s, s + 3000), y=y[s:s + 3000], n_classes=2, C=1.0)
             for s in range(0, 12000, 3000)]                    # disjoint rows: one block each
    assert len(plan_blocks([t.rows for t in tasks], 12000)) == 4
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        pooled = torch_be.logistic_many(X, tasks, tol=1e-8)
        torch.set_num_threads(1)                                # one worker: blocks one after another
        serial = torch_be.logistic_many(X, tasks, tol=1e-8)
    finally:
        torch.set_num_threads(previous)
    for a, b in zip(pooled, serial):
        np.testing.assert_array_equal(a.coef, b.coef)
        assert a.n_iter == b.n_iter
