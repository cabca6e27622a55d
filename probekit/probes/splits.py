"""Seeded train/test and validation splits (pure functions: arrays and a seed in, row indices out).

A split depends only on the target values and the seed, never on the features, so the same seed gives
the same test rows for every layer and every model of a dataset: comparisons between them are paired.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, ProbekitError


class TooFewSamplesError(ProbekitError):
    """A class has too few samples to appear in every split."""


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def class_counts(codes: np.ndarray) -> dict[int, int]:
    """``{class code: count}`` of the present classes of ``codes`` (n,) int."""
    values, counts = np.unique(np.asarray(codes), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def check_class_counts(codes: np.ndarray, *, needed: int, what: str = "factor",
                       class_names=None) -> None:
    """Raise :class:`TooFewSamplesError` naming the smallest class when any has fewer than ``needed``."""
    counts = class_counts(codes)
    small = {c: n for c, n in counts.items() if n < needed}
    if small:
        code, n = min(small.items(), key=lambda kv: kv[1])
        label = class_names[code] if class_names is not None and 0 <= code < len(class_names) else code
        raise TooFewSamplesError(
            f"{what}: class {label!r} has {n} sample(s) but the split needs at least {needed} per class "
            f"({len(small)} of {len(counts)} classes are too small); use more rows, drop the factor from "
            "--factors, or pass small_classes='skip'")


def _n_held_out(n: int, fraction: float) -> int:
    """Held-out count for a group of ``n``: round(fraction * n), at least 1 and leaving at least 1."""
    return int(min(max(round(fraction * n), 1), n - 1))


def stratified_split(codes: np.ndarray, *, test_fraction: float, seed: int,
                     min_per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Split rows so that every class keeps its share in both parts.

    Parameters
    ----------
    codes: (n,) int class codes.
    test_fraction: share of each class held out (rounded; at least one sample per part).
    seed: seeds the permutation; the same (codes, seed) always gives the same split.
    min_per_class: classes smaller than this raise :class:`TooFewSamplesError`.

    Returns
    -------
    (train, test): sorted int64 row indices into ``codes``.
    """
    codes = np.asarray(codes)
    _check_fraction("test_fraction", test_fraction)
    check_class_counts(codes, needed=max(2, int(min_per_class)))
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(codes):  # sorted, so the rng stream is consumed in a fixed order
        rows = np.flatnonzero(codes == c)
        rows = rows[rng.permutation(len(rows))]
        k = _n_held_out(len(rows), test_fraction)
        test.append(rows[:k])
        train.append(rows[k:])
    return np.sort(np.concatenate(train)).astype(np.int64), np.sort(np.concatenate(test)).astype(np.int64)


def random_split(n: int, *, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n`` rows at random (continuous targets). Returns sorted int64 (train, test) indices."""
    _check_fraction("test_fraction", test_fraction)
    if n < 2:
        raise TooFewSamplesError(f"cannot split {n} row(s) into train and test; need at least 2")
    perm = np.random.default_rng(seed).permutation(n)
    k = _n_held_out(n, test_fraction)
    return np.sort(perm[k:]).astype(np.int64), np.sort(perm[:k]).astype(np.int64)


def random_partition(n: int, *, fractions: Sequence[float], seed) -> list[np.ndarray]:
    """Cut a seeded permutation of ``n`` rows into consecutive parts of the given ``fractions``.

    ``random_partition(n, fractions=(0.8, 0.1), seed=s)`` gives the first two parts of an 80/10/10
    split (the rest is left out). Each part is sorted int64; part sizes are ``round(fraction * n)``.
    """
    if sum(fractions) > 1.0 + 1e-9 or min(fractions) <= 0:
        raise ConfigError(f"fractions must be positive and sum to at most 1, got {tuple(fractions)}")
    perm = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum([0.0, *fractions]) * n).astype(int)
    parts = [np.sort(perm[a:b]).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]
    if any(len(p) == 0 for p in parts):
        raise TooFewSamplesError(f"cannot cut {n} rows into parts of {tuple(fractions)}: a part would be empty")
    return parts


def train_test_split(values: np.ndarray, *, discrete: bool, test_fraction: float, seed: int,
                     min_per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split for discrete targets, random for continuous ones. (train, test) indices."""
    if discrete:
        return stratified_split(values, test_fraction=test_fraction, seed=seed, min_per_class=min_per_class)
    return random_split(len(values), test_fraction=test_fraction, seed=seed)


def validation_split(train: np.ndarray, *, codes: np.ndarray | None = None, val_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation part out of the training rows (stratified when ``codes`` are given).

    Parameters
    ----------
    train: (n_train,) row indices of the training split.
    codes: (N,) class codes of all rows (indexed by ``train``), or None for a random split.
    val_fraction: share of the training rows used for validation.
    seed: seeds the permutation (use a different stream than the test split, e.g. ``seed + 1``).

    Returns
    -------
    (fit, val): sorted int64 row indices, both subsets of ``train``.
    """
    train = np.asarray(train, dtype=np.int64)
    if codes is None:
        fit_pos, val_pos = random_split(len(train), test_fraction=val_fraction, seed=seed)
    else:
        fit_pos, val_pos = stratified_split(np.asarray(codes)[train], test_fraction=val_fraction, seed=seed)
    return train[fit_pos], train[val_pos]


def permuted(values: np.ndarray, *, seed: int, n: int) -> np.ndarray:
    """(n, len(values)) independent seeded shuffles of ``values`` (the label-permutation null)."""
    rng = np.random.default_rng(seed)
    values = np.asarray(values)
    if n == 0:
        return np.empty((0, len(values)), dtype=values.dtype)
    return np.stack([values[rng.permutation(len(values))] for _ in range(n)])
