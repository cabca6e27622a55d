"""Dataset registry: ``create_dataset(name, ...)`` and ``list_datasets()``."""
from __future__ import annotations

from ..registry import Registry
from ..errors import ConfigError
from .base import FactorDataset, random_subset

DATASETS: Registry = Registry("dataset")


def register_dataset(name: str, *, help: str = ""):
    """Decorator: register a factory ``f(arg_or_None, **options) -> FactorDataset`` under ``name``."""
    return DATASETS.register(name, help=help)


def create_dataset(name: str, *, limit: int | None = None, seed: int = 0, **options) -> FactorDataset:
    """Build a registered dataset, optionally a seeded random subset of ``limit`` rows.

    Loading never downloads: file-backed datasets read the official files from ``root``.

    >>> ds = create_dataset("dsprites", limit=10, seed=0)
    >>> len(ds), ds.image_shape
    (10, (1, 64, 64))
    """
    factory, arg = DATASETS.resolve(name)
    try:
        dataset = factory(arg, **options) if arg is not None else factory(**options)
    except TypeError as e:
        if "keyword argument" not in str(e):
            raise
        bad = str(e).rsplit("'", 2)[-2] if "'" in str(e) else "?"
        raise ConfigError(f"dataset {name!r} has no option {bad!r} (given: {', '.join(options) or 'none'}); "
                          "see docs/datasets.md for its options") from e
    return random_subset(dataset, limit, seed=seed)


def list_datasets() -> list[str]:
    """Names of the registered datasets (prefix families shown as ``prefix:<...>``)."""
    return DATASETS.names()


# -- built-in datasets ---------------------------------------------------------------------------
@register_dataset("dsprites", help="procedural dSprites, 737,280 binary 64x64 sprites (offline)")
def _dsprites(**options) -> FactorDataset:
    from .dsprites import DSprites

    return DSprites(**options)


@register_dataset("color-dsprites", help="procedural dSprites with a 6-valued object colour factor (offline)")
def _color_dsprites(n_colors: int = 6, **options) -> FactorDataset:
    from .dsprites import color_dsprites

    return color_dsprites(n_colors, **options)


@register_dataset("csv:", help="your own images: csv:<path> with a 'file' column and one column per factor")
def _csv(path: str, size: int | None = None, **options) -> FactorDataset:
    from .image_table import ImageTable

    return ImageTable(path, size=size, **options)


# Readers of the official dataset files (dSprites npz, Shapes3D, MPI3D, Cars3D, SmallNORB, ImageNet-X).
import importlib.util as _util  # noqa: E402

if _util.find_spec(f"{__package__}.official") is not None:
    from . import official  # noqa: F401,E402  (registers its datasets)
