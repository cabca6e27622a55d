"""Pieces the protocols share: option checking, train-only standardisation, target encoding, row helpers."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...data.factors import Factor
from ...errors import ConfigError


def build_config(cls, options: dict, *, protocol: str):
    """Instantiate the frozen config dataclass ``cls`` from keyword ``options``, naming unknown keys."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise ConfigError(f"protocol {protocol!r} has no option {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(fields)}")
    clean = {}
    for key, value in options.items():
        if isinstance(value, (list, np.ndarray)):
            value = tuple(float(v) for v in value)  # keeps configs hashable and JSON-friendly
        clean[key] = value
    try:
        return cls(**clean)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"protocol {protocol!r}: bad option value ({e})") from e


def config_dict(config) -> dict:
    """A config as plain JSON values (tuples -> lists)."""
    return json_safe(dataclasses.asdict(config))


def json_safe(value):
    """Numpy scalars/arrays and tuples -> plain Python values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Standardizer:
    """Per-unit z-scoring with statistics of the training rows; units constant on them are dropped."""

    keep: np.ndarray   # (D',) int64 indices of the units kept (not constant on the training rows)
    mean: np.ndarray   # (D',) float64 training mean of the kept units
    scale: np.ndarray  # (D',) float64 training standard deviation of the kept units

    @classmethod
    def fit(cls, X_train: np.ndarray, *, standardize: bool = True) -> Standardizer:
        """Statistics of ``X_train`` (n, D) only; a unit with max == min on these rows is dropped."""
        X_train = np.asarray(X_train)
        keep = np.flatnonzero(X_train.max(axis=0) > X_train.min(axis=0)).astype(np.int64)
        Xk = X_train[:, keep]
        if standardize:
            mean = Xk.mean(axis=0, dtype=np.float64)
            scale = Xk.std(axis=0, dtype=np.float64)
            scale[scale == 0] = 1.0  # only possible through float rounding; the unit is nearly constant
        else:
            mean, scale = np.zeros(len(keep)), np.ones(len(keep))
        return cls(keep=keep, mean=mean, scale=scale)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(n, D) -> (n, D') float32 standardised features."""
        out = np.asarray(X)[:, self.keep].astype(np.float32)  # float32 arithmetic: no (N, D) float64 copy
        out -= self.mean.astype(np.float32)
        out /= self.scale.astype(np.float32)
        return out

    @property
    def n_units(self) -> int:
        return int(len(self.keep))


def constant_reason(spec: Factor, values: np.ndarray) -> str | None:
    """Why a factor cannot be probed on these rows (constant / one class), or None."""
    values = np.asarray(values)
    if spec.is_discrete:
        present = np.unique(values)
        if len(present) < 2:
            name = _class_name(spec, int(present[0])) if len(present) else "?"
            return f"one class only: every row has class {name!r}"
        return None
    if not np.all(np.isfinite(values)):
        return "non-finite factor values"
    if np.ptp(values) == 0:
        return f"constant: every row has value {float(values[0]):g}"
    return None


def _class_name(spec: Factor, code: int) -> str:
    return spec.class_names[code] if 0 <= code < len(spec.class_names) else str(code)


def encode_classes(spec: Factor, values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of the present classes as ``0..K-1`` (K classes present) and their names."""
    present, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.astype(np.int64), [_class_name(spec, int(c)) for c in present]


def periodic_embedding(spec: Factor, values: np.ndarray) -> np.ndarray:
    """(N,) angles -> (N, 2) ``(sin, cos)`` of ``2 pi value / period``."""
    theta = 2.0 * np.pi * np.asarray(values, dtype=np.float64) / float(spec.period)
    return np.stack([np.sin(theta), np.cos(theta)], axis=1)


def skipped_row(name: str, spec: Factor, reason: str) -> dict:
    """The row that reports a factor that was not probed, and why."""
    return {"factor": name, "kind": spec.kind, "metric": "skipped", "split": "-", "seed": None,
            "value": float("nan"), "note": reason}


def estimator_kind(probe) -> str | None:
    """"classifier", "regressor" or None (unknown: used for every factor) for a custom probe."""
    try:
        from sklearn.base import is_classifier, is_regressor
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return None
    if is_classifier(probe):
        return "classifier"
    if is_regressor(probe):
        return "regressor"
    return None


def custom_probe_for(probe, spec: Factor):
    """The custom estimator to use for ``spec`` and, if it does not fit the factor kind, the reason.

    ``probe`` is one estimator or ``{"discrete": est, "continuous": est}``.
    """
    if probe is None:
        return None, None
    want = "discrete" if spec.is_discrete else "continuous"
    if isinstance(probe, dict):
        unknown = set(probe) - {"discrete", "continuous"}
        if unknown:
            raise ConfigError(f"probe dict keys must be 'discrete' and/or 'continuous', got {sorted(unknown)}")
        est = probe.get(want)
        if est is None:
            return None, None  # the built-in decoder handles this kind
        return est, None
    kind = estimator_kind(probe)
    if (kind == "classifier" and not spec.is_discrete) or (kind == "regressor" and spec.is_discrete):
        return None, (f"custom probe {type(probe).__name__} is a {kind} and factor kind is {spec.kind}; "
                      "pass probe={'discrete': ..., 'continuous': ...}")
    return probe, None


def grid_edge_note(param: str, chosen, grid) -> str | None:
    """A note when a chosen regularisation value sits at an end of its search grid.

    The selection can only pick values in the grid, so a choice at an end means the best value may lie
    beyond it; say so (and how to widen the grid) instead of reporting the score silently.
    """
    grid = np.sort(np.asarray(grid, dtype=np.float64))
    values = np.atleast_1d(np.asarray(chosen, dtype=np.float64))
    if len(grid) < 2 or values.size == 0:
        return None
    if np.any(values <= grid[0]):
        end, value = "smallest", grid[0]
    elif np.any(values >= grid[-1]):
        end, value = "largest", grid[-1]
    else:
        return None
    return (f"{param} was chosen at the {end} value of its grid ({value:g}); the best value may lie beyond: "
            f"widen the grid with -o '{param}s=[...]'")


def join_notes(*notes: str | None) -> str | None:
    """The non-empty notes joined by '; ' (None when there are none)."""
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None
