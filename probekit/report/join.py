"""Join several results files (models, layers, runs) into one :class:`ProbeResults`."""
from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import ProbekitError
from ..probes.results import ProbeResults

# a row is the same measurement as another when these agree
_ROW_KEY = ("protocol", "fingerprint", "layer", "factor", "metric", "split", "seed")


def join_results(items: Sequence[str | os.PathLike | ProbeResults]) -> ProbeResults:
    """Concatenate results of one dataset; refuse different datasets and duplicated measurements.

    Parameters
    ----------
    items: paths to ``results.json`` files (or their folders) or ProbeResults objects.

    Raises
    ------
    ProbekitError: results of different datasets (naming them and their files), or the same
        (model, layer, factor, seed) measured in two inputs.
    """
    if not items:
        raise ProbekitError("no results to join; pass one or more results.json files")
    loaded = [(it if isinstance(it, ProbeResults) else ProbeResults.from_json(it)) for it in items]
    names = [str(it) if not isinstance(it, ProbeResults) else r.meta.get("source", f"results #{i + 1}")
             for i, (it, r) in enumerate(zip(items, loaded))]
    datasets: dict[str, list[str]] = {}
    for name, res in zip(names, loaded):
        for ds in sorted({str(r.get("dataset")) for r in res.rows if r.get("dataset") is not None}):
            datasets.setdefault(ds, []).append(name)
    if len(datasets) > 1:
        listing = "; ".join(f"{ds} ({', '.join(files)})" for ds, files in datasets.items())
        raise ProbekitError(f"cannot join results of different datasets: {listing}; report each dataset separately")
    seen: dict[tuple, str] = {}
    rows = []
    for name, res in zip(names, loaded):
        for r in res.rows:
            key = tuple(r.get(k) for k in _ROW_KEY)
            if r.get("metric") != "skipped" and key in seen and seen[key] != name:
                raise ProbekitError(f"{seen[key]} and {name} both hold model {r.get('model')!r} layer "
                                    f"{r.get('layer')!r} factor {r.get('factor')!r} seed {r.get('seed')}; "
                                    "pass each results file once")
            seen.setdefault(key, name)
            rows.append(r)
    first = loaded[0].meta
    meta = {"joined_from": names, "sources": [r.meta for r in loaded],
            "protocol": first.get("protocol") if all(r.meta.get("protocol") == first.get("protocol") for r in loaded)
            else "mixed", "correction": first.get("correction", "holm"), "alpha": first.get("alpha", 0.05),
            "dataset": next(iter(datasets), None)}
    return ProbeResults(rows, meta)
