"""Factor declarations: what a dataset's factors of variation are and how to resolve their names."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import unknown_name

KINDS = ("categorical", "binary", "continuous", "periodic")


@dataclass(frozen=True)
class Factor:
    """One factor of variation.

    Values are stored as int64 class codes for ``categorical``/``binary`` factors and as float64 real
    values for ``continuous``/``periodic`` ones.

    Parameters
    ----------
    name: canonical name (``"scale"``).
    kind: one of ``categorical``, ``binary``, ``continuous``, ``periodic``.
    values: the value grid (real values for continuous/periodic; codes 0..K-1 for categorical).
    class_names: names of the classes (categorical/binary only).
    aliases: other names that resolve to this factor (``"size"`` for ``scale``).
    period: the period of a periodic factor (``2*pi`` for an angle in radians).
    description: one line for tables and docs.
    """

    name: str
    kind: str
    values: tuple[float, ...] = ()
    class_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    period: float | None = None
    description: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"factor {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.kind == "periodic" and not self.period:
            raise ValueError(f"periodic factor {self.name!r} needs a period")
        if self.kind in ("categorical", "binary") and self.class_names and not self.values:
            object.__setattr__(self, "values", tuple(float(i) for i in range(len(self.class_names))))

    @property
    def is_discrete(self) -> bool:
        return self.kind in ("categorical", "binary")

    @property
    def n_values(self) -> int:
        return len(self.values)

    def to_attrs(self) -> dict:
        """Plain values for HDF5 attributes / JSON."""
        return {
            "kind": self.kind,
            "values": np.asarray(self.values, dtype=np.float64),
            "class_names": list(self.class_names),
            "aliases": list(self.aliases),
            "period": float(self.period) if self.period else 0.0,
            "description": self.description,
        }

    @classmethod
    def from_attrs(cls, name: str, attrs: Mapping) -> Factor:
        def strs(x) -> tuple[str, ...]:
            return tuple(s.decode() if isinstance(s, bytes) else str(s) for s in np.atleast_1d(x)) if len(np.atleast_1d(x)) else ()

        return cls(
            name=name,
            kind=str(attrs["kind"]),
            values=tuple(float(v) for v in np.atleast_1d(attrs.get("values", []))),
            class_names=strs(attrs.get("class_names", [])),
            aliases=strs(attrs.get("aliases", [])),
            period=float(attrs.get("period", 0.0)) or None,
            description=str(attrs.get("description", "")),
        )


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(" ", "_")


def resolve_factor_names(
    factors: Sequence[Factor] | Mapping[str, Factor], requested: Iterable[str] | str | None
) -> list[str]:
    """Map requested names or aliases to canonical factor names, in request order.

    ``None`` (or ``"all"``) means every factor. Unknown names raise with the closest matches.

    >>> fs = [Factor("scale", "continuous", (0.5, 1.0), aliases=("size",))]
    >>> resolve_factor_names(fs, "size")
    ['scale']
    """
    specs = list(factors.values()) if isinstance(factors, Mapping) else list(factors)
    if requested is None or requested == "all" or requested == ["all"]:
        return [f.name for f in specs]
    if isinstance(requested, str):
        requested = [r for r in requested.split(",") if r.strip()]
    lookup: dict[str, str] = {}
    for f in specs:
        for n in (f.name, *f.aliases):
            lookup.setdefault(_norm(n), f.name)
    out: list[str] = []
    for r in requested:
        key = _norm(r.strip())
        if key not in lookup:
            choices = [f.name for f in specs] + [a for f in specs for a in f.aliases]
            raise unknown_name("factor", r.strip(), choices, hint="available: " + ", ".join(f.name for f in specs))
        if lookup[key] not in out:
            out.append(lookup[key])
    return out


@dataclass(frozen=True)
class FactorGrid:
    """A full cartesian grid of discrete factor indices, C order (last factor varies fastest)."""

    sizes: tuple[int, ...]
    _strides: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self):
        strides = np.cumprod((1,) + tuple(reversed(self.sizes[1:])))[::-1]
        object.__setattr__(self, "_strides", tuple(int(s) for s in strides))

    def __len__(self) -> int:
        return int(np.prod(self.sizes))

    def codes(self, indices: np.ndarray) -> np.ndarray:
        """(B,) dataset indices -> (B, n_factors) int64 grid codes."""
        idx = np.asarray(indices, dtype=np.int64)
        return np.stack(np.unravel_index(idx, self.sizes), axis=1).astype(np.int64)

    def index(self, codes: np.ndarray) -> np.ndarray:
        """(B, n_factors) codes -> (B,) dataset indices."""
        return np.ravel_multi_index(tuple(np.asarray(codes).T), self.sizes).astype(np.int64)
