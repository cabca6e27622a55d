"""Closed-form ridge regression in torch: one eigendecomposition serves every target and every alpha.

With ``Xc = X - mean`` (n, D), the decomposition is written ``Xc = Q Vr^T`` restricted to the range of
``Xc``, with ``Q^T Q = diag(lam)``:

* primal (n >= D): ``Xc^T Xc = V diag(lam) V^T`` (D x D eigh), ``Vr = V``, ``Q = Xc V``;
* dual (n < D): ``Xc Xc^T = U diag(lam) U^T`` (n x n eigh), ``Q = U sqrt(lam)``, ``Vr = Xc^T U / sqrt(lam)``.

Then for every alpha ``w(alpha) = Vr diag(1 / (lam + alpha)) Q^T yc`` and the hat matrix is
``H = 11^T / n + Q diag(1 / (lam + alpha)) Q^T``, so the exact leave-one-out residuals (the intercept
refitted without the left-out row, as in scikit-learn's ``RidgeCV``) are ``(y - H y) / (1 - diag H)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .base import RidgeFit

_CHUNK = 1 << 24  # elements per (n, alphas x targets) block of predictions: bounds memory


@dataclass
class Decomposition:
    """The ridge decomposition of one design matrix (see the module docstring)."""

    Q: torch.Tensor      # (n, r) compute dtype, Q^T Q = diag(lam)
    lam: torch.Tensor    # (r,) float64 eigenvalues >= 0
    Vr: torch.Tensor     # (D, r) compute dtype, maps spectral coordinates to coefficients
    x_mean: torch.Tensor  # (D,) float64 column means (zeros without intercept)
    n: int
    fit_intercept: bool


def decompose(X: torch.Tensor, *, fit_intercept: bool = True) -> Decomposition:
    """Eigendecompose the (centred) Gram or covariance matrix of ``X`` (n, D), whichever is smaller."""
    n, D = X.shape
    if fit_intercept:
        mean = X.mean(dim=0, dtype=torch.float64)          # (D,) float64: accurate means
        Xc = X - mean.to(X.dtype)                           # (n, D) centred before any product
    else:
        mean = torch.zeros(D, dtype=torch.float64, device=X.device)
        Xc = X
    if n >= D:
        G = (Xc.T @ Xc).to(torch.float64)                   # (D, D)
        lam, V = torch.linalg.eigh(G)
        lam = lam.clamp_min(0.0)
        Vr = V.to(X.dtype)                                  # (D, D)
        Q = Xc @ Vr                                         # (n, D)
    else:
        K = (Xc @ Xc.T).to(torch.float64)                   # (n, n)
        lam, U = torch.linalg.eigh(K)
        keep = lam > lam.max().clamp_min(0) * (n * torch.finfo(X.dtype).eps)
        lam, U = lam[keep], U[:, keep]                      # (r,), (n, r): the range of Xc
        root = lam.sqrt()
        Q = (U * root).to(X.dtype)                          # (n, r)
        Vr = (Xc.T @ (U / root).to(X.dtype))                # (D, r)
    return Decomposition(Q=Q, lam=lam, Vr=Vr, x_mean=mean, n=n, fit_intercept=fit_intercept)


def _spectral_targets(dec: Decomposition, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, y_mean)``: B = Q^T yc (r, T) float64 and the target means (T,)."""
    y_mean = Y.mean(dim=0) if dec.fit_intercept else torch.zeros(Y.shape[1], dtype=Y.dtype, device=Y.device)
    Yc = (Y - y_mean).to(dec.Q.dtype)                       # (n, T)
    return (dec.Q.T @ Yc).to(torch.float64), y_mean


