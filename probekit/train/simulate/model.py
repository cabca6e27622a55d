"""The simulation's model: an MLP encoder f and a bias-free linear head W (the class prototypes).

Encoder (as in the paper and cl-ica's ``get_mlp``): ``d -> 10d -> 50d -> 50d -> 50d -> 50d -> 10d -> d``;
every hidden layer is Linear -> BatchNorm1d -> LeakyReLU(0.01), the output layer is a plain Linear.
The hidden Linear layers carry no bias because the BatchNorm right after them would cancel it.
Logits are ``W f(x)`` with W of shape (|C|, d) for supervised training or (N, d) for DIET.
"""
from __future__ import annotations

import torch
from torch import nn

# hidden widths as multiples of the latent dimension d
WIDTH_FACTORS = (10, 50, 50, 50, 50, 10)


def make_encoder(dim: int, *, width_factors: tuple[int, ...] = WIDTH_FACTORS, slope: float = 0.01) -> nn.Sequential:
    """Build the encoder f: (B, dim) -> (B, dim)."""
    layers: list[nn.Module] = []
    n_in = dim
    for factor in width_factors:
        n_out = factor * dim
        layers += [nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out), nn.LeakyReLU(slope)]
        n_in = n_out
    layers.append(nn.Linear(n_in, dim))
    return nn.Sequential(*layers)


class SimulationModel(nn.Module):
    """Encoder plus bias-free linear head; ``forward`` returns logits (B, n_classes)."""

    def __init__(self, dim: int, n_classes: int):
        super().__init__()
        self.encoder = make_encoder(dim)
        self.head = nn.Linear(dim, n_classes, bias=False)  # weight: (n_classes, dim), rows = prototypes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder output f(x): (B, dim)."""
        return self.encoder(x)
