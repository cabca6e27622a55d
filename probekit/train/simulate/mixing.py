"""The frozen invertible mixing g: S^{d-1} -> R^d of the simulation, an MLP with square layers.

``g(z) = W4 s(W3 s(W2 s(W1 z)))`` with bias-free d x d matrices ``W_l`` and ``s = LeakyReLU(0.2)``
(invertible: ``s^{-1}(y) = y`` for y >= 0 and ``y / 0.2`` otherwise). Each ``W_l`` has entries
uniform in [-1, 1] and L2-normalised columns, and is redrawn until its condition number is at most a
threshold, so every layer (and hence g) is numerically well invertible.

The threshold is the ``cond_quantile`` quantile of the condition numbers of ``pool`` reference
matrices drawn the same way (Hyvarinen's recipe, as in cl-ica). The paper's published simulation code
uses quantile 0.0 of 25,000: every layer at least as well conditioned as the best of 25,000 random
draws. That search has no bounded expected cost: the pool's minimum sometimes lands far in the tail,
and then finding a layer below it takes millions of draws (here one d = 20 mixing took 33 s, another
did not finish in 3 minutes on a busy machine). probekit's
default, quantile 0.001 of 25,000 (the 25th best), is practically as strict (thresholds 2.10 / 5.14 /
11.7 for d = 5 / 10 / 20, against 1.70 / 3.98 / 8.65 for the minimum and 6.4 / 15.9 / 36.5 for
cl-ica's default quantile 0.25) and needs about 1,000 draws per layer: under a second for d = 5, a
few seconds for d = 20 on one CPU core. Rougher mixings are harder to invert: with quantile 0.25 the
baseline run reached R^2 0.952 after 2,000 steps, against 0.984 with 0.0.
"""
from __future__ import annotations

import torch
from torch import nn


def _draw_matrices(n: int, dim: int, *, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` candidate layers: uniform [-1, 1] entries, unit-norm columns: (n, dim, dim) float64."""
    device = generator.device if generator is not None else torch.device("cpu")
    a = torch.rand(n, dim, dim, generator=generator, device=device, dtype=torch.float64) * 2.0 - 1.0
    return a / a.norm(dim=1, keepdim=True)  # column j of a[k] is a[k, :, j]


def condition_threshold(
    dim: int, *, quantile: float = 0.001, pool: int = 25_000, generator: torch.Generator | None = None
) -> float:
    """The ``quantile`` of the condition numbers of ``pool`` random column-normalised matrices."""
    cond = torch.linalg.cond(_draw_matrices(pool, dim, generator=generator))  # (pool,)
    cond, _ = torch.sort(cond)
    return float(cond[min(int(pool * quantile), pool - 1)])


def sample_layer(
    dim: int,
    *,
    max_cond: float,
    generator: torch.Generator | None = None,
    chunk: int = 4096,
    max_chunks: int = 10_000,
) -> torch.Tensor:
    """Draw one layer matrix with condition number <= ``max_cond``: (dim, dim) float64.

    Candidates are tested ``chunk`` at a time; the first acceptable one (in draw order) is returned,
    so the result depends only on the generator's state.
    """
    for _ in range(max_chunks):
        cand = _draw_matrices(chunk, dim, generator=generator)
        ok = torch.nonzero(torch.linalg.cond(cand) <= max_cond)
        if ok.numel():
            return cand[int(ok[0, 0])]
    raise RuntimeError(
        f"no {dim}x{dim} mixing layer with condition number <= {max_cond:.4g} in "
        f"{chunk * max_chunks} draws; use a larger cond_quantile"
    )


class InvertibleMLP(nn.Module):
    """Frozen invertible MLP: square bias-free layers with LeakyReLU between them (not after the last).

    Parameters
    ----------
    weights:
        (L, d, d) layer matrices; layer l maps ``x -> weights[l] @ x``. Stored as a buffer (not a
        parameter), so g has no trainable parameters and moves with ``.to(device)``.
    slope:
        Negative slope of the LeakyReLU.
    """

    def __init__(self, weights: torch.Tensor, *, slope: float = 0.2):
        super().__init__()
        if weights.dim() != 3 or weights.shape[1] != weights.shape[2]:
            raise ValueError(f"weights must be (L, d, d); got {tuple(weights.shape)}")
        self.slope = float(slope)
        self.register_buffer("weights", weights.float().clone())  # (L, d, d)
        self.requires_grad_(False)

    @property
    def dim(self) -> int:
        return self.weights.shape[1]

    @torch.no_grad()
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """x = g(z): (B, d) -> (B, d)."""
        x = z
        n = self.weights.shape[0]
        for i in range(n):
            x = x @ self.weights[i].T
            if i < n - 1:
                x = torch.nn.functional.leaky_relu(x, self.slope)
        return x

    @torch.no_grad()
    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """z = g^{-1}(x): (B, d) -> (B, d), computed in float64 and returned in the dtype of ``x``."""
        y = x.double()
        w = self.weights.double()
        for i in reversed(range(w.shape[0])):
            if i < w.shape[0] - 1:
                y = torch.where(y >= 0, y, y / self.slope)
            y = torch.linalg.solve(w[i], y.T).T
        return y.to(x.dtype)

    def condition_numbers(self) -> list[float]:
        """Condition number of each layer matrix."""
        return [float(c) for c in torch.linalg.cond(self.weights.double().cpu())]


def make_mixing(
    dim: int,
    *,
    n_layers: int = 4,
    slope: float = 0.2,
    cond_quantile: float = 0.001,
    pool: int = 25_000,
    generator: torch.Generator | None = None,
) -> InvertibleMLP:
    """Draw the frozen mixing g for dimension ``dim`` (see the module docstring for the recipe).

    Example
    -------
    >>> import torch
    >>> g = make_mixing(5, generator=torch.Generator().manual_seed(0))
    >>> z = torch.nn.functional.normalize(torch.randn(4, 5), dim=1)
    >>> torch.allclose(g.inverse(g(z)), z, atol=1e-5)
    True
    """
    threshold = condition_threshold(dim, quantile=cond_quantile, pool=pool, generator=generator)
    layers = [sample_layer(dim, max_cond=threshold, generator=generator) for _ in range(n_layers)]
    g = InvertibleMLP(torch.stack(layers), slope=slope)
    g.cond_threshold = threshold
    return g
