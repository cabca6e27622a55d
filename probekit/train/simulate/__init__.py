"""Synthetic identifiability simulation (paper Sec. 4.1): vMF clusters on the sphere, invertible MLP mixing.

>>> from probekit.train.simulate import SimulationConfig, simulate
>>> result = simulate(SimulationConfig(steps=2_000), out="runs/simulate/demo")  # doctest: +SKIP
>>> result["metrics"]["r2_affine"]  # doctest: +SKIP
"""
from .config import SimulationConfig
from .run import SimulationWarning, simulate

__all__ = ["SimulationConfig", "SimulationWarning", "simulate"]