def _alpha_chunks(n: int, n_alphas: int, n_targets: int) -> list[slice]:
    per = max(1, _CHUNK // max(1, n * n_targets))
    return [slice(i, min(i + per, n_alphas)) for i in range(0, n_alphas, per)]


def loo_mse(dec: Decomposition, Y: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """(A, T) mean squared leave-one-out error of every alpha and target (efficient LOO / "GCV")."""
    B, y_mean = _spectral_targets(dec, Y)                   # (r, T), (T,)
    Yc = Y - y_mean                                         # (n, T) float64
    Q2 = dec.Q.square()                                     # (n, r)
    inv = 1.0 / (dec.lam[:, None] + alphas[None, :])        # (r, A) float64
    hat = Q2 @ inv.to(Q2.dtype)                             # (n, A) diag of the hat matrix (no intercept)
    hat = hat.to(torch.float64) + (1.0 / dec.n if dec.fit_intercept else 0.0)
    out = torch.empty(len(alphas), Y.shape[1], dtype=torch.float64, device=Y.device)
    T = Y.shape[1]
    for sl in _alpha_chunks(dec.n, len(alphas), T):
        coef = (B[:, None, :] * inv[:, sl, None]).reshape(B.shape[0], -1)    # (r, a * T)
        fitted = (dec.Q @ coef.to(dec.Q.dtype)).to(torch.float64)            # (n, a * T)
        fitted = fitted.reshape(dec.n, -1, T)                                 # (n, a, T)
        resid = (Yc[:, None, :] - fitted) / (1.0 - hat[:, sl, None])          # (n, a, T)
        out[sl] = resid.square().mean(dim=0)
    return out


def kfold_mse(X: torch.Tensor, Y: torch.Tensor, alphas: torch.Tensor, folds, *,
              fit_intercept: bool) -> torch.Tensor:
    """(A, T) validation mean squared error of every alpha and target, averaged over ``folds``."""
    total = torch.zeros(len(alphas), Y.shape[1], dtype=torch.float64, device=Y.device)
    for train, val in folds:
        tr = torch.as_tensor(train, device=X.device)
        va = torch.as_tensor(val, device=X.device)
        dec = decompose(X[tr], fit_intercept=fit_intercept)
        B, y_mean = _spectral_targets(dec, Y[tr])           # (r, T)
        Cv = (X[va] - dec.x_mean.to(X.dtype)) @ dec.Vr      # (n_val, r)
        inv = 1.0 / (dec.lam[:, None] + alphas[None, :])    # (r, A)
        T = Y.shape[1]
        for sl in _alpha_chunks(len(val), len(alphas), T):
            coef = (B[:, None, :] * inv[:, sl, None]).reshape(B.shape[0], -1)
            pred = (Cv @ coef.to(Cv.dtype)).to(torch.float64).reshape(len(val), -1, T) + y_mean
            total[sl] += (Y[va][:, None, :] - pred).square().mean(dim=0)
    return total / len(folds)


def solve(dec: Decomposition, Y: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients (D, T) float64 and intercepts (T,) for one alpha per target (``alpha`` (T,))."""
    B, y_mean = _spectral_targets(dec, Y)                   # (r, T)
    W = dec.Vr.to(torch.float64) @ (B / (dec.lam[:, None] + alpha[None, :]))  # (D, T)
    intercept = y_mean - dec.x_mean @ W if dec.fit_intercept else torch.zeros_like(y_mean)
    return W, intercept


def ridge(X: torch.Tensor, Y: torch.Tensor, alphas: np.ndarray, *, fit_intercept: bool, cv, folds) -> RidgeFit:
    """Ridge for every column of ``Y`` (n, T) float64 with alpha chosen per target on (X, Y)."""
    a = torch.as_tensor(alphas, dtype=torch.float64, device=X.device)
    dec = decompose(X, fit_intercept=fit_intercept)
    score = None
    if len(a) == 1:
        best = torch.zeros(Y.shape[1], dtype=torch.long, device=X.device)
    else:
        mse = loo_mse(dec, Y, a) if cv == "gcv" else kfold_mse(X, Y, a, folds, fit_intercept=fit_intercept)
        best = torch.argmin(mse, dim=0)                     # first minimum: ties go to the smaller alpha index
        score = mse.gather(0, best[None, :])[0]
    alpha = a[best]                                         # (T,)
    W, b = solve(dec, Y, alpha)
    return RidgeFit(coef=W.cpu().numpy(), intercept=b.cpu().numpy(), alpha=alpha.cpu().numpy(),
                    cv_score=None if score is None else score.cpu().numpy())
