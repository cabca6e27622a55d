"""Statistics of probe scores: summaries, tests, p-values, corrections, chance levels."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from probekit.errors import ConfigError
from probekit.probes import stats


def test_mean_and_sem_match_numpy_and_ignore_nan():
    v = np.array([0.8, 0.9, 0.85, np.nan])
    finite = v[:3]
    assert stats.mean(v) == pytest.approx(finite.mean())
    assert stats.sem(v) == pytest.approx(finite.std(ddof=1) / np.sqrt(3))
    assert np.isnan(stats.sem([0.5]))
    assert np.isnan(stats.mean([]))


def test_ttest_matches_scipy_one_sided_and_handles_zero_spread():
    rng = np.random.default_rng(0)
    v = rng.normal(0.6, 0.05, size=7)
    t, p = stats.ttest_1samp(v, 0.5)
    ref = st.ttest_1samp(v, 0.5, alternative="greater")
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    assert stats.ttest_1samp(v, 0.5, alternative="two-sided")[1] == pytest.approx(2 * ref.pvalue)
    assert stats.ttest_1samp([1.0, 1.0, 1.0], 0.5) == (np.inf, 0.0)  # every seed perfect: significant
    assert stats.ttest_1samp([0.4, 0.4], 0.5)[1] == 1.0
    assert np.isnan(stats.ttest_1samp([0.9], 0.5)[1])
    with pytest.raises(ConfigError):
        stats.ttest_1samp(v, 0.5, alternative="bigger")


def test_corrected_ttest_inflates_the_variance_for_overlapping_splits():
    v = np.array([0.55, 0.56, 0.54, 0.57, 0.55])
    t_plain, p_plain = stats.ttest_1samp(v, 0.5)
    t_corr, p_corr = stats.ttest_1samp(v, 0.5, test_train_ratio=0.3 / 0.7)
    assert t_corr == pytest.approx(t_plain * np.sqrt((1 / 5) / (1 / 5 + 0.3 / 0.7)))
    assert p_corr > p_plain
    assert p_corr == pytest.approx(st.t(df=4).sf(t_corr))


def test_permutation_pvalue_formula_counts_ties():
    assert stats.permutation_pvalue(0.9, [0.5] * 99) == pytest.approx(1 / 100)
    assert stats.permutation_pvalue(0.5, [0.5, 0.4, 0.6]) == pytest.approx(3 / 4)  # tie counts as >=
    assert stats.permutation_pvalue(0.0, [0.5, 0.4, 0.6]) == 1.0
    assert np.isnan(stats.permutation_pvalue(0.5, []))


def test_permutation_pvalue_is_uniform_under_the_null():
    """Exchangeable observed and null scores: P(p <= k/(P+1)) = k/(P+1)."""
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(4000, 20))
    p = np.array([stats.permutation_pvalue(d[0], d[1:]) for d in draws])
    assert np.mean(p <= 0.05) == pytest.approx(0.05, abs=0.015)
    assert np.mean(p <= 0.5) == pytest.approx(0.5, abs=0.03)


def test_pooled_permutation_pvalue_uses_column_means():
    obs = [0.9, 0.8]
    nulls = [[0.5, 0.95, 0.4], [0.5, 0.9, 0.4]]  # column means 0.5, 0.925, 0.4 vs observed mean 0.85
    assert stats.pooled_permutation_pvalue(obs, nulls) == pytest.approx(2 / 4)
    assert np.isnan(stats.pooled_permutation_pvalue(obs, [[0.1], [0.2], [0.3]]))


def _holm_reference(p):
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p)
    out = np.empty(m)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def test_holm_and_bonferroni():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    assert np.allclose(stats.bonferroni(p), np.minimum(1, p * 5))
    assert np.allclose(stats.holm(p), _holm_reference(p))
    assert np.all(stats.holm(p) <= stats.bonferroni(p) + 1e-12)
    assert np.all(stats.holm(p) >= p)
    # NaNs stay NaN and do not count in the family size
    q = stats.holm([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and np.allclose(q[[0, 2]], [0.02, 0.02])
    assert np.allclose(stats.correct(p, "none"), p)
    with pytest.raises(ConfigError, match="holm"):
        stats.correct(p, "fdr")


def test_holm_rejects_at_least_what_bonferroni_rejects():
    rng = np.random.default_rng(2)
    for _ in range(50):
        p = rng.uniform(0, 0.1, size=8)
        assert set(np.flatnonzero(stats.bonferroni(p) < 0.05)) <= set(np.flatnonzero(stats.holm(p) < 0.05))


def test_chance_levels():
    y = np.array([0, 0, 0, 1, 2, 0])
    assert stats.chance_level("accuracy", y_true=y) == pytest.approx(4 / 6)  # majority-class rate
    assert stats.chance_level("balanced_accuracy", n_classes=3) == pytest.approx(1 / 3)
    assert stats.chance_level("balanced_accuracy", y_true=[0, 1, 1, 1]) == pytest.approx(1 / 2)
    assert stats.chance_level("roc_auc") == 0.5
    assert stats.chance_level("r2") == 0.0 and stats.chance_level("pearson_r") == 0.0
    assert np.isnan(stats.chance_level("mystery"))
