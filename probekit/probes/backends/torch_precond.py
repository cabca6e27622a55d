"""The initial inverse Hessian of the batched logistic solver (see torch_logistic).

At ``theta = 0`` the Hessian of task ``t`` in its weights is ``I + C_t kappa Xc^T diag(m_t) Xc`` (kappa =
1/4 for a binary task, the curvature of the logistic loss at 0; ``Xc`` the task's rows centred, the
intercept absorbing the mean). With ``Xc^T diag(m) Xc ~ n_t Sigma``, Sigma the covariance of a row
sample of X, one spectral sketch of Sigma gives every task's ``(I + c_t Sigma)^-1``.

(An exact per-task inverse through the Woodbury identity was tried for tasks with fewer rows than
features: it saved a third of their iterations but cost more per iteration than it saved.)
"""
from __future__ import annotations

import torch

from .torch_rowspace import gram_eigenpairs


class SharedPreconditioner:
    """``(I + c Sigma)^-1`` for any c, from a spectral sketch of Sigma (the covariance of sampled rows).

    Sigma is approximated by its top ``rank`` eigenpairs plus the mean of the remaining eigenvalues on
    the orthogonal complement (full eigendecomposition when D <= 2 rank; ``rank=0``: a multiple of I).
    Applying it costs two (D, rank) products for all tasks at once, each task with its own ``c``.
    """

    def __init__(self, X: torch.Tensor, *, n_rows: int, rank: int, dtype: torch.dtype):
        g = torch.Generator().manual_seed(0)
        n, D = X.shape
        dev, f64 = X.device, torch.float64
        idx = torch.randperm(n, generator=g)[: min(n, n_rows)].sort().values.to(dev)
        S = X[idx]
        S = S - S.mean(dim=0, dtype=f64).to(S.dtype)                      # (m, D)
        m = max(1, len(idx) - 1)
        trace = float(S.to(f64).pow(2).sum()) / m
        if rank == 0:
            lam, U, self.tail = torch.zeros(0, dtype=f64, device=dev), torch.zeros(D, 0, device=dev), trace / D
        elif D <= 2 * rank:
            lam, U = torch.linalg.eigh(((S.T @ S) / m).to(f64))
            self.tail = 0.0
        elif len(idx) < D:
            # Fewer sampled rows than features (e.g. raw pixels): take the eigenpairs of the sample
            # covariance from the (m, m) Gram matrix of at most 4 * rank rows; never form (D, D).
            S = S[: 4 * rank]
            m = max(1, len(S) - 1)
            # the centred rows have rank < m: only eigenpairs above rounding (1e-6 of the largest) are
            # kept; what is dropped joins the isotropic tail
            mu, U = gram_eigenpairs(S, 1e-6)                               # ascending, (D, r') orthonormal
            lam, U = mu[-rank:] / m, U[:, -rank:]
            self.tail = max(trace - float(lam.sum()), 0.0) / (D - len(lam))
        else:
            sigma = (S.T @ S) / m                                          # (D, D) compute dtype
            Q = torch.randn(D, rank + 16, generator=g).to(device=dev, dtype=sigma.dtype)
            for _ in range(4):                                             # subspace iteration
                Q = torch.linalg.qr(sigma @ Q).Q
            lam, W = torch.linalg.eigh((Q.T @ sigma @ Q).to(f64))
            lam, U = lam[-rank:], Q.to(f64) @ W[:, -rank:]
            self.tail = max(trace - float(lam.clamp_min(0).sum()), 0.0) / (D - rank)
        self.lam = lam.clamp_min(0.0)                                      # (r,) float64
        self.U = U.to(dtype)                                               # (D, r)

    def apply(self, G: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(D, T) float64 -> ``(I + c_t Sigma)^-1 g_t`` per column, with ``c`` (T,)."""
        d = 1.0 / (1.0 + c[None, :] * self.lam[:, None])                   # (r, T)
        e = 1.0 / (1.0 + c * self.tail)                                    # (T,)
        UG = (self.U.T @ G.to(self.U.dtype)).to(torch.float64)             # (r, T)
        return e * G + (self.U @ ((d - e) * UG).to(self.U.dtype)).to(torch.float64)
