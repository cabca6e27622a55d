"""Input checks and small helpers shared by the probe backends (pure functions, no I/O)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import ConfigError, DataError
from .base import LogisticTask

DTYPES = ("float32", "float64")


def check_dtype(dtype: str) -> str:
    """Validate a compute dtype name ("float32" or "float64")."""
    name = str(dtype).replace("torch.", "")
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return name


def as_matrix(X, *, name: str = "X") -> np.ndarray:
    """A 2-d finite float array (float32 kept, everything else cast to float64); torch tensors accepted."""
    if hasattr(X, "detach"):  # a torch tensor
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-d (n_samples, n_features), got shape {X.shape}; reshape it")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{name} has shape {X.shape}; it needs at least one row and one column")
    if not np.isfinite(X).all():
        raise DataError(f"{name} holds NaN or inf values; drop or impute them before probing")
    return X


def as_targets(Y, n: int) -> np.ndarray:
    """(n,) or (n, T) targets -> (n, T) finite float64."""
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != n:
        raise DataError(f"Y must have shape ({n},) or ({n}, T) to match X, got {Y.shape}")
    if not np.isfinite(Y).all():
        raise DataError("Y holds NaN or inf values; drop those rows before fitting")
    return Y


def check_alphas(alphas) -> np.ndarray:
    """A non-empty 1-d array of positive ridge penalties."""
    a = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ConfigError(f"alphas must be a non-empty list of positive numbers, got {alphas!r}")
    return a


def check_task(task: LogisticTask, n: int, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Validate one logistic task on a matrix of ``n`` rows; returns ``(rows, y)`` as int64 arrays."""
    rows = np.asarray(task.rows, dtype=np.int64).reshape(-1)
    y = np.asarray(task.y).reshape(-1)
    K = int(task.n_classes)
    if rows.size == 0 or rows.size != y.size:
        raise DataError(f"task {i}: rows ({rows.size}) and y ({y.size}) must be non-empty and of equal length")
    if rows.min() < 0 or rows.max() >= n:
        raise DataError(f"task {i}: row indices must lie in [0, {n}), got [{rows.min()}, {rows.max()}]")
    if K < 2:
        raise ConfigError(f"task {i}: n_classes must be >= 2, got {K}")
    if not (np.issubdtype(y.dtype, np.integer) or np.array_equal(y, np.round(y))):
        raise DataError(f"task {i}: y must hold integer class codes in [0, {K}), got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= K:
        raise DataError(f"task {i}: class codes must lie in [0, {K}), got [{y.min()}, {y.max()}]")
    present = np.unique(y).size
    if present < K:
        raise DataError(f"task {i}: only {present} of {K} classes occur in its rows; with an unpenalised "
                        "intercept the optimum is not finite: re-encode y to the classes present")
    if not (np.isfinite(task.C) and task.C > 0):
        raise ConfigError(f"task {i}: C must be a positive number, got {task.C!r}")
    return rows, y


def check_tasks(tasks: Sequence[LogisticTask], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate every task; returns their ``(rows, y)``."""
    if len(tasks) == 0:
        return []
    return [check_task(t, n, i) for i, t in enumerate(tasks)]


def kfold_indices(n: int, k: int, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold ``(train, validation)`` row indices; the same folds as
    ``sklearn.model_selection.KFold(k, shuffle=True, random_state=seed)``."""
    from sklearn.model_selection import KFold

    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2 or k > n:
        raise ConfigError(f"cv must be 'gcv' or an int k with 2 <= k <= n_samples ({n}), got {k!r}")
    return [(tr.astype(np.int64), va.astype(np.int64))
            for tr, va in KFold(int(k), shuffle=True, random_state=seed).split(np.zeros((n, 1)))]


def check_cv(cv) -> str | int:
    """``"gcv"`` or an int >= 2."""
    if isinstance(cv, str):
        if cv.lower() != "gcv":
            raise ConfigError(f"cv must be 'gcv' (efficient leave-one-out) or an int k >= 2, got {cv!r}")
        return "gcv"
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool) and cv >= 2:
        return int(cv)
    raise ConfigError(f"cv must be 'gcv' (efficient leave-one-out) or an int k >= 2, got {cv!r}")
