"""The scikit-learn probe backend: the reference the other backends are tested against."""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ...errors import ConfigError
from ._util import as_matrix, as_targets, check_alphas, check_cv, check_task, kfold_indices
from .base import LogisticFit, ProbeBackend, RidgeFit

# what "run to convergence" (max_iter=None) means for scikit-learn's lbfgs
CONVERGED_MAX_ITER = 100_000


class SklearnBackend(ProbeBackend):
    """``RidgeCV``/``Ridge`` and ``LogisticRegression(solver="lbfgs")``, one fit per task.

    ``device`` and ``dtype`` are accepted for a uniform factory signature and ignored: the reference
    runs on the CPU in float64 (scikit-learn's float32 lbfgs stops short of tight tolerances).
    """

    name = "sklearn"

    def __init__(self, *, device: str = "cpu", dtype: str = "float32"):
        self.device = "cpu"

    def __repr__(self) -> str:
        return "SklearnBackend()"

    def ridge(self, X, Y, *, alphas: Sequence[float], fit_intercept: bool = True, cv: str | int = "gcv",
              seed: int = 0) -> RidgeFit:
        """``RidgeCV(alpha_per_target=True)`` for GCV; a per-target k-fold grid search otherwise."""
        from sklearn.linear_model import Ridge, RidgeCV

        X = as_matrix(X).astype(np.float64, copy=False)                 # (n, D) the reference: float64
        Yn = as_targets(Y, X.shape[0])                                  # (n, T)
        a = check_alphas(alphas)
        cv = check_cv(cv)
        T = Yn.shape[1]
        score = None
        if len(a) == 1:
            chosen = np.full(T, a[0])
        elif cv == "gcv":
            m = RidgeCV(alphas=a, fit_intercept=fit_intercept, alpha_per_target=True).fit(X, Yn)
            chosen = np.broadcast_to(np.asarray(m.alpha_, dtype=np.float64), (T,)).copy()
            score = -np.broadcast_to(np.asarray(m.best_score_, dtype=np.float64), (T,)).copy()
        else:
            mse = np.zeros((len(a), T))
            for train, val in kfold_indices(X.shape[0], cv, seed=seed):
                for i, alpha in enumerate(a):
                    pred = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X[train], Yn[train]).predict(X[val])
                    mse[i] += ((Yn[val] - pred.reshape(len(val), T)) ** 2).mean(axis=0)
            mse /= cv
            best = mse.argmin(axis=0)
            chosen, score = a[best], mse[best, np.arange(T)]
        coef = np.zeros((X.shape[1], T))
        intercept = np.zeros(T)
        for alpha in np.unique(chosen):
            cols = np.flatnonzero(chosen == alpha)
            m = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, Yn[:, cols])
            coef[:, cols] = np.asarray(m.coef_).reshape(len(cols), -1).T
            intercept[cols] = m.intercept_
        return RidgeFit(coef=coef, intercept=intercept, alpha=chosen, cv_score=score)

    def logistic(self, X, y, *, n_classes: int, C: float = 1.0, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-6) -> LogisticFit:
        """``LogisticRegression(C, lbfgs)``; ``max_iter=None`` means up to 100,000 iterations."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        from .base import LogisticTask

        X = as_matrix(X).astype(np.float64, copy=False)  # scikit-learn's float32 lbfgs stops short of tight tols
        y = np.asarray(y).reshape(-1)
        _, y = check_task(LogisticTask(rows=np.arange(len(y)), y=y, n_classes=n_classes, C=C), X.shape[0])
        if max_iter is not None and (not isinstance(max_iter, (int, np.integer)) or max_iter < 1):
            raise ConfigError(f"max_iter must be a positive int or None (run to convergence), got {max_iter!r}")
        limit = CONVERGED_MAX_ITER if max_iter is None else int(max_iter)
        model = LogisticRegression(C=C, fit_intercept=fit_intercept, max_iter=limit, tol=tol)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X, y)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        coef = np.asarray(model.coef_, dtype=np.float64).T              # (D, K') K' = 1 binary
        return LogisticFit(coef=coef, intercept=np.asarray(model.intercept_, dtype=np.float64),
                           n_classes=int(n_classes), C=float(C), n_iter=int(np.max(model.n_iter_)),
                           converged=converged, extra={"backend": "sklearn"})
