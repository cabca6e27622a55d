"""Wide features, few rows: solve L2 logistic regression in the span of the training rows.

For ``C sum_i loss(x_i w + b, y_i) + 0.5 ||w||^2`` the optimum ``w`` lies in the span of the rows the
loss sees (stationarity: ``w = -C X^T r``). With ``B`` (D, r) an orthonormal basis of that span and
``w = B v``, ``||w|| = ||v||`` and ``x w = (x B) v``: the problem in ``v`` over the features ``X B``
(n, r) is the same problem with the same optimum, and ``r <= rows`` instead of ``D``. For raw pixels
(12,288 features, a few thousand rows) every product of the solver shrinks by ``D / r``.

The basis comes from the (m, m) Gram matrix of the used rows in float64 (``B = X_u^T V / sqrt(mu)``),
keeping the eigenpairs above rounding; the directions dropped carry no training signal (the rows
have components of at most ``sqrt(1e-10)`` of the largest there).
"""
from __future__ import annotations

import torch

# Reduce when the features outnumber the used rows by this factor: below it the Gram, the basis and
# the projection cost about as much as the iterations they save.
WIDE_RATIO = 1.5
_KEEP = 1e-10  # eigenvalues of the Gram matrix kept, relative to the largest


def worth_reducing(n_rows_used: int, n_features: int) -> bool:
    """Whether the row-space reduction pays for ``n_rows_used`` training rows of ``n_features``."""
    return n_features > WIDE_RATIO * n_rows_used


def gram_eigenpairs(S: torch.Tensor, keep: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs of ``S^T S`` (D, D) from the (m, m) Gram matrix ``S S^T``, in float64, never forming (D, D).

    Returns ``(mu (r,) ascending, U (D, r) orthonormal columns)`` with ``S^T S U = U diag(mu)``, keeping
    the eigenvalues above ``keep`` times the largest: below it, ``S^T v / sqrt(mu)`` is rounding noise
    blown up, not a direction of the rows.
    """
    S64 = S.to(torch.float64)                                       # (m, D)
    mu, V = torch.linalg.eigh(S64 @ S64.T)                          # ascending, (m,), (m, m)
    top = mu > keep * mu[-1].clamp_min(1e-300)
    mu, V = mu[top], V[:, top]
    return mu, (S64.T @ V) / torch.sqrt(mu)                         # (r,), (D, r)


def row_space_basis(X_used: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis (D, r) float64 of the span of the rows of ``X_used`` (m, D), ``r <= m``."""
    return gram_eigenpairs(X_used, _KEEP)[1]
