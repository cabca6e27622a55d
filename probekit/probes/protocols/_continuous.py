"""Default protocol, continuous and periodic factors: one ridge fit serves every target and every alpha."""
from __future__ import annotations

import numpy as np

from ...data.factors import Factor
from .. import metrics as M
from ..splits import permuted
from ..stats import chance_level, permutation_pvalue
from ._common import Standardizer, grid_edge_note, join_notes, periodic_embedding

PERIODIC_NOTE = "R^2 of the (sin, cos) embedding of the angle, pooled over both coordinates"


def embedding_r2(Y: np.ndarray, Y_hat: np.ndarray) -> float:
    """R^2 of a multi-column target pooled over its columns: ``1 - sum SSE / sum SST``. (n, k) inputs."""
    Y, Y_hat = np.asarray(Y, dtype=np.float64), np.asarray(Y_hat, dtype=np.float64)
    sst = ((Y - Y.mean(axis=0)) ** 2).sum()
    return float(1.0 - ((Y - Y_hat) ** 2).sum() / sst) if sst > 0 else float("nan")


def _metric_values(spec: Factor, y: np.ndarray, y_hat: np.ndarray) -> dict:
    """``{metric: value}`` of one factor; ``y`` (n,) or (n, 2) for periodic factors."""
    if spec.kind == "periodic":
        return {"r2": embedding_r2(y, y_hat)}
    return {"r2": float(M.r2(y, y_hat)), "pearson_r": float(M.pearson_r(y, y_hat))}


def _targets(continuous: dict) -> tuple[np.ndarray, dict[str, slice]]:
    """Stack the targets: (N, T) float64 and each factor's column slice (2 columns for periodic)."""
    cols, where, t = [], {}, 0
    for name, (spec, values, _) in continuous.items():
        y = periodic_embedding(spec, values) if spec.kind == "periodic" else np.asarray(values, np.float64)[:, None]
        cols.append(y)
        where[name] = slice(t, t + y.shape[1])
        t += y.shape[1]
    return np.concatenate(cols, axis=1), where


def _fit_custom(probe, X: np.ndarray, y: np.ndarray):
    """Clone and fit a custom regressor; targets of 2 columns fall back to one clone per column."""
    from sklearn.base import clone

    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    try:
        return clone(probe).fit(X, y)
    except ValueError:
        if y.ndim != 2:
            raise
        from sklearn.multioutput import MultiOutputRegressor

        return MultiOutputRegressor(clone(probe)).fit(X, y)


def _predict_custom(est, X: np.ndarray, width: int) -> np.ndarray:
    return np.asarray(est.predict(X), dtype=np.float64).reshape(len(X), width)


