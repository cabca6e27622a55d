"""The contract every probe backend (torch, sklearn, cuml) implements.

Backends are pure numerics: arrays in, fitted linear decoders out. Splits, standardisation, metrics and
statistics live in the protocols (``probekit/probes/protocols``), which call a backend through this
interface only, so any protocol runs on any backend.

Conventions
-----------
* ``X`` is ``(n, D)`` float (numpy array or torch tensor), ``Y`` is ``(n, T)`` float for ridge,
  ``y`` is ``(n,)`` int class codes in ``[0, n_classes)`` for logistic regression.
* Ridge minimises ``||Y - X W - b||^2 + alpha ||W||^2`` (intercept unpenalised), like scikit-learn's
  ``Ridge``. One decomposition of ``X`` serves every target and every ``alpha``.
* Logistic regression minimises scikit-learn's objective
  ``C * sum_i loss_i + 0.5 * ||W||^2`` (intercept unpenalised; multinomial softmax for
  ``n_classes > 2``, one logit for binary), so backends agree on the same convex optimum.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class RidgeFit:
    """Ridge decoders for T targets."""

    coef: np.ndarray        # (D, T)
    intercept: np.ndarray   # (T,)
    alpha: np.ndarray       # (T,) regularisation chosen per target
    cv_score: np.ndarray | None = None  # (T,) selection score of the chosen alpha (e.g. GCV mean squared error)

    def predict(self, X) -> np.ndarray:
        """(m, D) -> (m, T)."""
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept


@dataclass
class LogisticFit:
    """A logistic-regression decoder (binary: one logit; multinomial: one per class)."""

    coef: np.ndarray        # (D, K') with K' = 1 for binary, K for multinomial
    intercept: np.ndarray   # (K',)
    n_classes: int
    C: float
    n_iter: int = 0
    converged: bool = True
    extra: dict = field(default_factory=dict)

    def decision_function(self, X) -> np.ndarray:
        """(m, D) -> (m,) for binary, (m, K) for multinomial."""
        z = np.asarray(X, dtype=np.float64) @ self.coef + self.intercept
        return z[:, 0] if self.coef.shape[1] == 1 else z

    def predict_proba(self, X) -> np.ndarray:
        """(m, D) -> (m, K) class probabilities."""
        z = self.decision_function(X)
        if z.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-z))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


@dataclass(frozen=True)
class LogisticTask:
    """One logistic problem on rows of a shared feature matrix (see ``ProbeBackend.logistic_many``)."""

    rows: np.ndarray        # (n_i,) int64 row indices into the shared X used for training
    y: np.ndarray           # (n_i,) int class codes of those rows
    n_classes: int
    C: float = 1.0


class ProbeBackend(ABC):
    """Fits linear decoders. Subclasses: TorchBackend (default), SklearnBackend (reference), CumlBackend."""

    name: str = ""

    @abstractmethod
    def ridge(self, X, Y, *, alphas: Sequence[float], fit_intercept: bool = True,
              cv: str | int = "gcv", seed: int = 0) -> RidgeFit:
        """Fit ridge for every column of ``Y`` and pick alpha per target by ``cv`` on (X, Y) only.

        ``cv="gcv"``: efficient leave-one-out (generalised cross-validation) from the one decomposition;
        an int k: k-fold cross-validation on ``KFold(k, shuffle=True, random_state=seed)`` folds. A
        single alpha skips the search.
        """

    @abstractmethod
    def logistic(self, X, y, *, n_classes: int, C: float = 1.0, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-6) -> LogisticFit:
        """Fit one L2 logistic regression; ``max_iter=None`` runs to convergence."""

    def logistic_many(self, X, tasks: Sequence[LogisticTask], *, fit_intercept: bool = True,
                      max_iter: int | None = None, tol: float = 1e-6) -> list[LogisticFit]:
        """Fit many problems that share the feature matrix ``X`` (n, D) but use different rows/labels/C.

        This is what makes seeds x factors x C-grid sweeps fast: the torch backend solves them in one
        batched tensor program. The default is a loop over :meth:`logistic`.
        """
        Xn = X
        return [self.logistic(Xn[t.rows], t.y, n_classes=t.n_classes, C=t.C, fit_intercept=fit_intercept,
                              max_iter=max_iter, tol=tol) for t in tasks]
