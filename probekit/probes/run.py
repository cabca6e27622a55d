"""``probe_factors``: run a protocol over stores x layers x factors x seeds and collect tidy results."""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.factors import resolve_factor_names
from ..errors import ConfigError, DataError, StoreError, unknown_name
from ..store import FeatureStore
from .protocols import get_protocol
from .protocols._common import build_config, config_dict
from .results import ProbeResults

_CHECK_ROWS = 8192  # rows per finiteness check (bounds the temporary boolean array)


def parse_null(null) -> int:
    """``None``/``"none"``/0 -> 0; ``"permutations:N"`` or an int N -> N label shuffles."""
    if null is None or null == 0 or (isinstance(null, str) and null.lower() in ("", "none", "0")):
        return 0
    if isinstance(null, (int, np.integer)) and not isinstance(null, bool):
        n = int(null)
    elif isinstance(null, str) and null.lower().startswith("permutations:"):
        try:
            n = int(null.split(":", 1)[1])
        except ValueError:
            n = -1
    else:
        n = -1
    if n < 1:
        raise ConfigError(f"null must be 'permutations:N' with N >= 1 (e.g. 'permutations:200'), got {null!r}")
    return n


def parse_seeds(seeds) -> list[int]:
    """An int n -> ``[0, ..., n-1]``; a sequence of ints is used as given (duplicates refused)."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"seeds must be >= 1 (the number of repeats) or a list of ints, got {seeds}")
        return list(range(int(seeds)))
    try:
        out = [int(s) for s in seeds]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"seeds must be an int or a list of ints, got {seeds!r}") from e
    if not out or len(set(out)) != len(out):
        raise ConfigError(f"seeds must be a non-empty list of distinct ints, got {seeds!r}")
    return out


def _names(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()] or None
    return [str(v) for v in value]


def _open_stores(stores) -> list[tuple[FeatureStore, bool]]:
    """(store, opened_here) for FeatureStore objects and paths."""
    items = [stores] if isinstance(stores, (str, os.PathLike, FeatureStore)) else list(stores)
    if not items:
        raise ConfigError("no feature store given; pass a path or a FeatureStore")
    out = []
    try:
        for s in items:
            out.append((s, False) if isinstance(s, FeatureStore) else (FeatureStore.open(Path(s)), True))
    except BaseException:
        for s, owned in out:
            if owned:
                s.close()
        raise
    return out


def _check_usable(store: FeatureStore, *, allow_partial: bool) -> int:
    """Number of committed rows to probe; refuse an incomplete store unless ``allow_partial``."""
    if not store.complete and not allow_partial:
        raise StoreError(f"{store.path} is incomplete ({store.n_written}/{store.n_rows} rows committed: an "
                         "extraction is running or was interrupted); resume it with `probekit extract`, or pass "
                         "--allow-partial (allow_partial=True) to probe the committed rows")
    if store.n_written < 2:
        raise StoreError(f"{store.path} has {store.n_written} committed row(s); nothing to probe")
    return store.n_written


def _layers_of(store: FeatureStore, layers: list[str] | None) -> list[str]:
    available = store.layers
    for layer in layers or []:
        if layer not in available:
            raise unknown_name("layer", layer, available, hint=f"layers in {store.path}: {', '.join(available)}")
    return layers or available


def check_finite(X: np.ndarray, *, layer: str, store: FeatureStore, index: np.ndarray | None = None) -> None:
    """Raise a DataError naming the layer and the first rows whose features hold NaN or inf."""
    bad = [np.flatnonzero(~np.isfinite(X[i:i + _CHECK_ROWS]).all(axis=1)) + i
           for i in range(0, len(X), _CHECK_ROWS)]
    bad = np.concatenate(bad) if bad else np.empty(0, dtype=np.int64)
    if bad.size:
        first = ", ".join(str(int(b)) for b in bad[:5])
        where = f" (dataset index {', '.join(str(int(index[b])) for b in bad[:5])})" if index is not None else ""
        raise DataError(f"layer {layer!r} of {store.path} has NaN or inf features in {bad.size} of {len(X)} rows; "
                        f"first bad rows {first}{where}; re-extract the store (float16 overflow? use float32)")


def _version() -> str:
    try:
        from .. import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - a checkout without the package module
        return "unknown"


def probe_factors(stores, *, factors: Sequence[str] | str | None = None, layers: Sequence[str] | str | None = None,
                  protocol: str = "default", backend="torch", device: str = "auto", seeds=5, probe=None,
                  null=None, allow_partial: bool = False, progress: bool = True, **protocol_options) -> ProbeResults:
    """Decode factors of variation from stored features with a probing protocol.

    Parameters
    ----------
    stores: a FeatureStore, a path to one, or a list of them (one per model).
    factors: names or aliases (list or "a,b"); None probes every factor of each store.
    layers: layer names (list or "a,b"); None probes every layer.
    protocol: a registered protocol: ``default``, ``paper-imagenetx``, ``paper-dislib``.
    backend: ``torch`` (default), ``sklearn``, ``cuml``, or a ProbeBackend instance.
    device: ``auto``, ``cpu`` or ``cuda`` (torch/cuml backends).
    seeds: number of repeats n (seeds 0..n-1) or an explicit list of seeds.
    probe: a scikit-learn-compatible estimator (cloned per fit) replacing the built-in decoder, or
        ``{"discrete": clf, "continuous": reg}``.
    null: ``"permutations:N"`` refits on N shuffles of the training labels per seed, giving an
        empirical chance level and p-values.
    allow_partial: probe the committed rows of a store that is still incomplete.
    progress: show a progress bar over (store, layer).
    **protocol_options: fields of the protocol's config (e.g. ``test_fraction=0.2``, ``Cs=[0.1, 1]``).

    Returns
    -------
    ProbeResults with one row per (model, layer, factor, metric, split, seed).
    """
    proto = get_protocol(protocol)
    config_class = getattr(proto, "config_class", None)
    config = build_config(config_class, protocol_options, protocol=protocol) if config_class else None
    seed_list, n_perm = parse_seeds(seeds), parse_null(null)
    opened = _open_stores(stores)
    try:
        plan = []  # (store, n_rows, layers, {name: (Factor, (n,) values)})
        for store, _ in opened:
            n = _check_usable(store, allow_partial=allow_partial)
            specs = store.factor_specs
            names = resolve_factor_names(specs, _names(factors))
            targets = {name: (specs[name], store.factor_values(name)[:n]) for name in names}
            plan.append((store, n, _layers_of(store, _names(layers)), targets))
        if isinstance(backend, str):
            from .backends import get_backend

            backend_obj = get_backend(backend, device=device)
        else:
            backend_obj = backend
        rows = _run(plan, proto, protocol=protocol, backend=backend_obj, seeds=seed_list, probe=probe,
                    n_perm=n_perm, progress=progress, options=protocol_options)
        meta = {
            "probekit_version": _version(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "protocol": protocol,
            "protocol_config": config_dict(config) if config is not None else dict(protocol_options),
            "backend": getattr(backend_obj, "name", type(backend_obj).__name__),
            "device": str(getattr(backend_obj, "device", device)),
            "seeds": seed_list,
            "null_permutations": n_perm,
            "probe": repr(probe) if probe is not None else None,
            # how summaries test significance; a protocol may set its own (e.g. the paper's plain t-test)
            "correction": "holm", "alpha": 0.05, "ttest": "corrected",
            **getattr(proto, "summary_defaults", {}),
            "stores": [{"path": str(s.path), "fingerprint": s.fingerprint, "model": s.model_name,
                        "dataset": s.dataset_name, "n_rows": s.n_rows, "n_used": n, "complete": s.complete,
                        "layers": lay, "factors": list(t)} for s, n, lay, t in plan],
            "regularisation": _regularisation(rows),
        }
        return ProbeResults(rows, meta)
    finally:
        for s, owned in opened:
            if owned:
                s.close()


def _run(plan, proto, *, protocol, backend, seeds, probe, n_perm, progress, options) -> list[dict]:
    """Load each (store, layer) matrix once and run the protocol on all its factors."""
    from tqdm.auto import tqdm

    rows: list[dict] = []
    pairs = [(p, layer) for p in plan for layer in p[2]]
    # disable=None: no bar when stderr is not a terminal (logs, CI, captured output)
    bar = tqdm(pairs, desc="probing", unit="layer", disable=None if progress else True, leave=False)
    for (store, n, _, targets), layer in bar:
        bar.set_postfix_str(f"{store.model_name} {layer}")
        X = store.read_features(layer, rows=slice(0, n), dtype=np.float32)  # (n, D) float32
        check_finite(X, layer=layer, store=store, index=store.index[:n])
        out = proto(X, targets, seeds=seeds, backend=backend, probe=probe, null_permutations=n_perm, **options)
        extra = {"model": store.model_name, "layer": layer, "dataset": store.dataset_name, "protocol": protocol,
                 "store": str(store.path), "fingerprint": store.fingerprint}
        rows += [{**r, **extra} for r in out]
        del X
    return rows


def _regularisation(rows: list[dict]) -> dict:
    """``{"model/layer/factor": {"C" or "alpha": [per seed]}}`` from the test rows of one metric.

    Two stores can carry the same model label (two runs of one architecture): their keys then also
    name the store's fingerprint, so neither store's choices are lost.
    """
    labels: dict[str, set] = {}
    for r in rows:
        labels.setdefault(f"{r.get('model')}/{r.get('layer')}/{r.get('factor')}", set()).add(r.get("fingerprint"))
    out: dict = {}
    seen = set()
    for r in rows:
        key = f"{r.get('model')}/{r.get('layer')}/{r.get('factor')}"
        if len(labels[key]) > 1:
            key += f"@{str(r.get('fingerprint'))[:12]}"
        for reg in ("C", "alpha"):
            if reg in r and (key, reg, r.get("seed")) not in seen:
                seen.add((key, reg, r.get("seed")))
                out.setdefault(key, {}).setdefault(reg, []).append(r[reg])
    return out