def _ridge_with_nulls(backend, Xtr, Xte, Ytr, perms, cfg, max_cells: int = 20_000_000):
    """Ridge on the targets and on their row shuffles, a few shuffles per call to bound memory.

    Returns train predictions (n_train, T), test predictions (n_test, T * (1 + P)) ordered
    [observed, shuffle 1, ..., shuffle P], and the (T,) alphas chosen for the observed targets.
    """
    T = Ytr.shape[1]
    per_call = max(1, max_cells // max(1, len(Ytr) * T) - 1)  # shuffles that join one decomposition
    P_te, alpha, P_tr = [], None, None
    for start in range(0, max(1, len(perms)), per_call):
        chunk = perms[start:start + per_call]
        first = start == 0
        blocks = ([Ytr] if first else []) + [Ytr[p] for p in chunk]
        if not blocks:
            break
        fit = backend.ridge(Xtr, np.concatenate(blocks, axis=1), alphas=cfg.alphas, cv=cfg.ridge_cv)
        P_te.append(fit.predict(Xte))
        if first:
            P_tr = np.asarray(Xtr, dtype=np.float64) @ fit.coef[:, :T] + fit.intercept[:T]
            alpha = np.asarray(fit.alpha, dtype=np.float64)[:T]
    return P_tr, np.concatenate(P_te, axis=1), alpha


def probe_seed(X: np.ndarray, continuous: dict, train: np.ndarray, test: np.ndarray, *, seed: int, cfg,
               backend, n_perm: int = 0) -> list[dict]:
    """Rows of every continuous/periodic factor for one seed (one shared random split).

    ``continuous`` maps name -> (Factor, (N,) values, custom estimator or None).
    """
    std = Standardizer.fit(X[train], standardize=cfg.standardize)
    Xtr, Xte = std.transform(X[train]), std.transform(X[test])  # (n_train, D'), (n_test, D')
    Y, where = _targets(continuous)                               # (N, T)
    T = Y.shape[1]
    perms = permuted(np.arange(len(train)), seed=[seed, 3], n=n_perm)  # (P, n_train) row shuffles
    # observed and null predictions, (n, T) each; the null shuffles rows, so sin/cos stay paired
    pred_tr, pred_te, null_te, extra = {}, {}, {}, {}
    builtin = [n for n, (_, _, est) in continuous.items() if est is None]
    if builtin:
        cols = np.concatenate([np.arange(T)[where[n]] for n in builtin])
        P_tr, P_te, alpha = _ridge_with_nulls(backend, Xtr, Xte, Y[train][:, cols], perms, cfg)
        t = 0
        for n in builtin:
            k = where[n].stop - where[n].start
            pred_tr[n], pred_te[n] = P_tr[:, t:t + k], P_te[:, t:t + k]
            null_te[n] = [P_te[:, (i + 1) * len(cols) + t:(i + 1) * len(cols) + t + k] for i in range(n_perm)]
            a = alpha[t:t + k]
            extra[n] = {"decoder": "ridge", "alpha": float(a[0]) if k == 1 else [float(v) for v in a],
                        "note": grid_edge_note("alpha", a, cfg.alphas)}
            t += k
    for n, (spec, _, est) in continuous.items():
        if est is None:
            continue
        y_tr = Y[train][:, where[n]]
        k = y_tr.shape[1]
        e = _fit_custom(est, Xtr, y_tr)
        pred_tr[n], pred_te[n] = _predict_custom(e, Xtr, k), _predict_custom(e, Xte, k)
        null_te[n] = [_predict_custom(_fit_custom(est, Xtr, y_tr[p]), Xte, k) for p in perms]
        extra[n] = {"decoder": type(est).__name__}
    rows = []
    for n, (spec, _, _) in continuous.items():
        y_tr, y_te = Y[train][:, where[n]], Y[test][:, where[n]]
        if spec.kind != "periodic":
            y_tr, y_te = y_tr[:, 0], y_te[:, 0]
            pred = {"train": pred_tr[n][:, 0], "test": pred_te[n][:, 0]}
            nulls = [_metric_values(spec, y_te, p[:, 0]) for p in null_te[n]]
        else:
            pred = {"train": pred_tr[n], "test": pred_te[n]}
            nulls = [_metric_values(spec, y_te, p) for p in null_te[n]]
        base = {"factor": n, "kind": spec.kind, "seed": seed, "n_train": int(len(train)),
                "n_test": int(len(test)), "n_units": std.n_units, **extra[n]}
        note = join_notes(PERIODIC_NOTE if spec.kind == "periodic" else None, base.pop("note", None))
        if note:
            base["note"] = note
        for split, y in (("train", y_tr), ("test", y_te)):
            for metric, value in _metric_values(spec, y, pred[split]).items():
                row = {**base, "metric": metric, "split": split, "value": value, "chance": chance_level(metric)}
                if split == "test" and nulls:
                    null = [v[metric] for v in nulls]
                    row.update(null_mean=float(np.nanmean(null)), p_perm=permutation_pvalue(value, null),
                               null=null)
                rows.append(row)
    return rows
