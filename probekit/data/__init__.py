"""Factor datasets: images plus declared factors of variation."""
from .base import FactorDataset, SubsetDataset, parent_indices, random_subset
from .factors import KINDS, Factor, FactorGrid, resolve_factor_names
from .registry import DATASETS, create_dataset, list_datasets, register_dataset

__all__ = [
    "DATASETS", "KINDS", "Factor", "FactorDataset", "FactorGrid", "SubsetDataset", "create_dataset",
    "list_datasets", "parent_indices", "random_subset", "register_dataset", "resolve_factor_names",
]
