"""Latent distributions on the unit sphere S^{d-1}: uniform, von Mises-Fisher, projected Laplace/Normal.

All samplers are vectorised in torch, work for any dimension d >= 2, and draw every random number
from an explicit :class:`torch.Generator` (so a seed fixes the result; the global RNG is untouched).
The vMF sampler is exact: Wood's (1994) rejection sampler for the cosine ``w = mu^T z``, a uniform
tangent direction, and a Householder reflection that maps the first basis vector onto ``mu``.

Example
-------
>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> mu = sample_uniform_sphere(3, dim=5, generator=g)   # (3, 5)
>>> z = sample_vmf(mu, kappa=10.0, generator=g)         # (3, 5), one draw around each row of mu
>>> torch.allclose(z.norm(dim=1), torch.ones(3))
True
"""
from __future__ import annotations

import math

import torch

CONDITIONALS = ("vmf", "laplace", "normal")


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def sample_uniform_sphere(n: int, *, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n`` points uniformly on S^{dim-1}: (n, dim) float32 on the generator's device."""
    x = torch.randn(n, dim, generator=generator, device=_device(generator), dtype=torch.float64)
    return (x / x.norm(dim=1, keepdim=True)).float()


def _sample_beta_symmetric(n: int, a_twice: int, *, generator, device) -> torch.Tensor:
    """Beta(a, a) with a = a_twice / 2 from two chi-square draws: (n,) float64.

    X ~ chi2_k = Gamma(k/2, 2), so X1 / (X1 + X2) ~ Beta(k/2, k/2); only normals are needed, which
    (unlike ``torch.distributions.Beta``) accept a generator.
    """
    g = torch.randn(2, n, a_twice, generator=generator, device=device, dtype=torch.float64)
    chi2 = g.square().sum(dim=2)  # (2, n)
    return chi2[0] / (chi2[0] + chi2[1])


def sample_vmf_cosine(n: int, *, dim: int, kappa: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``w = mu^T z`` for ``z ~ vMF(mu, kappa)`` on S^{dim-1} with Wood's algorithm: (n,) float64.

    The density of ``w`` on [-1, 1] is proportional to ``exp(kappa w) (1 - w^2)^((dim-3)/2)``.
    Proposals are drawn in vectorised rounds, about 1.2x the number still missing per round; the
    acceptance rate is about 0.65 or more (measured for dim 2..100, kappa 0.01..1000), so a few
    rounds suffice.
    """
    device = _device(generator)
    dm1 = dim - 1
    # b = (-2 kappa + sqrt(4 kappa^2 + (d-1)^2)) / (d-1), written without cancellation for large kappa
    b = dm1 / (2.0 * kappa + math.sqrt(4.0 * kappa * kappa + dm1 * dm1))
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + dm1 * math.log(1.0 - x0 * x0)
    out = torch.empty(n, device=device, dtype=torch.float64)
    filled = 0
    while filled < n:
        m = int(1.2 * (n - filled)) + 16
        beta = _sample_beta_symmetric(m, dm1, generator=generator, device=device)  # (m,)
        w = (1.0 - (1.0 + b) * beta) / (1.0 - (1.0 - b) * beta)  # (m,) proposals in [-1, 1]
        u = torch.rand(m, generator=generator, device=device, dtype=torch.float64)
        accept = kappa * w + dm1 * torch.log1p(-x0 * w) - c >= torch.log(u)
        w = w[accept][: n - filled]
        out[filled : filled + w.numel()] = w
        filled += w.numel()
    return out


def sample_vmf(
    mu: torch.Tensor,
    *,
    kappa: float,
    n: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw from the von Mises-Fisher distribution vMF(mu, kappa) on S^{d-1}.

    Parameters
    ----------
    mu:
        Mean directions, unit norm: (B, d), one draw per row; or (d,), then ``n`` draws (default 1).
    kappa:
        Concentration, > 0. The mean resultant length E[mu^T z] is ``mean_resultant_length(d, kappa)``.
    generator:
        Source of all random numbers; its device is the device of the draw.

    Returns
    -------
    (B, d) or (n, d) tensor with the dtype of ``mu`` (float32 if ``mu`` is not floating).
    """
    if mu.dim() == 1:
        mu = mu.unsqueeze(0).expand(n or 1, -1)
    batch, dim = mu.shape
    if dim < 2:
        raise ValueError(f"vMF needs dimension >= 2; got mu of shape {tuple(mu.shape)}")
    if not kappa > 0:
        raise ValueError(f"vMF concentration kappa must be > 0; got {kappa}")
    device = _device(generator)
    out_dtype = mu.dtype if mu.is_floating_point() else torch.float32
    mu64 = mu.to(device=device, dtype=torch.float64)
    w = sample_vmf_cosine(batch, dim=dim, kappa=float(kappa), generator=generator)  # (B,)
    v = torch.randn(batch, dim - 1, generator=generator, device=device, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)  # (B, d-1) uniform tangent directions
    x = torch.cat([w[:, None], torch.sqrt((1.0 - w * w).clamp_min(0.0))[:, None] * v], dim=1)  # around e1
    # Householder reflection H = I - 2 u u^T / |u|^2 with u = e1 - mu maps e1 to mu
    u = -mu64.clone()
    u[:, 0] += 1.0
    unorm2 = u.square().sum(dim=1, keepdim=True)  # (B, 1)
    proj = (u * x).sum(dim=1, keepdim=True)
    reflected = x - 2.0 * u * proj / unorm2.clamp_min(1e-300)
    z = torch.where(unorm2 > 1e-24, reflected, x)  # mu == e1: no reflection needed
    return z.to(out_dtype)


def sample_projected(
    mu: torch.Tensor,
    *,
    kind: str,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw ``(mu + eps) / |mu + eps|`` with iid Laplace(0, scale) or Normal(0, scale^2) noise eps.

    These are the paper's misspecified conditionals (not vMF, yet concentrated around ``mu``).
    ``mu``: (B, d); returns (B, d) in the dtype of ``mu``.
    """
    device = _device(generator)
    mu64 = mu.to(device=device, dtype=torch.float64)
    if kind == "laplace":
        # Laplace(0, b) = b (E1 - E2) with E1, E2 ~ Exp(1); exponential_ takes a generator
        e = torch.empty(2, *mu64.shape, device=device, dtype=torch.float64).exponential_(generator=generator)
        eps = scale * (e[0] - e[1])
    elif kind == "normal":
        eps = scale * torch.randn(mu64.shape, generator=generator, device=device, dtype=torch.float64)
    else:
        raise ValueError(f"unknown projected conditional {kind!r}; allowed: laplace, normal")
    y = mu64 + eps
    return (y / y.norm(dim=1, keepdim=True).clamp_min(1e-300)).to(mu.dtype)


def sample_conditional(
    mu: torch.Tensor,
    *,
    conditional: str,
    kappa: float,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one latent around each row of ``mu`` (B, d) from p(z | v_c): vMF(kappa) or projected noise."""
    if conditional == "vmf":
        return sample_vmf(mu, kappa=kappa, generator=generator)
    if conditional in ("laplace", "normal"):
        return sample_projected(mu, kind=conditional, scale=scale, generator=generator)
    raise ValueError(f"unknown conditional {conditional!r}; allowed: {', '.join(CONDITIONALS)}")


def mean_resultant_length(dim: int, kappa: float) -> float:
    """E[mu^T z] for z ~ vMF(mu, kappa) on S^{dim-1}: A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa).

    Uses exponentially scaled Bessel functions (``scipy.special.ive``), stable for large kappa.
    """
    from scipy.special import ive

    return float(ive(dim / 2.0, kappa) / ive(dim / 2.0 - 1.0, kappa))
