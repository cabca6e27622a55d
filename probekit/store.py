"""The HDF5 feature store: one file per (backbone, dataset). The only module that imports h5py.

Layout (schema version 1)::

    /features/<layer>   (N, D) float16|float32, chunked about one batch of rows tall
    /factors/<name>     (N,) int64 codes (categorical, binary) or float64 values (continuous, periodic);
                        attributes: kind, values (grid), class_names, aliases, period, description
    /index              (N,) int64 dataset index of each row
    root attributes     format, schema_version, n_rows, n_written, complete, fingerprint, and the
                        metadata (backbone, weights, layers, pooling, preprocessing, dataset, ...)
                        as JSON strings

Crash safety: every dataset is allocated in full when the file is created (early allocation, no
compression), so writing a batch touches only raw data and never HDF5's metadata. ``n_written`` is
bumped in place after every layer of a batch is on disk and the file is flushed: that is the commit
marker. The skeleton is built under a temporary name and renamed into place, so a file at the final
path is always a well-formed store, and ``complete`` is set only at the very end.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from .data.factors import Factor
from .errors import StoreError

FORMAT = "probekit.feature_store"
SCHEMA_VERSION = 1
# Metadata that determines the features; a resume must match all of them.
FINGERPRINT_KEYS = ("schema_version", "backbone", "weights", "layers", "pooling", "preprocessing", "dataset",
                    "subset", "seed", "dtype", "library_versions")
_META_PREFIX = "meta."


def fingerprint(meta: Mapping) -> str:
    """sha256 of the fingerprint keys of ``meta`` (canonical JSON)."""
    blob = json.dumps({k: meta.get(k) for k in FINGERPRINT_KEYS}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def differing_keys(a: Mapping, b: Mapping) -> list[str]:
    """Fingerprint keys whose values differ between two metadata dicts."""
    norm = lambda v: json.loads(json.dumps(v, sort_keys=True, default=str))  # noqa: E731 - tuples == lists
    return [k for k in FINGERPRINT_KEYS if norm(a.get(k)) != norm(b.get(k))]


def _open_h5(path: Path, mode: str) -> h5py.File:
    """Open with h5py, turning its errors into one-line StoreErrors."""
    if mode == "r" and not path.exists():
        raise StoreError(f"no feature store at {path}; run `probekit extract` first or pass the right --store")
    try:
        return h5py.File(path, mode)
    except (OSError, ValueError) as e:
        text = str(e)
        if "lock" in text.lower():
            raise StoreError(f"{path} is locked by another process (is an extraction still writing it?); "
                             "wait for it to finish or stop it") from e
        if "truncated" in text.lower():
            raise StoreError(f"{path} is truncated (an interrupted copy?); re-extract it with --overwrite") from e
        raise StoreError(f"{path} is not a readable HDF5 file ({text.splitlines()[0]}); it may be corrupt: "
                         "re-extract it with --overwrite") from e


def _json_attr(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _strs(value) -> list[str]:
    return [str(v) for v in json.loads(value)] if isinstance(value, str) else []


class FeatureStore:
    """An open feature store. Use :meth:`open` to read and :meth:`create` to start a new one.

    Examples
    --------
    >>> with FeatureStore.open("features/resnet18__color-dsprites.h5") as s:  # doctest: +SKIP
    ...     X = s.read_features("penultimate")      # (N, D) numpy array
    ...     y = s.factor_values("scale")             # (N,) float64
    """

    def __init__(self, h5: h5py.File, path: Path):
        self._h5 = h5
        self.path = Path(path)

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r") -> FeatureStore:
        """Open an existing store (``mode`` "r" to read, "r+" to continue writing)."""
        path = Path(path)
        h5 = _open_h5(path, mode)
        try:
            attrs = h5.attrs
            if attrs.get("format") != FORMAT or "schema_version" not in attrs:
                raise StoreError(f"{path} is an HDF5 file but not a probekit feature store "
                                 "(no 'format' attribute); pass a file written by `probekit extract`")
            version = int(attrs["schema_version"])
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} has store schema version {version}, newer than this probekit reads "
                                 f"({SCHEMA_VERSION}); upgrade probekit")
            for key in ("features", "factors", "index"):
                if key not in h5:
                    raise StoreError(f"{path} lacks the /{key} group of a feature store; it is corrupt: "
                                     "re-extract it with --overwrite")
        except BaseException:
            h5.close()
            raise
        return cls(h5, path)

    @classmethod
    def create(cls, path: str | os.PathLike, *, layer_dims: Mapping[str, int], factors: Sequence[Factor],
               factor_values: Mapping[str, np.ndarray], index: np.ndarray, meta: Mapping,
               dtype: str = "float32", chunk_rows: int = 64) -> FeatureStore:
        """Write an empty store skeleton atomically and return it open for writing ("r+")."""
        path = Path(path)
        n = int(len(index))
        if n <= 0:
            raise StoreError(f"cannot create a store of {n} rows at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        meta = {**meta, "schema_version": SCHEMA_VERSION, "dtype": dtype}
        with _open_h5(tmp, "w") as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["schema_version"] = SCHEMA_VERSION
            h5.attrs["n_rows"] = n
            h5.attrs["n_written"] = np.int64(0)
            h5.attrs["complete"] = np.int8(0)
            h5.attrs["fingerprint"] = fingerprint(meta)
            for key, value in meta.items():
                h5.attrs[_META_PREFIX + key] = _json_attr(value)
            h5.create_dataset("index", data=np.asarray(index, dtype=np.int64))
            fgroup = h5.create_group("factors")
            for f in factors:
                values = np.asarray(factor_values[f.name])
                values = values.astype(np.int64 if f.is_discrete else np.float64)
                d = fgroup.create_dataset(f.name, data=values)
                d.attrs["kind"] = f.kind
                d.attrs["values"] = np.asarray(f.values, dtype=np.float64)
                d.attrs["class_names"] = _json_attr(list(f.class_names))
                d.attrs["aliases"] = _json_attr(list(f.aliases))
                d.attrs["period"] = float(f.period or 0.0)
                d.attrs["description"] = f.description
            group = h5.create_group("features")
            for layer, dim in layer_dims.items():
                # early allocation + no fill: every chunk exists from the start, so later writes never
                # change HDF5 metadata (what makes a SIGKILL mid-batch harmless)
                dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
                dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
                group.create_dataset(layer, shape=(n, int(dim)), dtype=dtype,
                                     chunks=(max(1, min(chunk_rows, n)), int(dim)), dcpl=dcpl)
        os.replace(tmp, path)
        return cls.open(path, "r+")

    # -- metadata ---------------------------------------------------------------------------------
    @property
    def meta(self) -> dict:
        """Metadata written at creation (backbone, weights, layers, dataset, preprocessing, ...)."""
        out = {}
        for key, value in self._h5.attrs.items():
            if key.startswith(_META_PREFIX):
                out[key[len(_META_PREFIX):]] = json.loads(value)
        out["fingerprint"] = self.fingerprint
        return out

    @property
    def fingerprint(self) -> str:
        return str(self._h5.attrs["fingerprint"])

    @property
    def n_rows(self) -> int:
        return int(self._h5.attrs["n_rows"])

    @property
    def n_written(self) -> int:
        return int(self._h5.attrs["n_written"])

    @property
    def complete(self) -> bool:
        return bool(self._h5.attrs["complete"])

    @property
    def layers(self) -> list[str]:
        order = self.meta.get("layers") or []
        present = list(self._h5["features"].keys())
        return [l for l in order if l in present] + [l for l in present if l not in order]

    @property
    def model_name(self) -> str:
        """Short label of the features' model, e.g. ``resnet50`` or ``resnet50 (random init)``."""
        return str(self.meta.get("model_label") or self.meta.get("backbone", self.path.stem))

    @property
    def dataset_name(self) -> str:
        dataset = self.meta.get("dataset") or {}
        return str(dataset.get("name", "?")) if isinstance(dataset, dict) else str(dataset)

    def layer_dim(self, layer: str) -> int:
        return int(self._dataset(layer).shape[1])

    # -- reading ----------------------------------------------------------------------------------
    @property
    def index(self) -> np.ndarray:
        """(N,) dataset index of each row."""
        return self._h5["index"][()]

    @property
    def factor_specs(self) -> dict[str, Factor]:
        out = {}
        for name, d in self._h5["factors"].items():
            a = d.attrs
            out[name] = Factor(name=name, kind=str(a["kind"]),
                               values=tuple(float(v) for v in np.atleast_1d(a["values"])),
                               class_names=tuple(_strs(a.get("class_names"))),
                               aliases=tuple(_strs(a.get("aliases"))),
                               period=float(a.get("period", 0.0)) or None,
                               description=str(a.get("description", "")))
        return out

    def factor_values(self, name: str) -> np.ndarray:
        """(N,) int64 codes or float64 values of one factor."""
        if name not in self._h5["factors"]:
            from .errors import unknown_name

            raise unknown_name("factor", name, list(self._h5["factors"].keys()), hint=f"in store {self.path}")
        return self._h5["factors"][name][()]

    def factors(self, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Factor table as ``{name: (N,) array}``."""
        names = list(self._h5["factors"].keys()) if names is None else names
        return {n: self.factor_values(n) for n in names}

    def _dataset(self, layer: str) -> h5py.Dataset:
        if layer not in self._h5["features"]:
            from .errors import unknown_name

            raise unknown_name("layer", layer, self.layers, hint=f"layers in store {self.path}")
        return self._h5["features"][layer]

    def read_features(self, layer: str, rows: slice | np.ndarray | None = None, *, as_torch: bool = False,
                      dtype=None):
        """Features of ``layer``: all committed rows, a slice, or sorted row indices. (n, D) array."""
        d = self._dataset(layer)
        if rows is None:
            rows = slice(0, self.n_written)
        out = d[rows] if isinstance(rows, slice) else d[np.asarray(rows, dtype=np.int64)]
        if dtype is not None:
            out = out.astype(dtype, copy=False)
        if as_torch:
            import torch

            return torch.from_numpy(np.ascontiguousarray(out))
        return out

    # -- writing ----------------------------------------------------------------------------------
    def write_rows(self, start: int, features: Mapping[str, np.ndarray]) -> None:
        """Write one batch of rows for every layer (not yet committed)."""
        for layer, arr in features.items():
            self._dataset(layer)[start:start + len(arr)] = arr

    def commit(self, n_written: int) -> None:
        """Mark rows ``[0, n_written)`` as durable: flush data, then bump the marker in place."""
        self._h5.flush()
        self._h5.attrs.modify("n_written", np.int64(n_written))
        self._h5.flush()

    def mark_complete(self) -> None:
        if self.n_written != self.n_rows:
            raise StoreError(f"{self.path}: only {self.n_written} of {self.n_rows} rows are written")
        self._h5.attrs.modify("complete", np.int8(1))
        self._h5.flush()

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        if self._h5.id.valid:
            self._h5.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{self.n_written}/{self.n_rows} rows"
        return f"FeatureStore({str(self.path)!r}, model={self.model_name!r}, layers={self.layers}, {state})"
