"""Default protocol, categorical/binary factors: logistic regression with C chosen on a validation split."""
from __future__ import annotations

import numpy as np

from ...data.factors import Factor
from .. import metrics as M
from ..backends.base import LogisticTask
from ..splits import permuted, stratified_split, validation_split
from ..stats import chance_level, permutation_pvalue
from ._common import Standardizer, encode_classes, grid_edge_note, join_notes

METRICS = ("accuracy", "balanced_accuracy", "roc_auc")


def _metric_values(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None, n_classes: int) -> dict:
    """Metrics of predictions ``pred`` (n,) and positive-class scores ``score`` (n,) (binary only)."""
    out = {"accuracy": float(M.accuracy(y, pred)),
           "balanced_accuracy": float(M.balanced_accuracy(y, pred))}
    if n_classes == 2 and score is not None:
        out["roc_auc"] = float(M.roc_auc(y, score)) if len(np.unique(y)) == 2 else float("nan")
    return out


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.log(p).mean())


def _select_score(y: np.ndarray, proba: np.ndarray, how: str) -> float:
    """Validation score to maximise."""
    if how == "log_loss":
        return -_log_loss(y, proba)
    pred = proba.argmax(axis=1)
    return float(M.accuracy(y, pred) if how == "accuracy" else M.balanced_accuracy(y, pred))


def _custom_outputs(est, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(predictions (n,), positive-class score (n,) or None) of a fitted custom classifier."""
    pred = np.asarray(est.predict(X))
    score = None
    if hasattr(est, "predict_proba"):
        proba = np.asarray(est.predict_proba(X))
        score = proba[:, -1] if proba.ndim == 2 and proba.shape[1] == 2 else None
    elif hasattr(est, "decision_function"):
        d = np.asarray(est.decision_function(X))
        score = d if d.ndim == 1 else None
    return pred, score


def _choose_C(X: np.ndarray, codes: np.ndarray, train: np.ndarray, *, n_classes: int, seed: int, cfg,
              backend) -> tuple[float, dict]:
    """Fit every C on the fit part of ``train``, score on its validation part; return the best C."""
    fit, val = validation_split(train, codes=codes, val_fraction=cfg.val_fraction, seed=[seed, 1])
    std = Standardizer.fit(X[fit], standardize=cfg.standardize)  # validation rows stay unseen
    Xsel = std.transform(X[np.concatenate([fit, val])])         # (n_fit + n_val, D')
    fit_pos, val_pos = np.arange(len(fit)), np.arange(len(fit), len(fit) + len(val))
    tasks = [LogisticTask(rows=fit_pos, y=codes[fit], n_classes=n_classes, C=float(C)) for C in cfg.Cs]
    fits = backend.logistic_many(Xsel, tasks, max_iter=cfg.max_iter, tol=cfg.tol)
    scores = [_select_score(codes[val], f.predict_proba(Xsel[val_pos]), cfg.select_by) for f in fits]
    best = int(np.nanargmax(scores))  # first best: ties go to the strongest regularisation
    return float(cfg.Cs[best]), {"val_score": float(scores[best]), "n_val": int(len(val))}


def probe_one(X: np.ndarray, name: str, spec: Factor, values: np.ndarray, *, seed: int, cfg, backend,
              probe=None, n_perm: int = 0) -> list[dict]:
    """Rows of one (discrete factor, seed): train and test metrics, plus the null when asked."""
    codes, _ = encode_classes(spec, values)         # (N,) int64 in 0..K-1
    K = int(codes.max()) + 1
    train, test = stratified_split(codes, test_fraction=cfg.test_fraction, seed=seed,
                                   min_per_class=cfg.min_class_count)
    std = Standardizer.fit(X[train], standardize=cfg.standardize)
    Xs = std.transform(X)                           # (N, D') float32, train statistics only
    y_tr_null = permuted(codes[train], seed=[seed, 2], n=n_perm)  # (P, n_train)
    extra: dict = {}
    if probe is None:
        C, extra = _choose_C(X, codes, train, n_classes=K, seed=seed, cfg=cfg, backend=backend)
        tasks = [LogisticTask(rows=train, y=codes[train], n_classes=K, C=C)]
        tasks += [LogisticTask(rows=train, y=y, n_classes=K, C=C) for y in y_tr_null]
        fits = backend.logistic_many(Xs, tasks, max_iter=cfg.max_iter, tol=cfg.tol)

        def outputs(i: int, rows: np.ndarray):
            proba = fits[i].predict_proba(Xs[rows])
            return proba.argmax(axis=1), (proba[:, 1] if K == 2 else None)

        decoder = "logistic"
        extra["C"] = C
        unconverged = None if fits[0].converged else f"logistic regression did not converge in {fits[0].n_iter} iterations"
        note = join_notes(grid_edge_note("C", C, cfg.Cs), unconverged)
        if note:
            extra["note"] = note
    else:
        from sklearn.base import clone

        ests = [clone(probe).fit(Xs[train], codes[train])]
        ests += [clone(probe).fit(Xs[train], y) for y in y_tr_null]

        def outputs(i: int, rows: np.ndarray):
            return _custom_outputs(ests[i], Xs[rows])

        decoder = type(probe).__name__
    base = {"factor": name, "kind": spec.kind, "seed": seed, "decoder": decoder, "n_train": int(len(train)),
            "n_test": int(len(test)), "n_classes": K, "n_units": std.n_units, **extra}
    observed = {split: _metric_values(codes[rows], *outputs(0, rows), K)
                for split, rows in (("train", train), ("test", test))}
    nulls = [_metric_values(codes[test], *outputs(i, test), K) for i in range(1, n_perm + 1)]
    rows = []
    for split, split_rows in (("train", train), ("test", test)):
        for metric, value in observed[split].items():
            row = {**base, "metric": metric, "split": split, "value": value,
                   "chance": chance_level(metric, y_true=codes[split_rows], n_classes=K)}
            if split == "test" and nulls:
                null = [n[metric] for n in nulls]
                row.update(null_mean=float(np.nanmean(null)), p_perm=permutation_pvalue(value, null), null=null)
            rows.append(row)
    return rows
