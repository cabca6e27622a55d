"""``ProbeResults``: the tidy table of probe scores plus the metadata needed to reproduce it."""
from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import ProbekitError
from . import summary as _summary

FORMAT = "probekit.probe_results"
VERSION = 1
# leading CSV/dataframe columns, in this order; any other keys follow alphabetically
COLUMNS = ("model", "layer", "factor", "kind", "metric", "split", "seed", "value", "chance", "null_mean", "p_perm",
           "n_train", "n_test", "n_classes", "n_units", "decoder", "C", "alpha", "note", "protocol", "dataset",
           "store", "fingerprint")
_FLOATS = ("value", "chance", "null_mean", "p_perm")


def _clean(value):
    """JSON-safe value: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            value = value.tolist()
            return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ProbeResults:
    """Tidy probe results: one row per (model, layer, factor, metric, split, seed), plus metadata.

    Parameters
    ----------
    rows: dicts with at least ``model, layer, factor, metric, split, seed, value``. Test rows of a
        protocol run with a permutation null also carry ``null`` (the null scores), ``null_mean`` and
        ``p_perm``; skipped factors have ``metric == "skipped"`` and the reason in ``note``.
    meta: store fingerprints, protocol and its options, backend, seeds, probekit version, ...

    Examples
    --------
    >>> res = ProbeResults([{"model": "m", "layer": "l", "factor": "f", "metric": "r2", "split": "test",
    ...                      "seed": s, "value": v, "chance": 0.0} for s, v in enumerate([0.8, 0.9])])
    >>> round(res.summary()[0]["mean"], 2)
    0.85
    """

    def __init__(self, rows: Iterable[dict], meta: dict | None = None):
        self.rows: list[dict] = [dict(r) for r in rows]
        self.meta: dict = dict(meta or {})

    # -- views ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        models = sorted({str(r.get("model")) for r in self.rows})
        factors = sorted({str(r.get("factor")) for r in self.rows})
        return (f"ProbeResults({len(self.rows)} rows, protocol={self.meta.get('protocol')!r}, models={models}, "
                f"factors={factors})")

    @property
    def columns(self) -> list[str]:
        """Every row key except the bulky ``null`` lists, in a stable order."""
        keys = {k for r in self.rows for k in r if k != "null"}
        return [c for c in COLUMNS if c in keys] + sorted(keys - set(COLUMNS))

    def filter(self, **equal) -> ProbeResults:
        """Rows whose columns equal the given values, e.g. ``res.filter(split="test", metric="r2")``."""
        return ProbeResults([r for r in self.rows if all(r.get(k) == v for k, v in equal.items())], self.meta)

    def to_dataframe(self, *, include_null: bool = False):
        """A pandas DataFrame of the rows (pandas is optional; raises a ProbekitError without it)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ProbekitError("ProbeResults.to_dataframe needs pandas, which is not installed; "
                                "`pip install pandas`, or use results.rows / results.to_csv(path)") from e
        cols = self.columns + (["null"] if include_null and any("null" in r for r in self.rows) else [])
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in self.rows], columns=cols)

    def summary(self, *, correction: str | None = None, alpha: float | None = None,
                ttest: str | None = None) -> list[dict]:
        """Mean ± sem over seeds per (model, layer, factor, metric, split), with corrected significance.

        ``correction`` ("holm", "bonferroni", "none"), ``alpha`` and ``ttest`` ("corrected", "plain")
        default to the values in ``meta`` (else Holm, 0.05, corrected). See
        :func:`probekit.probes.summary.summarize`.
        """
        return _summary.summarize(self.rows, correction=correction or self.meta.get("correction", "holm"),
                                  alpha=alpha if alpha is not None else self.meta.get("alpha", 0.05),
                                  ttest=ttest or self.meta.get("ttest", "corrected"))

    def format_table(self, *, split: str = "test", correction: str | None = None, alpha: float | None = None,
                     ttest: str | None = None) -> str:
        """Plain-text table: factor x metric, mean ± sem, ``*`` when significant, n train/test."""
        correction = correction or self.meta.get("correction", "holm")
        alpha = alpha if alpha is not None else self.meta.get("alpha", 0.05)
        return _summary.format_table(self.summary(correction=correction, alpha=alpha, ttest=ttest), split=split,
                                     correction=correction, alpha=alpha)

    # -- files ------------------------------------------------------------------------------------
    def to_json(self, path: str | os.PathLike) -> Path:
        """Write ``{"format", "version", "meta", "rows"}`` (NaN as null); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {"format": FORMAT, "version": VERSION, "meta": _clean(self.meta), "rows": _clean(self.rows)}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(blob, indent=1, allow_nan=False))
        os.replace(tmp, path)
        return path

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ProbeResults:
        """Read a file written by :meth:`to_json`."""
        path = Path(path)
        if path.is_dir():
            path = path / "results.json"
        if not path.exists():
            raise ProbekitError(f"no results file at {path}; pass a results.json written by `probekit probe`")
        try:
            blob = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ProbekitError(f"{path} is not a readable results file ({e})") from e
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ProbekitError(f"{path} is JSON but not probekit probe results (no format {FORMAT!r})")
        if int(blob.get("version", 0)) > VERSION:
            raise ProbekitError(f"{path} has results version {blob['version']}, newer than this probekit reads "
                                f"({VERSION}); upgrade probekit")
        rows = blob.get("rows", [])
        for r in rows:
            for k in _FLOATS:
                if k in r and r[k] is None:
                    r[k] = float("nan")
            if isinstance(r.get("null"), list):
                r["null"] = [float("nan") if v is None else v for v in r["null"]]
        meta = blob.get("meta", {})
        meta.setdefault("source", str(path))
        return cls(rows, meta)

    def to_csv(self, path: str | os.PathLike, *, columns: Sequence[str] | None = None) -> Path:
        """Write the tidy rows as CSV (the ``null`` lists are left out; lists are JSON-encoded)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cols = list(columns or self.columns)
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for r in self.rows:
                w.writerow(["" if r.get(c) is None else json.dumps(_clean(r[c])) if isinstance(r.get(c), (list, dict))
                            else r.get(c) for c in cols])
        return path
