"""The simulation's latent samplers and mixing: exact vMF moments, unit norm, determinism, invertibility."""
import math

import pytest
import torch

from probekit.train.simulate.mixing import InvertibleMLP, condition_threshold, make_mixing
from probekit.train.simulate.vmf import (
    mean_resultant_length,
    sample_conditional,
    sample_projected,
    sample_uniform_sphere,
    sample_vmf,
)


@pytest.fixture(autouse=True)
def one_thread():
    # the tensors here are small: one thread is fastest, and OpenMP threads spin on a busy machine
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "dim,kappa", [(2, 1.0), (3, 0.5), (3, 10.0), (5, 10.0), (5, 50.0), (10, 5.0), (20, 10.0), (20, 200.0)]
)
def test_vmf_mean_resultant_length_matches_bessel_ratio(dim, kappa):
    g = _gen(dim * 1000 + int(kappa))
    mu = sample_uniform_sphere(1, dim=dim, generator=g)[0].double()
    z = sample_vmf(mu, kappa=kappa, n=100_000, generator=g)  # (n, d) float64
    cos = z @ mu
    expected = mean_resultant_length(dim, kappa)  # I_{d/2}(k) / I_{d/2-1}(k)
    se = cos.std().item() / math.sqrt(cos.numel())
    assert abs(cos.mean().item() - expected) < 5 * se + 1e-6
    # unit norm, and the sample mean direction is mu
    assert torch.allclose(z.norm(dim=1), torch.ones(len(z), dtype=z.dtype), atol=1e-12)
    mean = z.mean(dim=0)
    assert torch.nn.functional.cosine_similarity(mean, mu, dim=0) > 0.99


def test_bessel_ratio_known_values():
    # d = 3: A_3(k) = coth(k) - 1/k (Langevin function)
    for k in (0.3, 2.0, 30.0):
        assert mean_resultant_length(3, k) == pytest.approx(1 / math.tanh(k) - 1 / k, rel=1e-10)
    assert mean_resultant_length(5, 1e4) == pytest.approx(1 - 2 / 1e4, rel=1e-6)  # large-kappa limit 1-(d-1)/(2k)


def test_vmf_per_row_means_and_shapes():
    g = _gen(1)
    mu = sample_uniform_sphere(4, dim=6, generator=g)  # (4, 6) float32
    z = sample_vmf(mu.repeat_interleave(20_000, dim=0), kappa=20.0, generator=g)  # one draw per row
    assert z.shape == (80_000, 6) and z.dtype == torch.float32
    means = z.view(4, 20_000, 6).mean(dim=1)
    cos = torch.nn.functional.cosine_similarity(means, mu, dim=1)
    assert (cos > 0.999).all()
    # mu equal to a basis vector (no Householder reflection) works too
    e1 = torch.zeros(6)
    e1[0] = 1.0
    ze = sample_vmf(e1, kappa=20.0, n=20_000, generator=g)
    assert abs(ze[:, 0].double().mean().item() - mean_resultant_length(6, 20.0)) < 0.005


def test_vmf_is_deterministic_under_a_seed():
    mu = sample_uniform_sphere(256, dim=5, generator=_gen(3))
    a = sample_vmf(mu, kappa=10.0, generator=_gen(7))
    b = sample_vmf(mu, kappa=10.0, generator=_gen(7))
    c = sample_vmf(mu, kappa=10.0, generator=_gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_vmf_rejects_bad_input():
    with pytest.raises(ValueError, match="kappa"):
        sample_vmf(torch.tensor([1.0, 0.0]), kappa=0.0)
    with pytest.raises(ValueError, match="dimension"):
        sample_vmf(torch.ones(3, 1), kappa=1.0)


@pytest.mark.parametrize("kind", ["laplace", "normal"])
def test_projected_conditionals(kind):
    g = _gen(5)
    mu = sample_uniform_sphere(1, dim=5, generator=g).expand(50_000, -1)
    z = sample_projected(mu, kind=kind, scale=1.0, generator=g)
    assert torch.allclose(z.norm(dim=1), torch.ones(len(z)), atol=1e-5)
    mean = z.mean(dim=0)
    assert torch.nn.functional.cosine_similarity(mean, mu[0], dim=0) > 0.99
    # concentrated around mu, but less than a tight vMF
    assert 0.2 < (z @ mu[0]).mean().item() < 0.95
    same = sample_conditional(mu[:100], conditional=kind, kappa=1.0, scale=1.0, generator=_gen(9))
    assert torch.equal(same, sample_conditional(mu[:100], conditional=kind, kappa=1.0, scale=1.0, generator=_gen(9)))


def test_laplace_noise_scale():
    # before projection the noise is iid Laplace(0, b): E|eps| = b; check via a far-away mean (tiny projection effect)
    g = _gen(11)
    mu = torch.zeros(200_000, 2)
    mu[:, 0] = 1.0
    z = sample_projected(mu * 1.0, kind="laplace", scale=0.01, generator=g)
    # atan2 of the projected point ~ eps_2 / (1 + eps_1) ~ eps_2 for small b
    angle = torch.atan2(z[:, 1], z[:, 0])
    assert angle.abs().mean().item() == pytest.approx(0.01, rel=0.02)


def test_uniform_sphere_is_centred():
    z = sample_uniform_sphere(100_000, dim=4, generator=_gen(2))
    assert z.mean(dim=0).abs().max() < 0.01
    assert torch.allclose(z.norm(dim=1), torch.ones(len(z)), atol=1e-5)


# ---- mixing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 5, 10])
def test_mixing_is_invertible_and_well_conditioned(dim):
    g = make_mixing(dim, pool=5000, generator=_gen(dim))
    z = sample_uniform_sphere(4096, dim=dim, generator=_gen(100))
    x = g(z)
    assert x.shape == z.shape
    z_back = g.inverse(x.double()).float()
    assert torch.allclose(z_back, z, atol=1e-4)
    conds = g.condition_numbers()
    assert len(conds) == 4
    assert max(conds) <= g.cond_threshold * (1 + 1e-6)
    # the threshold is the best of `pool` random layers: well below a typical random layer
    assert g.cond_threshold < condition_threshold(dim, quantile=0.5, pool=2000, generator=_gen(1))
    # columns are unit norm
    assert torch.allclose(g.weights.norm(dim=1), torch.ones(4, dim), atol=1e-5)
    # the mixing is genuinely nonlinear: g(-z) != -g(z)
    assert not torch.allclose(g(-z), -x, atol=1e-3)


def test_mixing_is_frozen_and_deterministic():
    g = make_mixing(5, pool=2000, generator=_gen(0))
    assert list(g.parameters()) == []
    z = sample_uniform_sphere(16, dim=5, generator=_gen(1)).requires_grad_(True)
    assert not g(z).requires_grad
    assert torch.equal(g.weights, make_mixing(5, pool=2000, generator=_gen(0)).weights)
    assert not torch.equal(g.weights, make_mixing(5, pool=2000, generator=_gen(1)).weights)


def test_mixing_quantile_controls_threshold():
    loose = make_mixing(5, cond_quantile=0.25, pool=5000, generator=_gen(0))
    strict = make_mixing(5, cond_quantile=0.0, pool=5000, generator=_gen(0))
    assert strict.cond_threshold < loose.cond_threshold
    assert max(loose.condition_numbers()) <= loose.cond_threshold * (1 + 1e-6)


def test_invertible_mlp_rejects_bad_weights():
    with pytest.raises(ValueError, match="weights"):
        InvertibleMLP(torch.ones(2, 3, 4))
