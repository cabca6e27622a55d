"""The cuML probe backend (optional): RAPIDS ``Ridge`` and ``LogisticRegression`` on a CUDA GPU.

cuML is imported when the backend is created, never at ``import probekit``. It is not exercised by
the CPU test suite; the torch backend on ``device="cuda"`` is the tested GPU path.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import ConfigError, ProbekitError
from ._util import as_matrix, as_targets, check_alphas, check_cv, check_task, kfold_indices
from .base import LogisticFit, LogisticTask, ProbeBackend, RidgeFit

INSTALL = "install it with `pip install probekit[gpu]` (RAPIDS cuML for CUDA 12) or use backend='torch'"


def _import_cuml():
    try:
        import cuml  # noqa: F401
        from cuml.linear_model import LogisticRegression, Ridge
    except ImportError as e:
        raise ProbekitError(f"the cuml backend needs RAPIDS cuML, which is not installed ({e}); {INSTALL}") from e
    except Exception as e:  # noqa: BLE001 - cuML raises CUDA errors at import when no GPU is usable
        raise ProbekitError(f"cuML is installed but cannot start ({type(e).__name__}: {e}); it needs a CUDA "
                            "GPU with a matching driver; use backend='torch'") from e
    return Ridge, LogisticRegression


class CumlBackend(ProbeBackend):
    """Ridge (alpha by k-fold, default 5) and L2 logistic regression with cuML, one fit per task."""

    name = "cuml"

    def __init__(self, *, device: str = "auto", dtype: str = "float32"):
        import torch

        if device not in ("auto", "cuda") and not str(device).startswith("cuda"):
            raise ConfigError(f"the cuml backend runs on a CUDA GPU only, got device={device!r}; use backend='torch'")
        self._Ridge, self._Logistic = _import_cuml()
        if not torch.cuda.is_available():
            raise ProbekitError("the cuml backend needs a CUDA GPU and torch sees none; use backend='torch' "
                                "(it runs on the CPU)")
        self.device = "cuda"
        self.dtype = np.float32 if dtype == "float32" else np.float64

    def ridge(self, X, Y, *, alphas: Sequence[float], fit_intercept: bool = True, cv: str | int = "gcv",
              seed: int = 0) -> RidgeFit:
        """cuML has no efficient LOO: ``cv="gcv"`` is served by 5-fold cross-validation."""
        X = as_matrix(X).astype(self.dtype)
        Yn = as_targets(Y, X.shape[0])
        a = check_alphas(alphas)
        k = 5 if check_cv(cv) == "gcv" else int(cv)
        T = Yn.shape[1]

        def fit(Xf, y, alpha):
            m = self._Ridge(alpha=float(alpha), fit_intercept=fit_intercept).fit(Xf, y.astype(self.dtype))
            return np.asarray(m.coef_, dtype=np.float64).reshape(-1), float(np.asarray(m.intercept_).reshape(-1)[0])

        chosen, score = np.full(T, a[0]), None
        if len(a) > 1:
            mse = np.zeros((len(a), T))
            for tr, va in kfold_indices(len(X), k, seed=seed):
                for i, alpha in enumerate(a):
                    for t in range(T):
                        w, b = fit(X[tr], Yn[tr, t], alpha)
                        mse[i, t] += np.mean((Yn[va, t] - X[va] @ w - b) ** 2) / k
            chosen, score = a[mse.argmin(axis=0)], mse.min(axis=0)
        coef, intercept = np.zeros((X.shape[1], T)), np.zeros(T)
        for t in range(T):
            coef[:, t], intercept[t] = fit(X, Yn[:, t], chosen[t])
        return RidgeFit(coef=coef, intercept=intercept, alpha=chosen, cv_score=score)

    def logistic(self, X, y, *, n_classes: int, C: float = 1.0, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-6) -> LogisticFit:
        X = as_matrix(X).astype(self.dtype)
        _, y = check_task(LogisticTask(rows=np.arange(len(X)), y=np.asarray(y), n_classes=n_classes, C=C), len(X))
        limit = 100_000 if max_iter is None else int(max_iter)
        m = self._Logistic(C=float(C), fit_intercept=fit_intercept, max_iter=limit, tol=float(tol)).fit(X, y)
        coef = np.asarray(m.coef_, dtype=np.float64).reshape(-1, X.shape[1]).T        # (D, K')
        n_iter = int(np.max(np.asarray(getattr(m, "n_iter_", [0]))))
        return LogisticFit(coef=coef, intercept=np.asarray(m.intercept_, dtype=np.float64).reshape(-1),
                           n_classes=int(n_classes), C=float(C), n_iter=n_iter, converged=n_iter < limit,
                           extra={"backend": "cuml"})
