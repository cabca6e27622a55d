"""``LinearProbe``: a scikit-learn estimator that decodes a factor linearly, ridge or logistic.

Continuous targets get ridge regression (alpha chosen by efficient leave-one-out over ``alphas``),
categorical ones L2 logistic regression (C chosen by stratified k-fold log-loss over ``Cs``). The
numerics run on a probekit backend (``torch`` by default, CPU or CUDA).

>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(200, 5))
>>> LinearProbe(device="cpu").fit(X, (X[:, 0] > 0).astype(int)).task_
'classification'
>>> LinearProbe(device="cpu").fit(X, X @ np.arange(5.0)).task_
'regression'
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import DataError
from .backends import get_backend
from .backends.base import LogisticTask

TASKS = ("auto", "regression", "classification")
AUTO_MAX_CLASSES = 20   # "auto": a float target with more distinct values than this is continuous
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 6, 10))
DEFAULT_CS = tuple(float(c) for c in np.logspace(-4, 2, 7))


class ProbeInputError(DataError, ValueError):
    """Bad input to :class:`LinearProbe` (a ValueError, as scikit-learn expects)."""


def infer_task(y) -> str:
    """``"classification"`` for int/str/bool targets and floats with at most 20 integral values;
    ``"regression"`` for other floats and for 2-d float targets with several columns."""
    y = np.asarray(y)
    if y.dtype.kind in "OUSbiu":
        return "classification"
    if y.ndim == 2 and y.shape[1] > 1:
        return "regression"
    kind = type_of_target(y)
    if kind.startswith("continuous") or np.unique(y).size > AUTO_MAX_CLASSES:
        return "regression"
    return "classification"


def _is_classifier_probe(est) -> bool:
    task = getattr(est, "task_", None) or est.task
    return task in ("classification", "auto")


class LinearProbe(BaseEstimator):
    """Linear decoder of one factor: ridge for continuous targets, logistic regression for classes.

    Parameters
    ----------
    task: ``"auto"`` (from ``y``: see :func:`infer_task`), ``"regression"`` or ``"classification"``.
    alpha: ridge penalty; None chooses it per target among ``alphas`` by ``cv``.
    alphas: ridge grid searched when ``alpha`` is None.
    C: inverse L2 strength of logistic regression; None chooses it among ``Cs`` by stratified k-fold
        cross-validated log-loss (k = ``cv``, or 5).
    Cs: logistic grid searched when ``C`` is None.
    cv: None (ridge: efficient leave-one-out; logistic: 5 folds), ``"gcv"`` or an int number of folds.
    fit_intercept: fit an unpenalised intercept.
    backend: ``"torch"``, ``"sklearn"``, ``"cuml"`` or a ProbeBackend instance.
    device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (torch backend).
    dtype: precision of the products with X on the torch backend (``"float32"`` or ``"float64"``).
    max_iter: logistic iterations (None: until converged).
    tol: logistic tolerance on the gradient of the mean loss (scikit-learn's criterion).
    random_state: seeds the folds of the C search.

    Attributes
    ----------
    task_: the task fitted. n_features_in_: number of features.
    coef_, intercept_: scikit-learn's layouts (``LogisticRegression``: (1, D) binary / (K, D);
        ``Ridge``: (D,) for 1-d y, (T, D) for 2-d y).
    classes_ (classification): the class labels. C_ / alpha_: the regularisation used.
    n_iter_: logistic iterations (1 for ridge, a closed-form solve).
    """

    def __init__(self, task: str = "auto", *, alpha=None, alphas=DEFAULT_ALPHAS, C=None, Cs=DEFAULT_CS, cv=None,
                 fit_intercept: bool = True, backend="torch", device: str = "auto", dtype: str = "float32",
                 max_iter: int | None = None, tol: float = 1e-6, random_state: int = 0):
        self.task = task
        self.alpha = alpha
        self.alphas = alphas
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        if self.task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif self.task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
            tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Fit the probe on ``X`` (n, D) and ``y`` (n,) (or (n, T) continuous). Returns self."""
        if self.task not in TASKS:
            raise ProbeInputError(f"task must be one of {TASKS}, got {self.task!r}")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=False)
        task = infer_task(y) if self.task == "auto" else self.task
        if task == "classification" and y.ndim == 2:
            if y.shape[1] != 1:
                raise ProbeInputError(f"classification takes one target column, got y of shape {y.shape}; "
                                      "fit one probe per column")
            warnings.warn("A column-vector y was passed when a 1d array was expected; it is ravelled.",
                          DataConversionWarning, stacklevel=2)
            y = y[:, 0]
        if X.shape[0] < 2:
            raise ProbeInputError(f"n_samples={X.shape[0]}: a linear probe needs at least 2 samples")
        be = get_backend(self.backend, device=self.device, dtype=self.dtype)
        self.task_ = task
        if task == "regression":
            self._fit_ridge(be, X, y)
        else:
            self._fit_logistic(be, X, y)
        return self

    def _fit_ridge(self, be, X, y):
        Y = np.asarray(y, dtype=np.float64)
        alphas = (self.alpha,) if self.alpha is not None else self.alphas
        cv = "gcv" if self.cv is None else self.cv
        fit = be.ridge(X, Y, alphas=alphas, fit_intercept=self.fit_intercept, cv=cv, seed=self.random_state)
        if Y.ndim == 1:
            self.coef_, self.intercept_, self.alpha_ = fit.coef[:, 0], float(fit.intercept[0]), float(fit.alpha[0])
        else:
            self.coef_, self.intercept_, self.alpha_ = fit.coef.T.copy(), fit.intercept, fit.alpha
        self.n_iter_ = 1

    def _fit_logistic(self, be, X, y):
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = len(self.classes_)
        if K < 2:
            raise ProbeInputError(f"only one class ({self.classes_[0]!r}) in y: a classifier needs at least 2 "
                                  "classes")
        self.C_ = float(self.C) if self.C is not None else self._choose_C(be, X, codes, K)
        fit = be.logistic(X, codes, n_classes=K, C=self.C_, fit_intercept=self.fit_intercept,
                          max_iter=self.max_iter, tol=self.tol)
        self.coef_ = fit.coef.T.copy()                              # (1, D) or (K, D)
        self.intercept_ = np.asarray(fit.intercept, dtype=np.float64)
        self.n_iter_ = max(1, int(fit.n_iter))

    def _choose_C(self, be, X, codes, K) -> float:
        """Stratified k-fold log-loss over ``Cs``; all folds x Cs in one ``logistic_many`` call."""
        from sklearn.model_selection import StratifiedKFold

        Cs = [float(c) for c in np.atleast_1d(self.Cs)]
        k = min(5 if self.cv is None else int(self.cv), int(np.bincount(codes).min()))
        if len(Cs) == 1 or k < 2:
            return Cs[0] if len(Cs) == 1 else 1.0                   # too few samples per class to search
        folds = list(StratifiedKFold(k, shuffle=True, random_state=self.random_state).split(X, codes))
        tasks = [LogisticTask(rows=tr, y=codes[tr], n_classes=K, C=c) for tr, _ in folds for c in Cs]
        fits = be.logistic_many(X, tasks, fit_intercept=self.fit_intercept, max_iter=self.max_iter, tol=self.tol)
        loss = np.zeros(len(Cs))                                    # mean validation log-loss per C
        for j, (_, va) in enumerate(folds):
            for i in range(len(Cs)):
                p = fits[j * len(Cs) + i].predict_proba(X[va])[np.arange(len(va)), codes[va]]
                loss[i] -= np.log(np.clip(p, 1e-15, 1.0)).mean() / k
        return Cs[int(np.argmin(loss))]                             # ties: the first C listed

    # -------------------------------------------------------------- predict
    def _linear(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.asarray(X, dtype=np.float64) @ np.atleast_2d(self.coef_).T + self.intercept_

    @available_if(_is_classifier_probe)
    def decision_function(self, X) -> np.ndarray:
        """Logits: (n,) for binary targets, (n, K) otherwise."""
        z = self._linear(X)
        return z[:, 0] if z.shape[1] == 1 else z

    @available_if(_is_classifier_probe)
    def predict_proba(self, X) -> np.ndarray:
        """(n, K) class probabilities."""
        return _softmax(self._linear(X))

    @available_if(_is_classifier_probe)
    def predict_log_proba(self, X) -> np.ndarray:
        """(n, K) log class probabilities."""
        return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or real values (regression)."""
        z = self._linear(X)
        if self.task_ == "regression":
            return z[:, 0] if np.ndim(self.coef_) == 1 else z
        return self.classes_[_softmax(z).argmax(axis=1)]

    def score(self, X, y) -> float:
        """Accuracy (classification) or R^2 averaged over targets (regression), as scikit-learn scores."""
        from sklearn.metrics import accuracy_score, r2_score

        check_is_fitted(self)
        pred = self.predict(X)
        return float(accuracy_score(y, pred) if self.task_ == "classification" else r2_score(y, pred))


def _softmax(z: np.ndarray) -> np.ndarray:
    """(n, 1) binary logits or (n, K) logits -> (n, K) probabilities."""
    if z.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
